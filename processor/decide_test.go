package processor

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
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
		steps string // the whole plan, in stepKinds' words
	}{
		{"new package", Config{}, Facts{LocalSize: 100}, FileUpload, MetaCreate, "jcds meta-create(server) settle"},
		{"nightly no-op", Config{}, Facts{Object: obj, LocalSize: 100}, FileKeep, MetaNone, "keep no-meta"},
		{"exists, metadata only", Config{ReplaceMetadata: true}, Facts{Object: obj, LocalSize: 100}, FileKeep, MetaUpdate, "keep meta-update(server) settle"},
		{"exists, skip wins over replace metadata", Config{ReplaceMetadata: true, SkipMetadata: true}, Facts{Object: obj}, FileKeep, MetaNone, "keep no-meta"},
		{"replace, identical bytes", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{SHA3_512: "ABC"}}, FileUnchanged, MetaUpdate, "skip meta-update(server) settle"},
		{"replace, same size, changed", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{SHA3_512: "def"}}, FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle"},
		{"replace, identical by MD5", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: withMD5, LocalSize: 100, Local: s3upload.Sums{MD5: "0A1B"}}, FileUnchanged, MetaUpdate, "skip meta-update(server) settle"},
		{"replace, MD5 differs", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: withMD5, LocalSize: 100, Local: s3upload.Sums{MD5: "ffff", SHA3_512: "abc"}}, FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle"},
		{"replace, nothing comparable", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: withMD5, LocalSize: 100}, FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle"},
		{"replace, size differs", Config{ReplacePkg: true}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100}, FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle"},
		{"replace, no file in JCDS", Config{ReplacePkg: true}, Facts{Object: obj, LocalSize: 100}, FileUpload, MetaUpdate, "jcds+note-file meta-update(server)+note-meta settle"},
		{"no object, file already there (rerun after a metadata failure)", Config{}, Facts{JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{SHA3_512: "abc"}}, FileUnchanged, MetaCreate, "skip meta-create(server) settle"},
		{"no object, empty file left by a failed upload", Config{}, Facts{JCDSFile: empty, LocalSize: 100}, FileReplace, MetaCreate, "create-first v1-inplace+remove-on-failure+note-file settle"},
		{"no object, skip metadata still creates one (as the reference)", Config{SkipMetadata: true}, Facts{LocalSize: 100}, FileUpload, MetaCreate, "jcds meta-create(server) settle"},
		{"exists, skip metadata never amends", Config{SkipMetadata: true, ReplacePkg: true}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100}, FileReplace, MetaNone, "v1-inplace+note-file no-meta settle"},
		{"unsettled object, file missing", Config{}, Facts{Object: obj, LocalSize: 100, Unsettled: true}, FileUpload, MetaUpdate, "jcds+note-file meta-update(server)+note-meta settle"},
		{"unsettled object, its file there", Config{}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100, Unsettled: true}, FileKeep, MetaNone, "keep no-meta settle"},
		{"unsettled object, file there but unknown bytes", Config{}, Facts{Object: obj, JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: -1}, LocalSize: 100, Unsettled: true}, FileKeep, MetaNone, "keep no-meta settle"},
		{"failed object, same bytes there", Config{}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{SHA3_512: "abc"}, Unsettled: true, Failed: true}, FileUnchanged, MetaNone, "skip no-meta settle"},
		{"failed object, other bytes there", Config{}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100, Unsettled: true, Failed: true}, FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle"},
		{"bytes that cannot be compared", Config{}, Facts{JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: -1}, LocalSize: 100}, FileReplace, MetaCreate, "create-first v1-inplace+remove-on-failure+note-file settle"},
		{"quiet night, object's file missing: repaired", Config{}, Facts{Object: obj, LocalSize: 100, ObjectFileMissing: true}, FileUpload, MetaUpdate, "jcds+note-file meta-update(server)+note-meta settle"},
		{"quiet night, journal says the file is pending", Config{}, Facts{Object: obj, JCDSFile: otherSize, LocalSize: 100, Pending: PendingFile}, FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle"},
		{"quiet night, pending file arrived after all: hash still written", Config{}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{SHA3_512: "abc"}, Pending: PendingFile}, FileUnchanged, MetaUpdate, "skip meta-update(server)+note-meta settle"},
		{"quiet night, journal says metadata is pending", Config{}, Facts{Object: obj, JCDSFile: same, LocalSize: 100, Pending: PendingMetadata}, FileKeep, MetaUpdate, "keep meta-update(server) settle"},
		{"skip metadata: the repair sends the file, writes nothing", Config{SkipMetadata: true}, Facts{Object: obj, LocalSize: 100, ObjectFileMissing: true}, FileUpload, MetaNone, "jcds+note-file no-meta settle"},
		{"recalculate: the settle step's refresh is it", Config{Recalculate: true}, Facts{LocalSize: 100}, FileUpload, MetaCreate, "jcds meta-create(server) settle recalc(settle)"},
		{"recalculate before 11.11: nothing to ask for", Config{Recalculate: true}, Facts{LocalSize: 100, Classic: true}, FileUpload, MetaCreate, "jcds meta-create(ours) settle-none recalc(none)"},
		{"recalculate, nightly no-op: nothing written, no recalculation", Config{Recalculate: true}, Facts{Object: obj, LocalSize: 100}, FileKeep, MetaNone, "keep no-meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A current server unless the row says Classic.
			tt.facts.CanRefresh = !tt.facts.Classic
			p := Decide(&tt.cfg, tt.facts)
			if p.File != tt.file || p.Meta != tt.meta {
				t.Errorf("Decide = %s/%s, want %s/%s (%s)", p.File, p.Meta, tt.file, tt.meta, p.Reason)
			}
			if got := stepKinds(p); got != tt.steps {
				t.Errorf("steps %q, want %q", got, tt.steps)
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

// journalKind names what a step notes in the journal: "" for nothing,
// "+note-file", "+note-meta".
func journalKind(n journalNote) string {
	return [...]string{"", "+note-file", "+note-meta"}[n]
}

// recordKind names what a write of the whole record does with its hash
// fields: "" for leaving them to the server.
func recordKind(h recordHash) string {
	switch {
	case h.Write && h.DropServer:
		return "+hash-no-server-digests"
	case h.Write:
		return "+hash"
	}
	return ""
}

// stepKinds names a plan's steps in short, in order, with what each was
// told that changes what it does.
func stepKinds(p Plan) string {
	var k []string
	for _, s := range p.Steps {
		switch s := s.(type) {
		case keepFile:
			k = append(k, "keep")
		case skipUpload:
			k = append(k, "skip")
		case createObject:
			n := "create"
			if s.First {
				n = "create-first"
			}
			if s.Classic {
				n += "(classic)"
			}
			k = append(k, n)
		case writeFileName:
			k = append(k, "filename"+journalKind(s.Note)+recordKind(s.Hash))
		case sendJCDS:
			n := "jcds"
			if s.DeleteStale {
				n += "+delete"
			}
			k = append(k, n+journalKind(s.Note))
		case sendV1:
			n := "v1"
			if s.InPlace {
				n += "-inplace"
			}
			if s.RevertTo != nil {
				n += "+revert" + recordKind(s.RevertHash)
			}
			if s.Created && !s.KeepCreated {
				n += "+remove-on-failure"
			}
			k = append(k, n+journalKind(s.Note))
		case writeMetadata:
			n := "meta-update"
			if s.Create {
				n = "meta-create"
			}
			k = append(k, n+"("+[...]string{"server", "ours", "journal", "kept"}[s.Hash]+")"+journalKind(s.Note)+recordKind(s.Record))
		case noMetadata:
			k = append(k, "no-meta")
		case settle:
			k = append(k, [...]string{"settle", "settle-listing", "settle-none"}[s.Kind])
		case recalculate:
			if s.Refreshed {
				k = append(k, "recalc(settle)")
			} else {
				k = append(k, "recalc(none)")
			}
		default:
			k = append(k, fmt.Sprintf("%T", s))
		}
	}
	return strings.Join(k, " ")
}

// Every step says what it does, and a dry run's pkg_plan is those words.
func TestPlanSentences(t *testing.T) {
	cfg := &Config{Recalculate: true, ReplacePkg: true}
	p := Decide(cfg, Facts{Object: &jamf.Package{ID: "7", Name: "App.pkg", FileName: "App.pkg"}, FileName: "App.pkg",
		JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: 9}, LocalSize: 10, Mode: ModeJCDS2, CanRefresh: true})
	got := p.Sentences()
	if len(got) != len(p.Steps) || len(got) != 4 {
		t.Fatalf("sentences %q for steps %s", got, stepKinds(p))
	}
	for i, s := range got {
		if s == "" || s != p.Steps[i].String() {
			t.Errorf("sentence %d = %q, step says %q", i, s, p.Steps[i])
		}
	}
}

// TestDecideAfterAnAttempt: the choices that once followed Decide (a file
// sent by an earlier attempt of the run, the in-place replace) are part of
// it.
func TestDecideAfterAnAttempt(t *testing.T) {
	obj := &jamf.Package{ID: "7", Name: "App", FileName: "App.pkg"}
	otherName := &jamf.Package{ID: "7", Name: "App", FileName: "App-1.pkg"}
	lostRec := &jamf.Package{ID: "7", Name: "App", FileName: "App.pkg", SizeKnown: true}
	same := &jamf.JCDSFile{FileName: "App.pkg", Length: 100, MD5: "0a1b"}
	otherSize := &jamf.JCDSFile{FileName: "App.pkg", Length: 99}
	tests := []struct {
		name   string
		cfg    Config
		facts  Facts
		file   FileAction
		meta   MetaAction
		steps  string // the whole plan, in stepKinds' words
		reason string // in the reason, when set
	}{
		{"sent earlier, object now seen: its metadata", Config{}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{MD5: "0a1b"}, SentEarlier: true, Classic: true},
			FileUpload, MetaUpdate, "meta-update(ours)+note-meta+hash-no-server-digests settle-none", "sent already in this run"},
		{"sent earlier, skip metadata writes nothing", Config{SkipMetadata: true}, Facts{Object: obj, FileName: "App.pkg", LocalSize: 100, SentEarlier: true, Classic: true},
			FileUpload, MetaNone, "no-meta settle-none", "sent already in this run"},
		{"sent earlier, a replace stays a replace", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100, SentEarlier: true},
			FileReplace, MetaUpdate, "meta-update(server)+note-meta settle", "differs in size"},
		{"sent earlier, no object yet", Config{}, Facts{FileName: "App.pkg", JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{MD5: "0a1b"}, SentEarlier: true},
			FileUpload, MetaCreate, "meta-create(server) settle", "sent already in this run"},
		{"object names this file: replaced in place", Config{ReplacePkg: true}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100, Mode: ModeJCDS2},
			FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle", "differs in size"},
		{"missing file repaired in place", Config{}, Facts{Object: obj, FileName: "App.pkg", LocalSize: 100, ObjectFileMissing: true},
			FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle", "repair"},
		{"upload_mode jcds2 replaces in place too: no delete on 11.5+", Config{ReplacePkg: true, UploadMode: ModeJCDS2}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100},
			FileReplace, MetaUpdate, "v1-inplace+note-file meta-update(server)+note-meta settle", "differs in size"},
		{"before 11.5: no in-place replace", Config{ReplacePkg: true}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: otherSize, LocalSize: 100, Classic: true},
			FileReplace, MetaUpdate, "jcds+delete+note-file meta-update(ours)+note-meta+hash-no-server-digests settle-none", "differs in size"},
		{"object names another file: not in place", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100},
			FileUpload, MetaUpdate, "jcds+note-file meta-update(server)+note-meta settle", "no file of this name"},
		{"identical bytes: nothing sent, not in place", Config{ReplacePkg: true}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: same, LocalSize: 100, Local: s3upload.Sums{MD5: "0A1B"}},
			FileUnchanged, MetaUpdate, "skip meta-update(server) settle", "same size and MD5"},
		{"lost: sent again in place, nothing else written", Config{ReplacePkg: true}, Facts{Object: lostRec, FileName: "App.pkg", LocalSize: 100, Lost: true},
			FileReplace, MetaNone, "v1-inplace+note-file settle", "never landed"},
		{"lost after a write, recalculate: once more after the resend", Config{Recalculate: true}, Facts{Object: lostRec, FileName: "App.pkg", LocalSize: 100, Lost: true, Wrote: true},
			FileReplace, MetaNone, "v1-inplace+note-file settle recalc(settle)", "never landed"},
		{"kept: not in place", Config{}, Facts{Object: obj, FileName: "App.pkg", JCDSFile: same, LocalSize: 100},
			FileKeep, MetaNone, "keep no-meta", "replace_pkg is false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A current server unless the row says Classic.
			tt.facts.CanRefresh = !tt.facts.Classic
			p := Decide(&tt.cfg, tt.facts)
			if p.File != tt.file || p.Meta != tt.meta {
				t.Errorf("Decide = %s/%s, want %s/%s (%s)", p.File, p.Meta, tt.file, tt.meta, p.Reason)
			}
			if got := stepKinds(p); got != tt.steps {
				t.Errorf("steps %q, want %q", got, tt.steps)
			}
			if !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("reason %q, want it to say %q", p.Reason, tt.reason)
			}
		})
	}
}

