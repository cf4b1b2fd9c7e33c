package ui

import (
	"strings"
)

// errorReport is an engine error taken apart for a person: what happened, what to do next, and
// whether anything changed. The engine writes errors as "what happened\nhint: what to do" and says
// in its text whether it changed anything (contracts.md); the UI only sorts the lines.
type errorReport struct {
	What    []string
	Next    []string
	Changed []string
}

// parseError sorts the lines of an error text. Lines starting "hint:" are what to do next; lines
// that speak of change ("nothing changed", "changed: ...", "... was written") say what changed.
func parseError(text string) errorReport {
	var r errorReport
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "hint:"):
			r.Next = append(r.Next, strings.TrimSpace(strings.TrimPrefix(line, "hint:")))
		case speaksOfChange(line):
			r.Changed = append(r.Changed, line)
		default:
			r.What = append(r.What, line)
		}
	}
	if len(r.Next) == 0 {
		r.Next = []string{"Read the message above; nothing more is suggested."}
	}
	if len(r.Changed) == 0 {
		r.Changed = []string{"Not stated. The transcript records every change that was made."}
	}
	return r
}

func speaksOfChange(line string) bool {
	l := strings.ToLower(line)
	for _, p := range []string{"nothing changed", "nothing was changed", "nothing has changed", "no changes", "changed:", "changes:"} {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// lines renders the report in three titled parts, wrapped to width.
func (r errorReport) lines(th theme, width int) []string {
	out := []string{th.bad.Render("✗ The ceremony stopped with an error")}
	part := func(title string, body []string) {
		out = append(out, "", th.title.Render(title))
		for _, b := range body {
			for _, l := range wrap(b, width-2) {
				out = append(out, "  "+l)
			}
		}
	}
	part("What happened", r.What)
	part("What to do next", r.Next)
	part("Did anything change", r.Changed)
	return out
}
