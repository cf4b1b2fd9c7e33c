package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/hsm"
)

// resumeArgs resumes (or with --abort, aborts) the ceremony in out headless.
func resumeArgs(how, out string) []string {
	args := append([]string{"run", how, out, "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(".")...)
	if how == "--abort" {
		args = append(args, "--reason", testAbortReason)
	}
	return args
}

// testAbortReason is the reason headless aborts in tests give.
const testAbortReason = "the test ends the interrupted ceremony"

// exceptions returns the exception texts of the transcript in out that contain part.
func exceptions(t *testing.T, out, part string) []string {
	t.Helper()
	var found []string
	for _, e := range readEvents(t, out) {
		if what, _ := e.Facts["exception"].(string); e.Kind == "exception" && strings.Contains(what, part) {
			found = append(found, what)
		}
	}
	return found
}

// TestResumeCopy resumes a copy of an interrupted ceremony folder, after the plan file moved (or
// changed): the folder given is the ceremony, its plan copy is followed, its outputs go there
// and not to the folder the plan names, and the record says the plan file no longer matches.
func TestResumeCopy(t *testing.T) {
	w := newCrashWorld(t)
	for _, change := range []string{"moved", "changed"} {
		dir := w.dir(t, "copy-"+change)
		w.kill(t, dir, crash{at: "after", step: "intent:generate-key"})
		if out, err := exec.Command("cp", "-a", filepath.Join(dir, "out"), filepath.Join(dir, "copy")).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "out", "transcript.jsonl"))
		plan := filepath.Join(dir, "plan.yaml")
		want := "the plan file " + plan + " that started this ceremony cannot be read (moved or removed); the ceremony follows its copy plan.yaml"
		if change == "moved" {
			os.Rename(plan, filepath.Join(dir, "plan-moved.yaml"))
		} else {
			f, _ := os.OpenFile(plan, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("# edited after the ceremony started\n")
			f.Close()
			want = "the plan file " + plan + " changed since this ceremony started; the ceremony follows its copy plan.yaml, not the file"
		}
		stdout, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "copy")...)
		if code != 0 {
			t.Fatalf("%s: resume of the copy: %s", change, errOut)
		}
		if !strings.Contains(stdout, "ceremony test finished and sealed in copy\n") {
			t.Errorf("%s: stdout %q", change, stdout)
		}
		if !strings.Contains(errOut, want) {
			t.Errorf("%s: the screen does not say %q:\n%s", change, want, errOut)
		}
		if got := exceptions(t, filepath.Join(dir, "copy"), want); len(got) != 1 {
			t.Errorf("%s: the record holds %d exceptions %q", change, len(got), want)
		}
		checkEnded(t, dir, "copy", false, change+", the copy resumed")
		after, _ := os.ReadFile(filepath.Join(dir, "out", "transcript.jsonl"))
		if !bytes.Equal(before, after) {
			t.Errorf("%s: resuming the copy wrote to the original folder", change)
		}
		if _, err := os.Stat(filepath.Join(dir, "out", "targets")); err == nil {
			t.Errorf("%s: resuming the copy wrote packages into the original folder", change)
		}
	}
}

// TestResumeBeforeFirstEvent resumes ceremonies stopped while starting: each state between the
// output folder and a complete first line is recognised and the ceremony started in it.
func TestResumeBeforeFirstEvent(t *testing.T) {
	w := newCrashWorld(t)
	for _, state := range []string{"no transcript", "no transcript, no public key", "empty transcript", "torn first line", "half a signing key"} {
		dir := w.dir(t, "start-"+strings.ReplaceAll(state, " ", "-"))
		w.kill(t, dir, crash{at: "record", n: 1})
		out := filepath.Join(dir, "out")
		first, _ := os.ReadFile(filepath.Join(out, "transcript.jsonl"))
		removed := "removed what it left: transcript.jsonl, transcript.pub"
		switch state {
		case "no transcript":
			os.Remove(filepath.Join(out, "transcript.jsonl"))
			removed = "removed what it left: transcript.pub"
		case "no transcript, no public key", "half a signing key":
			os.Remove(filepath.Join(out, "transcript.jsonl"))
			os.Remove(filepath.Join(out, "transcript.pub"))
			removed = ""
		case "empty transcript":
			os.WriteFile(filepath.Join(out, "transcript.jsonl"), nil, 0o644)
		case "torn first line":
			os.WriteFile(filepath.Join(out, "transcript.jsonl"), first[:len(first)/2], 0o644)
		}
		if state == "half a signing key" {
			plantHalfSigningKey(t, dir)
		}
		_, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...)
		if code != 0 {
			t.Errorf("%s: resume: %s", state, errOut)
			continue
		}
		checkEnded(t, dir, "out", false, state)
		if removed != "" && len(exceptions(t, out, removed)) != 1 {
			t.Errorf("%s: the record does not say %q", state, removed)
		}
		begin := readEvents(t, out)[0]
		ceremonyFacts, _ := begin.Facts["ceremony"].(map[string]any)
		if _, reused := ceremonyFacts["signing_key_reused"]; reused == (state == "half a signing key") {
			t.Errorf("%s: begin facts %v", state, ceremonyFacts)
		}
		if state == "half a signing key" && len(exceptions(t, out, `the ceremony signing key was cut short by the interruption (token "test" has 0 key pairs labelled "test/transcript", not one); its 1 objects labelled "test/transcript" were destroyed before the transcript started, and a new key is made`)) != 1 {
			t.Errorf("%s: the replaced signing key is not recorded: %v", state, exceptions(t, out, "signing key"))
		}
	}
}