// After a loss the resend's wait takes the hash the loss showed as the
// previous one (terraform-provider-jamfplatform's retry loop): a second
// loss is the hash moving away from it again, told by what the record
// shows, not by how long the wait ran.
func TestResendTakesTheShownHashAsPrevious(t *testing.T) {
	shown := &jamf.Package{ID: "7", FileName: "App.pkg", SizeKnown: true, HashType: "SHA3_512", HashValue: "ABC"}
	facts := Facts{Object: shown, FileName: "App.pkg", LocalSize: 100, Lost: true, CanRefresh: true}
	p := Decide(&Config{}, facts)
	st, ok := p.Steps[len(p.Steps)-1].(settle)
	if !ok || !st.Sends || !st.Expect.local || st.Object == nil || recordSHA3(st.Object) != "abc" {
		t.Errorf("last step %#v, want a settle on the sent file whose previous hash is the one the loss showed", p.Steps[len(p.Steps)-1])
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
		file  FileAction
		meta  MetaAction
		steps string // the whole plan, in stepKinds' words
		step  string // in the plan's sentences
	}{
		{"lagging node, changed file, replace_pkg", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2, FileExisted: true},
			FileReplace, MetaCreate, "create-first v1-inplace+note-file settle", "create package object \"App\" first"},
		{"lagging node, changed file, replace_pkg false: the create decides", Config{}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2, FileExisted: true},
			FileReplace, MetaCreate, "create-first v1-inplace+note-file settle", "wait for it and decide again"},
		{"lagging node, v1", Config{ReplacePkg: true, UploadMode: ModeV1}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeV1, FileExisted: true},
			FileReplace, MetaCreate, "create-first v1-inplace+note-file settle", "nothing is deleted first"},
		{"lagging node, JCDS gone, file there per the cloud inventory", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", JCDSFile: &jamf.JCDSFile{FileName: "App.pkg", Length: -1}, LocalSize: 100, Mode: ModeV1, FileExisted: true},
			FileReplace, MetaCreate, "create-first v1-inplace+note-file settle", "nothing is deleted first"},
		{"no same-name file: the JCDS path, object after", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2},
			FileUpload, MetaCreate, "jcds meta-create(server) settle", "to the JCDS"},
		{"below 11.5: created first, the delete stays and is said", Config{ReplacePkg: true}, Facts{FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2, Classic: true, FileExisted: true},
			FileReplace, MetaCreate, "create-first(classic) jcds+delete+note-file settle-none", "the delete cannot be avoided"},
		{"object names another file, v1: fileName first", Config{ReplacePkg: true, UploadMode: ModeV1}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100, Mode: ModeV1},
			FileUpload, MetaUpdate, "filename+note-file v1+revert+note-file meta-update(server)+note-meta settle", "write fileName App.pkg on the package object first"},
		{"object names another file, same-name file there: fileName first, in place", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeJCDS2},
			FileReplace, MetaUpdate, "filename+note-file v1-inplace+revert+note-file meta-update(server)+note-meta settle", "write fileName"},
		{"object names another file, JCDS mode: new name through the JCDS, fileName in the metadata", Config{ReplacePkg: true}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2},
			FileUpload, MetaUpdate, "jcds+note-file meta-update(server)+note-meta settle", "to the JCDS"},
		{"object names another file, kept", Config{}, Facts{Object: otherName, FileName: "App.pkg", JCDSFile: changed, LocalSize: 100, Mode: ModeV1},
			FileKeep, MetaNone, "keep no-meta", "keep the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.DisplayName = "App"
			tt.facts.CanRefresh = !tt.facts.Classic
			p := Decide(&cfg, tt.facts)
			if p.File != tt.file || p.Meta != tt.meta {
				t.Errorf("Decide = %s/%s, want %s/%s (%s)", p.File, p.Meta, tt.file, tt.meta, p.Reason)
			}
			if got := stepKinds(p); got != tt.steps {
				t.Errorf("steps %q, want %q", got, tt.steps)
			}
			steps := strings.Join(p.Sentences(), "\n")
			if !strings.Contains(steps, tt.step) {
				t.Errorf("steps lack %q:\n%s", tt.step, steps)
			}
			if !tt.facts.Classic && strings.Contains(steps, "delete the") {
				t.Errorf("a plan on 11.5+ deletes:\n%s", steps)
			}
		})
	}
}

