package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// View uses the alternate screen: a review is read, not recorded, and leaves the shell as it was.
func (m *review) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

func (m *review) size() (int, int) { return screenSize(m.width, m.height) }

// layout is the head of the screen (title, verdict, signing key) and how many lines the event
// list and the details get below it.
func (m *review) layout() (head []string, listRows, detailRows int) {
	w, h := m.size()
	head = []string{m.th.title.Render("keyceremony") + " · transcript review · " + m.a.dir}
	style := m.th.ok
	if !m.a.report.OK {
		style = m.th.bad
	}
	for _, l := range wrap(m.a.verdict(), w) {
		head = append(head, style.Render(l))
	}
	if fp := m.a.report.Fingerprint; fp != "" {
		// The key that signed the record, not the ceremony's key; on two lines below 93 columns.
		head = append(head, wrap("Ceremony signing key: "+fp, w)...)
	}
	rest := h - len(head) - 3 // two rules and the footer
	listRows = min(max(rest/2, 3), len(m.shown)+1)
	return head, listRows, rest - listRows
}

func (m *review) render() string {
	w, h := m.size()
	if m.help {
		return frame(helpScreen(m.th, reviewKeys, "Esc, Enter or ?: back to the transcript", w), w, h)
	}
	out, listRows, detailRows := m.layout()
	rule := m.th.dim.Render(strings.Repeat("─", w))
	out = append(out, rule)
	out = append(out, m.list(w, listRows)...)
	out = append(out, rule)
	out = append(out, m.details(detailRows)...)
	for len(out) < h-1 { // the footer stays on the last line
		out = append(out, "")
	}
	return frame(append(out, m.footer()), w, h)
}

// list is the events passing the filter, a window of rows lines (one of them the title) around
// the selection.
func (m *review) list(w, rows int) []string {
	title := fmt.Sprintf("Events: %d", len(m.a.events))
	if !m.filter.empty() || m.filtering {
		title = fmt.Sprintf("Events: %d of %d with kind, step, actor or facts containing %q", len(m.shown), len(m.a.events), m.filter.text())
	}
	out := []string{m.th.title.Render(title)}
	switch {
	case m.a.readErr != nil:
		return append(out, wrap("The events cannot be listed: "+m.a.readErr.Error(), w)...)
	case len(m.shown) == 0:
		return append(out, "  No event matches. Esc clears the filter.")
	}
	rows--
	from := min(max(m.sel-rows/2, 0), max(len(m.shown)-rows, 0))
	for i := from; i < min(from+rows, len(m.shown)); i++ {
		e := m.a.events[m.shown[i]]
		st := m.a.status(e.Seq)
		row := fmt.Sprintf("%-13s #%-3d %-9s %-24s %s", st.mark(), e.Seq, e.Kind, ansi.Truncate(e.Step, 24, "…"), eventActor(e))
		switch st {
		case verified:
			row = m.th.ok.Render(row)
		case firstBad:
			row = m.th.bad.Render(row)
		case notChecked:
			row = m.th.dim.Render(row)
		}
		if i == m.sel {
			row = m.th.selected.Render("› " + ansi.Strip(row))
		} else {
			row = "  " + row
		}
		out = append(out, row)
	}
	return out
}

// eventActor names who acted; the end event, written by the tool itself, has nobody.
func eventActor(e transcript.Event) string {
	if e.Actor == (transcript.Actor{}) {
		return "-"
	}
	return ceremony.Actor(e.Actor).String()
}

// detailLines is the selected event as `keyceremony show` prints it, after the problem when it is
// the first bad event.
func (m *review) detailLines() []string {
	e, ok := m.selected()
	if !ok {
		return nil
	}
	w, _ := m.size()
	lines := detail(e)
	if m.a.status(e.Seq) == firstBad {
		var bad []string
		for _, l := range wrap("✗ This is the first bad event: "+m.a.report.Problem, w) {
			bad = append(bad, m.th.bad.Render(l))
		}
		lines = append(bad, lines...)
	}
	return lines
}

// details is detailLines from line m.scroll, in rows lines.
func (m *review) details(rows int) []string {
	lines := m.detailLines()
	if len(lines) == 0 || rows < 1 {
		return nil
	}
	lines = lines[min(m.scroll, len(lines)):]
	if len(lines) > rows {
		lines = append(lines[:rows-1], m.th.dim.Render("  … "+count(len(lines)-rows+1, "more line")+" (PgDn)"))
	}
	return lines
}

func (m *review) footer() string {
	if m.filtering {
		return "Filter by kind, step, actor or facts " + m.filter.view(m.th) + m.th.dim.Render("  Enter: keep · Esc: clear")
	}
	return m.th.dim.Render("↑/↓: select · PgUp/PgDn: details · /: filter · q: quit · ?: help and more keys")
}
