package transcript

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the byte form of a line, as the package documentation specifies it: the
// encoder the writer uses, and the parser the verifier uses. Neither depends on encoding/json,
// so a change in Go's encoder cannot change what a line is.

// maxDepth bounds the nesting of facts, so a hostile line cannot exhaust the stack.
const maxDepth = 64

// timeFormat is the canonical time form: RFC 3339 in UTC, with the fraction of a second
// only when it is not zero, without trailing zeros.
const timeFormat = time.RFC3339Nano

var canonicalTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8}[1-9])?Z$`)

var seqDigits = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})`)

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// appendString appends the canonical JSON form of s, which must be valid UTF-8: '"' and '\'
// escaped with a backslash; \b \f \n \r \t for those five; \u00XX (lowercase hex) for the other
// control characters, '<', '>' and '&'; \u2028 and \u2029; every other character as itself.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '<', '>', '&', '\u2028', '\u2029':
			b = append(b, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
		default:
			if r < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	return append(b, '"')
}

// encode returns the line of e (without its newline), with its sig when withSig.
func (e Event) encode(withSig bool) ([]byte, error) {
	for _, s := range []string{e.Step, string(e.Kind), e.Actor.Role, e.Actor.Name, e.Prev} {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("event %d: %q is not valid UTF-8", e.Seq, s)
		}
	}
	facts := []byte(e.Facts)
	if len(facts) == 0 {
		facts = []byte("{}")
	}
	if canon, err := canonicalJSON(facts); err != nil || !bytes.Equal(canon, facts) || facts[0] != '{' {
		return nil, fmt.Errorf("event %d: the facts are not a JSON object in canonical form", e.Seq)
	}
	b := []byte(`{"seq":`)
	b = strconv.AppendInt(b, int64(e.Seq), 10)
	b = append(b, `,"time":`...)
	b = appendString(b, e.Time.UTC().Format(timeFormat))
	b = append(b, `,"step":`...)
	b = appendString(b, e.Step)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	b = append(b, `,"actor":{"role":`...)
	b = appendString(b, e.Actor.Role)
	b = append(b, `,"name":`...)
	b = appendString(b, e.Actor.Name)
	b = append(b, `},"facts":`...)
	b = append(b, facts...)
	b = append(b, `,"files":[`...)
	for i, f := range e.Files {
		if i > 0 {
			b = append(b, ',')
		}
		if !utf8.ValidString(f.Path) {
			return nil, fmt.Errorf("event %d: file %q is not valid UTF-8", e.Seq, f.Path)
		}
		b = append(b, `{"path":`...)
		b = appendString(b, f.Path)
		b = append(b, `,"sha256":`...)
		b = appendString(b, f.SHA256)
		b = append(b, '}')
	}
	b = append(b, `],"prev":`...)
	b = appendString(b, e.Prev)
	if withSig {
		b = append(b, `,"sig":"`...)
		b = base64.StdEncoding.AppendEncode(b, e.Sig)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}

// message returns the signed bytes of e: its line without the sig field.
func (e Event) message() ([]byte, error) { return e.encode(false) }

// canonicalJSON parses one JSON value (RFC 8259) and returns its canonical form: no
// whitespace outside strings, strings as appendString writes them, numbers and the order of
// object members as written. It refuses invalid UTF-8, a lone surrogate, an object with two
// members of the same name, nesting deeper than maxDepth, and anything after the value.
func canonicalJSON(data []byte) ([]byte, error) {
	p := &jsonParser{data: data}
	p.space()
	if err := p.value(0); err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(data) {
		return nil, p.errorf("data after the value")
	}
	return p.out, nil
}

// jsonParser reads data from i and writes the canonical form to out.
type jsonParser struct {
	data []byte
	i    int
	out  []byte
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.i < len(p.data) && (p.data[p.i] == ' ' || p.data[p.i] == '\t' || p.data[p.i] == '\n' || p.data[p.i] == '\r') {
		p.i++
	}
}

// next returns the byte at i, or 0 at the end.
func (p *jsonParser) next() byte {
	if p.i < len(p.data) {
		return p.data[p.i]
	}
	return 0
}

