package backup

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// The typed form of a share: TypedLines lines of Crockford base32, each starting with its line
// number and ending with TypedCheckChars check characters (a Reed-Solomon code over GF(32) that
// detects any three wrong characters in a line). Line 1 is the header (set ID, share number,
// threshold, share count); lines 2 to 4 carry the share value and a 36-bit check over the whole
// share, so lines mixed from two shares are caught too. Spaces, hyphens and case do not matter;
// I and L read as 1, O as 0. Share 2 of set 7K3MQ9XA, 3 of 5 needed:
//
//	1  7K3M Q9XA  002 003 005  QZC
//	2  003G W58W 4CN3 2E1Z 8S6N  ZNQ
//	3  8PV2 D5R7 EZM5 HJ9S N8D8  01R
//	4  NYVB VH6B TBCS V7G0 X295  TR1
const (
	// TypedLines is the number of lines of a typed share.
	TypedLines = 4
	// TypedCheckChars is the number of check characters ending every line.
	TypedCheckChars = 3

	headerLen      = 1 + setIDLen + 9 + TypedCheckChars  // number, set ID, 3 x 3 digits, check
	valueLineData  = 20                                  // data characters per value line
	valueLineLen   = 1 + valueLineData + TypedCheckChars // number, data, check
	valueChars     = (TypedLines - 1) * valueLineData    // 60 characters = 300 bits
	shareCheckBits = valueChars*5 - ValueSize*8          // 36 bits of whole-share check
	dataBytes      = (valueChars*5 + 7) / 8              // value and check, last byte part-used
	typedDomain    = "keyceremony-typed-share/1"         // bound into the whole-share check
	lineDomain     = "KC1"                               // bound into every line check
	crockford      = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  // Crockford's base32 alphabet
	typedGroup     = 4                                   // characters per printed group
)

// LineError says which line of a typed share is wrong and why, without repeating what was typed.
type LineError struct {
	Line   int    // 1-based line number
	Share  int    // the share's number when known (from a good header line), else 0
	Reason string // "has a typo", "has 23 characters, expected 24", ...
	Hint   string // how to fix it, may be empty
}

func (e *LineError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Share > 0 {
		where += fmt.Sprintf(" of share %d", e.Share)
	}
	msg := where + " " + e.Reason
	if e.Hint != "" {
		msg += "\nhint: " + e.Hint
	}
	return msg
}

// symbolValue maps an input byte to its base32 value, applying Crockford's aliases; -1 if invalid.
var symbolValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range []byte(crockford) {
		t[c] = int8(i)
		t[c|0x20] = int8(i) // lower case
	}
	for _, c := range []byte("oO") {
		t[c] = 0
	}
	for _, c := range []byte("iIlL") {
		t[c] = 1
	}
	return t
}()

// normalizeLine turns one typed line into base32 symbol values, skipping spaces, tabs and hyphens.
// bad is the 1-based position (among the non-space characters) of the first invalid character.
func normalizeLine(line []byte) (syms []byte, bad int) {
	syms = make([]byte, 0, len(line))
	pos := 0
	for _, c := range line {
		switch c {
		case ' ', '\t', '-', '\r':
			continue
		}
		pos++
		v := symbolValue[c]
		if v < 0 {
			if bad == 0 {
				bad = pos
			}
			continue
		}
		syms = append(syms, byte(v))
	}
	return syms, bad
}

// expectedLen is the number of symbols line lineNo carries, line number and check included.
func expectedLen(lineNo int) int {
	if lineNo == 1 {
		return headerLen
	}
	return valueLineLen
}

// CheckTypedLine checks one typed line (1-based lineNo) on its own: alphabet, length, line number
// and check characters, and for the header line its numbers. The UI calls it as each line is
// entered; the error is a *LineError naming the line. It does not know the share's number: a UI
// that has read the header may set the error's Share field before showing it.
func CheckTypedLine(lineNo int, line string) error {
	b := []byte(line)
	defer clear(b)
	syms, err := checkLine(lineNo, b, 0)
	clear(syms)
	return err
}

