package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/hsm"
)

// childEnv makes the test binary run as keyceremony (see TestMain), so a test can SIGKILL it.
const childEnv = "KEYCEREMONY_TEST_MAIN"

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
	runArgs := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN"}, identityFlags(".")...)

	// A run without interruption gives the number of events.
	ref := filepath.Join(base, "ref")
	os.Mkdir(ref, 0o700)
	copyFixtures(t, base, ref, fixtures)
	newTokens(t, ref, "test")
	if _, stderr, code := keyceremony(t, ref, runArgs...); code != 0 {
		t.Fatalf("reference run: %s", stderr)
	}
	total := countLines(filepath.Join(ref, "out", "transcript.jsonl"))

	for n := 1; n < total; n++ {
		dir := filepath.Join(base, fmt.Sprintf("kill-%02d", n))
		os.Mkdir(dir, 0o700)
		copyFixtures(t, base, dir, fixtures)
		newTokens(t, dir, "test")

		killedAt := killAfter(t, dir, runArgs, n)

		if _, errOut, code := keyceremony(t, dir, append([]string{"run", "--resume", "out", "--yes", "--pin-env", "KC_PIN"}, identityFlags(".")...)...); code != 0 {
			t.Fatalf("killed after %d events, resume failed:\n%s", killedAt, errOut)
		}
		if _, errOut, code := keyceremony(t, dir, "verify", "out"); code != 0 {
			t.Fatalf("killed after %d events, the resumed ceremony does not verify:\n%s", killedAt, errOut)
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
				t.Errorf("killed after %d events: %d %s events, want 1", killedAt, count, step)
			}
		}
		sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*"))
		if len(sets) != 1 {
			t.Errorf("killed after %d events: %d sealed share sets, want 1", killedAt, len(sets))
		}
		if err := oneKeyLabelled("data-key"); err != nil {
			t.Errorf("killed after %d events: %v", killedAt, err)
		}
	}
}

// killAfter starts the ceremony as a child process in dir and SIGKILLs it as soon as its
// transcript holds n events; it returns how many it held when the child died.
func killAfter(t *testing.T, dir string, runArgs []string, n int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], runArgs...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	transcriptPath := filepath.Join(dir, "out", "transcript.jsonl")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case <-exited:
			t.Fatalf("kill at %d: the ceremony ended before it could be killed: %s", n, stderr.String())
		default:
		}
		if countLines(transcriptPath) >= n {
			cmd.Process.Kill()
			<-exited
			return countLines(transcriptPath)
		}
		time.Sleep(200 * time.Microsecond)
	}
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
	runArgs := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN"}, identityFlags(".")...)
	// begin, three wrapping-key checks, generate-key, handout:1
	killedAt := killAfter(t, dir, runArgs, 6)
	stdout, errOut, code := keyceremony(t, dir, "run", "--abort", "out", "--yes", "--pin-env", "KC_PIN")
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
	if sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*")); len(sets) != 0 && killedAt < 12 {
		t.Errorf("killed after %d events, an unsealed share set was not voided: %v", killedAt, sets)
	}
	if _, _, code := keyceremony(t, dir, "run", "--resume", "out", "--yes", "--pin-env", "KC_PIN"); code == 0 {
		t.Error("an aborted ceremony was resumed")
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
