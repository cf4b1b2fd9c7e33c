package backup

import (
	"bytes"
	"crypto/subtle"
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// bip39English is the BIP-39 English word list, 2048 words, one a line, byte for byte the file
// https://github.com/bitcoin/bips/blob/master/bip-0039/english.txt (SHA-256
// 2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda). BIP 39 carries no license
// header of its own; this copy was taken from filippo.io/age v1.3.2 (cmd/age/wordlist.go), which
// ships the same list under age's BSD 3-Clause license. Its words are 3 to 8 lowercase letters,
// each one told apart from all others by its first four letters, so they are easy to read back.
//
//go:embed bip39-english.txt
var bip39English string

var wordList = strings.Fields(bip39English)

var isListWord = func() map[string]bool {
	m := make(map[string]bool, len(wordList))
	for _, w := range wordList {
		m[w] = true
	}
	return m
}()

// Passphrase strength. A generated passphrase is PassphraseWords words drawn uniformly from the
// 2048-word list, so log2(2048) = 11 bits each: 110 bits by construction.
const (
	MinPassphraseBits = 100
	PassphraseWords   = 10
)

// WordBits is the entropy one uniformly drawn word of the list carries.
var WordBits = math.Log2(float64(len(wordList)))

// GeneratePassphrase draws PassphraseWords words from the BIP-39 English list with rand (11 bits
// of two bytes, uniform since 2048 is a power of two) and returns them separated by spaces. The
// caller clears the result.
func GeneratePassphrase(rand io.Reader) ([]byte, error) {
	var buf [2 * PassphraseWords]byte
	defer clear(buf[:])
	if _, err := io.ReadFull(rand, buf[:]); err != nil {
		return nil, fmt.Errorf("draw a passphrase: %w", err)
	}
	out := make([]byte, 0, 9*PassphraseWords)
	for i := range PassphraseWords {
		if i > 0 {
			out = append(out, ' ')
		}
		n := binary.BigEndian.Uint16(buf[2*i:]) & 0x07ff
		out = append(out, wordList[n]...)
	}
	return out, nil
}

// canonicalPassphrase returns a copy of p: for a passphrase made only of list words, in the one
// form a generated passphrase has (lowercase, single spaces), so that case and spacing typed at
// restore do not matter; any other passphrase exactly as it is. The caller clears the copy.
func canonicalPassphrase(p []byte) []byte {
	fields := bytes.Fields(p)
	out := make([]byte, 0, len(p))
	for i, f := range fields {
		if i > 0 {
			out = append(out, ' ')
		}
		start := len(out)
		out = append(out, f...)
		lower := bytes.ToLower(out[start:])
		copy(out[start:], lower)
		ok := isListWord[string(lower)]
		clear(lower)
		if !ok {
			clear(out)
			return bytes.Clone(p)
		}
	}
	if len(fields) == 0 {
		clear(out)
		return bytes.Clone(p)
	}
	return out
}

// SamePassphrase reports, in constant time for equal lengths, whether typed is the passphrase
// want once both are in canonical form: a custodian reading back a generated passphrase may type
// capitals or extra spaces.
func SamePassphrase(want, typed []byte) bool {
	a, b := canonicalPassphrase(want), canonicalPassphrase(typed)
	defer clear(a)
	defer clear(b)
	return subtle.ConstantTimeCompare(a, b) == 1
}

// PassphraseBits estimates, conservatively, the strength in bits of a passphrase a person chose.
// Nobody can measure the entropy of one chosen string, so the estimate gives each character
// only what English text or a habit leaves it:
//   - a letter 1.5 bits (Shannon measured 0.6 to 1.3 bits a letter for English text; random
//     letters carry 4.7 and get less credit than they deserve, which errs on the safe side);
//   - a digit 3 bits (log2 10 = 3.3) and any other character 4 bits, except spaces: 0;
//   - 0 bits for a character equal to, or one after or before, the character before it
//     ("aaaa", "abcd", "4321");
//   - 0 bits for every character of a word (a run between spaces) already used, in any case.
//
// So 100 bits takes some 70 letters: 12 or more unrelated words. The tool's own passphrases are
// not estimated: they have PassphraseWords * WordBits bits by construction.
func PassphraseBits(p []byte) float64 {
	bits := 0.0
	seen := map[string]bool{}
	for _, word := range bytes.Fields(p) {
		key := strings.ToLower(string(word))
		if seen[key] {
			continue
		}
		seen[key] = true
		prev := rune(-1)
		for rest := word; len(rest) > 0; {
			r, n := utf8.DecodeRune(rest)
			rest = rest[n:]
			lr := unicode.ToLower(r)
			if lr == prev || lr == prev+1 || lr == prev-1 {
				prev = lr
				continue
			}
			prev = lr
			switch {
			case unicode.IsLetter(r):
				bits += 1.5
			case unicode.IsDigit(r):
				bits += 3
			default:
				bits += 4
			}
		}
	}
	return bits
}

// CheckChosenPassphrase refuses a chosen passphrase weaker than MinPassphraseBits by
// PassphraseBits. The error says the estimate, never the passphrase.
func CheckChosenPassphrase(p []byte) error {
	if bits := PassphraseBits(p); bits < MinPassphraseBits {
		return fmt.Errorf("the passphrase is too weak: about %d bits by a conservative estimate, %d needed\nhint: type a longer one, 12 or more unrelated words, or let the tool generate one (remove passphrase: chosen from the plan)", int(bits), MinPassphraseBits)
	}
	return nil
}
