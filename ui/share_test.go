package ui

import (
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
)

func handout(i int, name string) ceremony.ShareHandout {
	return ceremony.ShareHandout{Custodian: ceremony.Actor{Role: "custodian", Name: name}, Index: i, N: 3, Share: testShare(i, name),
		Label: ceremony.HandoutLabel{Ceremony: "rehearsal", KeyLabel: "payments-root", SetID: "7K3MQ9XA", Threshold: 2, Date: "2026-11-27"}}
}

func TestGoldenHandout(t *testing.T) {
	start := func(t *testing.T, h ceremony.ShareHandout) (*runner, chan answer[struct{}]) {
		m := midCeremony(t, 4+h.Index-1)
		ch := make(chan answer[struct{}], 1)
		send(m, handoutMsg{h: h, reply: ch})
		return m, ch
	}
	t.Run("call", func(t *testing.T) {
		m, _ := start(t, handout(2, "Bob"))
		requireView(t, m, 80, 24)
	})
	t.Run("showing", func(t *testing.T) {
		m, _ := start(t, handout(2, "Bob"))
		send(m, key("enter"))
		requireView(t, m, 80, 24)
	})
	t.Run("showing-qr-too-small", func(t *testing.T) {
		m, _ := start(t, handout(2, "Bob"))
		send(m, key("enter"), key("q"))
		requireView(t, m, 80, 24)
	})
	t.Run("showing-large", func(t *testing.T) {
		m, _ := start(t, handout(2, "Bob"))
		send(m, tea.WindowSizeMsg{Width: 100, Height: 40}, key("enter"))
		requireView(t, m, 100, 40)
	})
	t.Run("cleared", func(t *testing.T) {
		m, ch := start(t, handout(2, "Bob"))
		v := showThenClear(t, m, ch)
		for _, l := range strings.Split(testShare(2, "Bob").Typed(), "\n") {
			if l != "" && strings.Contains(v, l) {
				t.Fatalf("share line %q still on the screen", l[:1])
			}
		}
		requireView(t, m, 80, 24)
	})
	passphrase := func() ceremony.ShareHandout {
		return ceremony.ShareHandout{Custodian: ceremony.Actor{Role: "custodian", Name: "Bob"}, Index: 2, N: 3,
			Passphrase: []byte("abandon ability able about above absent absorb abstract absurd zoo")}
	}
	t.Run("passphrase-call", func(t *testing.T) {
		m, _ := start(t, passphrase())
		if strings.Contains(m.View().Content, "absurd") {
			t.Fatal("the passphrase is shown before the custodian is alone")
		}
		requireView(t, m, 80, 24)
	})
	t.Run("passphrase-showing", func(t *testing.T) {
		m, _ := start(t, passphrase())
		send(m, key("enter"))
		requireView(t, m, 80, 24)
	})
	t.Run("passphrase-cleared", func(t *testing.T) {
		m, ch := start(t, passphrase())
		if strings.Contains(showThenClear(t, m, ch), "absurd") {
			t.Fatal("the passphrase is still on the screen")
		}
	})
	t.Run("file", func(t *testing.T) {
		h := handout(3, "Carol")
		h.File = "handouts/backup-7Q2M4K9X/share-3-carol.age"
		m, ch := start(t, h)
		requireView(t, m, 80, 24)
		send(m, key("enter"))
		if a := <-ch; a.err != nil {
			t.Fatal(a.err)
		}
	})
}

// showThenClear shows the handout's secret, has the custodian continue, checks the screen is
// wiped, and returns what the screen shows afterwards.
func showThenClear(t *testing.T, m *runner, ch chan answer[struct{}]) string {
	t.Helper()
	send(m, key("enter"))
	_, cmd := m.Update(key("enter"))
	if a := <-ch; a.err != nil {
		t.Fatal(a.err)
	}
	if cmd == nil {
		t.Fatal("no command to clear the scrollback")
	}
	return m.View().Content
}

func shareRequest(progress, lastError string) ceremony.ShareRequest {
	return ceremony.ShareRequest{Custodian: ceremony.Actor{Role: "custodian", Name: "Bob"}, Progress: progress, LastError: lastError}
}

// typedLines is the typed form of share i, line by line.
func typedLines(i int, name string) []string {
	return strings.Split(strings.TrimRight(testShare(i, name).Typed(), "\n"), "\n")
}

// typo changes one character of a typed line, keeping it in the share alphabet.
func typo(line string) string {
	r := []rune(line)
	for i := 3; i < len(r); i++ {
		if r[i] != ' ' {
			if r[i] == 'A' {
				r[i] = 'B'
			} else {
				r[i] = 'A'
			}
			break
		}
	}
	return string(r)
}

