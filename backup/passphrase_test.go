package backup

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestWordList: the embedded list is BIP-39 English as published, 2048 distinct words, each told
// apart by its first four letters.
func TestWordList(t *testing.T) {
	sum := sha256.Sum256([]byte(bip39English))
	if got := hex.EncodeToString(sum[:]); got != "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda" {
		t.Fatalf("word list SHA-256 %s is not BIP-39 english.txt's", got)
	}
	if len(wordList) != 2048 || len(isListWord) != 2048 {
		t.Fatalf("%d words, %d distinct, want 2048", len(wordList), len(isListWord))
	}
	prefixes := map[string]string{}
	for _, w := range wordList {
		p := w[:min(4, len(w))]
		if other, ok := prefixes[p]; ok {
			t.Fatalf("%q and %q share their first four letters", other, w)
		}
		prefixes[p] = w
	}
}

// TestGeneratePassphrase: at least 100 bits by construction (count the words, the list's size),
// every word from the list, and a passphrase round-trips through an age file.
func TestGeneratePassphrase(t *testing.T) {
	if bits := float64(PassphraseWords) * WordBits; bits < MinPassphraseBits || WordBits != 11 {
		t.Fatalf("%d words of %.1f bits = %.1f bits, want >= %d", PassphraseWords, WordBits, bits, MinPassphraseBits)
	}
	seen := map[string]bool{}
	for range 200 {
		p, err := GeneratePassphrase(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		words := strings.Split(string(p), " ")
		if len(words) != PassphraseWords {
			t.Fatalf("%d words, want %d", len(words), PassphraseWords)
		}
		for _, w := range words {
			if !isListWord[w] {
				t.Fatalf("%q is not a list word", w)
			}
		}
		if seen[string(p)] {
			t.Fatal("the same passphrase twice")
		}
		seen[string(p)] = true
	}
	// The 11 bits come from both bytes: indexes 0 and 2047 are reachable.
	p, _ := GeneratePassphrase(bytes.NewReader(bytes.Repeat([]byte{0xff, 0xff, 0x00, 0x00}, 5)))
	if string(p) != "zoo abandon zoo abandon zoo abandon zoo abandon zoo abandon" {
		t.Fatalf("got %q", p)
	}
	if _, err := GeneratePassphrase(bytes.NewReader(nil)); err == nil {
		t.Fatal("no error from an empty random source")
	}

	pass, _ := GeneratePassphrase(rand.Reader)
	r, _ := PassphraseRecipient(pass)
	r.SetWorkFactor(10)
	sh := fixedShare()
	file, err := sh.EncryptAge(r)
	if err != nil {
		t.Fatal(err)
	}
	// Read back as a custodian types it: capitals, two spaces.
	typed := []byte(strings.ToUpper(strings.ReplaceAll(string(pass), " ", "  ")))
	if !SamePassphrase(pass, typed) {
		t.Fatal("the read-back in capitals does not match")
	}
	id, _ := PassphraseIdentity(typed)
	got, err := DecryptAge(file, id)
	if err != nil {
		t.Fatal(err)
	}
	sameShare(t, got, sh)
	if SamePassphrase(pass, pass[:len(pass)-1]) {
		t.Fatal("a passphrase with its last letter missing matches")
	}
}

// TestChosenPassphrase: the estimate refuses what a person would pick, with the reason, and
// accepts a long passphrase of unrelated words.
func TestChosenPassphrase(t *testing.T) {
	weak := []string{
		"correct horse battery staple",
		"Tr0ub4dor&3",
		strings.Repeat("a", 200),
		strings.Repeat("password ", 30),
		"abcdefghijklmnopqrstuvwxyz0123456789",
	}
	for _, p := range weak {
		if err := CheckChosenPassphrase([]byte(p)); err == nil {
			t.Errorf("%q accepted (%.0f bits)", p, PassphraseBits([]byte(p)))
		}
	}
	err := CheckChosenPassphrase([]byte("correct horse battery staple"))
	wantErr(t, err, "the passphrase is too weak: about 30 bits by a conservative estimate, 100 needed\nhint: type a longer one, 12 or more unrelated words, or let the tool generate one (remove passphrase: chosen from the plan)")
	if strings.Contains(err.Error(), "horse") {
		t.Fatal("the error holds the passphrase")
	}
	strong := "quartz meadow lantern fiddle harbour crimson walnut seventy glacier pepper tundra osprey"
	if err := CheckChosenPassphrase([]byte(strong)); err != nil {
		t.Errorf("%q refused: %v", strong, err)
	}
}
