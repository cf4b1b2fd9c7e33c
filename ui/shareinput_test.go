package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyceremony/keyceremony/ceremony"
)

func TestSharePath(t *testing.T) {
	home, _ := os.UserHomeDir()
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"file:/media/alice/share-1-alice.age", "/media/alice/share-1-alice.age", true},
		{"file: '/media/alice/my shares/share-1-alice.age'", "/media/alice/my shares/share-1-alice.age", true},
		{"'/media/alice/my shares/share-1-alice.age'", "/media/alice/my shares/share-1-alice.age", true}, // GNOME Terminal, iTerm2
		{`"/media/alice/my shares/share-1-alice.age"`, "/media/alice/my shares/share-1-alice.age", true},
		{`/media/alice/my\ shares/share-1-alice.age `, "/media/alice/my shares/share-1-alice.age", true}, // xterm, Konsole
		{"file:///media/alice/my%20shares/share-1-alice.age", "/media/alice/my shares/share-1-alice.age", true},
		{"~/share-1-alice.age", filepath.Join(home, "share-1-alice.age"), true},
		{"./share-1-alice.age", "./share-1-alice.age", true},
		{"1  7K3M Q9XA  002 003 005  QZC", "", false},
		{"", "", false},
		{"file:", "", false},
		{"''", "", false},
		{"file://relative/x.age", "", false},
	} {
		got, ok := sharePath(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("sharePath(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// A dropped path is passed on as a file, unquoted.
func TestShareEntryDroppedPath(t *testing.T) {
	m := midCeremony(t, 8)
	ch := make(chan answer[string], 1)
	send(m, shareMsg{req: shareRequest("", ""), reply: ch})
	send(m, tea.PasteMsg{Content: "'/media/bob/my shares/share-2-bob.age'"}, key("enter"))
	if a := <-ch; a.v != "file:/media/bob/my shares/share-2-bob.age" {
		t.Fatalf("got %q", a.v)
	}
}

// A bracketed paste of a whole share, line breaks as terminals send them (CR), fills every line.
func TestShareEntryPasteWhole(t *testing.T) {
	for _, sep := range []string{"\r", "\n", "\r\n"} {
		m := midCeremony(t, 8)
		ch := make(chan answer[string], 1)
		send(m, shareMsg{req: setRequest(), reply: ch})
		lines := typedLines(2, "Bob")
		send(m, tea.PasteMsg{Content: strings.Join(lines, sep) + sep})
		a := <-ch
		if a.v != strings.Join(lines, "\n") {
			t.Fatalf("paste with %q: got %d lines", sep, strings.Count(a.v, "\n")+1)
		}
	}
}

func setRequest() ceremony.ShareRequest {
	return ceremony.ShareRequest{Custodian: ceremony.Actor{Role: "custodian", Name: "Bob"}, Progress: "share 2 of 3",
		SetID: "7K3MQ9XA", Custodians: []string{"Alice", "Bob", "Carol"}}
}

// otherSet is share i of a 2-of-3 set other than testShare's.
func otherSet(i int) []string {
	sh := testShare(i, "Bob")
	sh.SetID = "9QZ2W4RT"
	return strings.Split(strings.TrimRight(sh.Typed(), "\n"), "\n")
}

func TestShareEntryLineOneSetCheck(t *testing.T) {
	check := func(req ceremony.ShareRequest, want string) {
		t.Helper()
		m := midCeremony(t, 8)
		ch := make(chan answer[string], 1)
		send(m, shareMsg{req: req, reply: ch})
		send(m, tea.PasteMsg{Content: strings.Join(otherSet(2), "\r")})
		v := ansi.Strip(m.View().Content)
		if !strings.Contains(strings.Join(strings.Fields(v), " "), want) || strings.Contains(v, "line 2  > ") || len(ch) != 0 {
			t.Fatalf("a share of another set was not refused at line 1 with %q:\n%s", want, v)
		}
	}
	check(setRequest(), "✗ line 1 is from a share of set 9QZ2W4RT, not of set 7K3MQ9XA")
	re := setRequest()
	re.Replaced = "9QZ2W4RT"
	check(re, "✗ line 1: this is your share from set 9QZ2W4RT, replaced by set 7K3MQ9XA in this ceremony")
}

// A typo names the line, the share and its custodian once line 1 gave the share's number.
func TestShareEntryTypoNamesCustodian(t *testing.T) {
	m := midCeremony(t, 8)
	send(m, shareMsg{req: setRequest(), reply: make(chan answer[string], 1)})
	lines := typedLines(2, "Bob")
	send(m, tea.PasteMsg{Content: lines[0] + "\r" + typo(lines[1]) + "\r" + lines[2] + "\r"})
	v := m.View().Content
	if !strings.Contains(v, "✗ line 2 of share 2 (Bob) has a typo") || !strings.Contains(v, "line 2  > ") {
		t.Fatalf("the typo is not named with the share and its custodian, or the line is not kept to fix:\n%s", v)
	}
	// Fixed with the cursor: Home, then retyping the character.
	send(m, key("esc"))
	send(m, typed(lines[1])...)
	send(m, key("enter"))
	if v := m.View().Content; !strings.Contains(v, "line 3  > ") {
		t.Fatalf("the fixed line 2 was not taken:\n%s", v)
	}
}

func TestGoldenShareEntrySizes(t *testing.T) {
	entry := func(paste string, req ceremony.ShareRequest) func(t *testing.T, w, h int) *runner {
		return func(t *testing.T, w, h int) *runner {
			m := sized(t, 8, w, h)
			send(m, shareMsg{req: req, reply: make(chan answer[string], 1)})
			send(m, tea.PasteMsg{Content: paste})
			return m
		}
	}
	lines := typedLines(2, "Bob")
	accepted := setRequest()
	accepted.Accepted = "accepted: share 1 (Alice)"
	t.Run("paste", func(t *testing.T) { requireSizes(t, entry(strings.Join(lines[:3], "\r")+"\r", accepted)) })
	t.Run("set-mismatch", func(t *testing.T) { requireSizes(t, entry(strings.Join(otherSet(2), "\r"), setRequest())) })
}