func (p *jsonParser) value(depth int) error {
	if depth > maxDepth {
		return p.errorf("nested deeper than %d", maxDepth)
	}
	switch c := p.next(); {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return err
		}
		p.out = appendString(p.out, s)
		return nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(p.data[p.i:], []byte(lit)) {
			p.i += len(lit)
			p.out = append(p.out, lit...)
			return nil
		}
	}
	return p.errorf("not a JSON value")
}

func (p *jsonParser) object(depth int) error {
	p.i++
	p.out = append(p.out, '{')
	p.space()
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if p.next() == '}' && n == 0 {
			break
		}
		if n > 0 {
			if p.next() != ',' {
				break
			}
			p.i++
			p.out = append(p.out, ',')
			p.space()
		}
		if p.next() != '"' {
			return p.errorf("an object member does not start with its name")
		}
		name, err := p.string()
		if err != nil {
			return err
		}
		if seen[name] {
			return p.errorf("two members named %q", name)
		}
		seen[name] = true
		p.out = appendString(p.out, name)
		p.space()
		if p.next() != ':' {
			return p.errorf("no ':' after a member name")
		}
		p.i++
		p.out = append(p.out, ':')
		p.space()
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.space()
	}
	if p.next() != '}' {
		return p.errorf("an object is not closed")
	}
	p.i++
	p.out = append(p.out, '}')
	return nil
}

