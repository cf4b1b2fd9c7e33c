package ui

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
)

// linesRehearsal answers the rehearsal engine in line mode: every answer a line of input, with a
// mistyped fingerprint and a mistyped share line on the way.
func linesRehearsalInput() string {
	var in []string
	in = append(in, "1234", "yes", "91be-u 4c07-h e41d-r 2c6f-r 88e5-n a1b3-q c9d0-p e7f3-g", "91BE U 4C07 H E41D R 2C6F R 88E5 N A1B3 Q C9D0 P E7F2 G")
	for range 3 {
		in = append(in, "", "") // "press Enter" to see the share, then "copied it"
	}
	for i, n := range []string{"Alice", "Bob", "Carol"} {
		lines := typedLines(i+1, n)
		if i == 1 {
			in = append(in, lines[0], typo(lines[1]))
		} else {
			in = append(in, lines[0])
		}
		in = append(in, lines[1:]...)
	}
	return strings.Join(in, "\n") + "\n"
}

func TestLinesRehearsal(t *testing.T) {
	var out bytes.Buffer
	r := &rehearsal{}
	l := newLineMode(strings.NewReader(linesRehearsalInput()), &out, true, clockAt(0))
	if err := r.run(l); err != nil {
		t.Fatal(err)
	}
	if r.pin != "1234" || len(r.shares) != 3 {
		t.Fatalf("pin ok=%v, shares %v", r.pin == "1234", r.shares)
	}
	if strings.Contains(out.String(), "1234") {
		t.Fatal("the PIN was written out")
	}
	if n := strings.Count(out.String(), eraseAll); n != 3 {
		t.Fatalf("erased %d times, want 3", n)
	}
	golden.RequireEqual(t, out.String())
}

func TestLinesRefusesShareOffTerminal(t *testing.T) {
	var out bytes.Buffer
	l := Lines(strings.NewReader("\n\n"), &out) // a bytes.Buffer is no terminal
	err := l.ShowShare(handout(1, "Alice"))
	if err == nil || !strings.Contains(err.Error(), "hint: ") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(out.String(), typedLines(1, "Alice")[1]) {
		t.Fatal("the share was written to a non-terminal")
	}
	// A share delivered as a file is only named, so it needs no terminal.
	h := handout(1, "Alice")
	h.File = "shares/share-1-alice.age"
	if err := l.ShowShare(h); err != nil {
		t.Fatal(err)
	}
	// A share card is named with what to do with it: print it, then delete the file.
	out.Reset()
	h.File = "media/backup-7K3MQ9XA/share-1-alice.pdf"
	if err := l.ShowShare(h); err != nil {
		t.Fatal(err)
	}
	want := "Custodian 1 (Alice): your share card was written to media/backup-7K3MQ9XA/share-1-alice.pdf. Print it now on the offline printer, take the paper away, and delete the file"
	if got := strings.Join(strings.Fields(out.String()), " "); !strings.Contains(got, want) || strings.Contains(got, "age") {
		t.Errorf("a share card handout says:\n%s", out.String())
	}
}

