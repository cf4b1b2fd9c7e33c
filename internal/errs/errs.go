// Package errs is the shape of an error keyceremony shows a person: what happened, what to do,
// and whether anything changed, kept as fields so that the interface and the command line print
// each under its own heading instead of guessing from the text.
//
// Its text is the one the command line has always printed, "what happened; what changed" then
// "hint: what to do" on its own line, so a message reads the same however it is shown.
package errs

import (
	"errors"
	"strings"
)

// Nothing is the Changed of a refusal that left everything as it was.
const Nothing = "nothing was changed"

// Error is a refusal or failure for a person.
type Error struct {
	What    string // what happened, one sentence, lowercase, no package name
	Hint    string // what to do next; "" when there is nothing to suggest
	Changed string // [Nothing], what did change, or "" when it is not known
	Err     error  // the cause, for errors.Is and errors.As; its text is already in What
}

// New is an error that says what happened and what to do, when whether anything changed is not known.
func New(what, hint string) *Error { return &Error{What: what, Hint: hint} }

// Unchanged is an error that says what happened and what to do, and that nothing was changed.
func Unchanged(what, hint string) *Error { return &Error{What: what, Hint: hint, Changed: Nothing} }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.What)
	if e.Changed != "" {
		b.WriteString("; ")
		b.WriteString(e.Changed)
	}
	if e.Hint != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Parts takes err apart for a person: what happened, what to do, and what changed. When err
// wraps an [Error] with more words in front ("cannot resume: %w"), they stay in what happened.
// ok is false when err holds no Error; then what is its whole text.
func Parts(err error) (what, hint, changed string, ok bool) {
	var e *Error
	if !errors.As(err, &e) {
		return err.Error(), "", "", false
	}
	what = e.What
	if outer, found := strings.CutSuffix(err.Error(), e.Error()); found {
		what = outer + what
	}
	return what, e.Hint, e.Changed, true
}
