package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/ceremony"
)

// Until the terminal reports its size, lay out for the smallest screen the tool supports.
const (
	minWidth  = 80
	minHeight = 24
)

// screenSize is the size to lay out for: the terminal's, once it is known.
func screenSize(width, height int) (int, int) {
	if width <= 0 || height <= 0 {
		return minWidth, minHeight
	}
	return width, height
}

func (m *runner) size() (int, int) { return screenSize(m.width, m.height) }

// View never asks for the alternate screen: a ceremony is recorded with script(1), and the
// inline screen keeps that recording readable.
func (m *runner) View() tea.View {
	return tea.NewView(m.render())
}

func (m *runner) render() string {
	w, h := m.size()
	head := m.header()
	switch {
	case m.help:
		return frame(append([]string{head, ""}, m.helpLines(w)...), w, h)
	case m.stopped != nil:
		lines := append([]string{head, ""}, stopLines(m.th, m.stopped, w, h-4)...)
		return frame(append(lines, "", m.th.dim.Render("Enter: leave")), w, h)
	case m.failure != nil:
		lines := append([]string{head, ""}, m.failure.lines(m.th, w)...)
		return frame(append(lines, "", m.th.dim.Render("Enter: leave")), w, h)
	case m.prompt != nil && m.prompt.fullScreen():
		lines := append([]string{head, ""}, m.prompt.lines(m.th, w, h-3)...)
		return frame(append(lines, m.footer()), w, h)
	}
	return frame(m.checklistScreen(w, h), w, h)
}

func (m *runner) header() string {
	state := "starting"
	switch {
	case m.finished && m.aborted():
		state = "ended without finishing"
	case m.finished:
		state = "complete"
	case m.stopped != nil, m.failure != nil:
		state = "stopped"
	case m.current >= 0 && m.current < len(m.steps):
		state = fmt.Sprintf("step %d of %d", m.current+1, len(m.steps))
	}
	return m.th.title.Render("keyceremony") + " · ceremony · " + state
}

func (m *runner) footer() string {
	if m.stopAsk {
		return m.th.warn.Render("Stop the ceremony? y: stop · n: go on")
	}
	if m.stopping {
		return m.th.warn.Render("Stopping: the ceremony ends at its next question.")
	}
	return m.th.dim.Render("Ctrl+C: stop the ceremony · " + m.helpKey() + ": help")
}

// aborted says whether this run ends an interrupted ceremony without finishing it.
func (m *runner) aborted() bool {
	return len(m.steps) > 0 && m.steps[len(m.steps)-1].ID == ceremony.StepAbort
}

// command is "keyceremony run FLAG DIR" to copy: on one line when it fits, else with the folder on
// a continuation line, so a narrow screen never cuts the path.
func command(w int, flag, dir string) []string {
	if line := "  keyceremony run " + flag + " " + dir; len(line) <= w {
		return []string{line}
	}
	return []string{"  keyceremony run " + flag + " \\", "    " + dir}
}

// stopLines is the screen after nobody answered: who stopped it or that the input ended, where
// the record is, and the two ways on. It is not an error: nothing failed.
func stopLines(th theme, in *ceremony.Interrupted, w, h int) []string {
	title := "■ The ceremony was stopped by the operator at " + in.Step + "."
	if errors.Is(in.Cause, ceremony.ErrEndOfInput) {
		title = "■ The input ended at " + in.Step + ", before anyone answered."
	}
	out := wrap(th.title.Render(title), w)
	out = append(out, "")
	if in.Dir == "" {
		out = append(out, wrap("Nothing was recorded: the transcript had not started. To start again:", w)...)
		return append(out, "  keyceremony run "+in.Plan)
	}
	resume, abort := command(w, "--resume", in.Dir), command(w, "--abort", in.Dir)
	ways := append(append(append([]string{"To continue where it stopped:"}, resume...), "", "To end it without finishing (it asks why):"), abort...)
	lost := wrap("Nothing was lost: the transcript in "+in.Dir+" records every step done so far, and that it stopped here.", w)
	switch {
	case len(out)+len(lost)+1+len(ways) <= h:
		out = append(append(out, lost...), "")
	case len(out)+len(ways) > h: // a small screen: the two commands, nothing else
		out = out[:0]
		ways = append(append(append([]string{"Continue:"}, resume...), "End without finishing:"), abort...)
		out = append(out, wrap(th.title.Render("■ Stopped at "+in.Step+"."), w)...)
	}
	return append(out, ways...)
}

