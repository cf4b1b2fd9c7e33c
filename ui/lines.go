package ui

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"charm.land/lipgloss/v2"
	"golang.org/x/term"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
)

// lineMode is the ceremony as plain line prompts, for screen readers (ACCESSIBLE), pipes and
// TERM=dumb. Every prompt is on a line of its own, and every status is in words.
type lineMode struct {
	in     *lineReader
	out    io.Writer
	outTTY bool // shares are shown, and wiped, only on a terminal
	// recording says why the session looks recorded (recordingSigns); nil checks nothing
	recording func(out any) []string
	now       func() time.Time
	started   bool
	shown     int          // the step last announced
	failed    map[int]bool // failed steps already reported
}

// Lines returns the line-mode Interaction over in and out. Secrets are read without echo when in
// is a terminal. Shares and generated passphrases are only ever shown when out is a terminal:
// anywhere else (a pipe, a file) they would be written to disk, so ShowShare refuses with a hint
// instead.
func Lines(in io.Reader, out io.Writer) ceremony.Interaction {
	l := newLineMode(in, out, isTerminal(out), time.Now)
	l.recording = recordingSigns
	return l
}

func newLineMode(in io.Reader, out io.Writer, outTTY bool, now func() time.Time) *lineMode {
	return &lineMode{in: &lineReader{r: in}, out: out, outTTY: outTTY, now: now, shown: -1, failed: map[int]bool{}}
}

// isTerminal says whether f is a terminal; anything without a file descriptor is not.
func isTerminal(f any) bool {
	fd, ok := f.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(fd.Fd()))
}

func (l *lineMode) printf(format string, args ...any) { fmt.Fprintf(l.out, format, args...) }

func (l *lineMode) Script(steps []ceremony.Step, current int) {
	if !l.started {
		l.started = true
		l.printf("The ceremony has %d steps.\n", len(steps))
	}
	for i, s := range steps {
		if s.Status == ceremony.Failed && !l.failed[i] {
			l.failed[i] = true
			l.printf("Step %d of %d FAILED: %s\n", i+1, len(steps), s.Title)
		}
	}
	if current < 0 || current >= len(steps) || current == l.shown {
		return
	}
	l.shown = current
	s := steps[current]
	l.printf("\nStep %d of %d: %s\nWho must act: %s\n%s\n", current+1, len(steps), s.Title, s.Actor.String(), s.Instructions)
}

func (l *lineMode) Record(summary string) { l.printf("Recorded: %s\n", summary) }

func (l *lineMode) Notice(text string) { l.printf("NOTICE: %s\n", text) }

func (l *lineMode) Success(text string) { l.printf("OK: %s\n", text) }

func (l *lineMode) Busy(title string) func() {
	start := l.now()
	l.printf("Working: %s. This can take a while; nothing to do.\n", title)
	return sync.OnceFunc(func() { l.printf("Done: %s (%s)\n", title, elapsed(l.now().Sub(start))) })
}

func (l *lineMode) Secret(r ceremony.SecretRequest) ([]byte, error) {
	for {
		l.printf("%s: %s. It is not shown as you type; press Enter when done.\n", r.Actor.String(), r.Prompt)
		b, err := l.readSecret()
		if err != nil || len(b) > 0 {
			return b, err
		}
		l.printf("Nothing was typed.\n")
	}
}

func (l *lineMode) Mode() string { return ceremony.ModeLine }

func (l *lineMode) Terminal() bool { return l.outTTY }

func (l *lineMode) Confirm(r ceremony.ConfirmRequest) (string, error) {
	if r.LastError != "" {
		l.printf("✗ %s\n", r.LastError)
	}
	l.printf("%s\n", r.Prompt)
	if r.Detail != "" {
		l.printf("%s\n", r.Detail)
	}
	if r.Large != "" {
		l.printf("%s\n", strings.Join(strings.Split(strings.ToUpper(r.Large), ""), " "))
	}
	cp := confirmPrompt{req: r}
	for {
		l.printf("%s\n", cp.instruction())
		b, err := l.in.readLine()
		if err != nil {
			return "", err
		}
		typed := string(b)
		clear(b)
		if answered(r, typed) {
			if !r.TypeBack {
				l.printf("Confirmed.\n")
			}
			return typed, nil
		}
		l.printf("✗ %s\n", notConfirmed)
	}
}

