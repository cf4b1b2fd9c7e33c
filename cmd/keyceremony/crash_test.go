package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/ceremony"

	"github.com/keyceremony/keyceremony/hsm"
)

// killAtEnv makes the test binary run as keyceremony (see TestMain) and SIGKILL itself at an
// exact point: "record:N", once the engine has recorded its Nth transcript event, or "effect:N",
// when its Nth slow effect on the token (making a key, a backup, a package) is done but not yet
// recorded.
const killAtEnv = "KEYCEREMONY_TEST_KILL_AT"

// killer passes the engine's calls on and kills the process at its point. The engine reports an
// event only once it is written and synced, and ends a Busy span right after the effect.
type killer struct {
	ceremony.Interaction
	at      string
	n, seen int
}

func (k *killer) count(point string) {
	if point != k.at {
		return
	}
	if k.seen++; k.seen == k.n {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

func (k *killer) Record(summary string) {
	k.Interaction.Record(summary)
	k.count("record")
}

func (k *killer) Busy(title string) func() {
	done := k.Interaction.Busy(title)
	return func() {
		done()
		k.count("effect")
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestCrashResume kills the ceremony with SIGKILL once its transcript holds n events, for each n
// in turn, then resumes it. Every resumed ceremony must verify, and no key, share set or package
// may have been made twice.
func TestCrashResume(t *testing.T) {
	base := t.TempDir()
	if err := writeFixtures(base, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	fixtures, _ := os.ReadDir(base)
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	runArgs := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(".")...)

	// A run without interruption gives the number of events.
	ref := filepath.Join(base, "ref")
	os.Mkdir(ref, 0o700)
	copyFixtures(t, base, ref, fixtures)
	newTokens(t, ref, "test")
	if _, stderr, code := keyceremony(t, ref, runArgs...); code != 0 {
		t.Fatalf("reference run: %s", stderr)
	}
	total := countLines(filepath.Join(ref, "out", "transcript.jsonl"))

	// Kill after each recorded event in turn, then at each effect before it is recorded.
	type point struct {
		at string
		n  int
	}
	var points []point
	for n := 1; n < total; n++ {
		points = append(points, point{"record", n})
	}
	for n := 1; ; n++ {
		p := point{"effect", n}
		dir := crashDir(t, base, fixtures, p.at, p.n)
		events, killed := killAt(t, dir, runArgs, p.at, p.n)
		if !killed {
			break
		}
		checkResume(t, dir, fmt.Sprintf("killed at effect %d (%d events)", n, events))
	}
	for _, p := range points {
		dir := crashDir(t, base, fixtures, p.at, p.n)
		events, killed := killAt(t, dir, runArgs, p.at, p.n)
		if !killed {
			t.Fatalf("the ceremony finished before its event %d", p.n)
		}
		checkResume(t, dir, fmt.Sprintf("killed after %d events", events))
	}
}

// crashDir makes a folder with the fixtures and a fresh token for one crash.
func crashDir(t *testing.T, base string, fixtures []os.DirEntry, at string, n int) string {
	dir := filepath.Join(base, fmt.Sprintf("kill-%s-%02d", at, n))
	os.Mkdir(dir, 0o700)
	copyFixtures(t, base, dir, fixtures)
	newTokens(t, dir, "test")
	return dir
}

// checkResume resumes a killed ceremony and checks it verifies and made nothing twice.
func checkResume(t *testing.T, dir, what string) {
	t.Helper()
	if _, errOut, code := keyceremony(t, dir, append([]string{"run", "--resume", "out", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(".")...)...); code != 0 {
		t.Fatalf("%s, resume failed:\n%s", what, errOut)
	}
	if _, errOut, code := keyceremony(t, dir, "verify", "out"); code != 0 {
		t.Fatalf("%s, the resumed ceremony does not verify:\n%s", what, errOut)
	}
	evs := readEvents(t, filepath.Join(dir, "out"))
	for _, step := range []string{"generate-key", "backup", "wrap:aws", "wrap:gcp", "wrap:azure", "end"} {
		count := 0
		for _, e := range evs {
			if e.Step == step && e.Kind == "step" || step == "end" && e.Kind == "end" {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%s: %d %s events, want 1", what, count, step)
		}
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*"))
	if len(sets) != 1 {
		t.Errorf("%s: %d sealed share sets, want 1", what, len(sets))
	}
	if err := oneKeyLabelled("data-key"); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// killAt runs the ceremony as a child process in dir that kills itself at point ("record" or
// "effect") number n. It returns how many events the transcript holds, and whether the child was
// killed (false when the ceremony has fewer such points and finished).
func killAt(t *testing.T, dir string, runArgs []string, point string, n int) (int, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], runArgs...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", killAtEnv, point, n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	events := countLines(filepath.Join(dir, "out", "transcript.jsonl"))
	if err == nil {
		return events, false
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("kill at %s %d: the ceremony failed instead (%v): %s", point, n, err, stderr.String())
	}
	return events, true
}

// TestCrashAbort kills a ceremony in the middle of handing out shares and aborts it: the share
// set is voided, the abort is recorded with what was not done, and the transcript verifies.
func TestCrashAbort(t *testing.T) {
	dir := t.TempDir()
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	newTokens(t, dir, "test")
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	runArgs := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(".")...)
	// begin, signing-key-checked, trust, three wrapping-key checks, intent:generate-key,
	// generate-key, intent:backup, handout:1
	killedAt, _ := killAt(t, dir, runArgs, "record", 10)
	// Someone keeps a copy of the unsealed set's manifest and blob before the abort.
	sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*"))
	if len(sets) != 1 {
		t.Fatalf("killed after %d events: %d share sets, want the unsealed one", killedAt, len(sets))
	}
	for _, f := range []string{"backup-manifest.json", "backup-blob.bin"} {
		data, _ := os.ReadFile(filepath.Join(sets[0], f))
		os.WriteFile(filepath.Join(dir, "kept-"+f), data, 0o600)
	}
	stdout, errOut, code := keyceremony(t, dir, "run", "--abort", "out", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN")
	if code != 0 {
		t.Fatalf("killed after %d events, abort failed:\n%s", killedAt, errOut)
	}
	if !strings.Contains(stdout, "ceremony test aborted and sealed in ") {
		t.Errorf("abort stdout: %q", stdout)
	}
	if _, errOut, code := keyceremony(t, dir, "verify", "out"); code != 0 {
		t.Fatalf("the aborted ceremony does not verify:\n%s", errOut)
	}
	evs := readEvents(t, filepath.Join(dir, "out"))
	abort := evs[len(evs)-2]
	if abort.Step != "abort" || abort.Kind != "exception" || !strings.Contains(abort.Facts["exception"].(string), "wrap:aws") {
		t.Errorf("the abort event: %+v", abort)
	}
	if sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*")); len(sets) != 0 && killedAt < 14 {
		t.Errorf("killed after %d events, an unsealed share set was not voided: %v", killedAt, sets)
	}
	// The void set is destroyed, not set aside: its blob and its share files are gone, and the
	// record names what was deleted and tells custodians to destroy their copies.
	if left, _ := filepath.Glob(filepath.Join(dir, "out*", "*backup-*")); len(left) != 0 {
		t.Errorf("files of the void set remain: %v", left)
	}
	var void *event
	for i := range evs {
		if strings.HasPrefix(evs[i].Step, "void-set:") {
			void = &evs[i]
		}
	}
	if void == nil {
		var steps []string
		for _, e := range evs {
			steps = append(steps, e.Step)
		}
		t.Fatalf("killed after %d events, no void-set event: %v", killedAt, steps)
	}
	deleted := fmt.Sprint(void.Facts["deleted_record_files"], void.Facts["deleted_handouts"])
	for _, want := range []string{"backup-manifest.json", "backup-blob.bin", "share-1-alice.age"} {
		if !strings.Contains(deleted, want) {
			t.Errorf("the void-set event does not name %s as deleted: %s", want, deleted)
		}
	}
	if note, _ := void.Facts["note"].(string); !strings.Contains(note, "Deleting does not wipe flash media") || !strings.Contains(note, "custodians must destroy every copy") {
		t.Errorf("the void-set note: %q", note)
	}
	if !strings.Contains(errOut, "notice: share set ") {
		t.Errorf("the screen did not say the set is void:\n%s", errOut)
	}
	if _, _, code := keyceremony(t, dir, "run", "--resume", "out", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"); code == 0 {
		t.Error("an aborted ceremony was resumed")
	}

	// The kept copy opens nothing: the record says the set is void.
	restore := "version: 1\nkind: restore\nceremony: restore-void\ntoken: {module: " + softhsmModule + ", token: test}\n" +
		"key: {label: restored, type: AES-256}\nparticipants:\n  - {role: administrator, name: Ada}\n  - {role: witness, name: Wendy}\n" +
		"restore: {manifest: kept-backup-manifest.json, blob: kept-backup-blob.bin, ceremonies: [out]}\noutput: restored\n"
	os.WriteFile(filepath.Join(dir, "restore.yaml"), []byte(restore), 0o600)
	setID := strings.TrimPrefix(filepath.Base(sets[0]), "backup-")
	for _, args := range [][]string{{"plan", "check", "restore.yaml"}, {"run", "restore.yaml", "--yes", "--pin-env", "KC_PIN"}} {
		_, errOut, code := keyceremony(t, dir, args...)
		want := "keyceremony: backup set " + setID + " is void: ceremony folder out records that it was never sealed and was destroyed\n" +
			"keyceremony: hint: its shares open nothing you may rely on; restore from the set that ceremony sealed instead\n"
		if code == 0 || errOut != want {
			t.Errorf("%s of the void set: exit %d\n%s\nwant\n%s", args[0], code, errOut, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "restored")); err == nil {
		t.Error("the refused restore made its output folder")
	}
}

// oneKeyLabelled checks the token holds exactly one key (or key pair) with the label: FindKey
// refuses a label held by two keys.
func oneKeyLabelled(label string) error {
	m, err := hsm.Open(softhsmModule)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.OpenSession("test")
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Login(hsm.User, []byte("1234")); err != nil {
		return err
	}
	_, err = s.FindKey(label)
	return err
}

func copyFixtures(t *testing.T, from, to string, entries []os.DirEntry) {
	t.Helper()
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
	}
}
