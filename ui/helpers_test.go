package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
)

// t0 is the frozen "now" of every golden test.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func clockAt(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

// key is a key press by name ("enter", "ctrl+c") or, for one character, that character typed.
func key(name string) tea.KeyPressMsg {
	switch name {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(name)
	if len(r) != 1 {
		panic("key: unknown key " + name)
	}
	return tea.KeyPressMsg{Code: r[0], Text: name}
}

// typed is the key presses of typing s.
func typed(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, key(string(r)))
	}
	return out
}

func send(m tea.Model, msgs ...tea.Msg) tea.Model {
	for _, msg := range msgs {
		m, _ = m.Update(msg)
	}
	return m
}

// requireView compares what the model shows with its golden file and checks the frame fits 80x24
// (or the size given), since a frame that scrolls would push a share into the scrollback.
func requireView(t *testing.T, m tea.Model, width, height int) {
	t.Helper()
	v := m.View().Content
	lines := strings.Split(v, "\n")
	if len(lines) > height {
		t.Errorf("view has %d lines, more than the %d of the screen", len(lines), height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("view line %d is %d cells wide, more than %d: %q", i+1, w, width, l)
		}
	}
	golden.RequireEqual(t, v)
}

func newTestRunner(now func() time.Time) *runner {
	return newRunner(colorprofile.Ascii, now, 80, 24)
}

// rehearsalSteps is the script of a rehearsal: an AES-256 key, a 2-of-3 backup and an AWS target.
func rehearsalSteps(current int) []ceremony.Step {
	admin := ceremony.Actor{Role: "administrator", Name: "Ana"}
	witness := ceremony.Actor{Role: "witness", Name: "Dana"}
	so := ceremony.Actor{Role: "security-officer", Name: "Sam"}
	c := func(n string) ceremony.Actor { return ceremony.Actor{Role: "custodian", Name: n} }
	steps := []ceremony.Step{
		{ID: "open-token", Title: `Open token "rehearsal" and log in`, Actor: so, Instructions: "Sam enters the token's user PIN. Nobody else looks at the keyboard."},
		{ID: "begin", Title: "Make the ceremony signing key and start the transcript", Actor: witness, Instructions: "The screen shows the signing key's fingerprint. Dana writes it on the paper log and types its read-back form back from the paper."},
		{ID: "check-wrapping-key:aws", Title: "Check the AWS wrapping key of target aws", Actor: witness, Instructions: "Someone reads aloud the wrapping key fingerprint from the printed import request (keyceremony fingerprint prints it); Dana types back all 8 groups."},
		{ID: "generate-key", Title: `Generate the AES-256 key "payments-root" in the HSM`, Actor: witness, Instructions: "The key is made inside the HSM, sensitive and wrappable only. The screen shows its key check value in large characters; Dana writes it on the paper log and types it back."},
		{ID: "handout:1", Title: "Hand share 1 of 3 to Alice", Actor: c("Alice"), Instructions: "Alice comes to the screen alone and copies the share by hand (or photographs the QR code onto their own medium). The screen is cleared afterwards."},
		{ID: "handout:2", Title: "Hand share 2 of 3 to Bob", Actor: c("Bob"), Instructions: "Bob comes to the screen alone and copies the share by hand. The screen is cleared afterwards."},
		{ID: "handout:3", Title: "Hand share 3 of 3 to Carol", Actor: c("Carol"), Instructions: "Carol comes to the screen alone and copies the share by hand. The screen is cleared afterwards."},
		{ID: "verify-share:1", Title: "Alice proves share 1 can be read back", Actor: c("Alice"), Instructions: "The custodian enters the share again (or opens the file); it must match its commitment."},
		{ID: "verify-share:2", Title: "Bob proves share 2 can be read back", Actor: c("Bob"), Instructions: "The custodian enters the share again (or opens the file); it must match its commitment."},
		{ID: "verify-share:3", Title: "Carol proves share 3 can be read back", Actor: c("Carol"), Instructions: "The custodian enters the share again (or opens the file); it must match its commitment."},
		{ID: "backup", Title: "Seal the 2-of-3 backup", Actor: admin, Instructions: "The backup manifest and blob are written; only now does the share set count."},
		{ID: "wrap:aws", Title: "Wrap the key for aws (aws)", Actor: admin, Instructions: "The key is wrapped under the cloud's public key inside the HSM and the import package is written."},
		{ID: "seal", Title: "Sign off and seal the transcript", Actor: witness, Instructions: "The screen shows the summary for the paper log (signing key, key, share set and holders, packages, exceptions); Dana copies it, checks it and confirms. The transcript is then sealed with a checkpoint, whose SHA-256 goes on the paper log too, and the transcript signing key is destroyed: nobody can sign a rewritten transcript with it."},
	}
	for i := range steps {
		switch {
		case i < current:
			steps[i].Status = ceremony.Done
		case i == current:
			steps[i].Status = ceremony.Running
		}
	}
	return steps
}

// testShare is share i of a 2-of-3 set with a fixed, made-up value.
func testShare(i int, name string) backup.Share {
	v := make([]byte, backup.ValueSize)
	for j := range v {
		v[j] = byte(j*7 + i)
	}
	v[len(v)-1] = byte(i) // the last byte is x, the share's point
	return backup.Share{SetID: "7K3MQ9XA", Index: i, M: 2, N: 3, Custodian: name, Value: v}
}
