package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/keyceremony/keyceremony/ceremony"
)

// sizes are the screens every new screen is checked on: large, the smallest supported, and a
// phone-sized window where nothing must fall off.
var sizes = [][2]int{{120, 40}, {80, 24}, {40, 12}}

// requireSizes builds the screen at each size and compares it with its golden file.
func requireSizes(t *testing.T, build func(t *testing.T, w, h int) *runner) {
	t.Helper()
	for _, s := range sizes {
		t.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(t *testing.T) {
			m := build(t, s[0], s[1])
			requireView(t, m, s[0], s[1])
		})
	}
}

// sized is midCeremony on a w x h screen.
func sized(t *testing.T, current, w, h int) *runner {
	m := midCeremony(t, current)
	send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func TestGoldenStop(t *testing.T) {
	stop := func(cause error, dir string) func(t *testing.T, w, h int) *runner {
		return func(t *testing.T, w, h int) *runner {
			m := sized(t, 4, w, h)
			send(m, engineDoneMsg{&ceremony.Interrupted{Cause: cause, Step: `step 5 of 13 (Hand share 1 of 3 to Alice)`, Dir: dir, Plan: "plans/rehearsal.yaml"}})
			return m
		}
	}
	t.Run("operator", func(t *testing.T) { requireSizes(t, stop(ceremony.ErrAborted, "/media/ceremony/2026-11-27")) })
	t.Run("end-of-input", func(t *testing.T) { requireSizes(t, stop(ceremony.ErrEndOfInput, "out")) })
	t.Run("nothing-recorded", func(t *testing.T) { requireSizes(t, stop(ceremony.ErrAborted, "")) })
}

// The stop screen is not an error screen, and names the real folder in both commands.
func TestStopScreenNamesTheFolder(t *testing.T) {
	m := sized(t, 4, 80, 24)
	send(m, engineDoneMsg{&ceremony.Interrupted{Cause: ceremony.ErrAborted, Step: "step 5 of 13 (x)", Dir: "/media/c1"}})
	v := m.View().Content
	for _, want := range []string{"stopped by the operator at step 5 of 13", "keyceremony run --resume /media/c1", "keyceremony run --abort /media/c1"} {
		if !strings.Contains(v, want) {
			t.Errorf("the stop screen does not say %q:\n%s", want, v)
		}
	}
	for _, not := range []string{"error", "DIR", "Not stated"} {
		if strings.Contains(v, not) {
			t.Errorf("the stop screen says %q:\n%s", not, v)
		}
	}
}

func abortSteps(current int) []ceremony.Step {
	steps := rehearsalSteps(2)[:2]
	steps = append(steps, ceremony.Step{ID: ceremony.StepAbort, Title: "End the interrupted ceremony without finishing it, and seal its transcript",
		Actor: ceremony.Actor{Role: "administrator", Name: "Ana"}, Instructions: "The administrator confirms and says why, for the record."})
	for i := range steps {
		if i < current {
			steps[i].Status = ceremony.Done
		}
	}
	return steps
}

func TestGoldenAbort(t *testing.T) {
	ana := ceremony.Actor{Role: "administrator", Name: "Ana"}
	at := func(t *testing.T, w, h, current int) *runner {
		m := newRunner(colorprofile.Ascii, clockAt(0), w, h)
		send(m, scriptMsg{steps: abortSteps(current), current: current})
		return m
	}
	t.Run("confirm", func(t *testing.T) {
		requireSizes(t, func(t *testing.T, w, h int) *runner {
			m := at(t, w, h, 2)
			send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: ana, Prompt: "End this ceremony without finishing it?",
				Detail: "Steps not done: generate-key, handout:1, backup, wrap:aws. They will never be done in this ceremony."}, reply: make(chan answer[string], 1)})
			return m
		})
	})
	t.Run("reason", func(t *testing.T) {
		requireSizes(t, func(t *testing.T, w, h int) *runner {
			m := at(t, w, h, 2)
			send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: ana, Reason: true, Prompt: "Why does the ceremony end without finishing? In a few words, for the record"}, reply: make(chan answer[string], 1)})
			send(m, typed("the HSM failed?")...)
			return m
		})
	})
	t.Run("ended", func(t *testing.T) {
		requireSizes(t, func(t *testing.T, w, h int) *runner {
			m := at(t, w, h, 2)
			send(m, noticeMsg{text: "the transcript is sealed. Checkpoint SHA-256, for the paper log: 9760dbe2afc09be96112d23e2fc22dd07ea426bda02f9046705944619f850f5e", ok: true})
			send(m, engineDoneMsg{})
			return m
		})
	})
}

