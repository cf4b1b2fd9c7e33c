package ui

import (
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/keyceremony/keyceremony/ceremony"
)

// keep bounds what the runner remembers of the engine's running commentary.
const (
	keepRecords = 20
	keepNotices = 5
)

// runner is the ceremony screen: the script as a checklist, the current step, the question being
// asked, and the latest transcript records. It is a pointer model: Update changes it in place and
// returns it, which keeps the prompts' secret buffers in one place to zero.
type runner struct {
	th            theme
	now           func() time.Time
	width, height int

	steps   []ceremony.Step
	current int
	records []string
	notices []noticeMsg // of the running step: cleared when it ends
	busy    *busy
	prompt  prompt
	cleared string // said after a share was wiped, until the next question

	stopAsk  bool // Ctrl+C was pressed: asking whether to stop
	stopping bool // the operator chose to stop; every question now gets ErrAborted
	finished bool // the engine returned nil
	failure  *errorReport
	stopped  *ceremony.Interrupted // nobody answered: the operator stopped, or the input ended
	help     bool                  // the help overlay is open
}

// busy is a slow step in progress: a spinner and the time since it began.
type busy struct {
	id    int64
	title string
	start time.Time
	spin  spinner.Model
}

func newRunner(p colorprofile.Profile, now func() time.Time, width, height int) *runner {
	return &runner{th: newTheme(p), now: now, width: width, height: height, current: -1}
}

func (m *runner) Init() tea.Cmd { return nil }

func (m *runner) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if hp, ok := m.prompt.(*handoutPrompt); ok {
			w, h := m.size()
			hp.resize(w, h-3)
		}
	case scriptMsg:
		if msg.current != m.current && m.current >= 0 {
			m.notices = nil // a notice belongs to its step
		}
		m.steps, m.current = msg.steps, msg.current
	case recordMsg:
		m.records = keepLast(append(m.records, string(msg)), keepRecords)
	case noticeMsg:
		m.notices = keepLast(append(m.notices, msg), keepNotices)
	case busyMsg:
		m.busy = &busy{id: msg.id, title: msg.title, start: msg.start, spin: spinner.New(spinner.WithSpinner(spinner.Line))}
		return m, m.busy.spin.Tick
	case busyDoneMsg:
		if m.busy != nil && m.busy.id == msg.id {
			m.busy = nil
		}
	case spinner.TickMsg:
		if m.busy != nil {
			var cmd tea.Cmd
			m.busy.spin, cmd = m.busy.spin.Update(msg)
			return m, cmd
		}
	case secretMsg:
		m.ask(newSecretPrompt(msg))
	case confirmMsg:
		m.ask(newConfirmPrompt(msg))
	case handoutMsg:
		w, h := m.size()
		m.ask(newHandoutPrompt(msg, w, h-3)) // the header, a blank and the footer
	case shareMsg:
		m.ask(newSharePrompt(msg))
	case engineDoneMsg:
		return m, m.engineDone(msg.err)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.PasteMsg:
		if m.prompt != nil && !m.stopAsk {
			return m, m.answer(msg)
		}
	}
	return m, nil
}

// ask puts a new question on the screen, or refuses it at once once the operator chose to stop.
func (m *runner) ask(p prompt) {
	if m.stopping {
		p.abort(ceremony.ErrAborted)
		return
	}
	m.prompt, m.cleared = p, ""
}

// answer passes input to the prompt and takes it off the screen once it has replied.
func (m *runner) answer(msg tea.Msg) tea.Cmd {
	cmd, done := m.prompt.update(msg)
	if done {
		if h, ok := m.prompt.(*handoutPrompt); ok && h.h.File == "" {
			m.cleared = fmt.Sprintf("Share %d of %d was cleared from the screen and the scrollback.", h.h.Index, h.h.N)
		}
		m.prompt = nil
	}
	return cmd
}

func (m *runner) key(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case m.failure != nil || m.stopped != nil:
		if k.Code == tea.KeyEnter || k.Code == tea.KeyEscape || k.Text == "q" {
			return tea.Quit
		}
	case k.Keystroke() == "ctrl+c" && m.stopAsk, m.stopAsk && (k.Text == "y" || k.Text == "Y"):
		return m.stop() // a second Ctrl+C is a yes
	case k.Keystroke() == "ctrl+c":
		m.stopAsk = true
	case m.helpToggle(k):
		m.help = !m.help
	case m.help:
	case m.stopAsk:
		if k.Text == "n" || k.Text == "N" || k.Code == tea.KeyEscape {
			m.stopAsk = false
		}
	case m.prompt != nil:
		return m.answer(k)
	}
	return nil
}

// stop answers the open question, and every later one, with ErrAborted; the engine then ends the
// ceremony its own way (it knows what it must record) and returns. A share handout or share entry
// stopped midway may have had a share on the screen, so the screen is wiped as after its step.
func (m *runner) stop() tea.Cmd {
	m.stopAsk, m.stopping = false, true
	if m.prompt == nil {
		return nil
	}
	p := m.prompt
	m.prompt = nil
	p.abort(ceremony.ErrAborted)
	if p.fullScreen() {
		return clearSecretScreen()
	}
	return nil
}

// engineDone ends a ceremony that succeeded, or keeps its error on the screen until it is read.
func (m *runner) engineDone(err error) tea.Cmd {
	m.busy = nil // a prompt cannot be open: the engine returned, so it is not waiting on one
	if err == nil {
		m.finished = true
		return tea.Quit
	}
	if errors.As(err, &m.stopped) {
		return nil
	}
	r := reportOf(err)
	m.failure = &r
	return nil
}

func keepLast[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
