package backup

import (
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the quiet zone, in modules, around a QR code drawn as text (the PNG has rsc.io/qr's own 4).
const qrQuiet = 2

// qrText is the typed form without the spaces between groups (ParseTyped ignores them), which
// keeps the code at version 6 (41 modules) instead of 8; callers clear it.
func (s Share) qrText() []byte {
	text := s.appendTyped(nil)
	out := text[:0]
	for _, c := range text {
		if c != ' ' {
			out = append(out, c)
		}
	}
	clear(text[len(out):])
	return out
}

// qrCode encodes qrText at error correction level M, byte mode.
func (s Share) qrCode() *qr.Code {
	text := s.qrText()
	defer clear(text)
	c, err := qr.Encode(string(text), qr.M)
	if err != nil {
		panic("backup: a typed share does not fit a QR code")
	}
	return c
}

// QRPNG returns a PNG of a QR code holding the share's typed form, without the spaces (scanning
// it gives text that ParseTyped reads). The PNG shows the share: treat the file as the share itself.
func (s Share) QRPNG() ([]byte, error) {
	if err := s.wellFormed(); err != nil {
		return nil, err
	}
	c := s.qrCode()
	defer clear(c.Bitmap)
	return c.PNG(), nil
}

// QRTerminal draws the share's QR code with Unicode half blocks, two modules per character, with
// a quiet zone. Like `qrencode -t UTF8`, blocks are the light modules: it reads correctly on a
// terminal with a dark background.
func (s Share) QRTerminal() string {
	c := s.qrCode()
	defer clear(c.Bitmap)
	var b strings.Builder
	light := func(x, y int) bool { return !c.Black(x, y) } // outside the code is light
	for y := -qrQuiet; y < c.Size+qrQuiet; y += 2 {
		for x := -qrQuiet; x < c.Size+qrQuiet; x++ {
			top, bottom := light(x, y), light(x, y+1) && y+1 < c.Size+qrQuiet
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// QRASCII draws the share's QR code in plain ASCII, "##" for a dark module and two spaces for a
// light one, one line per row, with a quiet zone: for printers and terminals without Unicode
// (dark text on a light background).
func (s Share) QRASCII() string {
	c := s.qrCode()
	defer clear(c.Bitmap)
	var b strings.Builder
	for y := -qrQuiet; y < c.Size+qrQuiet; y++ {
		line := make([]byte, 0, 2*(c.Size+2*qrQuiet))
		for x := -qrQuiet; x < c.Size+qrQuiet; x++ {
			if c.Black(x, y) {
				line = append(line, '#', '#')
			} else {
				line = append(line, ' ', ' ')
			}
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}