// A reason is any line: "?" in it is typed, not the help key, and a blank one is not an answer.
func TestReasonPrompt(t *testing.T) {
	m := newTestRunner(clockAt(0))
	ch := make(chan answer[string], 1)
	send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: ceremony.Actor{Name: "Ana"}, Reason: true, Prompt: "Why?"}, reply: ch})
	send(m, key(" "), key("enter"))
	if len(ch) != 0 {
		t.Fatal("a blank reason was taken")
	}
	send(m, typed("why not?")...)
	if m.help {
		t.Fatal("? in a reason opened the help")
	}
	send(m, key("enter"))
	if a := <-ch; a.v != "why not?" || a.err != nil {
		t.Fatalf("got %q, %v", a.v, a.err)
	}
}

// Notices belong to their step, and a passed check is a success, not a warning.
func TestNoticesPerStep(t *testing.T) {
	m := midCeremony(t, 0)
	send(m, noticeMsg{text: "the PIN is wrong (attempt 1 of 3); nothing changed"})
	if v := m.View().Content; !strings.Contains(v, "! the PIN is wrong") {
		t.Fatalf("the notice is not shown:\n%s", v)
	}
	send(m, scriptMsg{steps: rehearsalSteps(1), current: 1})
	if v := m.View().Content; strings.Contains(v, "PIN is wrong") {
		t.Fatalf("the notice of step 1 is still shown in step 2:\n%s", v)
	}
	send(m, noticeMsg{text: "the aws wrapping key matches the import request", ok: true})
	v := m.View().Content
	if !strings.Contains(v, "✓ the aws wrapping key matches") || strings.Contains(v, "! the aws") {
		t.Fatalf("a success is not shown as one:\n%s", v)
	}
	// The same step again (its status changed) keeps its notices.
	send(m, scriptMsg{steps: rehearsalSteps(1), current: 1})
	if !strings.Contains(m.View().Content, "✓ the aws wrapping key matches") {
		t.Fatal("a notice was cleared while its step runs")
	}
}

func TestHelpOverlay(t *testing.T) {
	m := midCeremony(t, 4)
	send(m, handoutMsg{h: handout(1, "Alice"), reply: make(chan answer[struct{}], 1)})
	send(m, key("enter"), key("?"))
	v := m.View().Content
	if !strings.Contains(v, "Keys on this screen") || !strings.Contains(v, "switch between the typed share and its QR code") {
		t.Fatalf("? does not open the help of the handout:\n%s", v)
	}
	if strings.Contains(v, strings.Split(testShare(1, "Alice").Typed(), "\n")[1][:10]) {
		t.Fatal("the help overlay shows the share")
	}
	send(m, key("esc"))
	if m.help {
		t.Fatal("Esc does not close the help")
	}
	// In a PIN "?" is a character; F1 opens the help there, and the footer says so.
	p := midCeremony(t, 0)
	ch := make(chan answer[[]byte], 1)
	send(p, secretMsg{req: pinRequest(), reply: ch})
	send(p, typed("1?2")...)
	if p.help || !strings.Contains(p.View().Content, "F1: help") {
		t.Fatalf("? in a PIN opened the help, or the footer does not name F1:\n%s", p.View().Content)
	}
	send(p, tea.KeyPressMsg{Code: tea.KeyF1})
	if !p.help {
		t.Fatal("F1 does not open the help")
	}
	send(p, tea.KeyPressMsg{Code: tea.KeyF1}, key("enter"))
	if a := <-ch; string(a.v) != "1?2" {
		t.Fatalf("the PIN typed was %q", a.v)
	}
}

func TestGoldenHelp(t *testing.T) {
	requireSizes(t, func(t *testing.T, w, h int) *runner {
		m := sized(t, 2, w, h)
		send(m, confirmMsg{req: fingerprintCheck(), reply: make(chan answer[string], 1)}, key("?"))
		return m
	})
}

