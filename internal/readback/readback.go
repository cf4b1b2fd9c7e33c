// Package readback is the form in which a person reads a key fingerprint aloud and another types
// it back: the first 128 bits of the SHA-256, as 8 groups of 4 hex digits, each followed by a
// check letter, like "3fa2-k 91c0-x ...".
//
// The check letter is the Luhn mod 16 check digit (ISO/IEC 7812-1 generalised to base 16) of the
// group's position (1 to 8) followed by its 4 hex digits, written with the letters of
// [checkLetters]. It catches every single mistyped digit and every swap of two neighbouring
// digits but 0 and f, and most groups read out of order, so a slip is named at its group instead
// of failing the whole comparison.
package readback

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Groups and GroupDigits fix the compared length: 8 × 4 hex digits = 128 bits.
const (
	Groups      = 8
	GroupDigits = 4
)

// checkLetters are 16 letters that are not hex digits and are hard to confuse with one
// (no i, l, o).
const checkLetters = "ghjkmnpqrstuvwxy"

// Format returns the read-back form of a fingerprint, "SHA256:<hex>" or bare hex of at least 32
// digits: "3fa2-k 91c0-x 0b7e-m ...". It returns "" for anything shorter or not hex.
func Format(fp string) string {
	digits := hexDigits(fp)
	if len(digits) < Groups*GroupDigits {
		return ""
	}
	groups := make([]string, Groups)
	for i := range groups {
		g := digits[i*GroupDigits : (i+1)*GroupDigits]
		groups[i] = g + "-" + string(checkLetter(i, g))
	}
	return strings.Join(groups, " ")
}

// Check compares what a person typed with the read-back form of fp. Spaces, dashes, colons, case
// and a leading "SHA256:" do not count. The error names the first group that is wrong and
// whether its check letter shows a typing slip, in words to say to the person.
func Check(fp, typed string) error {
	want := hexDigits(fp)
	if len(want) < Groups*GroupDigits {
		return fmt.Errorf("%q is not a fingerprint of at least 128 bits", fp)
	}
	t := normalize(typed)
	if len(t) != Groups*(GroupDigits+1) {
		return fmt.Errorf("%d groups of %d hex digits and a check letter are needed (%d characters), %d were typed; type all of it again",
			Groups, GroupDigits, Groups*(GroupDigits+1), len(t))
	}
	for i := range Groups {
		g := t[i*(GroupDigits+1) : (i+1)*(GroupDigits+1)]
		digits, letter := g[:GroupDigits], g[GroupDigits]
		if _, err := hex.DecodeString(digits); err != nil || !strings.ContainsRune(checkLetters, rune(letter)) {
			return fmt.Errorf("group %d is not 4 hex digits and a check letter; read it again", i+1)
		}
		if checkLetter(i, digits) != letter {
			return fmt.Errorf("group %d does not fit its check letter: a slip in reading or typing; read it again", i+1)
		}
		if digits != want[i*GroupDigits:(i+1)*GroupDigits] {
			return fmt.Errorf("group %d does not match; read it again", i+1)
		}
	}
	return nil
}

// MinDigits is the least of a fingerprint a person may give where the whole is compared: 128 bits.
const MinDigits = Groups * GroupDigits

// Digits reads a fingerprint as a person wrote it down, for a command line: its read-back form
// (each check letter must fit its group) or hex, with or without "SHA256:", at least [MinDigits]
// digits. Case, spaces and dashes do not count. It returns the lowercase hex digits given.
func Digits(s string) (string, error) {
	t := normalize(s)
	if len(t) == Groups*(GroupDigits+1) && strings.Trim(t, "0123456789abcdef") != "" {
		var digits strings.Builder
		for i := range Groups {
			g := t[i*(GroupDigits+1) : (i+1)*(GroupDigits+1)]
			if _, err := hex.DecodeString(g[:GroupDigits]); err != nil || checkLetter(i, g[:GroupDigits]) != g[GroupDigits] {
				return "", fmt.Errorf("group %d of %q does not fit its check letter; check it against the paper", i+1, s)
			}
			digits.WriteString(g[:GroupDigits])
		}
		return digits.String(), nil
	}
	if strings.Trim(t, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%q is neither hex digits nor the read-back form of a fingerprint", s)
	}
	if len(t) > 64 || len(t) < MinDigits {
		return "", fmt.Errorf("%q has %d hex digits; give %d to 64 (at least 128 bits)", s, len(t), MinDigits)
	}
	return t, nil
}

// hexDigits is the lowercase hex of fp without its "SHA256:" prefix, or "" when it is not hex.
func hexDigits(fp string) string {
	h := strings.ToLower(strings.TrimSpace(fp))
	h = strings.TrimPrefix(h, "sha256:")
	if _, err := hex.DecodeString(h); err != nil {
		return ""
	}
	return h
}

// normalize drops what a person may type between groups, and a "SHA256:" prefix.
func normalize(s string) string {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', ':', '.':
			return -1
		}
		return r
	}, s)
}

// checkLetter is the Luhn mod 16 check character of the group's position (index+1) followed by
// its hex digits.
func checkLetter(index int, digits string) byte {
	const n = 16
	points := []int{index + 1}
	for _, c := range digits {
		v := strings.IndexRune("0123456789abcdef", c)
		points = append(points, v)
	}
	sum, factor := 0, 2
	for i := len(points) - 1; i >= 0; i-- {
		a := factor * points[i]
		sum += a/n + a%n
		factor = 3 - factor
	}
	return checkLetters[(n-sum%n)%n]
}