func TestLinesEnterShare(t *testing.T) {
	var out bytes.Buffer
	l := newLineMode(strings.NewReader("file:/media/usb/share-2-bob.age\n"), &out, false, time.Now)
	got, err := l.EnterShare(ceremony.ShareRequest{Progress: "1 of 2 shares accepted", LastError: "share 3 (Carol) does not match its commitment"})
	if err != nil || got != "file:/media/usb/share-2-bob.age" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, want := range []string{"Enter a share · 1 of 2 shares accepted", "✗ The last share was refused: share 3 (Carol) does not match its commitment", "Line 1 of 4:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// The end of the input means nobody is there to answer: the ceremony stops, and says the input ended (not that someone stopped it).
func TestLinesEndOfInput(t *testing.T) {
	l := newLineMode(strings.NewReader("12"), new(bytes.Buffer), false, time.Now)
	if b, err := l.Secret(pinRequest()); err != nil || string(b) != "12" {
		t.Fatalf("a last line without newline: %q, %v", b, err)
	}
	if _, err := l.Secret(pinRequest()); !errors.Is(err, ceremony.ErrEndOfInput) {
		t.Fatalf("got %v, want ErrEndOfInput", err)
	}
	if _, err := l.Confirm(fingerprintCheck()); !errors.Is(err, ceremony.ErrEndOfInput) {
		t.Fatalf("got %v, want ErrEndOfInput", err)
	}
}

// The reader takes no byte beyond the line: the rest stays for term.ReadPassword or the next call.
func TestLineReaderReadsNoFurther(t *testing.T) {
	r := strings.NewReader("a\r\nbc\n")
	lr := &lineReader{r: r}
	b, err := lr.readLine()
	if err != nil || string(b) != "a" || r.Len() != 3 {
		t.Fatalf("got %q, %v, %d bytes left", b, err, r.Len())
	}
}

func TestLinesScript(t *testing.T) {
	var out bytes.Buffer
	l := newLineMode(strings.NewReader(""), &out, false, clockAt(0))
	steps := rehearsalSteps(0)
	l.Script(steps, 0)
	l.Script(steps, 0) // the same step again: not repeated
	steps[0].Status = ceremony.Failed
	l.Script(steps, 0)
	l.Notice("host-assisted wrapping")
	want := "The ceremony has 13 steps.\n\nStep 1 of 13: Open token \"rehearsal\" and log in\nWho must act: Sam (security-officer)\nSam enters the token's user PIN. Nobody else looks at the keyboard.\nStep 1 of 13 FAILED: Open token \"rehearsal\" and log in\nNOTICE: host-assisted wrapping\n"
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestLinesCheckEveryLine(t *testing.T) {
	var out bytes.Buffer
	lines := typedLines(2, "Bob")
	in := fmt.Sprintf("%s\n%s\n%s\n%s\n%s\n", lines[0], typo(lines[1]), lines[1], lines[2], lines[3])
	l := newLineMode(strings.NewReader(in), &out, false, time.Now)
	got, err := l.EnterShare(ceremony.ShareRequest{Custodian: ceremony.Actor{Role: "custodian", Name: "Bob"}, Custodians: []string{"Alice", "Bob", "Carol"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.ParseTyped(got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "✗ line 2 of share 2 (Bob) has a typo\n  compare it") {
		t.Fatalf("the typo is not named:\n%s", out.String())
	}
}

// TestLinesPassphrase: a generated passphrase is shown on a terminal only, after the custodian
// comes alone, and erased once they have copied it.
func TestLinesPassphrase(t *testing.T) {
	pass := []byte("abandon ability able about above absent absorb abstract absurd zoo")
	h := ceremony.ShareHandout{Custodian: ceremony.Actor{Role: "custodian", Name: "Bob"}, Index: 2, N: 3, Passphrase: pass}
	var out bytes.Buffer
	if err := Lines(strings.NewReader("\n\n"), &out).ShowShare(h); err == nil || strings.Contains(out.String(), "absurd") {
		t.Fatalf("shown off a terminal: %v\n%s", err, out.String())
	}
	out.Reset()
	l := newLineMode(strings.NewReader("\n\n"), &out, true, time.Now)
	if err := l.ShowShare(h); err != nil {
		t.Fatal(err)
	}
	shown, after, ok := strings.Cut(out.String(), eraseAll)
	if !ok || !strings.Contains(shown, "   1  abandon      6  absent\n") || !strings.Contains(shown, "   5  above       10  zoo\n") {
		t.Fatalf("the passphrase was not shown, then erased:\n%s", out.String())
	}
	if strings.Contains(after, "abandon") || after != "The passphrase for share 2 of 3 was cleared from the screen and the scrollback.\n" {
		t.Fatalf("after the erase: %q", after)
	}
}