func TestGoldenShareEntry(t *testing.T) {
	start := func(t *testing.T, req ceremony.ShareRequest) (*runner, chan answer[string]) {
		m := midCeremony(t, 8)
		ch := make(chan answer[string], 1)
		send(m, shareMsg{req: req, reply: ch})
		return m, ch
	}
	lines := typedLines(2, "Bob")
	t.Run("empty", func(t *testing.T) {
		m, _ := start(t, shareRequest("1 of 3 shares accepted", ""))
		requireView(t, m, 80, 24)
	})
	t.Run("wrong-line", func(t *testing.T) {
		m, _ := start(t, shareRequest("1 of 3 shares accepted", ""))
		send(m, typed(lines[0])...)
		send(m, key("enter"))
		send(m, typed(typo(lines[1]))...)
		send(m, key("enter"))
		requireView(t, m, 80, 24)
	})
	t.Run("visible", func(t *testing.T) {
		m, _ := start(t, shareRequest("1 of 3 shares accepted", ""))
		send(m, key("tab"))
		send(m, typed(lines[0])...)
		send(m, key("enter"))
		send(m, typed(lines[1][:12])...)
		requireView(t, m, 80, 24)
	})
	t.Run("line-checks-out", func(t *testing.T) {
		m, _ := start(t, shareRequest("1 of 3 shares accepted", ""))
		send(m, typed(lines[0])...)
		requireView(t, m, 80, 24)
	})
	t.Run("refused-progress", func(t *testing.T) {
		m, _ := start(t, ceremony.ShareRequest{Progress: "2 of 3 shares accepted, 2 needed", LastError: "share 3 (Carol) does not match its commitment\nhint: Carol should check her paper copy, line by line"})
		requireView(t, m, 80, 24)
	})
}

func TestShareEntrySubmitsAfterLastLine(t *testing.T) {
	m := midCeremony(t, 8)
	ch := make(chan answer[string], 1)
	send(m, shareMsg{req: shareRequest("", ""), reply: ch})
	lines := typedLines(2, "Bob")
	for i, l := range lines {
		send(m, typed(strings.ToLower(l))...) // case does not matter
		if i == 1 {
			send(m, key("tab")) // shown once: the screen must be wiped after
		}
		_, cmd := m.Update(key("enter"))
		if i == len(lines)-1 && cmd == nil {
			t.Fatal("a share that was shown is not wiped from the screen")
		}
	}
	a := <-ch
	if a.err != nil {
		t.Fatal(a.err)
	}
	sh, err := backup.ParseTyped(a.v)
	if err != nil || sh.Index != 2 {
		t.Fatalf("the share sent does not parse: %v", err)
	}
	if m.prompt != nil {
		t.Fatal("the share entry stays on the screen")
	}
}

func TestShareEntryFileAndEditing(t *testing.T) {
	m := midCeremony(t, 8)
	ch := make(chan answer[string], 1)
	send(m, shareMsg{req: shareRequest("", ""), reply: ch})
	lines := typedLines(1, "Alice")
	send(m, typed(lines[0])...)
	send(m, key("enter"), key("backspace")) // back into line 1
	sp := m.prompt.(*sharePrompt)
	if len(sp.accepted) != 0 || sp.in.text() != lines[0] {
		t.Fatalf("backspace on an empty line did not reopen the line above: %d lines, %q", len(sp.accepted), sp.in.text())
	}
	send(m, key("esc"))
	send(m, tea.PasteMsg{Content: "file:/media/usb/share-1-alice.age"})
	send(m, key("enter"))
	if a := <-ch; a.v != "file:/media/usb/share-1-alice.age" || a.err != nil {
		t.Fatalf("got %q, %v", a.v, a.err)
	}
}

func TestShareEntryPasteWholeShare(t *testing.T) {
	m := midCeremony(t, 8)
	ch := make(chan answer[string], 1)
	send(m, shareMsg{req: shareRequest("", ""), reply: ch})
	send(m, tea.PasteMsg{Content: testShare(3, "Carol").Typed()})
	a := <-ch
	if _, err := backup.ParseTyped(a.v); err != nil || a.err != nil {
		t.Fatalf("pasted share: %v, %v", err, a.err)
	}
}

func TestShareEntryAbort(t *testing.T) {
	m := midCeremony(t, 8)
	ch := make(chan answer[string], 1)
	send(m, shareMsg{req: shareRequest("", ""), reply: ch})
	send(m, typed(typedLines(1, "Alice")[0])...)
	send(m, key("ctrl+c"))
	if _, cmd := m.Update(key("ctrl+c")); cmd == nil {
		t.Fatal("a share entry stopped midway does not wipe the screen")
	}
	if a := <-ch; !errors.Is(a.err, ceremony.ErrAborted) || a.v != "" {
		t.Fatalf("got %q, %v", a.v, a.err)
	}
}