// Between 11.5 and 11.11 (no inventory refresh writes the server's digest)
// every write of the whole record carries a hash, never the server's
// digests of the file being replaced; from 11.11 the hash fields are the
// server's.
func TestDecideRecordHash(t *testing.T) {
	otherName := &jamf.Package{ID: "7", Name: "App", FileName: "App-145.pkg", HashType: "SHA_512", HashValue: "old"}
	obj := &jamf.Package{ID: "7", Name: "App", FileName: "App.pkg"}
	tests := []struct {
		name       string
		cfg        Config
		facts      Facts
		canRefresh bool
		steps      string
	}{
		{"11.10, fileName first: the pointing writes carry the object's hash", Config{ReplacePkg: true, UploadMode: ModeV1}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100, Mode: ModeV1}, false,
			"filename+note-file+hash-no-server-digests v1+revert+hash-no-server-digests+note-file meta-update(ours)+note-meta+hash-no-server-digests settle-listing"},
		{"11.11, fileName first: the server's hash fields", Config{ReplacePkg: true, UploadMode: ModeV1}, Facts{Object: otherName, FileName: "App.pkg", LocalSize: 100, Mode: ModeV1}, true,
			"filename+note-file v1+revert+note-file meta-update(server)+note-meta settle"},
		{"11.10, metadata only: the kept hash, the server's digests stay", Config{ReplaceMetadata: true}, Facts{Object: obj, FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2}, false,
			"keep meta-update(kept)+hash settle-none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.facts.CanRefresh = tt.canRefresh
			if got := stepKinds(Decide(&tt.cfg, tt.facts)); got != tt.steps {
				t.Errorf("steps %q, want %q", got, tt.steps)
			}
		})
	}
}

