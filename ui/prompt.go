package ui

import (
	tea "charm.land/bubbletea/v2"
)

// prompt is the question on the screen, one engine request at a time. It owns the request's reply
// channel: update answers it at most once and then reports done; abort answers with err instead.
type prompt interface {
	update(msg tea.Msg) (cmd tea.Cmd, done bool)
	// lines renders the prompt in width cells and, at most, height lines.
	lines(th theme, width, height int) []string
	// fullScreen prompts (share handout and entry) replace the checklist: a custodian alone at the
	// screen sees only their own task.
	fullScreen() bool
	abort(err error)
	// keys are the prompt's own keys, for the help overlay.
	keys() []keyHelp
	// literal says whether the input takes any character, "?" too (a PIN, a reason).
	literal() bool
}
