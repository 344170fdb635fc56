package processor

import (
	"reflect"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

func TestDecide(t *testing.T) {
	obj := &jamf.Package{ID: "7", Name: "App.pkg"}
	same := &jamf.JCDSFile{FileName: "App.pkg", Length: 100, SHA3: "abc"}
	otherSize := &jamf.JCDSFile{FileName: "App.pkg", Length: 99, SHA3: "abc"}
	empty := &jamf.JCDSFile{FileName: "App.pkg", Length: 0}
	withMD5 := &jamf.JCDSFile{FileName: "App.pkg", Length: 100, MD5: "0a1b", SHA3: "abc"}
	tests := []struct {
		name  string
		cfg   Config
		facts Facts
		file  FileAction
		meta  MetaAction
	}{
		{"new package", Config{}, Facts{LocalSize: 100}, FileUpload, MetaCreate},
		{"nightly no-op", Config{}, Facts{Object: obj, LocalSize: 100}, FileKeep, MetaNone},
		{"exists, metadata only", Config{ReplaceMetadata: true}, Facts{Object: obj, LocalSize: 100}, FileKeep, MetaUpdate},
		{"exists, skip wins over replace metadata", Config{ReplaceMetadata: true, SkipMetadata: true}, Facts{Object: obj}, FileKeep, MetaNone},
		{"replace, identical bytes", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, LocalSHA3: "ABC"}, FileUnchanged, MetaUpdate},
		{"replace, same size, changed", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, LocalSHA3: "def"}, FileReplace, MetaUpdate},
		{"replace, identical by MD5", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: withMD5, LocalSize: 100, LocalMD5: "0A1B"}, FileUnchanged, MetaUpdate},
		{"replace, MD5 differs", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: withMD5, LocalSize: 100, LocalMD5: "ffff", LocalSHA3: "abc"}, FileReplace, MetaUpdate},
		{"replace, nothing comparable", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: withMD5, LocalSize: 100}, FileReplace, MetaUpdate},
		{"replace, size differs", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100}, FileReplace, MetaUpdate},
		{"replace, no file in JCDS", Config{ReplacePkg: true}, Facts{Object: obj, LocalSize: 100}, FileUpload, MetaUpdate},
		{"no object, file already there (rerun after a metadata failure)", Config{}, Facts{JCDSFile: same, LocalSize: 100, LocalSHA3: "abc"}, FileUnchanged, MetaCreate},
		{"no object, empty file left by a failed upload", Config{}, Facts{JCDSFile: empty, LocalSize: 100}, FileReplace, MetaCreate},
		{"no object, skip metadata still creates one (as the reference)", Config{SkipMetadata: true}, Facts{LocalSize: 100}, FileUpload, MetaCreate},
		{"exists, skip metadata never amends", Config{SkipMetadata: true, ReplacePkg: true}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100}, FileReplace, MetaNone},
		{"unsettled object, file missing", Config{}, Facts{Object: obj, LocalSize: 100, Unsettled: true}, FileUpload, MetaUpdate},
		{"unsettled object, its file there", Config{}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100, Unsettled: true}, FileKeep, MetaNone},
		{"unsettled object, file there but unknown bytes", Config{}, Facts{Object: obj, JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: -1}, LocalSize: 100, Unsettled: true}, FileKeep, MetaNone},
		{"failed object, same bytes there", Config{}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, LocalSHA3: "abc", Unsettled: true, Failed: true}, FileUnchanged, MetaNone},
		{"failed object, other bytes there", Config{}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100, Unsettled: true, Failed: true}, FileReplace, MetaUpdate},
		{"bytes that cannot be compared", Config{}, Facts{JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: -1}, LocalSize: 100}, FileReplace, MetaCreate},
		{"quiet night, object's file missing: repaired", Config{}, Facts{Object: obj, LocalSize: 100, ObjectFileMissing: true}, FileUpload, MetaUpdate},
		{"quiet night, journal says the file is pending", Config{}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100, Pending: PendingFile}, FileReplace, MetaUpdate},
		{"quiet night, pending file arrived after all: hash still written", Config{}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, LocalSHA3: "abc", Pending: PendingFile}, FileUnchanged, MetaUpdate},
		{"quiet night, journal says metadata is pending", Config{}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, Pending: PendingMetadata}, FileKeep, MetaUpdate},
		{"skip metadata: the repair sends the file, writes nothing", Config{SkipMetadata: true}, Facts{Object: obj, LocalSize: 100, ObjectFileMissing: true}, FileUpload, MetaNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(&tt.cfg, tt.facts)
			if p.File != tt.file || p.Meta != tt.meta {
				t.Errorf("Decide = %s/%s, want %s/%s (%s)", p.File, p.Meta, tt.file, tt.meta, p.Reason)
			}
			if p.Reason == "" {
				t.Errorf("no reason given")
			}
		})
	}
}

