package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// theme holds the styles for one colour profile. Every status also has a word or a symbol, so a
// style only ever repeats what the text already says (status is never colour alone).
type theme struct {
	title, dim, ok, bad, current, warn, selected lipgloss.Style
}

// newTheme builds styles the profile can show. The view strings carry them already, so golden
// files made with the Ascii profile hold no colour escapes, only bold and reverse video.
func newTheme(p colorprofile.Profile) theme {
	plain := lipgloss.NewStyle()
	switch {
	case p <= colorprofile.NoTTY:
		return theme{plain, plain, plain, plain, plain, plain, plain}
	case p == colorprofile.Ascii:
		bold := plain.Bold(true)
		return theme{title: bold, dim: plain, ok: plain, bad: bold, current: bold, warn: bold, selected: plain.Reverse(true)}
	}
	return theme{
		title:    plain.Bold(true),
		dim:      plain.Foreground(lipgloss.Color("8")),
		ok:       plain.Foreground(lipgloss.Color("2")),
		bad:      plain.Bold(true).Foreground(lipgloss.Color("1")),
		current:  plain.Bold(true).Foreground(lipgloss.Color("6")),
		warn:     plain.Bold(true).Foreground(lipgloss.Color("3")),
		selected: plain.Reverse(true),
	}
}

// wrap breaks text into lines of at most width cells, keeping words whole where it can.
func wrap(text string, width int) []string {
	if width < 1 {
		width = 1
	}
	return strings.Split(lipgloss.Wrap(text, width, " "), "\n")
}

// frame cuts a view to the screen: every line to width cells, at most height lines. Views are
// laid out to fit already; this is the guarantee that a frame never scrolls the terminal, which
// would push a share into the scrollback.
func frame(lines []string, width, height int) string {
	if height > 0 && len(lines) > height {
		lines = lines[:height]
	}
	for i, l := range lines {
		if width > 0 && ansi.StringWidth(l) > width {
			lines[i] = ansi.Truncate(l, width, "…")
		}
	}
	return strings.Join(lines, "\n")
}
