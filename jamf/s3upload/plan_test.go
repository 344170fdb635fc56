package s3upload

import "testing"

func TestPartPlan(t *testing.T) {
	tests := []struct {
		name     string
		size     int64
		partSize int64
		parts    int
	}{
		{"empty", 0, 8 * mib, 1},
		{"one byte", 1, 8 * mib, 1},
		{"one part exactly", 8 * mib, 8 * mib, 1},
		{"one byte over a part", 8*mib + 1, 8 * mib, 2},
		{"1 GiB", gib, 8 * mib, 128},
		{"5 GiB, the single-PUT limit", 5 * gib, 8 * mib, 640},
		{"5 GiB + 1", 5*gib + 1, 8 * mib, 641},
		{"6 GiB sparse bench file", 6 * gib, 8 * mib, 768},
		{"14 GB package", 14_000_000_000, 8 * mib, 1669},
		{"largest file for 8 MiB parts", 8 * mib * MaxParts, 8 * mib, MaxParts},
		{"one byte more needs 9 MiB parts", 8*mib*MaxParts + 1, 9 * mib, 8889},
		{"100 GiB", 100 * gib, 11 * mib, 9310},
		{"1 TiB", 1024 * gib, 105 * mib, 9987},
		{"5 TiB, S3's limit", MaxObjectSize, 525 * mib, 9987},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, n := PartPlan(tt.size)
			if ps != tt.partSize || n != tt.parts {
				t.Fatalf("PartPlan(%d) = %d MiB x %d, want %d MiB x %d", tt.size, ps/mib, n, tt.partSize/mib, tt.parts)
			}
			// Invariants S3 enforces, whatever the table says.
			if n > MaxParts || ps > MaxPartSize || ps < 5*mib || ps%mib != 0 {
				t.Errorf("plan %d x %d breaks S3 limits", ps, n)
			}
			if tt.size > 0 && (int64(n)*ps < tt.size || int64(n-1)*ps >= tt.size) {
				t.Errorf("%d parts of %d do not tightly cover %d bytes", n, ps, tt.size)
			}
		})
	}
}

func TestAutoConcurrencyBoundsMemory(t *testing.T) {
	tests := []struct {
		partSize int64
		want     int
	}{
		{5 * mib, 4},
		{6 * mib, 4},
		{8 * mib, 3},
		{11 * mib, 2},
		{12 * mib, 2},
		{13 * mib, 1},
		{105 * mib, 1},
	}
	for _, tt := range tests {
		if got := autoConcurrency(tt.partSize); got != tt.want {
			t.Errorf("autoConcurrency(%d MiB) = %d, want %d", tt.partSize/mib, got, tt.want)
		}
	}
}
