package ui

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/ceremony"
)

// Messages from the engine's goroutine to the runner model. Requests carry a reply channel with
// room for one answer, so the model answers from Update without ever blocking.
type (
	scriptMsg struct {
		steps   []ceremony.Step
		current int
	}
	recordMsg string
	noticeMsg struct {
		text string
		ok   bool // a check passed: shown as a success, not a warning
	}
	busyMsg struct {
		id    int64
		title string
		start time.Time
	}
	busyDoneMsg struct{ id int64 }
	secretMsg   struct {
		req   ceremony.SecretRequest
		reply chan<- answer[[]byte]
	}
	confirmMsg struct {
		req   ceremony.ConfirmRequest
		reply chan<- answer[string]
	}
	handoutMsg struct {
		h     ceremony.ShareHandout
		reply chan<- answer[struct{}]
	}
	shareMsg struct {
		req   ceremony.ShareRequest
		reply chan<- answer[string]
	}
	// engineDoneMsg says run returned.
	engineDoneMsg struct{ err error }
)

// answer is a person's reply to one request, or why there is none.
type answer[T any] struct {
	v   T
	err error
}

// reply sends an answer on a channel made by ask; it never blocks.
func reply[T any](ch chan<- answer[T], v T, err error) {
	ch <- answer[T]{v, err}
}

// bridge is the TUI's ceremony.Interaction: each method turns into a message to the Bubble Tea
// program and, for questions, waits for the model's answer. stop is closed when the program has
// ended, so an engine still asking gets ErrAborted instead of waiting for ever.
type bridge struct {
	send   func(tea.Msg)
	stop   <-chan struct{}
	now    func() time.Time
	busyID atomic.Int64
	// recorded is why the session looks recorded, found once at the start
	recorded []string
}

var _ ceremony.Interaction = (*bridge)(nil)

func ask[T any](b *bridge, msg func(chan<- answer[T]) tea.Msg) (T, error) {
	ch := make(chan answer[T], 1)
	b.send(msg(ch))
	select {
	case a := <-ch:
		return a.v, a.err
	case <-b.stop:
		var zero T
		return zero, ceremony.ErrAborted
	}
}

func (b *bridge) Script(steps []ceremony.Step, current int) {
	// The engine may change its slice after we return; the model keeps its own copy.
	b.send(scriptMsg{steps: slices.Clone(steps), current: current})
}

func (b *bridge) Record(summary string) { b.send(recordMsg(summary)) }

func (b *bridge) Notice(text string) { b.send(noticeMsg{text: text}) }

func (b *bridge) Success(text string) { b.send(noticeMsg{text: text, ok: true}) }

func (b *bridge) Busy(title string) func() {
	id := b.busyID.Add(1)
	b.send(busyMsg{id: id, title: title, start: b.now()})
	return sync.OnceFunc(func() { b.send(busyDoneMsg{id: id}) })
}

func (b *bridge) Secret(r ceremony.SecretRequest) ([]byte, error) {
	return ask(b, func(ch chan<- answer[[]byte]) tea.Msg { return secretMsg{r, ch} })
}

func (b *bridge) Mode() string { return ceremony.ModeGuided }

func (b *bridge) Terminal() bool { return true }

func (b *bridge) Recording() []string { return b.recorded }

func (b *bridge) Confirm(r ceremony.ConfirmRequest) (string, error) {
	return ask(b, func(ch chan<- answer[string]) tea.Msg { return confirmMsg{r, ch} })
}

func (b *bridge) ShowShare(h ceremony.ShareHandout) error {
	_, err := ask(b, func(ch chan<- answer[struct{}]) tea.Msg { return handoutMsg{h, ch} })
	return err
}

func (b *bridge) EnterShare(r ceremony.ShareRequest) (string, error) {
	return ask(b, func(ch chan<- answer[string]) tea.Msg { return shareMsg{r, ch} })
}
