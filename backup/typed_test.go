package backup

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func fixedShare() Share {
	v := make([]byte, ValueSize)
	for i := range v {
		v[i] = byte(i * 7)
	}
	v[ValueSize-1] = 0x9d
	return Share{SetID: "7K3MQ9XA", Index: 2, M: 3, N: 5, Custodian: "Bob", Value: v}
}

func TestTypedLayout(t *testing.T) {
	sh := fixedShare()
	got := sh.Typed()
	t.Logf("typed share:\n%s", got)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != TypedLines {
		t.Fatalf("%d lines, want %d", len(lines), TypedLines)
	}
	if !strings.HasPrefix(lines[0], "1  7K3M Q9XA  002 003 005  ") {
		t.Errorf("header line %q", lines[0])
	}
	for i, l := range lines[1:] {
		if !strings.HasPrefix(l, fmt.Sprint(i+2)+"  ") || len(l) != 1+1+25+2+TypedCheckChars {
			t.Errorf("line %d %q", i+2, l)
		}
	}
	back, err := ParseTyped(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.SetID != sh.SetID || back.Index != 2 || back.M != 3 || back.N != 5 || !bytes.Equal(back.Value, sh.Value) {
		t.Fatalf("round trip gave %v", back)
	}
}

func TestTypedRoundTripLenient(t *testing.T) {
	rng := newRand(t)
	for range 50 {
		_, _, shares := fakeSet(t, rng, 3, 5)
		for _, sh := range shares {
			text := sh.Typed()
			// Retype it sloppily: lower case, hyphens instead of spaces, O for 0, l for 1, CRLF,
			// blank lines and a caption.
			sloppy := strings.ToLower(text)
			sloppy = strings.ReplaceAll(sloppy, " ", "-")
			sloppy = strings.ReplaceAll(sloppy, "0", "O")
			sloppy = strings.ReplaceAll(sloppy, "1", "l")
			sloppy = "# share of " + sh.Custodian + "\n\n" + strings.ReplaceAll(sloppy, "\n", "\r\n\n")
			for _, in := range []string{text, sloppy, strings.ReplaceAll(text, " ", "")} {
				got, err := ParseTyped(in)
				if err != nil {
					t.Fatalf("%v:\n%s", err, in)
				}
				if got.SetID != sh.SetID || got.Index != sh.Index || got.M != sh.M || got.N != sh.N || !bytes.Equal(got.Value, sh.Value) {
					t.Fatalf("round trip of %v gave %v", sh, got)
				}
			}
		}
	}
}

// Every single changed character of a typed share is caught, on its own line, and the line is
// named with the share's number.
func TestTypedOneCharChangedNamesLine(t *testing.T) {
	sh := fixedShare()
	lines := strings.Split(strings.TrimSuffix(sh.Typed(), "\n"), "\n")
	for li, line := range lines {
		for pos := 0; pos < len(line); pos++ {
			if line[pos] == ' ' {
				continue
			}
			for _, c := range []byte(crockford) {
				if c == line[pos] {
					continue
				}
				changed := append([]string(nil), lines...)
				changed[li] = line[:pos] + string(c) + line[pos+1:]
				_, err := ParseTyped(strings.Join(changed, "\n"))
				var le *LineError
				if !errors.As(err, &le) {
					t.Fatalf("line %d pos %d -> %c: error %v, want a LineError", li+1, pos, c, err)
				}
				if le.Line != li+1 {
					t.Fatalf("line %d pos %d -> %c: blamed line %d", li+1, pos, c, le.Line)
				}
				if pos > 0 && le.Reason != "has a typo" {
					t.Fatalf("line %d pos %d -> %c: %v", li+1, pos, c, err)
				}
				if li > 0 && le.Share != 2 {
					t.Fatalf("line %d pos %d -> %c: %v does not name share 2", li+1, pos, c, err)
				}
			}
		}
	}
	changed := append([]string(nil), lines...)
	changed[2] = strings.Replace(changed[2], string(changed[2][5]), string(crockford[(strings.IndexByte(crockford, changed[2][5])+1)%32]), 1)
	_, err := ParseTyped(strings.Join(changed, "\n"))
	wantErr(t, err, "line 3 of share 2 has a typo\nhint: compare it with the paper character by character; the last characters are the line's check")
}

// The line code has minimum distance 4: every one, two or three substitutions are caught.
func TestLineCheckDistance(t *testing.T) {
	line := []byte{3}
	for i := 0; i < valueLineData; i++ {
		line = append(line, byte(i*11%32))
	}
	line = appendLineCheck(line)
	if !lineCheckOK(line) {
		t.Fatal("fresh line fails its check")
	}
	n := len(line)
	try := func(pos []int, vals []byte) {
		l := append([]byte(nil), line...)
		for i, p := range pos {
			l[p] ^= vals[i]
		}
		if lineCheckOK(l) {
			t.Fatalf("errors %v at %v not caught", vals, pos)
		}
	}
	for a := 0; a < n; a++ {
		for va := byte(1); va < 32; va++ {
			try([]int{a}, []byte{va})
			for b := a + 1; b < n; b++ {
				for vb := byte(1); vb < 32; vb++ {
					try([]int{a, b}, []byte{va, vb})
				}
			}
		}
	}
	rng := newRand(t)
	for range 50000 {
		p := rng.Perm(n)[:3]
		try(p, []byte{byte(1 + rng.IntN(31)), byte(1 + rng.IntN(31)), byte(1 + rng.IntN(31))})
	}
}

func TestTypedMixedLines(t *testing.T) {
	_, _, shares := fakeSet(t, newRand(t), 2, 3)
	a := strings.Split(shares[0].Typed(), "\n")
	b := strings.Split(shares[1].Typed(), "\n")
	a[2] = b[2] // a value line of another share: its own check passes
	_, err := ParseTyped(strings.Join(a, "\n"))
	wantErr(t, err, "share 1: each line passes its check but the lines do not belong together\nhint: are lines of two different shares mixed? retype lines 2 to 4 from the same paper")
}

func TestCheckTypedLine(t *testing.T) {
	sh := fixedShare()
	lines := strings.Split(strings.TrimSuffix(sh.Typed(), "\n"), "\n")
	for i, l := range lines {
		if err := CheckTypedLine(i+1, l); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	cases := []struct {
		line int
		text string
		want string
	}{
		{3, "", "line 3 is empty"},
		{3, "  - ", "line 3 is empty"},
		{5, lines[1], "line 5 does not exist: a typed share has 4 lines"},
		{3, lines[2][:len(lines[2])-1], "line 3 has 23 characters, expected 24\nhint: a line is its number, then 20 characters in groups, then 3 check characters; look for a missing or doubled character"},
		{3, lines[2] + "0", "line 3 has 25 characters, expected 24\nhint: a line is its number, then 20 characters in groups, then 3 check characters; look for a missing or doubled character"},
		{3, strings.Replace(lines[2], " ", "U", 1), "line 3 has a character that is not in the share alphabet (character 2)\nhint: shares use the digits 0-9 and the letters A-Z except I, L, O and U; spaces and hyphens are ignored"},
		{3, lines[3], "line 3 starts with 4: it looks like line 4\nhint: type the lines in order; every line starts with its number"},
		{3, "9" + lines[2][1:], "line 3 must start with its number 3\nhint: every line starts with its number, then its groups, then its check characters"},
		{1, lines[1], "line 1 starts with 2: it looks like line 2\nhint: type the lines in order; every line starts with its number"},
	}
	for _, c := range cases {
		wantErr(t, CheckTypedLine(c.line, c.text), c.want)
	}
	// A header with a good check but impossible numbers.
	for _, h := range []struct {
		idx, m, n int
		want      string
	}{
		{2, 1, 5, "line 1 says 1 of 5 shares are needed, which no share set has"},
		{2, 6, 5, "line 1 says 6 of 5 shares are needed, which no share set has"},
		{2, 3, 256, "line 1 says 3 of 256 shares are needed, which no share set has"},
		{6, 3, 5, "line 1 says it is share 6 of 5, which does not exist"},
		{0, 3, 5, "line 1 says it is share 0 of 5, which does not exist"},
	} {
		syms := []byte{1}
		for _, c := range []byte("7K3MQ9XA") {
			syms = append(syms, byte(symbolValue[c]))
		}
		for _, v := range []int{h.idx, h.m, h.n} {
			syms = append(syms, byte(v/100), byte(v/10%10), byte(v%10))
		}
		syms = appendLineCheck(syms)
		var text []byte
		for _, s := range syms {
			text = append(text, crockford[s])
		}
		wantErr(t, CheckTypedLine(1, string(text)), h.want)
	}
	hdr := []byte{1, 7, 19, 3, 20, 23, 9, 29, 10, 0, 0, 2, 0, 0, 3, 0, 0, 10} // count "00A"
	var text []byte
	for _, s := range appendLineCheck(hdr) {
		text = append(text, crockford[s])
	}
	wantErr(t, CheckTypedLine(1, string(text)), "line 1 has a letter where the share number, threshold or share count goes")
}

func TestParseTypedLineCount(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(fixedShare().Typed(), "\n"), "\n")
	_, err := ParseTyped(strings.Join(lines[:3], "\n"))
	wantErr(t, err, "a typed share has 4 lines, this text has 3\nhint: enter the whole share, one line of the paper per line")
}

// No format verb shows a share value or its typed form.
func TestShareRedacted(t *testing.T) {
	sh := fixedShare()
	b := &Backup{Shares: []Share{sh}}
	c := NewCollector(&Manifest{SetID: sh.SetID, M: 3, N: 5})
	c.shares = []Share{sh}
	secrets := []string{fmt.Sprintf("%x", sh.Value), fmt.Sprintf("%X", sh.Value), fmt.Sprint(sh.Value[:8]),
		strings.Split(sh.Typed(), "\n")[1][3:12]}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range []any{sh, &sh, []Share{sh}, b, *b, c, struct{ S Share }{sh}} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("%s of %T shows the share: %s", verb, v, out)
				}
			}
		}
	}
	if got := sh.String(); got != "share 2 of 5 (Bob), set 7K3MQ9XA, 3 needed" {
		t.Errorf("String() = %q", got)
	}
}
