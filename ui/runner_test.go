package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/internal/errs"
)

// A runner in the middle of a rehearsal: steps done, current and next, records and a notice.
func midCeremony(t *testing.T, current int) *runner {
	t.Helper()
	m := newTestRunner(clockAt(0))
	send(m,
		scriptMsg{steps: rehearsalSteps(current), current: current},
		recordMsg("#1 open-token: token rehearsal (serial 5c1a0e2f), user logged in"),
		recordMsg("#2 begin: signing key Ed25519 SHA256:3f9a…c2d1"),
		recordMsg("#3 check-wrapping-key:aws: SHA256:91be…07aa confirmed by Dana"),
		recordMsg("#4 generate-key: AES-256 payments-root, KCV 8f3a21"),
	)
	return m
}

func TestGoldenRunner(t *testing.T) {
	t.Run("starting", func(t *testing.T) {
		requireView(t, newTestRunner(clockAt(0)), 80, 24)
	})
	t.Run("steps", func(t *testing.T) {
		requireView(t, midCeremony(t, 4), 80, 24)
	})
	t.Run("notice", func(t *testing.T) {
		m := midCeremony(t, 4)
		send(m, noticeMsg{text: "SoftHSM2 has no SHA-256 OAEP: the GCP target uses host-assisted wrapping, as the plan allows. This is recorded as an exception."})
		requireView(t, m, 80, 24)
	})
	t.Run("failed-step", func(t *testing.T) {
		steps := rehearsalSteps(3)
		steps[3].Status = ceremony.Failed
		m := newTestRunner(clockAt(0))
		send(m, scriptMsg{steps: steps, current: 3})
		requireView(t, m, 80, 24)
	})
	t.Run("confirm", func(t *testing.T) {
		m := midCeremony(t, 2)
		send(m, confirmMsg{req: fingerprintCheck(), reply: make(chan answer[string], 1)})
		send(m, typed("91be-u 4c07-h e41d")...)
		requireView(t, m, 80, 24)
	})
	t.Run("confirm-mismatch", func(t *testing.T) {
		m := midCeremony(t, 2)
		req := fingerprintCheck()
		req.LastError = "group 3 does not fit its check letter: a slip in reading or typing; read it again"
		send(m, confirmMsg{req: req, reply: make(chan answer[string], 1)})
		requireView(t, m, 80, 24)
	})
	t.Run("confirm-yes", func(t *testing.T) {
		m := midCeremony(t, 1)
		send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: ceremony.Actor{Role: "witness", Name: "Dana"}, Prompt: "Is the signing key fingerprint written on the paper log?", Detail: "SHA256:3f9a0b7e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9cc2d1"}, reply: make(chan answer[string], 1)})
		requireView(t, m, 80, 24)
	})
	t.Run("pin-masked", func(t *testing.T) {
		m := midCeremony(t, 0)
		send(m, secretMsg{req: pinRequest(), reply: make(chan answer[[]byte], 1)})
		send(m, typed("1234")...)
		requireView(t, m, 80, 24)
	})
	t.Run("busy", func(t *testing.T) {
		m := midCeremony(t, 3)
		m.now = clockAt(83 * time.Second)
		send(m, busyMsg{id: 1, title: "Generating the AES-256 key in the HSM", start: t0})
		requireView(t, m, 80, 24)
	})
	t.Run("stop-ask", func(t *testing.T) {
		m := midCeremony(t, 4)
		send(m, key("ctrl+c"))
		requireView(t, m, 80, 24)
	})
	t.Run("error", func(t *testing.T) {
		m := midCeremony(t, 11)
		send(m, engineDoneMsg{err: &errs.Error{
			What:    `target "aws": the import parameters expired at 2026-11-27T09:00:00Z`,
			Hint:    "run 'keyceremony aws prepare' on the connected machine for fresh parameters, then resume with 'keyceremony run --resume out'",
			Changed: "no import package was written for this target",
		}})
		requireView(t, m, 80, 24)
	})
	// An error that does not say what changed is shown whole, and change as not known.
	t.Run("error-plain", func(t *testing.T) {
		m := midCeremony(t, 11)
		send(m, engineDoneMsg{err: errors.New("the token was removed while the key was being wrapped")})
		requireView(t, m, 80, 24)
	})
	t.Run("complete", func(t *testing.T) {
		m := midCeremony(t, 13)
		send(m, engineDoneMsg{})
		requireView(t, m, 80, 24)
	})
	t.Run("wide", func(t *testing.T) {
		m := midCeremony(t, 4)
		send(m, tea.WindowSizeMsg{Width: 120, Height: 40})
		requireView(t, m, 120, 40)
	})
}

// rehearsalFingerprint is the wrapping key the rehearsal's witness checks; its read-back form is
// 91be-u 4c07-h e41d-r 2c6f-r 88e5-n a1b3-q c9d0-p e7f2-g.
const rehearsalFingerprint = "SHA256:91be4c07e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9cc2d"

func fingerprintCheck() ceremony.ConfirmRequest {
	return ceremony.ConfirmRequest{
		Actor:    ceremony.Actor{Role: "witness", Name: "Dana"},
		Prompt:   "Check the AWS wrapping key of target aws",
		Detail:   "Read aloud the fingerprint printed on the import request (page 1, \"Wrapping key\"): 8 groups of 4 hex digits and a letter.",
		TypeBack: true,
	}
}

func pinRequest() ceremony.SecretRequest {
	return ceremony.SecretRequest{Actor: ceremony.Actor{Role: "security-officer", Name: "Sam"}, Prompt: "User PIN of token rehearsal", Purpose: "user-pin"}
}

