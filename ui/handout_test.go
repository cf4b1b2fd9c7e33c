package ui

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyceremony/keyceremony/ceremony"
)

func TestGoldenHandoutSizes(t *testing.T) {
	show := func(h ceremony.ShareHandout) func(t *testing.T, w, ht int) *runner {
		return func(t *testing.T, w, ht int) *runner {
			m := sized(t, 5, w, ht)
			send(m, handoutMsg{h: h, reply: make(chan answer[struct{}], 1)}, key("enter"))
			return m
		}
	}
	t.Run("typed", func(t *testing.T) { requireSizes(t, show(handout(2, "Bob"))) })
	qr := handout(2, "Bob")
	qr.QR = true
	t.Run("qr", func(t *testing.T) { requireSizes(t, show(qr)) })
}

// A share is shown whole or not at all: in too small a window the screen says the size it needs,
// Enter does not count as "copied", and the share appears once the window is made larger.
func TestHandoutWaitsForRoom(t *testing.T) {
	m := sized(t, 5, 40, 12)
	ch := make(chan answer[struct{}], 1)
	send(m, handoutMsg{h: handout(2, "Bob"), reply: ch}, key("enter"))
	v := ansi.Strip(m.View().Content)
	if !strings.Contains(strings.Join(strings.Fields(v), " "), "make the window at least 40x15 (it is 40x12)") {
		t.Fatalf("no size asked for:\n%s", v)
	}
	if strings.Contains(v, "002 002 003") {
		t.Fatalf("part of the share is shown:\n%s", v)
	}
	send(m, key("enter"))
	if len(ch) != 0 {
		t.Fatal("Enter was taken as copied while the share was not shown")
	}
	send(m, tea.WindowSizeMsg{Width: 40, Height: 14})
	if strings.Contains(m.View().Content, "002 002 003") {
		t.Fatal("the share is shown one line short of the size asked for")
	}
	send(m, tea.WindowSizeMsg{Width: 40, Height: 15})
	if v := m.View().Content; !strings.Contains(v, "002 002 003") || !strings.Contains(v, "0HV") {
		t.Fatalf("the share is not shown whole once the window is large enough:\n%s", v)
	}
	send(m, key("enter"))
	if len(ch) != 1 {
		t.Fatal("Enter after the share was shown was not taken")
	}
}

// recorderAbove finds script(1) among the parents of a process it runs.
func TestRecorderAbove(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("script(1) is missing (util-linux)")
	}
	cmd := exec.Command("script", "-q", "-c", "sleep 30", "/dev/null")
	cmd.Stdin, cmd.Stdout = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var sleeper int
	for deadline := time.Now().Add(5 * time.Second); sleeper == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sleeper = descendant(cmd.Process.Pid, "sleep")
	}
	if sleeper == 0 {
		t.Fatal("no sleep under script")
	}
	if got := recorderAbove(sleeper); got != "script" {
		t.Errorf("recorderAbove(sleep under script) = %q, want script", got)
	}
	if got := recorderAbove(cmd.Process.Pid); got != "" && os.Getenv("KC_UNDER_RECORDER") == "" {
		t.Errorf("recorderAbove(script itself) = %q: the test itself runs under a recorder", got)
	}
}

// descendant finds a process named name below pid, through /proc.
func descendant(pid int, name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		if strings.TrimSpace(string(comm)) != name {
			continue
		}
		for q := p; q > 1; {
			stat, err := os.ReadFile("/proc/" + strconv.Itoa(q) + "/stat")
			if err != nil {
				break
			}
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if q, _ = strconv.Atoi(f[1]); q == pid {
				return p
			}
		}
	}
	return 0
}

// Line mode: a QR delivery says where the QR code went; the label to copy is printed with the
// share; Recording reports what it is given.
func TestLinesHandoutQR(t *testing.T) {
	var out bytes.Buffer
	l := newLineMode(strings.NewReader("\n\n"), &out, true, time.Now)
	l.recording = func(any) []string { return []string{"tmux pipes this pane to a command (pipe-pane)"} }
	h := handout(2, "Bob")
	h.QR = true
	if err := l.ShowShare(h); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"This share is planned as a QR code. Line mode shows its typed form",
		"Copy with it: ceremony rehearsal · key payments-root · set 7K3MQ9XA · share 2, any 2 of 3 restore · 2026-11-27",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("line mode does not say %q:\n%s", want, s)
		}
	}
	if got := l.Recording(); len(got) != 1 || !strings.HasPrefix(got[0], "tmux pipes") {
		t.Errorf("Recording() = %q", got)
	}
}