func TestLazyHashing(t *testing.T) {
	if NeedsJCDSList(&Config{}, &jamf.Package{}) {
		t.Errorf("the nightly no-op must not list the JCDS")
	}
	if !NeedsJCDSList(&Config{}, nil) || !NeedsJCDSList(&Config{ReplacePkg: true}, &jamf.Package{}) {
		t.Errorf("a possible upload must list the JCDS")
	}
	tests := []struct {
		f    *jamf.JCDSFile
		size int64
		want bool
	}{
		{nil, 100, false},
		{&jamf.JCDSFile{Length: 50}, 100, false},
		{&jamf.JCDSFile{Length: 100}, 100, true},
		{&jamf.JCDSFile{Length: 0}, 0, false},
	}
	for _, tt := range tests {
		if got := NeedsLocalHash(tt.f, tt.size); got != tt.want {
			t.Errorf("NeedsLocalHash(%+v, %d) = %v", tt.f, tt.size, got)
		}
	}
}

func TestDuplicates(t *testing.T) {
	files := []jamf.JCDSFile{{FileName: "App.pkg"}, {FileName: "App_1.pkg"}, {FileName: "App_12.pkg"},
		{FileName: "App_x.pkg"}, {FileName: "Other_1.pkg"}, {FileName: "App (1)_2.pkg"}, {FileName: "App_1.dmg"}}
	if got, want := Duplicates(files, "App.pkg"), []string{"App_1.pkg", "App_12.pkg"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Duplicates = %v, want %v", got, want)
	}
	if got := Duplicates(files, "App (1).pkg"); !reflect.DeepEqual(got, []string{"App (1)_2.pkg"}) {
		t.Errorf("regexp metacharacters not quoted: %v", got)
	}
}

func TestPlanSteps(t *testing.T) {
	cfg := &Config{Recalculate: true}
	f := &PkgFile{Name: "App.pkg", Size: 10}
	steps := Plan{File: FileReplace, Meta: MetaUpdate, Reason: "r"}.Steps(cfg, f, ModeJCDS2)
	if len(steps) != 4 {
		t.Errorf("steps = %q", steps)
	}
}

// TestDecideAfterAnAttempt: the choices that once followed Decide (a file
// sent by an earlier attempt of the run, the in-place replace) are part of
// it.
func TestDecideAfterAnAttempt(t *testing.T) {
	obj := &jamf.Package{ID: "7", Name: "App", FileName: "App.pkg"}
	otherName := &jamf.Package{ID: "7", Name: "App", FileName: "App-1.pkg"}
	same := &jamf.JCDSFile{FileName: "App.pkg", Length: 100, MD5: "0a1b"}
	otherSize := &jamf.JCDSFile{FileName: "App.pkg", Length: 99}
	tests := []struct {
		name    string
		cfg     Config
		facts   Facts
		file    FileAction
		meta    MetaAction
		inPlace bool
		sendNow bool
		reason  string // in the reason, when set
	}{
		{"sent earlier, object now seen: its metadata", Config{}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: same, LocalSize: 100, LocalMD5: "0a1b", SentEarlier: true, Classic: true},
			FileUpload, MetaUpdate, false, false, "sent already in this run"},
		{"sent earlier, skip metadata writes nothing", Config{SkipMetadata: true}, Facts{Object: obj, FileName: "App.pkg", LocalSize: 100, SentEarlier: true, Classic: true},
			FileUpload, MetaNone, false, false, "sent already in this run"},
		{"sent earlier, a replace stays a replace", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100, SentEarlier: true},
			FileReplace, MetaUpdate, false, false, "differs in size"},
		{"sent earlier, no object yet", Config{}, Facts{FileName: "App.pkg", JCDSFile: same, LocalSize: 100, LocalMD5: "0a1b", SentEarlier: true},
			FileUpload, MetaCreate, false, false, "sent already in this run"},
		{"object names this file: replaced in place", Config{ReplacePkg: true}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100, Mode: ModeJCDS2},
			FileReplace, MetaUpdate, true, true, "differs in size"},
		{"missing file repaired in place", Config{}, Facts{Object: obj, FileName: "App.pkg", LocalSize: 100, ObjectFileMissing: true},
			FileReplace, MetaUpdate, true, true, "repair"},
		{"upload_mode jcds2 replaces in place too: no delete on 11.5+", Config{ReplacePkg: true, UploadMode: ModeJCDS2}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100},
			FileReplace, MetaUpdate, true, true, "differs in size"},
		{"before 11.5: no in-place replace", Config{ReplacePkg: true}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100, Classic: true},
			FileReplace, MetaUpdate, false, true, "differs in size"},
		{"object names another file: not in place", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100},
			FileUpload, MetaUpdate, false, true, "no file of this name"},
		{"identical bytes: nothing sent, not in place", Config{ReplacePkg: true}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: same, LocalSize: 100, LocalMD5: "0A1B"},
			FileUnchanged, MetaUpdate, false, false, "same size and MD5"},
		{"kept: not in place", Config{}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: same, LocalSize: 100},
			FileKeep, MetaNone, false, false, "replace_pkg is false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(&tt.cfg, tt.facts)
			if p.File != tt.file || p.Meta != tt.meta || p.InPlace != tt.inPlace || p.SendNow != tt.sendNow {
				t.Errorf("Decide = %s/%s in place %v send now %v, want %s/%s %v %v (%s)", p.File, p.Meta, p.InPlace, p.SendNow, tt.file, tt.meta, tt.inPlace, tt.sendNow, p.Reason)
			}
			if !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("reason %q, want it to say %q", p.Reason, tt.reason)
			}
		})
	}
}

