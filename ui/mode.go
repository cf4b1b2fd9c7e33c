package ui

import (
	"io"
	"strings"

	"github.com/charmbracelet/colorprofile"
)

// Mode is how the ceremony talks to people.
type Mode int

const (
	// ModeTUI is the Bubble Tea interface (RunCeremony, Review).
	ModeTUI Mode = iota
	// ModeLines is plain line prompts (Lines, ReviewLines): for screen readers (ACCESSIBLE),
	// pipes, and TERM=dumb. (Not "Lines": that name is the function.)
	ModeLines
)

func (m Mode) String() string {
	if m == ModeLines {
		return "lines"
	}
	return "tui"
}

// ChooseMode picks line mode when either end is not a terminal, when ACCESSIBLE is set to anything
// non-empty (the convention of charmbracelet/huh and others), or when TERM=dumb; the TUI otherwise.
// env has the semantics of os.LookupEnv.
func ChooseMode(env func(string) (string, bool), stdinTTY, stdoutTTY bool) Mode {
	if !stdinTTY || !stdoutTTY {
		return ModeLines
	}
	if v, ok := env("ACCESSIBLE"); ok && v != "" {
		return ModeLines
	}
	if v, _ := env("TERM"); v == "dumb" {
		return ModeLines
	}
	return ModeTUI
}

// Options size and colour the TUI. The zero value means: detect the profile, read the terminal's
// size, use os.Stdin and os.Stdout.
type Options struct {
	Profile colorprofile.Profile
	// Width and Height fix the initial size (tests); the terminal's resizes still apply.
	Width, Height int
	Input         io.Reader
	Output        io.Writer
}

// ProfileFromEnv is the colour profile for out under environ (os.Environ form). It honours NO_COLOR
// set to any non-empty value, as no-color.org says; colorprofile alone parses NO_COLOR as a bool
// and so keeps colour for NO_COLOR=yes. TERM=dumb gets no escapes at all.
func ProfileFromEnv(out io.Writer, environ []string) colorprofile.Profile {
	p := colorprofile.Detect(out, environ)
	if v, ok := lookup(environ, "TERM"); ok && v == "dumb" {
		return colorprofile.NoTTY
	}
	if v, ok := lookup(environ, "NO_COLOR"); ok && v != "" && p > colorprofile.Ascii {
		return colorprofile.Ascii
	}
	return p
}

// lookup is os.LookupEnv over an environ slice; the last assignment wins, as in the os package.
func lookup(environ []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}
