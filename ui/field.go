package ui

import (
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// field is a one-line input that keeps what is typed in a []byte it can zero. bubbles' textinput
// keeps its value as []rune, copies it on every key press and hands it out only as a string, so a
// PIN typed into it could neither be zeroed nor kept out of strings (architecture invariant 2).
// field has a cursor (Left, Right, Home, End, Backspace, Delete) and renders the same on every
// frame, which golden files need.
type field struct {
	buf    []byte
	pos    int // the cursor, a byte offset at a rune boundary
	masked bool
}

// key applies one key press; keys that are no edit are ignored.
func (f *field) key(k tea.KeyPressMsg) {
	switch {
	case k.Code == tea.KeyBackspace && k.Mod == 0:
		if f.pos > 0 {
			_, n := utf8.DecodeLastRune(f.buf[:f.pos])
			f.cut(f.pos-n, f.pos)
		}
	case k.Code == tea.KeyDelete && k.Mod == 0:
		if f.pos < len(f.buf) {
			_, n := utf8.DecodeRune(f.buf[f.pos:])
			f.cut(f.pos, f.pos+n)
		}
	case k.Code == tea.KeyLeft && f.pos > 0:
		_, n := utf8.DecodeLastRune(f.buf[:f.pos])
		f.pos -= n
	case k.Code == tea.KeyRight && f.pos < len(f.buf):
		_, n := utf8.DecodeRune(f.buf[f.pos:])
		f.pos += n
	case k.Code == tea.KeyHome, k.Keystroke() == "ctrl+a":
		f.pos = 0
	case k.Code == tea.KeyEnd, k.Keystroke() == "ctrl+e":
		f.pos = len(f.buf)
	case k.Code == tea.KeyEscape, k.Keystroke() == "ctrl+u":
		f.reset()
	case k.Text != "" && k.Mod&^tea.ModShift == 0:
		f.insert(k.Text)
	}
}

// cut deletes buf[from:to] and zeroes the bytes freed at the end.
func (f *field) cut(from, to int) {
	n := copy(f.buf[from:], f.buf[to:])
	clear(f.buf[from+n:])
	f.buf = f.buf[:from+n]
	f.pos = from
}

// edit applies typed or pasted input and reports whether Enter was pressed, which the prompt
// holding the field answers.
func (f *field) edit(msg tea.Msg) (enter bool) {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		f.insert(msg.Content)
	case tea.KeyPressMsg:
		if msg.Code == tea.KeyEnter {
			return true
		}
		f.key(msg)
	}
	return false
}

// insert puts text at the cursor, growing the buffer by hand so the old backing array can be
// zeroed.
func (f *field) insert(text string) {
	text = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f { // a pasted newline or control character is not part of a line
			return -1
		}
		return r
	}, text)
	tail := len(f.buf) - f.pos
	f.buf = appendSecret(f.buf, text) // grows the buffer; the tail is moved into place below
	copy(f.buf[f.pos+len(text):], f.buf[f.pos:f.pos+tail])
	copy(f.buf[f.pos:], text)
	f.pos += len(text)
}

// appendSecret appends data to a secret buffer. When b must grow it copies by hand and zeroes
// the old array, which append would leave behind with the secret in it.
func appendSecret[T string | []byte](b []byte, data T) []byte {
	if len(b)+len(data) > cap(b) {
		grown := make([]byte, len(b), 2*(len(b)+len(data))+16)
		copy(grown, b)
		clear(b[:cap(b)])
		b = grown
	}
	return append(b, data...)
}

// take hands the content over in a fresh slice (the caller zeroes it) and clears the field.
func (f *field) take() []byte {
	out := make([]byte, len(f.buf))
	copy(out, f.buf)
	f.reset()
	return out
}

// text is the content as a string: only for what is not secret or is a string already by
// contract (a confirmation, a share line the engine receives as a string).
func (f *field) text() string { return string(f.buf) }

func (f *field) empty() bool { return len(f.buf) == 0 }

func (f *field) reset() {
	clear(f.buf[:cap(f.buf)])
	f.buf = f.buf[:0]
	f.pos = 0
}

// view renders the field with its cursor: a block at the end, or the character under it in
// reverse video. Masked content is one * per character.
func (f *field) view(th theme) string {
	var before, after string
	if f.masked { // counted in place: a secret never becomes a string
		before, after = strings.Repeat("*", utf8.RuneCount(f.buf[:f.pos])), strings.Repeat("*", utf8.RuneCount(f.buf[f.pos:]))
	} else {
		before, after = string(f.buf[:f.pos]), string(f.buf[f.pos:])
	}
	if after == "" {
		return "> " + before + "█"
	}
	r, n := utf8.DecodeRuneInString(after)
	return "> " + before + th.selected.Render(string(r)) + after[n:]
}
