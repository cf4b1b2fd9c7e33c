package ui

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/internal/readback"
)

// observed wraps a model and keeps the content of its latest view, so a flow test waits on what
// the model shows rather than on the renderer's byte stream, which only repaints changed cells.
type observed struct {
	tea.Model
	mu   *sync.Mutex
	last *tea.View
}

func observe(m tea.Model) observed { return observed{m, new(sync.Mutex), new(tea.View)} }

func (o observed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	o.Model, cmd = o.Model.Update(msg)
	return o, cmd
}

func (o observed) View() tea.View {
	v := o.Model.View()
	o.mu.Lock()
	*o.last = v
	o.mu.Unlock()
	return v
}

func (o observed) view() tea.View {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.last
}

// waitFor waits until the screen shows text.
func (o observed) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(o.view().Content, text) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the screen never showed %q; it shows:\n%s", text, o.view().Content)
}

// ceremonyFlow runs run under the runner in a real Bubble Tea program, as RunCeremony does,
// and returns the program and the engine's result.
func ceremonyFlow(t *testing.T, run func(ceremony.Interaction) error) (*teatest.TestModel, observed, <-chan error) {
	o := observe(newTestRunner(time.Now))
	tm := teatest.NewTestModel(t, o, teatest.WithInitialTermSize(80, 24))
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	return tm, o, startEngine(&bridge{send: tm.Send, stop: stop, now: time.Now}, run)
}

func enter(tm *teatest.TestModel) { tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter}) }

// typeLine types s and Enter.
func typeLine(tm *teatest.TestModel, s string) {
	tm.Type(s)
	enter(tm)
}

// rehearsal is a fake engine shaped like a generate ceremony: a PIN, two confirmations, a slow
// step, three share handouts, then the verification round. It records what people answered.
type rehearsal struct {
	pin      string
	shares   []int
	attempts int
}

func (r *rehearsal) run(ia ceremony.Interaction) error {
	steps := rehearsalSteps(0)
	at := func(i int) {
		steps = rehearsalSteps(i)
		ia.Script(steps, i)
	}
	at(0)
	pin, err := ia.Secret(pinRequest())
	if err != nil {
		return err
	}
	r.pin = string(pin)
	clear(pin)
	ia.Record("#1 open-token: token rehearsal, user logged in")
	at(1)
	if _, err := ia.Confirm(ceremony.ConfirmRequest{Actor: ceremony.Actor{Role: "witness", Name: "Dana"}, Prompt: "Is the signing key fingerprint written down?"}); err != nil {
		return err
	}
	at(2)
	// Like the engine: the type-back is compared here and asked again with the group that failed.
	req := fingerprintCheck()
	for {
		typed, err := ia.Confirm(req)
		if err != nil {
			return err
		}
		if err := readback.Check(rehearsalFingerprint, typed); err != nil {
			req.LastError = err.Error()
			continue
		}
		break
	}
	at(3)
	done := ia.Busy("Generating the AES-256 key in the HSM")
	done()
	ia.Record("#4 generate-key: AES-256 payments-root, KCV 8f3a21")
	names := []string{"Alice", "Bob", "Carol"}
	for i, n := range names {
		at(4 + i)
		if err := ia.ShowShare(handout(i+1, n)); err != nil {
			return err
		}
	}
	for i, n := range names {
		at(7 + i)
		req := ceremony.ShareRequest{Custodian: ceremony.Actor{Role: "custodian", Name: n}, Progress: fmt.Sprintf("%d of 3 shares read back", i)}
		for {
			r.attempts++
			text, err := ia.EnterShare(req)
			if err != nil {
				return err
			}
			sh, err := backup.ParseTyped(text)
			if err == nil && sh.Index == i+1 {
				r.shares = append(r.shares, sh.Index)
				break
			}
			req.LastError = fmt.Sprintf("this is not share %d of set 7K3MQ9XA", i+1)
		}
	}
	at(len(steps))
	return nil
}