// plantHalfSigningKey replaces the ceremony signing key with what a kill inside its generation can
// leave: an object with its label that is not a key pair.
func plantHalfSigningKey(t *testing.T, dir string) {
	t.Helper()
	withSession(t, func(s *hsm.Session) {
		if n, err := s.DestroyLabelled("test/transcript"); err != nil || n != 2 {
			t.Fatalf("destroy the signing key: %d, %v", n, err)
		}
	})
	os.WriteFile(filepath.Join(dir, "half.bin"), []byte("half"), 0o600)
	pkcs11Tool(t, "--write-object", filepath.Join(dir, "half.bin"), "--type", "data", "--label", "test/transcript", "--private")
}

func withSession(t *testing.T, f func(*hsm.Session)) {
	t.Helper()
	m, err := hsm.Open(softhsmModule)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.OpenSession("test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Login(hsm.User, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	f(s)
}

func pkcs11Tool(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"--module", softhsmModule, "--token-label", "test", "--login", "--pin", "1234"}, args...)
	if out, err := exec.Command("pkcs11-tool", args...).CombinedOutput(); err != nil {
		t.Fatalf("pkcs11-tool %v: %v: %s", args, err, out)
	}
}

// TestResumeTornLine: a transcript whose last line was cut short is not resumed; the error says
// how to cut it back, and once that is done the ceremony resumes.
func TestResumeTornLine(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "torn")
	w.kill(t, dir, crash{at: "after", step: "intent:generate-key"})
	name := filepath.Join(dir, "out", "transcript.jsonl")
	good, _ := os.ReadFile(name)
	os.WriteFile(name, append(good, `{"seq":7,"time":"2026-11-2`...), 0o644)
	for _, how := range []string{"--resume", "--abort"} {
		_, errOut, code := keyceremony(t, dir, resumeArgs(how, "out")...)
		want := fmt.Sprintf("keyceremony: cannot resume: event %d: the line is incomplete (the file was cut short)\n"+
			"keyceremony: hint: the last write was cut short; keep a copy of transcript.jsonl, then cut it back to its complete lines with: truncate -s %d %s\n",
			bytes.Count(good, []byte("\n")), len(good), filepath.Join("out", "transcript.jsonl"))
		if code == 0 || errOut != want {
			t.Errorf("%s of a torn transcript: exit %d\n%s\nwant\n%s", how, code, errOut, want)
		}
	}
	os.Truncate(name, int64(len(good)))
	if _, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...); code != 0 {
		t.Fatalf("after truncate: %s", errOut)
	}
	checkEnded(t, dir, "out", false, "resumed after truncate")
}

// TestResumeNoPileUp: resumes that fail again and again for the same cause record it once.
func TestResumeNoPileUp(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "pileup")
	w.kill(t, dir, crash{at: "after", step: "backup"})
	out := filepath.Join(dir, "out")
	os.MkdirAll(filepath.Join(out, "targets"), 0o700)
	planted := filepath.Join(out, "targets", "aws")
	os.WriteFile(planted, []byte("in the way"), 0o600)
	want := "keyceremony: out/targets/aws exists, and this ceremony recorded no intent to write it; nothing was changed\n" +
		"keyceremony: hint: it was not written by this ceremony: move it out of the ceremony folder, find out where it came from, then resume\n"
	for i := range 3 {
		_, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...)
		if code == 0 || !strings.HasSuffix(errOut, want) {
			t.Fatalf("resume %d with a file where the package goes: exit %d\n%s", i+1, code, errOut)
		}
	}
	resumed := exceptions(t, out, "ceremony resumed after an interruption")
	failed := exceptions(t, out, "step failed: ")
	if len(resumed) != 1 || len(failed) != 1 {
		t.Errorf("after 3 failed resumes: %d resumed and %d failed-step exceptions, want 1 and 1: %q", len(resumed), len(failed), failed)
	}
	os.Remove(planted)
	if _, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...); code != 0 {
		t.Fatalf("once the file is gone: %s", errOut)
	}
	checkEnded(t, dir, "out", false, "resumed after 3 failures")
}

