package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
)

// keyHelp is one key of a screen and what it does there.
type keyHelp struct{ key, does string }

// helpKey opens the help overlay: "?", except where the question takes any character (a PIN, a
// passphrase, a reason), which may hold a "?"; there F1 does.
func (m *runner) helpKey() string {
	if m.prompt != nil && m.prompt.literal() {
		return "F1"
	}
	return "?"
}

// helpToggle reports whether k opens or closes the help overlay.
func (m *runner) helpToggle(k tea.KeyPressMsg) bool {
	if m.help {
		return k.Code == tea.KeyEscape || k.Code == tea.KeyEnter || k.Code == tea.KeyF1 || k.Text == "?"
	}
	return k.Code == tea.KeyF1 || k.Text == "?" && m.helpKey() == "?"
}

// helpLines is the overlay: the keys of the question on the screen, then those of every screen.
// It covers the whole screen, a share too, so opening it never shows more than before.
func (m *runner) helpLines(w int) []string {
	keys := []keyHelp{}
	if m.prompt != nil {
		keys = append(keys, m.prompt.keys()...)
	}
	keys = append(keys,
		keyHelp{"Ctrl+C", "stop the ceremony (it asks first); resume or abort it later"},
		keyHelp{m.helpKey(), "show or hide this help"})
	return helpScreen(m.th, keys, "Esc, Enter or "+m.helpKey()+": back to the ceremony", w)
}

// helpScreen lists keys and what they do, in w cells, for the help overlay of any screen.
func helpScreen(th theme, keys []keyHelp, back string, w int) []string {
	out := []string{th.title.Render("Keys on this screen"), ""}
	for _, k := range keys {
		for i, l := range wrap(k.does, max(w-14, 10)) {
			key := ""
			if i == 0 {
				key = k.key
			}
			out = append(out, fmt.Sprintf("  %-10s  %s", key, l))
		}
	}
	return append(out, "", th.dim.Render(back))
}

// reviewKeys are the keys of the transcript review.
var reviewKeys = []keyHelp{
	{"↑/↓ j/k", "select the event above or below"},
	{"Home/End", "the first or the last event (g/G)"},
	{"PgUp/PgDn", "scroll the selected event's details (Space too)"},
	{"/", "filter the events by kind, step, actor or facts; Enter keeps it, Esc clears it"},
	{"Esc", "clear the filter"},
	{"q", "quit"},
	{"?", "show or hide this help"},
}

// editKeys are the keys of every line of input.
var editKeys = []keyHelp{
	{"Enter", "done: hand over what is typed"},
	{"←/→", "move the cursor; Home/End: to the start/end"},
	{"Backspace", "delete before the cursor"},
	{"Esc", "clear what is typed"},
}