func TestConfirmAnswers(t *testing.T) {
	yes := ceremony.ConfirmRequest{}
	for _, tc := range []struct {
		req   ceremony.ConfirmRequest
		typed string
		ok    bool
	}{
		{fingerprintCheck(), "91be-u 4c07", true}, // passed on: the engine compares
		{fingerprintCheck(), "  ", false},
		{yes, "yes", true},
		{yes, " Y ", true},
		{yes, "no", false},
		{yes, "", false},
	} {
		if got := answered(tc.req, tc.typed); got != tc.ok {
			t.Errorf("answered(type-back %v, %q) = %v, want %v", tc.req.TypeBack, tc.typed, got, tc.ok)
		}
	}
}

// A type-back is handed to the engine as typed; the UI never judges it. A plain confirmation
// replies only to yes.
func TestConfirmReplies(t *testing.T) {
	m := midCeremony(t, 2)
	ch := make(chan answer[string], 1)
	send(m, confirmMsg{req: fingerprintCheck(), reply: ch})
	send(m, typed("91BE-U 4c07h")...)
	send(m, key("enter"))
	if a := <-ch; a.err != nil || a.v != "91BE-U 4c07h" {
		t.Fatalf("type-back answer %q, %v", a.v, a.err)
	}
	if m.prompt != nil {
		t.Fatal("the question stays on the screen after its answer")
	}
	send(m, confirmMsg{req: ceremony.ConfirmRequest{Actor: ceremony.Actor{Role: "witness", Name: "Dana"}, Prompt: "Written down?"}, reply: ch})
	send(m, typed("no")...)
	send(m, key("enter"))
	if len(ch) != 0 {
		t.Fatal("no was taken as a confirmation")
	}
	if !strings.Contains(m.View().Content, "Not confirmed") {
		t.Fatal("the refusal is not said")
	}
	send(m, typed("yes")...)
	send(m, key("enter"))
	if a := <-ch; a.err != nil {
		t.Fatalf("confirmation refused: %v", a.err)
	}
}

// The PIN is drawn as stars, handed over once, and gone from the model and the screen after.
func TestSecretNeverShown(t *testing.T) {
	m := midCeremony(t, 0)
	ch := make(chan answer[[]byte], 1)
	send(m, secretMsg{req: pinRequest(), reply: ch})
	send(m, typed("4711")...)
	if v := m.View().Content; strings.Contains(v, "4711") || !strings.Contains(v, "> ****█") {
		t.Fatalf("PIN not masked:\n%s", v)
	}
	sp := m.prompt.(*secretPrompt)
	buf := sp.in.buf[:cap(sp.in.buf)]
	send(m, key("enter"))
	a := <-ch
	if string(a.v) != "4711" || a.err != nil {
		t.Fatalf("got %q, %v", a.v, a.err)
	}
	for _, b := range buf {
		if b != 0 {
			t.Fatalf("the field was not zeroed: %q", buf)
		}
	}
	if v := m.View().Content; strings.Contains(v, "****") {
		t.Fatalf("the masked PIN stays on the screen:\n%s", v)
	}
}

func TestStopAnswersEveryQuestionWithErrAborted(t *testing.T) {
	m := midCeremony(t, 0)
	ch := make(chan answer[[]byte], 1)
	send(m, secretMsg{req: pinRequest(), reply: ch})
	send(m, key("ctrl+c"), key("n"))
	if len(ch) != 0 || m.prompt == nil {
		t.Fatal("n did not go on with the ceremony")
	}
	send(m, key("ctrl+c"), key("y"))
	if a := <-ch; !errors.Is(a.err, ceremony.ErrAborted) {
		t.Fatalf("got %v, want ErrAborted", a.err)
	}
	later := make(chan answer[string], 1)
	send(m, shareMsg{reply: later})
	if a := <-later; !errors.Is(a.err, ceremony.ErrAborted) {
		t.Fatalf("a question after the stop got %v, want ErrAborted", a.err)
	}
}

func TestBusyEndsOnlyItself(t *testing.T) {
	m := midCeremony(t, 3)
	send(m, busyMsg{id: 1, title: "one", start: t0}, busyMsg{id: 2, title: "two", start: t0}, busyDoneMsg{id: 1})
	if m.busy == nil || m.busy.title != "two" {
		t.Fatal("an old Busy's done func ended a newer one")
	}
	send(m, busyDoneMsg{id: 2})
	if m.busy != nil {
		t.Fatal("busy not ended")
	}
}

func TestElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 7*time.Second + 900*time.Millisecond: "7s", 65 * time.Second: "1m05s", 3720 * time.Second: "1h02m",
	} {
		if got := elapsed(d); got != want {
			t.Errorf("elapsed(%v) = %q, want %q", d, got, want)
		}
	}
}

// The error screen shows an errs.Error's fields under their headings, and a plain error whole as
// what happened, with "not known" for change, whatever its words say.
func TestReportOf(t *testing.T) {
	r := reportOf(fmt.Errorf("running: %w", errs.Unchanged("the PIN is wrong (attempt 1 of 3)", "type it again")))
	if r.What[0] != "running: the PIN is wrong (attempt 1 of 3)" || r.Next[0] != "type it again" || r.Changed[0] != "Nothing was changed." {
		t.Fatalf("%+v", r)
	}
	r = reportOf(errors.New("nothing changed in the plan: changed: x\nhint: y"))
	if r.What[0] != "nothing changed in the plan: changed: x\nhint: y" || r.Changed[0] != notKnown {
		t.Fatalf("a plain error is sorted by its words: %+v", r)
	}
	r = reportOf(&errs.Error{What: "the wrap failed", Changed: "the target key was made"})
	if r.Changed[0] != "The target key was made." || !strings.HasPrefix(r.Next[0], "Nothing more") {
		t.Fatalf("%+v", r)
	}
}