func (l *lineMode) ShowShare(h ceremony.ShareHandout) error {
	hp := handoutPrompt{h: h}
	if h.File != "" {
		l.printf("Share %d of %d. %s\nPress Enter to continue.\n", h.Index, h.N, fileHandoutText(hp.custodian(), h.File))
		return l.waitEnter()
	}
	if !l.outTTY {
		return errors.New("a share or passphrase is only shown on a terminal, and standard output is not one; nothing was shown\nhint: run the ceremony on a terminal, or deliver the shares as age files to the custodians' keys (delivery age-recipient in the plan)")
	}
	what := "share"
	if h.Passphrase != nil {
		what = "passphrase"
	}
	l.printf("\n%s: come to the screen alone and press Enter.\nEveryone else: step away until the %s is copied.\n", hp.custodian(), what)
	if err := l.waitEnter(); err != nil {
		return err
	}
	if h.QR && h.Passphrase == nil {
		w, ht := lipgloss.Size(strings.TrimRight(h.Share.QRTerminal(), "\n"))
		l.printf("This share is planned as a QR code. Line mode shows its typed form, the whole share (a screen reader cannot read a QR code); for the QR code, run the ceremony without --plain in a window of at least %dx%d.\n", w, ht+8)
	}
	if h.Label.SetID != "" {
		l.printf("Copy with it: %s\n", h.LabelText())
	}
	if h.Passphrase != nil {
		l.printf("Passphrase for share %d of %d. %s\n\n%s\n\n", h.Index, h.N, passphraseIntro(hp.custodian()), passphraseBlock(h.Passphrase))
	} else {
		// No QR code here: a screen reader would read out block characters, and TERM=dumb may
		// not draw them. The typed form is the whole share.
		l.printf("Share %d of %d for %s. Copy it by hand, line by line.\n\n%s\n\n", h.Index, h.N, h.Custodian.String(), typedBlock(h.Share.Typed()))
	}
	l.printf("Press Enter when you have copied it. The screen is then cleared.\n")
	err := l.waitEnter()
	l.printf("%s", eraseAll) // also on error: the secret must not stay on the screen
	if err == nil {
		cleared := fmt.Sprintf("Share %d of %d", h.Index, h.N)
		if h.Passphrase != nil {
			cleared = fmt.Sprintf("The passphrase for share %d of %d", h.Index, h.N)
		}
		l.printf("%s was cleared from the screen and the scrollback.\n", cleared)
	}
	return err
}

func (l *lineMode) EnterShare(r ceremony.ShareRequest) (string, error) {
	if r.Accepted != "" {
		l.printf("\n✓ %s\n", strings.ToUpper(r.Accepted[:1])+r.Accepted[1:])
	}
	l.printf("\n%s\n%s\n", shareTitle(r), shareWho(r))
	if r.LastError != "" {
		l.printf("✗ The last share was refused: %s\n", r.LastError)
	}
	l.printf("%s On a terminal what you type is not shown.\n", shareHelp(false))
	var lines []string
	index := 0
	for n := 1; n <= backup.TypedLines; {
		l.printf("Line %d of %d:\n", n, backup.TypedLines)
		b, err := l.readSecret()
		if err != nil {
			return "", err
		}
		line := strings.TrimSpace(string(b))
		clear(b)
		if path, ok := sharePath(line); n == 1 && ok {
			return "file:" + path, nil
		}
		if index, err = checkShareLine(r, n, line, index); err != nil {
			l.printf("✗ %s\n", strings.ReplaceAll(err.Error(), "\nhint: ", "\n  "))
			continue
		}
		l.printf("Line %d checks out.\n", n)
		lines = append(lines, line)
		n++
	}
	return strings.Join(lines, "\n"), nil
}

func (l *lineMode) Recording() []string {
	if l.recording == nil {
		return nil
	}
	return l.recording(l.out)
}

func (l *lineMode) waitEnter() error {
	b, err := l.in.readLine()
	clear(b)
	return err
}

// readSecret reads a line without echo from a terminal, or as it comes from anything else.
func (l *lineMode) readSecret() ([]byte, error) {
	if f, ok := l.in.r.(*os.File); ok && isTerminal(f) {
		b, err := term.ReadPassword(int(f.Fd()))
		l.printf("\n") // the Enter was not echoed either
		if err != nil {
			return nil, fmt.Errorf("reading from the terminal: %w", err)
		}
		return b, nil
	}
	return l.in.readLine()
}

// lineReader reads lines a byte at a time. It never reads ahead, so no secret waits in a buffer
// it cannot zero and term.ReadPassword can take over the same descriptor between lines.
type lineReader struct{ r io.Reader }

// readLine returns the next line without its line ending. The end of the input before any answer
// means nobody is there to answer: ErrEndOfInput.
func (lr *lineReader) readLine() ([]byte, error) {
	var line []byte
	var c [1]byte
	for {
		n, err := lr.r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				if len(line) > 0 && line[len(line)-1] == '\r' {
					line = line[:len(line)-1]
				}
				return line, nil
			}
			line = appendSecret(line, c[:])
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				return line, nil
			}
			return nil, ceremony.ErrEndOfInput
		}
		if err != nil {
			clear(line)
			return nil, fmt.Errorf("reading input: %w", err)
		}
	}
}