// checklistScreen lays out the main screen top to bottom. The step, its question and the footer
// always show in full; the checklist and the records share what height is left, the checklist
// first, so the current step is never pushed off the screen.
func (m *runner) checklistScreen(w, h int) []string {
	detail := m.detail(w)
	var notes []string
	for _, n := range keepLast(m.notices, 2) {
		mark, style := "! ", m.th.warn
		if n.ok {
			mark, style = "✓ ", m.th.ok
		}
		for _, l := range wrap(mark+n.text, w) {
			notes = append(notes, style.Render(l))
		}
	}
	ask := m.asking(w, h-2-len(notes)) // header and footer
	// On a small screen the question and the notices come first: what is asked, its input line
	// and the footer never fall off. Then the step's title and who acts, then its instructions,
	// then the checklist.
	room := h - 2 - len(notes) // header and footer
	if len(ask) > room {
		ask = ask[len(ask)-max(room, 0):] // the input line is at the bottom
	}
	room -= len(ask)
	if len(detail)+1 > room {
		detail = detail[:min(len(detail), 2, max(room-1, 0))]
	}
	rest := room - len(detail) - 2 // the rule, and the blank before the question
	records := m.recordLines(max(0, rest-min(len(m.steps), 4)-1))
	if len(records) > 0 {
		rest -= len(records) + 1 // and a blank line
	}
	out := []string{m.header()}
	if rest >= 3 || rest >= len(m.steps) { // a window of the checklist needs a line above and below
		out = append(out, m.checklist(rest)...)
		out = append(out, m.th.dim.Render(strings.Repeat("─", w)))
	}
	out = append(out, detail...)
	if room > len(detail) {
		out = append(out, "")
	}
	out = append(out, ask...)
	out = append(out, notes...)
	if len(records) > 0 {
		out = append(out, "")
		out = append(out, records...)
	}
	return append(out, m.footer())
}

// stepMark is a step's status as a symbol and a word, never colour alone.
func (m *runner) stepMark(i int, s ceremony.Step) (string, string) {
	switch {
	case s.Status == ceremony.Failed:
		return "✗", "failed"
	case s.Status == ceremony.Done:
		return "✓", "done"
	case i == m.current || s.Status == ceremony.Running:
		return "▶", "now"
	}
	return "·", "next"
}

// checklist renders the steps in at most rows lines: all of them when they fit, else a window
// around the current step with a line saying how many are above and below.
func (m *runner) checklist(rows int) []string {
	if len(m.steps) == 0 {
		return []string{m.th.dim.Render("Waiting for the ceremony script…")}
	}
	from, to := 0, len(m.steps)
	if len(m.steps) > rows {
		window := max(rows-2, 1) // room for the "above" and "below" lines
		from = min(max(m.current-1, 0), len(m.steps)-window)
		to = from + window
	}
	var out []string
	if from > 0 {
		out = append(out, m.th.dim.Render("  … "+count(from, "earlier step")))
	}
	for i := from; i < to; i++ {
		s := m.steps[i]
		mark, word := m.stepMark(i, s)
		row := fmt.Sprintf("%s %-6s %2d. %s", mark, word, i+1, s.Title)
		switch word {
		case "done":
			row = m.th.ok.Render(row)
		case "now":
			row = m.th.current.Render(row)
		case "failed":
			row = m.th.bad.Render(row)
		}
		out = append(out, row)
	}
	if to < len(m.steps) {
		out = append(out, m.th.dim.Render("  … "+count(len(m.steps)-to, "more step")))
	}
	return out
}

// detail is the current step in plain words: what it is, who acts, what to do.
func (m *runner) detail(w int) []string {
	switch {
	case m.finished && m.aborted():
		return wrap(m.th.title.Render("■ The ceremony ended without finishing. Its transcript records why, what was done and what was not, and is sealed."), w)
	case m.finished:
		return []string{m.th.ok.Render("✓ The ceremony is complete. Every step is in the transcript.")}
	}
	if m.current < 0 || m.current >= len(m.steps) {
		return nil
	}
	s := m.steps[m.current]
	out := []string{m.th.title.Render(fmt.Sprintf("Step %d: %s", m.current+1, s.Title))}
	out = append(out, "Who must act: "+s.Actor.String())
	return append(out, wrap(s.Instructions, w)...)
}

// asking is what the screen asks of people now: the prompt, the slow operation, or nothing.
func (m *runner) asking(w, h int) []string {
	switch {
	case m.prompt != nil:
		return m.prompt.lines(m.th, w, h)
	case m.busy != nil:
		return []string{m.busy.spin.View() + " " + m.busy.title + " · " + elapsed(m.now().Sub(m.busy.start)),
			m.th.dim.Render("  Working; nothing to do until it finishes.")}
	case m.cleared != "":
		return []string{m.th.ok.Render("✓ " + m.cleared)}
	case m.finished:
		return nil
	}
	return []string{m.th.dim.Render("Working…")}
}

// recordLines is the latest transcript records, newest last, in at most rows lines with a title.
func (m *runner) recordLines(rows int) []string {
	if len(m.records) == 0 || rows < 2 {
		return nil
	}
	out := []string{m.th.title.Render("Transcript, latest events")}
	for _, r := range keepLast(m.records, rows-1) {
		out = append(out, "  • "+r)
	}
	return out
}

// count is "1 step", "2 steps".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// elapsed reads like a stopwatch: 7s, 1m05s, 1h02m.
func elapsed(d time.Duration) string {
	d = d.Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