func (p *jsonParser) array(depth int) error {
	p.i++
	p.out = append(p.out, '[')
	p.space()
	for n := 0; ; n++ {
		if p.next() == ']' && n == 0 {
			break
		}
		if n > 0 {
			if p.next() != ',' {
				break
			}
			p.i++
			p.out = append(p.out, ',')
			p.space()
		}
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.space()
	}
	if p.next() != ']' {
		return p.errorf("an array is not closed")
	}
	p.i++
	p.out = append(p.out, ']')
	return nil
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`)

func (p *jsonParser) number() error {
	m := jsonNumber.Find(p.data[p.i:])
	if m == nil {
		return p.errorf("not a JSON number")
	}
	p.i += len(m)
	p.out = append(p.out, m...)
	return nil
}

// string reads a JSON string (any valid escape) at i and returns its value.
func (p *jsonParser) string() (string, error) {
	p.i++ // the opening quote
	var s []byte
	for {
		if p.i >= len(p.data) {
			return "", p.errorf("a string is not closed")
		}
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(s), nil
		case c < 0x20:
			return "", p.errorf("a control character in a string")
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			s = utf8.AppendRune(s, r)
		case c < utf8.RuneSelf:
			s = append(s, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errorf("a string is not valid UTF-8")
			}
			s = append(s, p.data[p.i:p.i+size]...)
			p.i += size
		}
	}
}

// escape reads one escape at i, a surrogate pair as one.
func (p *jsonParser) escape() (rune, error) {
	if p.i+1 >= len(p.data) {
		return 0, p.errorf("a string is not closed")
	}
	c := p.data[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r < 0xdc00 && bytes.HasPrefix(p.data[p.i:], []byte(`\u`)) {
			p.i += 2
			r2, err := p.hex4()
			if err != nil {
				return 0, err
			}
			if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
				return pair, nil
			}
		}
		return 0, p.errorf("a lone surrogate in a string")
	}
	return 0, p.errorf("an invalid escape in a string")
}

func (p *jsonParser) hex4() (rune, error) {
	if p.i+4 > len(p.data) {
		return 0, p.errorf("a short \\u escape")
	}
	v, err := strconv.ParseUint(string(p.data[p.i:p.i+4]), 16, 16)
	if err != nil {
		return 0, p.errorf("an invalid \\u escape")
	}
	p.i += 4
	return rune(v), nil
}

// lineReader reads the fixed parts of a line in order, and its strings in canonical form.
type lineReader struct {
	jsonParser
	err error
}

// literal consumes s, which must come next.
func (r *lineReader) literal(s string) {
	if r.err == nil && !bytes.HasPrefix(r.data[r.i:], []byte(s)) {
		r.err = r.errorf("want %s", s)
	}
	if r.err == nil {
		r.i += len(s)
	}
}

// str reads a string in canonical form.
func (r *lineReader) str() string {
	if r.err != nil {
		return ""
	}
	start := r.i
	if r.next() != '"' {
		r.err = r.errorf("want a string")
		return ""
	}
	s, err := r.string()
	if err == nil && !bytes.Equal(appendString(nil, s), r.data[start:r.i]) {
		r.i = start
		err = r.errorf("a string not in canonical form")
	}
	r.err = err
	return s
}

// seq reads a non-negative decimal integer without leading zeros, of at most 9 digits.
func (r *lineReader) seq() int {
	if r.err != nil {
		return 0
	}
	m := seqDigits.Find(r.data[r.i:])
	if m == nil || len(r.data) > r.i+len(m) && r.data[r.i+len(m)] >= '0' && r.data[r.i+len(m)] <= '9' {
		r.err = r.errorf("seq is not a decimal integer below 10^9 without leading zeros")
		return 0
	}
	r.i += len(m)
	n, _ := strconv.Atoi(string(m))
	return n
}

// facts reads a JSON object in canonical form and returns its bytes.
func (r *lineReader) facts() []byte {
	if r.err != nil {
		return nil
	}
	start := r.i
	if r.next() != '{' {
		r.err = r.errorf("facts is not a JSON object")
		return nil
	}
	r.out = r.out[:0]
	if err := r.value(0); err != nil {
		r.err = err
		return nil
	}
	raw := r.data[start:r.i]
	if !bytes.Equal(r.out, raw) {
		r.err = errors.New("facts is not in canonical form")
		return nil
	}
	return raw
}

// parseLine parses one line (without its newline) in the exact form the package documentation
// specifies, and returns the event and its signed message.
func parseLine(line []byte) (Event, []byte, error) {
	var e Event
	if !bytes.HasPrefix(line, []byte(`{"seq":`)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return e, nil, errors.New("not an event line")
	}
	r := &lineReader{jsonParser: jsonParser{data: line}}
	r.literal(`{"seq":`)
	e.Seq = r.seq()
	r.literal(`,"time":`)
	ts := r.str()
	r.literal(`,"step":`)
	e.Step = r.str()
	r.literal(`,"kind":`)
	e.Kind = Kind(r.str())
	r.literal(`,"actor":{"role":`)
	e.Actor.Role = r.str()
	r.literal(`,"name":`)
	e.Actor.Name = r.str()
	r.literal(`},"facts":`)
	e.Facts = r.facts()
	r.literal(`,"files":[`)
	e.Files = []File{}
	for r.err == nil && r.next() != ']' {
		if len(e.Files) > 0 {
			r.literal(",")
		}
		var f File
		r.literal(`{"path":`)
		f.Path = r.str()
		r.literal(`,"sha256":`)
		f.SHA256 = r.str()
		r.literal("}")
		if r.err == nil && !hexSHA256.MatchString(f.SHA256) {
			r.err = fmt.Errorf("file %q: sha256 is not 64 lowercase hex digits", f.Path)
		}
		e.Files = append(e.Files, f)
	}
	r.literal(`],"prev":`)
	e.Prev = r.str()
	msgEnd := r.i
	r.literal(`,"sig":`)
	sig := r.str()
	r.literal("}")
	if r.err != nil {
		return e, nil, fmt.Errorf("not in the exact form of an event line: %v", r.err)
	}
	if r.i != len(line) {
		return e, nil, errors.New("not in the exact form of an event line: data after the sig")
	}
	if !canonicalTime.MatchString(ts) {
		return e, nil, errors.New("not in the exact form of an event line: time is not RFC 3339 UTC in canonical form")
	}
	t, err := time.Parse(timeFormat, ts)
	if err != nil || t.Format(timeFormat) != ts {
		return e, nil, errors.New("not in the exact form of an event line: time is not RFC 3339 UTC in canonical form")
	}
	e.Time = t
	if e.Prev != "" && !hexSHA256.MatchString(e.Prev) {
		return e, nil, errors.New("not in the exact form of an event line: prev is not 64 lowercase hex digits")
	}
	if e.Sig, err = base64.StdEncoding.Strict().DecodeString(sig); err != nil || len(e.Sig) == 0 {
		return e, nil, errors.New("sig is not canonical base64")
	}
	msg := append(line[:msgEnd:msgEnd], '}')
	return e, msg, nil
}