// checkLine does CheckTypedLine's work and returns the line's symbols (line number and check
// characters included). share is the share number for error messages, 0 if not yet known.
func checkLine(lineNo int, line []byte, share int) ([]byte, error) {
	if lineNo < 1 || lineNo > TypedLines {
		return nil, &LineError{Line: lineNo, Share: share, Reason: fmt.Sprintf("does not exist: a typed share has %d lines", TypedLines)}
	}
	syms, bad := normalizeLine(line)
	fail := func(reason, hint string) ([]byte, error) {
		clear(syms)
		return nil, &LineError{Line: lineNo, Share: share, Reason: reason, Hint: hint}
	}
	if bad > 0 {
		return fail(fmt.Sprintf("has a character that is not in the share alphabet (character %d)", bad),
			"shares use the digits 0-9 and the letters A-Z except I, L, O and U; spaces and hyphens are ignored")
	}
	if len(syms) == 0 {
		return fail("is empty", "")
	}
	want := expectedLen(lineNo)
	if int(syms[0]) != lineNo {
		if n := int(syms[0]); n >= 1 && n <= TypedLines && len(syms) == expectedLen(n) {
			return fail(fmt.Sprintf("starts with %d: it looks like line %d", n, n), "type the lines in order; every line starts with its number")
		}
		return fail(fmt.Sprintf("must start with its number %d", lineNo), "every line starts with its number, then its groups, then its check characters")
	}
	if len(syms) != want {
		return fail(fmt.Sprintf("has %d characters, expected %d", len(syms), want),
			fmt.Sprintf("a line is its number, then %d characters in groups, then %d check characters; look for a missing or doubled character", want-1-TypedCheckChars, TypedCheckChars))
	}
	if !lineCheckOK(syms) {
		return fail("has a typo", "compare it with the paper character by character; the last characters are the line's check")
	}
	if lineNo == 1 {
		if _, err := parseHeader(syms); err != nil {
			return fail(err.Error(), "")
		}
	}
	return syms, nil
}

// TypedHeader reads the set ID and share number from line 1 of a typed share, checked as
// CheckTypedLine checks it, so that a share of another set is refused before the rest is typed.
func TypedHeader(line string) (setID string, index int, err error) {
	b := []byte(line)
	defer clear(b)
	syms, err := checkLine(1, b, 0)
	if err != nil {
		return "", 0, err
	}
	defer clear(syms)
	h, err := parseHeader(syms)
	return h.setID, h.index, err
}

type header struct {
	setID       string
	index, m, n int
}

// parseHeader reads the fields of a checked header line and checks their ranges.
func parseHeader(syms []byte) (header, error) {
	var h header
	id := make([]byte, setIDLen)
	for i := range id {
		id[i] = crockford[syms[1+i]]
	}
	h.setID = string(id)
	nums := syms[1+setIDLen : 1+setIDLen+9]
	var vals [3]int
	for i := range vals {
		for _, d := range nums[3*i : 3*i+3] {
			if d > 9 {
				return h, fmt.Errorf("has a letter where the share number, threshold or share count goes")
			}
			vals[i] = 10*vals[i] + int(d)
		}
	}
	h.index, h.m, h.n = vals[0], vals[1], vals[2]
	switch {
	case h.m < 2 || h.n < h.m || h.n > maxShares:
		return h, fmt.Errorf("says %d of %d shares are needed, which no share set has", h.m, h.n)
	case h.index < 1 || h.index > h.n:
		return h, fmt.Errorf("says it is share %d of %d, which does not exist", h.index, h.n)
	}
	return h, nil
}

// Typed returns the share as text to print, read aloud and type back (see TypedLines for the
// layout). It panics on a share that is not well formed, which only a programming error makes.
func (s Share) Typed() string {
	b := s.appendTyped(nil)
	defer clear(b)
	return string(b)
}

// appendTyped appends the typed form to dst; callers clear the result when done.
func (s Share) appendTyped(dst []byte) []byte {
	if err := s.wellFormed(); err != nil {
		panic("backup: Typed called on a share that is not well formed")
	}
	// Header: line number, set ID, three 3-digit decimal numbers.
	hdr := make([]byte, 0, headerLen)
	hdr = append(hdr, 1)
	for _, c := range []byte(s.SetID) {
		hdr = append(hdr, byte(symbolValue[c]))
	}
	for _, v := range []int{s.Index, s.M, s.N} {
		hdr = append(hdr, byte(v/100), byte(v/10%10), byte(v%10))
	}
	hdr = appendLineCheck(hdr)
	dst = appendGrouped(dst, hdr, field{setIDLen, typedGroup}, field{9, 3})

	// Value lines: value || 36-bit whole-share check, as 60 base32 symbols.
	data := make([]byte, 0, dataBytes)
	data = append(data, s.Value...)
	sum := s.shareCheck()
	data = append(data, sum[:dataBytes-ValueSize]...)
	syms := toBase32(data, valueChars)
	clear(data)
	line := make([]byte, 0, valueLineLen)
	for l := 0; l < TypedLines-1; l++ {
		line = append(line[:0], byte(l+2))
		line = append(line, syms[l*valueLineData:(l+1)*valueLineData]...)
		line = appendLineCheck(line)
		dst = appendGrouped(dst, line, field{valueLineData, typedGroup})
	}
	clear(line)
	clear(syms)
	return dst
}