// The survey refreshes an unsettled record's file before reading the
// cloud distribution point's inventory only where a refresh exists, and
// never in a dry run.
func TestRefreshBeforeRead(t *testing.T) {
	tests := []struct {
		name   string
		dryRun bool
		facts  Facts
		want   bool
	}{
		{"unsettled, 11.11+", false, Facts{Unsettled: true, CanRefresh: true}, true},
		{"unsettled, dry run", true, Facts{Unsettled: true, CanRefresh: true}, false},
		{"unsettled, before 11.11", false, Facts{Unsettled: true}, false},
		{"settled", false, Facts{CanRefresh: true}, false},
	}
	for _, tt := range tests {
		if got := refreshBeforeRead(&Config{DryRun: tt.dryRun}, tt.facts); got != tt.want {
			t.Errorf("%s: refreshBeforeRead = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// An object made for a v1 upload is removed again if the upload fails,
// unless a file of its name was there before the run (deleting the object
// would delete it); a resend removes nothing.
func TestDecideRemoveOnFailure(t *testing.T) {
	tests := []struct {
		name  string
		facts Facts
		steps string
	}{
		{"new package, v1", Facts{FileName: "App.pkg", LocalSize: 100, Mode: ModeV1},
			"create v1+remove-on-failure+note-file settle"},
		{"new package, v1, a file of this name was there", Facts{FileName: "App.pkg", LocalSize: 100, Mode: ModeV1, FileExisted: true},
			"create v1+note-file settle"},
		{"resend", Facts{Object: &jamf.Package{ID: "7", Name: "App", FileName: "App.pkg"}, FileName: "App.pkg", LocalSize: 100, Mode: ModeV1, Lost: true},
			"v1-inplace+note-file settle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.facts.CanRefresh = true
			if got := stepKinds(Decide(&Config{}, tt.facts)); got != tt.steps {
				t.Errorf("steps %q, want %q", got, tt.steps)
			}
		})
	}
}

// TestChooseMode: the upload mode from the inputs, the server's version and
// what it offers; what the survey asks for it (asksJCDSList,
// asksCapability) in the same rows.
func TestChooseMode(t *testing.T) {
	v := func(raw string) jamf.Version {
		ver, err := jamf.ParseVersion(raw)
		if err != nil {
			t.Fatal(err)
		}
		return ver
	}
	listFails := &jamf.APIError{Step: "list JCDS files", Method: "GET", Path: "/api/v1/jcds/files", Status: 500}
	gone := &jamf.APIError{Step: "list JCDS files", Method: "GET", Path: "/api/v1/jcds/files", Status: 404}
	noJCDS := &jamf.APIError{Step: "list JCDS files", Method: "GET", Path: "/api/v1/jcds/files", Status: 404, Message: "JCDS settings not found"}
	capable := &jamf.UploadCapability{DirectUploadCapable: true}
	incapable := &jamf.UploadCapability{}
	tests := []struct {
		name     string
		mode     string // upload_mode
		version  string
		offer    Offer
		list     bool // asksJCDSList
		cap      bool // asksCapability
		want     string
		warning  string // in the warning
		err      string // in the error
		apiError bool   // the error carries the JCDS list's answer
	}{
		{"default, listed", ModeAuto, "11.25.2", Offer{Asked: true}, true, true, ModeJCDS2, "", "", false},
		{"jcds2, listed", ModeJCDS2, "11.25.2", Offer{Asked: true}, true, false, ModeJCDS2, "", "", false},
		{"v1 lists too", ModeV1, "11.25.2", Offer{Asked: true}, true, false, ModeV1, "", "", false},
		{"v1, list gone", ModeV1, "11.30.1", Offer{Asked: true, ListErr: gone}, true, false, ModeV1, "", "", false},
		{"v1 before 11.5: refused unasked", ModeV1, "11.4.0", Offer{}, false, false, "", "", "upload_mode v1 needs Jamf Pro 11.5", false},
		{"default, JCDS gone: v1 with a warning", ModeAuto, "11.30.1", Offer{Asked: true, ListErr: gone, Capability: capable}, true, true, ModeV1, "the JCDS endpoints are gone", "", false},
		{"default, JCDS gone, capability unreadable: v1", ModeAuto, "11.30.1", Offer{Asked: true, ListErr: gone, CapabilityErr: listFails}, true, true, ModeV1, "the JCDS endpoints are gone", "", false},
		{"default, JCDS gone, not capable", ModeAuto, "11.30.1", Offer{Asked: true, ListErr: gone, Capability: incapable}, true, true, "", "", "directUploadCapable false", false},
		{"default, no JCDS 2.0: v1 with a warning", ModeAuto, "11.25.2", Offer{Asked: true, ListErr: noJCDS, Capability: capable}, true, true, ModeV1, "has no JCDS 2.0", "", false},
		{"default, list fails, not capable (before 11.25.2)", ModeAuto, "11.23.0", Offer{Asked: true, ListErr: listFails, Capability: incapable}, true, true, "", "", "no cloud distribution point that takes uploads", true},
		{"default, list fails, capable: the list's error", ModeAuto, "11.23.0", Offer{Asked: true, ListErr: listFails, Capability: capable}, true, true, "", "", "list JCDS files", true},
		{"default, list fails before 11.23", ModeAuto, "11.20.0", Offer{Asked: true, ListErr: listFails}, true, false, "", "", "list JCDS files", true},
		{"jcds2, JCDS gone", ModeJCDS2, "11.30.1", Offer{Asked: true, ListErr: gone}, true, false, "", "", "upload_mode jcds2", true},
		{"jcds2, no JCDS 2.0", ModeJCDS2, "11.30.1", Offer{Asked: true, ListErr: noJCDS}, true, false, "", "", "", true},
		{"default, JCDS gone before 11.5", ModeAuto, "11.4.0", Offer{Asked: true, ListErr: gone}, true, false, "", "", "older than 11.5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{URL: "https://example.jamfcloud.com", UploadMode: tt.mode}
			ver := v(tt.version)
			if got := asksJCDSList(cfg, ver); got != tt.list {
				t.Errorf("asksJCDSList = %v, want %v", got, tt.list)
			}
			if got := asksCapability(cfg, ver); got != tt.cap {
				t.Errorf("asksCapability = %v, want %v", got, tt.cap)
			}
			mode, warning, err := ChooseMode(cfg, ver, tt.offer)
			var api *jamf.APIError
			switch {
			case tt.err != "" || tt.apiError:
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if errors.As(err, &api) != tt.apiError {
					t.Errorf("err = %v: carries the list's answer %v, want %v", err, !tt.apiError, tt.apiError)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if mode != tt.want || !strings.Contains(warning, tt.warning) || (tt.warning == "") != (warning == "") {
				t.Errorf("ChooseMode = %q, warning %q; want %q, a warning with %q", mode, warning, tt.want, tt.warning)
			}
		})
	}
}

// TestOwnDuplicate: the one file a run deletes after its upload is the
// Name_N copy it made: new since the survey, with our size and MD5.
func TestOwnDuplicate(t *testing.T) {
	ours := s3upload.Sums{MD5: "aa"}
	tests := []struct {
		name   string
		files  []jamf.JCDSFile
		before map[string]bool
		want   string // "" for none
	}{
		{"none", []jamf.JCDSFile{{FileName: "App.pkg", Length: 100, MD5: "aa"}}, nil, ""},
		{"ours", []jamf.JCDSFile{{FileName: "App.pkg", Length: 100, MD5: "bb"}, {FileName: "App_1.pkg", Length: 100, MD5: "aa"}}, nil, "App_1.pkg"},
		{"listed before the upload: not ours", []jamf.JCDSFile{{FileName: "App_1.pkg", Length: 100, MD5: "aa"}}, map[string]bool{"App_1.pkg": true}, ""},
		{"another size: not ours", []jamf.JCDSFile{{FileName: "App_1.pkg", Length: 99, MD5: "aa"}}, nil, ""},
		{"another MD5: not ours", []jamf.JCDSFile{{FileName: "App_1.pkg", Length: 100, MD5: "bb"}}, nil, ""},
		{"no MD5 listed: our size will do", []jamf.JCDSFile{{FileName: "App_2.pkg", Length: 100}}, nil, "App_2.pkg"},
		{"another package's copy", []jamf.JCDSFile{{FileName: "Apps_1.pkg", Length: 100, MD5: "aa"}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OwnDuplicate(tt.files, "App.pkg", 100, tt.before, ours)
			if name := fileNameOf(got); name != tt.want {
				t.Errorf("OwnDuplicate = %q, want %q", name, tt.want)
			}
		})
	}
}

func fileNameOf(f *jamf.JCDSFile) string {
	if f == nil {
		return ""
	}
	return f.FileName
}

// TestDecideVerifiesEarlier: a file an earlier run sent, still on its way
// when that run's verify budget ran out (PendingVerify), is verified and not
// sent again when the local file is that file, up to maxVerifyWaits runs;
// otherwise the journal entry sends it again, as PendingFile does.
func TestDecideVerifiesEarlier(t *testing.T) {
	obj := &jamf.Package{ID: "7", Name: "App.pkg", FileName: "App.pkg", HashType: "SHA3_512", HashValue: "old"}
	earlier := func(sha3 string, size int64, waits int) *JournalEntry {
		return &JournalEntry{FileName: "App.pkg", Pending: PendingVerify, Size: size, SHA3: sha3, Waits: waits}
	}
	ours := s3upload.Sums{SHA3_512: "abc"}
	tests := []struct {
		name    string
		cfg     Config
		facts   Facts
		verify  bool   // only verified: no send, the settle step waits for the earlier run's file
		steps   string // stepKinds
		compare bool   // NeedsCompare: the survey hashes the local file
	}{
		{"the same file: verified", Config{}, Facts{Object: obj, LocalSize: 100, Local: ours, Unsettled: true, Earlier: earlier("ABC", 100, 1)},
			true, "skip no-meta settle", true},
		{"the same file, replace_pkg: verified", Config{ReplacePkg: true}, Facts{Object: obj, LocalSize: 100, Local: ours, Earlier: earlier("abc", 100, 2)},
			true, "skip no-meta settle", true},
		{"the same file, replace_pkg_metadata: verified, metadata written", Config{ReplaceMetadata: true}, Facts{Object: obj, LocalSize: 100, Local: ours, Earlier: earlier("abc", 100, 1)},
			true, "skip meta-update(server) settle", true},
		{"a new build of another size: sent", Config{}, Facts{Object: obj, LocalSize: 101, Local: ours, Unsettled: true, Earlier: earlier("abc", 100, 1)},
			false, "v1-inplace+note-file meta-update(server)+note-meta settle", false},
		{"a new build of the same size: sent", Config{}, Facts{Object: obj, LocalSize: 100, Local: s3upload.Sums{SHA3_512: "def"}, Unsettled: true, Earlier: earlier("abc", 100, 1)},
			false, "v1-inplace+note-file meta-update(server)+note-meta settle", true},
		{"waited for in vain three times: sent again", Config{}, Facts{Object: obj, LocalSize: 100, Local: ours, Unsettled: true, Earlier: earlier("abc", 100, maxVerifyWaits)},
			false, "v1-inplace+note-file meta-update(server)+note-meta settle", false},
		{"the record says ERROR: sent again", Config{}, Facts{Object: obj, LocalSize: 100, Local: ours, Unsettled: true, Failed: true, Earlier: earlier("abc", 100, 1)},
			false, "v1-inplace+note-file meta-update(server)+note-meta settle", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.facts
			f.FileName, f.Mode, f.CanRefresh, f.Pending = "App.pkg", ModeV1, true, PendingVerify
			if got := NeedsCompare(&tt.cfg, f); got != tt.compare {
				t.Errorf("NeedsCompare = %v, want %v", got, tt.compare)
			}
			p := Decide(&tt.cfg, f)
			if got := stepKinds(p); got != tt.steps {
				t.Errorf("steps %q, want %q (%s)", got, tt.steps, p.Reason)
			}
			if p.Sends() == tt.verify {
				t.Errorf("sends %v, want %v (%s)", p.Sends(), !tt.verify, p.Reason)
			}
			st, ok := p.Steps[len(p.Steps)-1].(settle)
			if !ok {
				t.Fatalf("the last step is %T, want settle", p.Steps[len(p.Steps)-1])
			}
			if tt.verify && (!st.Pending || !st.NoteVerify || !st.Expect.local || p.File != FileUnchanged) {
				t.Errorf("settle %+v, file %s: want the earlier run's file waited for, noted again on a timeout", st, p.File)
			}
			if !tt.verify && !st.NoteVerify {
				t.Errorf("settle %+v: a run that sends notes a timeout for the next run to verify", st)
			}
		})
	}
}