// Decide reads nothing but its arguments: the same facts give the same plan.
func TestDecideIsPure(t *testing.T) {
	cfg := &Config{ReplacePkg: true}
	facts := Facts{Object: &jamf.Package{ID: "7", Name: "App", FileName: "App.pkg"}, FileName: "App.pkg",
		JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: 99}, LocalSize: 100, DupsBefore: map[string]bool{}}
	first := Decide(cfg, facts)
	for i := 0; i < 3; i++ {
		if again := Decide(cfg, facts); !reflect.DeepEqual(again, first) {
			t.Fatalf("Decide changed its answer: %+v then %+v", first, again)
		}
	}
	if facts.Object.FileName != "App.pkg" || facts.JCDSFile.Length != 99 || cfg.UploadMode != "" {
		t.Errorf("Decide changed its inputs")
	}
}

// TestDecideNoDeleteOnANodesView: on 11.5+ no plan deletes a file of the
// package's name. A same-name file with no visible object (a Jamf Cloud
// node that has not caught up, or an orphan) gets the object created
// first, then its file replaced through {id}/upload; an object naming
// another file gets the new fileName written before its {id}/upload.
// Below 11.5 the create still comes first, and the delete stays.
func TestDecideNoDeleteOnANodesView(t *testing.T) {
	otherName := &jamf.Package{ID: "7", Name: "App", FileName: "App-145.pkg"}
	changed := &jamf.JCDSFile{FileName: "App.pkg", Length: 99}
	tests := []struct {
		name  string
		cfg   Config
		facts Facts
		want  Plan   // File, Meta, InPlace, CreateFirst, WriteFileName
		step  string // in the plan's steps
	}{
		{"lagging node, changed file, replace_pkg", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2, FileExisted: true},
			Plan{File: FileReplace, Meta: MetaCreate, InPlace: true, CreateFirst: true}, "create package object \"App\" first"},
		{"lagging node, changed file, replace_pkg false: the create decides", Config{}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2, FileExisted: true},
			Plan{File: FileReplace, Meta: MetaCreate, InPlace: true, CreateFirst: true}, "wait for it and decide again"},
		{"lagging node, v1", Config{ReplacePkg: true, UploadMode: ModeV1}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeV1, FileExisted: true},
			Plan{File: FileReplace, Meta: MetaCreate, InPlace: true, CreateFirst: true}, "nothing is deleted first"},
		{"lagging node, JCDS gone, file there per the cloud inventory", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: -1}, LocalSize: 100, Mode: ModeV1, FileExisted: true},
			Plan{File: FileReplace, Meta: MetaCreate, InPlace: true, CreateFirst: true}, "nothing is deleted first"},
		{"no same-name file: the JCDS path, object after", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2},
			Plan{File: FileUpload, Meta: MetaCreate}, "to the JCDS"},
		{"below 11.5: created first, the delete stays and is said", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2, Classic: true, FileExisted: true},
			Plan{File: FileReplace, Meta: MetaCreate, CreateFirst: true}, "the delete cannot be avoided"},
		{"object names another file, v1: fileName first", Config{ReplacePkg: true, UploadMode: ModeV1}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100, Mode: ModeV1},
			Plan{File: FileUpload, Meta: MetaUpdate, WriteFileName: true}, "write fileName App.pkg on the package object first"},
		{"object names another file, same-name file there: fileName first, in place", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2},
			Plan{File: FileReplace, Meta: MetaUpdate, InPlace: true, WriteFileName: true}, "write fileName"},
		{"object names another file, JCDS mode: new name through the JCDS, fileName in the metadata", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2},
			Plan{File: FileUpload, Meta: MetaUpdate}, "to the JCDS"},
		{"object names another file, kept", Config{}, Facts{Object: otherName, FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeV1},
			Plan{File: FileKeep, Meta: MetaNone}, "keep the file"},
	}
	f := &PkgFile{Name: "App.pkg", Size: 100}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.DisplayName = "App"
			p := Decide(&cfg, tt.facts)
			got := Plan{File: p.File, Meta: p.Meta, InPlace: p.InPlace, CreateFirst: p.CreateFirst, WriteFileName: p.WriteFileName}
			if got != tt.want {
				t.Errorf("Decide = %+v, want %+v (%s)", got, tt.want, p.Reason)
			}
			steps := strings.Join(p.Steps(&cfg, f, tt.facts.Mode), "\n")
			if !strings.Contains(steps, tt.step) {
				t.Errorf("steps lack %q:\n%s", tt.step, steps)
			}
			if !tt.facts.Classic && strings.Contains(steps, "delete the") {
				t.Errorf("a plan on 11.5+ deletes:\n%s", steps)
			}
		})
	}
}
