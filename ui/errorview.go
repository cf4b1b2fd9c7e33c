package ui

import (
	"strings"

	"github.com/keyceremony/keyceremony/internal/errs"
)

// errorReport is an engine error for a person: what happened, what to do next, and whether
// anything changed. They are the fields of an [errs.Error]; an error without them is shown whole
// as what happened, and nothing is guessed from its words.
type errorReport struct {
	What    []string
	Next    []string
	Changed []string
}

func reportOf(err error) errorReport {
	what, hint, changed, _ := errs.Parts(err)
	r := errorReport{What: []string{what}, Next: []string{hint}, Changed: []string{notKnown}}
	if hint == "" {
		r.Next[0] = "Nothing more is suggested than the message above."
	}
	if changed != "" {
		r.Changed[0] = strings.ToUpper(changed[:1]) + changed[1:] + "."
	}
	return r
}

// notKnown is what the screen says when the error does not say whether anything changed.
const notKnown = "Not known. The transcript records every change that was made."

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
