package processor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
	"github.com/rs/zerolog"
)

// TestJournal: entries round-trip per server and file, are private (0600
// in a 0700 folder), hold no secret, and clear.
func TestJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache", "journal")
	j, err := openJournalStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := JournalEntry{URL: "https://a.jamfcloud.com", FileName: "App.pkg", PackageName: "App", PackageID: "7",
		Pending: PendingFile, Deleted: true, LocalPath: "/tmp/App.pkg", Size: 42}
	if err := j.store(e); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url, file string
		want      bool
	}{
		{"https://a.jamfcloud.com", "App.pkg", true},
		{"https://b.jamfcloud.com", "App.pkg", false},
		{"https://a.jamfcloud.com", "Other.pkg", false},
	} {
		got, ok, err := j.load(tc.url, tc.file)
		if err != nil || ok != tc.want {
			t.Fatalf("load(%s, %s) = %v, %v; want %v", tc.url, tc.file, ok, err, tc.want)
		}
		if ok && (got.Pending != PendingFile || !got.Deleted || got.Size != 42 || got.Started.IsZero()) {
			t.Errorf("entry read back as %+v", got)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("journal folder mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("journal files %v, want one entry and no temporary file", files)
	}
	fi, _ = os.Stat(files[0])
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(files[0])
	for _, bad := range []string{"password", "secret", "token", "Bearer"} {
		if strings.Contains(strings.ToLower(string(b)), strings.ToLower(bad)) {
			t.Errorf("entry mentions %q: %s", bad, b)
		}
	}

	e.Pending, e.HashType, e.HashValue = PendingMetadata, "SHA3_512", "abc"
	if err := j.store(e); err != nil {
		t.Fatal(err)
	}
	got, _, _ := j.load(e.URL, e.FileName)
	if got.Pending != PendingMetadata || got.HashValue != "abc" {
		t.Errorf("update lost: %+v", got)
	}
	if err := j.clear(e.URL, e.FileName); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := j.load(e.URL, e.FileName); ok || err != nil {
		t.Errorf("entry still there after clear (%v)", err)
	}
	if err := j.clear(e.URL, e.FileName); err != nil {
		t.Errorf("clearing a missing entry: %v", err)
	}
}

// TestJournalRefusesOpenFolderAndGarbage: an existing folder open to others
// is tightened; an unreadable entry is an error, not silently "nothing
// pending" (that would forget a deleted file).
func TestJournalRefusesOpenFolderAndGarbage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	j, err := openJournalStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("folder left at %v", fi.Mode().Perm())
	}
	if err := os.WriteFile(j.path("https://x", "A.pkg"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.load("https://x", "A.pkg"); err == nil {
		t.Errorf("a garbled entry loaded without error")
	}
}

// TestFileID: what counts as a changed local file.
func TestFileID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "A.pkg")
	write := func(b string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("0123456789")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	base, err := statID(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func()
		want   string
	}{
		{"untouched", func() {}, ""},
		{"rewritten in place, same size", func() {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("abcdefghij"), 0)
			f.Close()
		}, "modified"},
		{"appended", func() {
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte("x"))
			f.Close()
		}, "size changed"},
		{"replaced by rename", func() {
			tmp := path + ".new"
			os.WriteFile(tmp, []byte("0123456789"), 0o644)
			os.Chtimes(tmp, base.ModTime, base.ModTime)
			os.Rename(tmp, path)
		}, "replaced"},
		{"removed", func() { os.Remove(path) }, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write("0123456789")
			os.Chtimes(path, old, old)
			id, _ := statID(path)
			tc.change()
			err := checkUnchanged(path, id, "during the upload")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestRunJournal: one run's journal reads the earlier run's entry once,
// keeps "deleted" and the start time across its own notes, drops a
// metadata note the distribution point no longer matches, and keeps a
// file note through the metadata write until the run clears it (once the
// file is verified).
func TestRunJournal(t *testing.T) {
	const url = "https://a.jamfcloud.com"
	cache := filepath.Join(t.TempDir(), "cache", "tokens")
	open := func() *journal { return openRunJournal(cache, true, url, "App.pkg", zerolog.Nop()) }
	listed := &jamf.JCDSFile{FileName: "App.pkg", Length: 42, MD5: "aa"}

	first := open()
	if !first.available() || first.load(true, nil) != nil || first.hasWork() {
		t.Fatalf("a new journal has work: available %v", first.available())
	}
	if err := first.noteFile("7", "App", "/tmp/App.pkg", 42, true); err != nil {
		t.Fatal(err)
	}
	started := first.pending.Started
	if err := first.noteFile("7", "App", "/tmp/App.pkg", 42, false); err != nil {
		t.Fatal(err)
	}
	if !first.pending.Deleted || !first.pending.Started.Equal(started) {
		t.Errorf("a later note lost deleted or the start: %+v", first.pending)
	}
	if first.load(true, listed) != nil {
		t.Errorf("a run read its own note as an earlier run's")
	}

	second := open()
	e := second.load(true, listed)
	if e == nil || e.Pending != PendingFile || !e.Deleted || e.PackageID != "7" || !second.hasWork() {
		t.Fatalf("earlier entry = %+v", e)
	}
	if err := second.noteMeta(&jamf.Package{ID: "7", Name: "App"}, "/tmp/App.pkg", 42, s3upload.Sums{MD5: "aa"}); err != nil {
		t.Fatal(err)
	}
	if e := open().load(true, listed); e == nil || e.Pending != PendingFile {
		t.Errorf("the metadata write of an unverified file replaced its send-again note: %+v", e)
	}
	second.clear()
	if second.hasWork() || open().load(true, listed) != nil {
		t.Errorf("a cleared file is still noted")
	}

	pkg := &jamf.Package{ID: "7", Name: "App", HashType: "MD5", HashValue: "aa"}
	for _, tc := range []struct {
		name string
		jf   *jamf.JCDSFile
		kept bool
	}{
		{"same file listed", listed, true},
		{"file replaced since", &jamf.JCDSFile{FileName: "App.pkg", Length: 42, MD5: "bb"}, false},
		{"file gone", nil, false},
	} {
		j := open()
		if err := j.noteMeta(pkg, "/tmp/App.pkg", 42, s3upload.Sums{MD5: "aa"}); err != nil {
			t.Fatal(err)
		}
		next := open()
		e := next.load(true, tc.jf)
		if (e != nil) != tc.kept {
			t.Errorf("%s: metadata note kept %v, want %v", tc.name, e != nil, tc.kept)
		}
		if tc.kept && (e.Pending != PendingMetadata || e.HashValue != "aa") {
			t.Errorf("%s: entry %+v", tc.name, e)
		}
		next.clear()
		if open().load(true, tc.jf) != nil {
			t.Errorf("%s: entry still there after clear", tc.name)
		}
	}
}

// Without a journal folder, a dry run makes none and every note is a no-op.
func TestRunJournalDryRunMakesNothing(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache", "tokens")
	j := openRunJournal(cache, false, "https://a.jamfcloud.com", "App.pkg", zerolog.Nop())
	if j.available() {
		t.Fatal("a dry run opened a journal that was not there")
	}
	if err := j.noteFile("7", "App", "/tmp/App.pkg", 1, true); err != nil || j.hasWork() {
		t.Errorf("noteFile without a journal: %v, work %v", err, j.hasWork())
	}
	if _, err := os.Stat(filepath.Dir(journalDir(cache))); !os.IsNotExist(err) {
		t.Errorf("a dry run made the cache folder: %v", err)
	}
}