func TestFlowRehearsal(t *testing.T) {
	r := &rehearsal{}
	tm, o, engine := ceremonyFlow(t, r.run)

	o.waitFor(t, "User PIN of token rehearsal")
	typeLine(tm, "1234")
	o.waitFor(t, "type yes and press Enter")
	typeLine(tm, "yes")
	o.waitFor(t, "type back what is read aloud")
	typeLine(tm, "91be-u 4c07-h e41d-r 2c6f-r 88e5-n a1b3-q c9d0-p e7f3-g") // the witness mishears
	o.waitFor(t, "group 8 does not fit its check letter")
	typeLine(tm, "91be-u 4c07-h e41d-r 2c6f-r 88e5-n a1b3-q c9d0-p e7f2-g")
	next := []string{"Custodian 2 (Bob): come", "Custodian 3 (Carol): come", "Enter a share · 0 of 3"}
	for i, n := range []string{"Alice", "Bob", "Carol"} {
		o.waitFor(t, fmt.Sprintf("Custodian %d (%s): come to the screen alone", i+1, n))
		enter(tm)
		first := typedLines(i+1, n)[0]
		o.waitFor(t, first)
		enter(tm)
		o.waitFor(t, next[i])
		if strings.Contains(o.view().Content, first) {
			t.Fatal("the share stays on the screen after its step")
		}
	}
	for i, n := range []string{"Alice", "Bob", "Carol"} {
		o.waitFor(t, fmt.Sprintf("Enter a share · %d of 3 shares read back", i))
		for _, l := range typedLines(i+1, n) {
			typeLine(tm, l)
		}
	}
	if err := <-engine; err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if r.pin != "1234" || len(r.shares) != 3 || r.attempts != 3 {
		t.Fatalf("engine saw pin ok=%v, shares %v, %d attempts", r.pin == "1234", r.shares, r.attempts)
	}
	final := o.view()
	if final.AltScreen {
		t.Error("the ceremony used the alternate screen")
	}
	if !strings.Contains(final.Content, "The ceremony is complete") {
		t.Errorf("final screen:\n%s", final.Content)
	}
	out := readAll(t, tm)
	if n := bytes.Count(out, []byte(eraseAll)); n != 3 {
		t.Errorf("the screen and scrollback were erased %d times, want once per share (3)", n)
	}
	if bytes.Contains(out, []byte("1234")) {
		t.Error("the PIN reached the terminal")
	}
}

// A restore: any quorum member enters a share; one share is mistyped. The UI catches a typo on its
// line; a share whose lines each pass but do not belong together is refused by the engine, which
// asks again with LastError.
func TestFlowRestoreWithMistypedShare(t *testing.T) {
	var accepted []int
	restore := func(ia ceremony.Interaction) error {
		ia.Script([]ceremony.Step{{ID: "collect-shares", Title: "Quorum members enter their shares", Actor: ceremony.Actor{Role: "custodian"}, Status: ceremony.Running}}, 0)
		req := ceremony.ShareRequest{Progress: "0 of 2 shares accepted"}
		for len(accepted) < 2 {
			text, err := ia.EnterShare(req)
			if err != nil {
				return err
			}
			sh, err := backup.ParseTyped(text)
			if err != nil {
				req.LastError = err.Error()
				continue
			}
			accepted = append(accepted, sh.Index)
			req = ceremony.ShareRequest{Progress: fmt.Sprintf("%d of 2 shares accepted", len(accepted))}
		}
		return nil
	}
	tm, o, engine := ceremonyFlow(t, restore)
	alice, carol := typedLines(1, "Alice"), typedLines(3, "Carol")

	o.waitFor(t, "0 of 2 shares accepted")
	typeLine(tm, alice[0])
	typeLine(tm, typo(alice[1]))
	o.waitFor(t, "line 2 of share 1 has a typo")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	typeLine(tm, alice[1])
	typeLine(tm, alice[2])
	typeLine(tm, carol[3]) // a line of another share: passes its own check only
	o.waitFor(t, "The last share was refused")
	typeLine(tm, alice[0])
	typeLine(tm, alice[1])
	typeLine(tm, alice[2])
	typeLine(tm, alice[3])
	o.waitFor(t, "1 of 2 shares accepted")
	if strings.Contains(o.view().Content, "refused") {
		t.Fatal("the refusal of the earlier share is still shown")
	}
	for _, l := range carol {
		typeLine(tm, l)
	}
	if err := <-engine; err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if len(accepted) != 2 || accepted[0] != 1 || accepted[1] != 3 {
		t.Fatalf("accepted %v", accepted)
	}
}

// An engine error stays on the screen until it is read; RunCeremony's caller gets the error.
func TestFlowErrorAndStop(t *testing.T) {
	failing := func(ia ceremony.Interaction) error {
		ia.Script(rehearsalSteps(0), 0)
		if _, err := ia.Secret(pinRequest()); err != nil {
			return err
		}
		return errors.New("unreachable")
	}
	tm, o, engine := ceremonyFlow(t, failing)
	o.waitFor(t, "User PIN")
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	o.waitFor(t, "Stop the ceremony?")
	tm.Type("y")
	if err := <-engine; !errors.Is(err, ceremony.ErrAborted) {
		t.Fatalf("engine returned %v, want ErrAborted", err)
	}
	o.waitFor(t, "What happened")
	enter(tm)
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

func TestFlowReview(t *testing.T) {
	dir := t.TempDir()
	writeTranscript(t, dir)
	o := observe(newReview(loadAudit(dir), 0, 80, 24))
	tm := teatest.NewTestModel(t, o, teatest.WithInitialTermSize(80, 24))
	o.waitFor(t, "✓ VERIFIED: 14 events")
	tm.Type("/wrap")
	o.waitFor(t, `Events: 5 of 14 with kind, step, actor or facts containing "wrap"`)
	enter(tm)
	tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	o.waitFor(t, "EXCEPTION  wrap:aws")
	tm.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	o.waitFor(t, "exception: host-assisted wrap (allowed by the plan)")
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if !o.view().AltScreen {
		t.Error("the review does not use the alternate screen")
	}
}

func readAll(t *testing.T, tm *teatest.TestModel) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := b.ReadFrom(tm.FinalOutput(t)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