// field is a run of characters printed in groups of group characters.
type field struct{ n, group int }

// appendGrouped writes one line of symbols: its number, its fields cut into groups (fields
// separated by two spaces), two spaces, the check characters, a newline.
func appendGrouped(dst, syms []byte, fields ...field) []byte {
	dst = append(dst, crockford[syms[0]])
	p := 1
	for _, f := range fields {
		dst = append(dst, ' ')
		for i := 0; i < f.n; i++ {
			if i%f.group == 0 {
				dst = append(dst, ' ')
			}
			dst = append(dst, crockford[syms[p]])
			p++
		}
	}
	dst = append(dst, ' ', ' ')
	for ; p < len(syms); p++ {
		dst = append(dst, crockford[syms[p]])
	}
	return append(dst, '\n')
}

// shareCheck is the whole-share check: SHA-256 over the header fields and the value, of which
// the typed form keeps the first 36 bits.
func (s Share) shareCheck() [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(typedDomain))
	h.Write([]byte{0})
	h.Write([]byte(s.SetID))
	var nums [6]byte
	binary.BigEndian.PutUint16(nums[0:], uint16(s.Index))
	binary.BigEndian.PutUint16(nums[2:], uint16(s.M))
	binary.BigEndian.PutUint16(nums[4:], uint16(s.N))
	h.Write(nums[:])
	h.Write(s.Value)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// ParseTyped reads a typed share: TypedLines lines (blank lines and lines starting with '#' are
// skipped). It names the first bad line; a share whose lines each pass but do not belong
// together fails the whole-share check.
func ParseTyped(text string) (Share, error) {
	b := []byte(text)
	defer clear(b)
	return parseTyped(b)
}

func parseTyped(text []byte) (Share, error) {
	var lines [][]byte
	for _, l := range splitLines(text) {
		if isBlank(l) || isComment(l) {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) != TypedLines {
		return Share{}, fmt.Errorf("a typed share has %d lines, this text has %d\nhint: enter the whole share, one line of the paper per line", TypedLines, len(lines))
	}
	hdrSyms, err := checkLine(1, lines[0], 0)
	if err != nil {
		return Share{}, err
	}
	h, _ := parseHeader(hdrSyms)
	clear(hdrSyms)
	syms := make([]byte, 0, valueChars)
	defer func() { clear(syms) }()
	for i := 1; i < TypedLines; i++ {
		ls, err := checkLine(i+1, lines[i], h.index)
		if err != nil {
			return Share{}, err
		}
		syms = append(syms, ls[1:1+valueLineData]...)
		clear(ls)
	}
	data := fromBase32(syms, dataBytes)
	defer clear(data)
	sh := Share{SetID: h.setID, Index: h.index, M: h.m, N: h.n, Value: append([]byte(nil), data[:ValueSize]...)}
	sum := sh.shareCheck()
	got := data[ValueSize:]
	if !checkBitsEqual(got, sum[:]) {
		sh.Zero()
		return Share{}, fmt.Errorf("share %d: each line passes its check but the lines do not belong together\nhint: are lines of two different shares mixed? retype lines 2 to %d from the same paper", h.index, TypedLines)
	}
	return sh, nil
}

// checkBitsEqual compares the first shareCheckBits bits of a and b.
func checkBitsEqual(a, b []byte) bool {
	full := shareCheckBits / 8
	for i := 0; i < full; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	rest := shareCheckBits % 8
	mask := byte(0xff << (8 - rest))
	return a[full]&mask == b[full]&mask
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		out = append(out, b[:i])
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

func isComment(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t':
			continue
		case '#':
			return true
		}
		return false
	}
	return false
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// toBase32 writes data big-endian as n base32 symbols (the last symbol padded with zero bits).
func toBase32(data []byte, n int) []byte {
	out := make([]byte, n)
	var acc uint32
	bits, j := 0, 0
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 && j < n {
			bits -= 5
			out[j] = byte(acc>>uint(bits)) & 31
			j++
		}
	}
	if bits > 0 && j < n {
		out[j] = byte(acc<<uint(5-bits)) & 31
	}
	acc = 0
	return out
}

// fromBase32 reads n bytes from base32 symbols (trailing bits that do not fill a byte are kept
// in the last byte's high bits, so comparisons mask them).
func fromBase32(syms []byte, n int) []byte {
	out := make([]byte, n)
	var acc uint32
	bits, j := 0, 0
	for _, s := range syms {
		acc = acc<<5 | uint32(s)
		bits += 5
		if bits >= 8 && j < n {
			bits -= 8
			out[j] = byte(acc >> uint(bits))
			j++
		}
	}
	if bits > 0 && j < n {
		out[j] = byte(acc << uint(8-bits))
	}
	acc = 0
	return out
}