func TestFieldCursor(t *testing.T) {
	var f field
	for _, msg := range []tea.Msg{key("a"), key("b"), key("d"), tea.KeyPressMsg{Code: tea.KeyLeft}, key("c"),
		tea.KeyPressMsg{Code: tea.KeyHome}, key("x"), tea.KeyPressMsg{Code: tea.KeyDelete}, tea.KeyPressMsg{Code: tea.KeyEnd}, key("é"),
		tea.KeyPressMsg{Code: tea.KeyLeft}, tea.KeyPressMsg{Code: tea.KeyLeft}, key("backspace")} {
		f.edit(msg)
	}
	if f.text() != "xbdé" || f.pos != 2 {
		t.Fatalf("field %q, cursor at %d; want \"xbdé\" at 2", f.text(), f.pos)
	}
	f.edit(tea.PasteMsg{Content: "12"})
	if f.text() != "xb12dé" {
		t.Fatalf("paste at the cursor gave %q", f.text())
	}
	buf := f.buf[:cap(f.buf)]
	f.reset()
	for _, b := range buf {
		if b != 0 {
			t.Fatal("reset left bytes in the buffer")
		}
	}
}

func TestGoldenSignOff(t *testing.T) {
	dana := ceremony.Actor{Role: "witness", Name: "Dana"}
	t.Run("key-check-value", func(t *testing.T) {
		requireSizes(t, func(t *testing.T, w, h int) *runner {
			m := sized(t, 3, w, h)
			send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: dana, TypeBack: true,
				Prompt: "Write the key check value on the paper log, then type it back from the paper",
				Detail: `Key "payments-root" (AES-256). Key check value:`, Large: "8F3A21"}, reply: make(chan answer[string], 1)})
			send(m, typed("8f3")...)
			return m
		})
	})
	t.Run("closing-summary", func(t *testing.T) {
		requireSizes(t, func(t *testing.T, w, h int) *runner {
			m := sized(t, 12, w, h)
			send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: dana,
				Prompt: "Copy this summary onto the paper log and check it against the screen; then type yes to seal the transcript",
				Detail: strings.Join([]string{
					"Ceremony rehearsal (generate)",
					"Signing key fingerprint: SHA256:3f9a0b7e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9cc2d1",
					"  read back: 3f9a-k 0b7e-m 41d2-x c6f8-g 8e5a-q 1b3c-t 9d0e-n 7f2a-w",
					`Key "payments-root", AES-256, key check value 8F3A21`,
					"Share set 7K3MQ9XA: any 2 of 3 restore",
					"  share 1: Alice, on paper",
					"  share 2: Bob, on paper",
					"  share 3: Carol, file /media/handouts/backup-7K3MQ9XA/share-3-carol.age",
					"Package aws: targets/aws/, wrapped under SHA256:91be4c07e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b907aa",
					"Exceptions: 1",
					"  check-wrapping-key:aws: Dana (witness) typed back a fingerprint that does not match (attempt 1): group 3 does not match; read it again",
				}, "\n")}, reply: make(chan answer[string], 1)})
			return m
		})
	})
}

// On a small screen what is to be confirmed scrolls; the question and its input line stay.
func TestSummaryScrolls(t *testing.T) {
	m := sized(t, 12, 40, 12)
	detail := "first line\n" + strings.Repeat("middle\n", 20) + "Exceptions: 0"
	send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: ceremony.Actor{Name: "Dana"}, Prompt: "Check it", Detail: detail}, reply: make(chan answer[string], 1)})
	if v := m.View().Content; !strings.Contains(v, "first line") || strings.Contains(v, "Exceptions: 0") || !strings.Contains(v, "> █") {
		t.Fatalf("the top of the summary and the input line are not shown:\n%s", v)
	}
	for range 30 {
		send(m, tea.KeyPressMsg{Code: tea.KeyDown})
	}
	if v := m.View().Content; !strings.Contains(v, "Exceptions: 0") || !strings.Contains(v, "> █") {
		t.Fatalf("scrolled to the end, the last line is not shown:\n%s", v)
	}
	send(m, tea.KeyPressMsg{Code: tea.KeyPgUp}, tea.KeyPressMsg{Code: tea.KeyPgUp}, tea.KeyPressMsg{Code: tea.KeyPgUp})
	if v := m.View().Content; !strings.Contains(v, "first line") {
		t.Fatalf("PgUp does not come back to the top:\n%s", v)
	}
}

// The transcript review has the help overlay too.
func TestReviewHelp(t *testing.T) {
	m := newReview(audit{}, colorprofile.Ascii, 80, 24)
	send(m, key("?"))
	if v := m.View().Content; !strings.Contains(v, "Keys on this screen") || !strings.Contains(v, "filter the events") {
		t.Fatalf("? does not open the review's help:\n%s", v)
	}
	send(m, key("?"))
	if strings.Contains(m.View().Content, "Keys on this screen") {
		t.Fatal("? does not close the help")
	}
}
