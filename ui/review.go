package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// Review shows an auditor the transcript in dir: the verification result on top, the events with
// their status, the selected event's details, and a filter on kind, step, actor and facts ("/"
// then text). It opens at the first bad event, if there is one. It
// uses the alternate screen: a review is not a ceremony, and leaves the shell as it was. Like
// ReviewLines it returns an error when the transcript does not verify.
func Review(dir string, opts Options) error {
	opts = opts.withDefaults()
	a := loadAudit(dir)
	if _, err := tea.NewProgram(newReview(a, opts.Profile, opts.Width, opts.Height), opts.programOptions()...).Run(); err != nil {
		return fmt.Errorf("the terminal interface failed: %w\nhint: set ACCESSIBLE=1 for the review as plain text", err)
	}
	return a.err()
}

// review is the transcript review screen. shown indexes the events that pass the filter; sel is a
// position in shown.
type review struct {
	th            theme
	width, height int
	a             audit
	filter        field
	filtering     bool // typing the filter after "/"
	help          bool // the help overlay is open
	shown         []int
	sel           int
	scroll        int // first line of the details shown
}

func newReview(a audit, p colorprofile.Profile, width, height int) *review {
	m := &review{th: newTheme(p), width: width, height: height, a: a}
	m.refilter()
	if bad := a.report.FirstBad; bad >= 0 {
		for i, seq := range m.shown {
			if m.a.events[seq].Seq == bad {
				m.sel = i
			}
		}
	}
	return m
}

func (m *review) Init() tea.Cmd { return nil }

func (m *review) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		if m.filtering {
			m.filterKey(msg)
			return m, nil
		}
		return m, m.key(msg)
	}
	return m, nil
}

func (m *review) filterKey(k tea.KeyPressMsg) {
	switch {
	case k.Code == tea.KeyEnter:
		m.filtering = false
	case k.Code == tea.KeyEscape:
		m.filtering = false
		m.filter.reset()
	default:
		m.filter.key(k)
	}
	m.refilter()
}

func (m *review) key(k tea.KeyPressMsg) tea.Cmd {
	if m.help {
		m.help = k.Text != "?" && k.Code != tea.KeyEscape && k.Code != tea.KeyEnter
		return nil
	}
	switch k.Keystroke() {
	case "q", "ctrl+c":
		return tea.Quit
	case "?":
		m.help = true
	case "/":
		m.filtering = true
	case "esc":
		m.filter.reset()
		m.refilter()
	case "up", "k":
		m.move(-1)
	case "down", "j":
		m.move(1)
	case "home", "g":
		m.move(-len(m.shown))
	case "end", "G":
		m.move(len(m.shown))
	case "pgdown", "space":
		_, _, rows := m.layout()
		m.scroll = min(m.scroll+rows/2, max(len(m.detailLines())-rows, 0))
	case "pgup":
		_, _, rows := m.layout()
		m.scroll = max(m.scroll-rows/2, 0)
	}
	return nil
}

func (m *review) move(d int) {
	m.sel = min(max(m.sel+d, 0), max(len(m.shown)-1, 0))
	m.scroll = 0
}

// refilter recomputes the events shown and keeps the selection on the same event when it still
// passes, else on the first.
func (m *review) refilter() {
	keep := -1
	if m.sel < len(m.shown) {
		keep = m.shown[m.sel]
	}
	m.shown, m.sel, m.scroll = m.shown[:0], 0, 0
	for i, e := range m.a.events {
		if m.filter.empty() || matches(e, m.filter.text()) {
			if i == keep {
				m.sel = len(m.shown)
			}
			m.shown = append(m.shown, i)
		}
	}
}

func (m *review) selected() (transcript.Event, bool) {
	if m.sel >= len(m.shown) {
		return transcript.Event{}, false
	}
	return m.a.events[m.shown[m.sel]], true
}
