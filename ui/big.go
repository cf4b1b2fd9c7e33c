package ui

import (
	"strings"
)

// bigGlyphs draw the hex digits 3 cells wide and 5 lines high, for a value read across a table
// (a key check value). B and D keep a notch so they never read as 8 and 0.
var bigGlyphs = map[rune][5]string{
	'0': {"███", "█ █", "█ █", "█ █", "███"},
	'1': {" █ ", "██ ", " █ ", " █ ", "███"},
	'2': {"███", "  █", "███", "█  ", "███"},
	'3': {"███", "  █", " ██", "  █", "███"},
	'4': {"█ █", "█ █", "███", "  █", "  █"},
	'5': {"███", "█  ", "███", "  █", "███"},
	'6': {"███", "█  ", "███", "█ █", "███"},
	'7': {"███", "  █", "  █", "  █", "  █"},
	'8': {"███", "█ █", "███", "█ █", "███"},
	'9': {"███", "█ █", "███", "  █", "███"},
	'A': {"███", "█ █", "███", "█ █", "█ █"},
	'B': {"██ ", "█ █", "██ ", "█ █", "██ "},
	'C': {"███", "█  ", "█  ", "█  ", "███"},
	'D': {"██ ", "█ █", "█ █", "█ █", "██ "},
	'E': {"███", "█  ", "███", "█  ", "███"},
	'F': {"███", "█  ", "███", "█  ", "█  "},
}

// bigLines renders a short hex value large when it fits in width and height, with the value in
// plain characters below (what a screen reader and a copy take); otherwise spaced out, on one line.
func bigLines(th theme, value string, width, height int) []string {
	value = strings.ToUpper(value)
	spaced := "  " + strings.Join(strings.Split(value, ""), " ")
	rows := make([]string, 5)
	for _, r := range value {
		g, ok := bigGlyphs[r]
		if !ok || height < 16 || 2+5*len(value) > width {
			return []string{th.title.Render(spaced)}
		}
		for i := range rows {
			rows[i] += g[i] + "  "
		}
	}
	out := make([]string, 0, 7)
	for _, r := range rows {
		out = append(out, th.title.Render("  "+strings.TrimRight(r, " ")))
	}
	return append(out, "", spaced)
}
