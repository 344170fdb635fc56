package s3upload

import (
	"strings"
	"testing"
)

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
		{"256 MiB: one part for each of 32 connections", 256 * mib, 8 * mib, 32},
		{"1 GiB", gib, 8 * mib, 128},
		{"5 GiB, the single-PUT limit", 5 * gib, 8 * mib, 640},
		{"5 GiB + 1", 5*gib + 1, 8 * mib, 641},
		{"10 GiB sparse bench file", 10 * gib, 8 * mib, 1280},
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

func TestNewPlan(t *testing.T) {
	tests := []struct {
		name      string
		size      int64
		partSize  int64
		conc      int
		want      Plan
		wantError string
	}{
		{"defaults, 1 GiB", gib, 0, 0, Plan{Size: gib, PartSize: 8 * mib, Parts: 128, Concurrency: DefaultConcurrency}, ""},
		{"defaults, small file: no idle connections", 20 * mib, 0, 0, Plan{Size: 20 * mib, PartSize: 8 * mib, Parts: 3, Concurrency: 3}, ""},
		{"64 in flight, 256 MiB: one connection a part", 256 * mib, 0, 64, Plan{Size: 256 * mib, PartSize: 8 * mib, Parts: 32, Concurrency: 32}, ""},
		{"defaults, empty file", 0, 0, 0, Plan{Size: 0, PartSize: 8 * mib, Parts: 1, Concurrency: 1}, ""},
		{"caller's choice", 10 * gib, 64 * mib, 32, Plan{Size: 10 * gib, PartSize: 64 * mib, Parts: 160, Concurrency: 32}, ""},
		{"S3's smallest part", 12 * mib, 5 * mib, 1, Plan{Size: 12 * mib, PartSize: 5 * mib, Parts: 3, Concurrency: 1}, ""},
		{"most parts in flight", gib, 0, MaxConcurrency, Plan{Size: gib, PartSize: 8 * mib, Parts: 128, Concurrency: MaxConcurrency}, ""},
		{"exactly 10,000 parts", 5 * mib * MaxParts, 5 * mib, 4, Plan{Size: 5 * mib * MaxParts, PartSize: 5 * mib, Parts: MaxParts, Concurrency: 4}, ""},
		{"one byte more than 10,000 parts", 5*mib*MaxParts + 1, 5 * mib, 4, Plan{}, "10001 parts, more than S3's 10000; use at least 6 MiB"},
		{"part below 5 MiB", gib, 4 * mib, 0, Plan{}, "outside S3's limits"},
		{"part above 5 GiB", gib, 5*gib + mib, 0, Plan{}, "outside S3's limits"},
		{"concurrency 65", gib, 0, 65, Plan{}, "concurrency 65 is outside 1..64"},
		{"negative concurrency", gib, 0, -1, Plan{}, "outside 1..64"},
		{"file over 5 TiB", MaxObjectSize + 1, 0, 0, Plan{}, "S3 takes 0 to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewPlan(tt.size, tt.partSize, tt.conc)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantError)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NewPlan = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
