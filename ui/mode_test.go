package ui

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"github.com/keyceremony/keyceremony/ceremony"
)

func TestChooseMode(t *testing.T) {
	for _, tc := range []struct {
		env           map[string]string
		stdin, stdout bool
		want          Mode
	}{
		{map[string]string{"TERM": "xterm-256color"}, true, true, ModeTUI},
		{map[string]string{"TERM": "xterm-256color"}, false, true, ModeLines},
		{map[string]string{"TERM": "xterm-256color"}, true, false, ModeLines},
		{map[string]string{"TERM": "xterm-256color", "ACCESSIBLE": "1"}, true, true, ModeLines},
		{map[string]string{"TERM": "xterm-256color", "ACCESSIBLE": ""}, true, true, ModeTUI},
		{map[string]string{"TERM": "dumb"}, true, true, ModeLines},
	} {
		env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		if got := ChooseMode(env, tc.stdin, tc.stdout); got != tc.want {
			t.Errorf("ChooseMode(%v, %v, %v) = %s, want %s", tc.env, tc.stdin, tc.stdout, got, tc.want)
		}
	}
}

func TestProfileFromEnv(t *testing.T) {
	tty := []string{"TTY_FORCE=1", "TERM=xterm-256color"} // colorprofile's way to say "a terminal"
	for _, tc := range []struct {
		env  []string
		want colorprofile.Profile
	}{
		{tty, colorprofile.ANSI256},
		{append(tty, "NO_COLOR=1"), colorprofile.Ascii},
		{append(tty, "NO_COLOR=yes"), colorprofile.Ascii}, // colorprofile alone keeps colour here
		{append(tty, "NO_COLOR="), colorprofile.ANSI256},  // empty: not set, says no-color.org
		{append(tty, "TERM=dumb"), colorprofile.NoTTY},
	} {
		if got := ProfileFromEnv(io.Discard, tc.env); got != tc.want {
			t.Errorf("ProfileFromEnv(%v) = %s, want %s", tc.env, got, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer the program may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RunCeremony itself, over a pipe: the engine's question is answered by keys, its result returned.
func TestRunCeremony(t *testing.T) {
	in, keys := io.Pipe()
	out := &syncBuffer{}
	asked := make(chan struct{})
	run := func(ia ceremony.Interaction) error {
		ia.Script(rehearsalSteps(1), 1)
		close(asked)
		_, err := ia.Confirm(ceremony.ConfirmRequest{Actor: ceremony.Actor{Role: "witness", Name: "Dana"}, Prompt: "Written down?"})
		return err
	}
	done := make(chan error, 1)
	go func() {
		done <- RunCeremony(Options{Profile: colorprofile.Ascii, Width: 80, Height: 24, Input: in, Output: out}, run)
	}()
	<-asked
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "type yes") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := io.WriteString(keys, "yes\r"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("RunCeremony did not return; screen:\n%s", out.String())
	}
	keys.Close()
	if strings.Contains(out.String(), "\x1b[?1049h") {
		t.Error("the ceremony switched to the alternate screen")
	}
}