// TestResumeUnnamedObjects: an unlabelled key like those a kill inside C_GenerateKey leaves in
// SoftHSM2 is reported on resume, and neither adopted nor used.
func TestResumeUnnamedObjects(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "unnamed")
	w.kill(t, dir, crash{at: "after", step: "intent:generate-key"})
	pkcs11Tool(t, "--keygen", "--key-type", "AES:32")
	_, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...)
	if code != 0 {
		t.Fatalf("resume: %s", errOut)
	}
	want := `token "test" holds 1 keys with no label or objects with no class, which this ceremony did not record (an interruption inside key generation leaves such objects); they are not adopted or used: check them and remove them with the vendor's tool`
	if !strings.Contains(errOut, want) || len(exceptions(t, filepath.Join(dir, "out"), want)) != 1 {
		t.Errorf("the unlabelled key is not reported on screen and in the record:\n%s", errOut)
	}
	checkEnded(t, dir, "out", false, "resumed with an unlabelled key in the token")
}

// TestResumePlantedID: an object with the CKA_ID the ceremony recorded for its key, but another
// label, is not the ceremony's: resume refuses to make the key beside it, saying so.
func TestResumePlantedID(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "planted-id")
	w.kill(t, dir, crash{at: "after", step: "intent:generate-key"})
	var id string
	for _, e := range readEvents(t, filepath.Join(dir, "out")) {
		if e.Step == "intent:generate-key" {
			var in ceremony.Intent
			b, _ := json.Marshal(e.Facts)
			json.Unmarshal(b, &in)
			if len(in.Keys) == 1 {
				id = in.Keys[0].CKAID
			}
		}
	}
	if id == "" {
		t.Fatal("no CKA_ID in the intent event")
	}
	pkcs11Tool(t, "--keygen", "--key-type", "AES:32", "--id", id, "--label", "other")
	_, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...)
	want := `keyceremony: token "test" has 1 objects with CKA_ID ` + id + `, which this ceremony recorded for its key "data-key" before making it, but none labelled so: this ceremony did not make them; nothing was changed` + "\n" +
		"keyceremony: hint: someone with the PIN made them: find out who; remove them with the vendor's tool, then resume\n"
	if code == 0 || !strings.HasSuffix(errOut, want) {
		t.Errorf("resume beside a planted CKA_ID: exit %d\n%s\nwant the end\n%s", code, errOut, want)
	}
	withSession(t, func(s *hsm.Session) {
		if exists, _ := s.LabelExists("data-key"); exists {
			t.Error("the key was made beside the planted one")
		}
	})
}

// TestResumeLeftovers: temporary files and folders an interruption left are removed on resume,
// and the record names them.
func TestResumeLeftovers(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "leftovers")
	w.kill(t, dir, crash{at: "after", step: "intent:wrap"})
	out := filepath.Join(dir, "out")
	os.WriteFile(filepath.Join(out, ".tmp-checkpoint-1a2b"), []byte("half"), 0o600)
	os.MkdirAll(filepath.Join(out, "targets", ".tmp-aws-3c4d"), 0o700)
	os.WriteFile(filepath.Join(out, "targets", ".tmp-aws-3c4d", "manifest.json"), []byte("{"), 0o600)
	_, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...)
	if code != 0 {
		t.Fatalf("resume: %s", errOut)
	}
	want := "removed temporary files an interruption left (never complete, never recorded): .tmp-checkpoint-1a2b, targets/.tmp-aws-3c4d"
	if got := exceptions(t, out, "removed temporary files"); len(got) != 1 || got[0] != want {
		t.Errorf("the record says %q, want %q", got, want)
	}
	checkEnded(t, dir, "out", false, "resumed with temporary files left")
}

// TestResumeByAnotherBinary: a ceremony begun by one keyceremony binary and resumed by another
// says so in its record, with both SHA-256s: the begin event alone would name only the first.
func TestResumeByAnotherBinary(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "other-binary")
	w.kill(t, dir, crash{at: "after", step: "generate-key"})
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "keyceremony")
	if err := os.WriteFile(other, append(self, '\n'), 0o755); err != nil { // another build: one byte more
		t.Fatal(err)
	}
	cmd := exec.Command(other, resumeArgs("--resume", "out")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("resume by another binary: %v\n%s", err, b)
	}
	selfSum, otherSum := sha256.Sum256(self), sha256.Sum256(append(self, '\n'))
	want := fmt.Sprintf("this run's keyceremony binary has SHA-256 %x, not %x, which began the ceremony", otherSum, selfSum)
	if got := exceptions(t, filepath.Join(dir, "out"), "keyceremony binary"); len(got) != 1 || got[0] != want {
		t.Errorf("the record says %q, want %q", got, want)
	}
	checkEnded(t, dir, "out", false, "resumed by another binary")
}
