package backup

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"
)

// FuzzParseTyped: any text either fails with a "" error or gives a well-formed share
// whose typed form parses back to the same share.
func FuzzParseTyped(f *testing.F) {
	sh := fixedShare()
	f.Add(sh.Typed())
	f.Add(strings.ToLower(sh.Typed()))
	f.Add(strings.Join(strings.Split(sh.Typed(), "\n")[:3], "\n"))
	f.Add("1\n2\n3\n4\n")
	f.Add("#\n\n\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		got, err := ParseTyped(text)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.HasPrefix(msg, "backup:") {
				t.Fatalf("error empty or led by the package name: %q", msg)
			}
			return
		}
		if err := got.wellFormed(); err != nil {
			t.Fatalf("parsed share not well formed: %v", err)
		}
		again, err := ParseTyped(got.Typed())
		if err != nil || again.SetID != got.SetID || again.Index != got.Index || again.M != got.M || again.N != got.N || !bytes.Equal(again.Value, got.Value) {
			t.Fatalf("re-encoding changed the share: %v", err)
		}
	})
}

// FuzzCheckTypedLine: no line number or text makes CheckTypedLine panic, and it agrees with
// ParseTyped on the lines of a valid share.
func FuzzCheckTypedLine(f *testing.F) {
	for i, l := range strings.Split(strings.TrimSuffix(fixedShare().Typed(), "\n"), "\n") {
		f.Add(i+1, l)
	}
	f.Add(0, "")
	f.Add(9, "ZZZZ")
	f.Fuzz(func(t *testing.T, n int, line string) {
		if err := CheckTypedLine(n, line); err != nil && !strings.HasPrefix(err.Error(), "line ") {
			t.Fatalf("unexpected error form: %v", err)
		}
	})
}

// FuzzDecryptAge: arbitrary files fail cleanly or decode to a well-formed share.
func FuzzDecryptAge(f *testing.F) {
	id, err := age.ParseX25519Identity("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
	if err != nil {
		f.Fatal(err)
	}
	file, err := fixedShare().EncryptAge(id.Recipient())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file)
	f.Add(bytes.TrimSpace(file))
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\n--- AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sh, err := DecryptAge(data, id)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.HasPrefix(msg, "backup:") {
				t.Fatalf("error empty or led by the package name: %q", msg)
			}
			return
		}
		if err := sh.wellFormed(); err != nil {
			t.Fatalf("decrypted share not well formed: %v", err)
		}
	})
}

// FuzzParseManifest: whatever parses, validates and marshals back to something that parses to
// the same manifest.
func FuzzParseManifest(f *testing.F) {
	_, man, _ := fakeSet(f, newRand(f), 2, 3)
	good, err := man.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed manifest does not marshal: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatal(err)
		}
		out2, _ := m2.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatal("manifest not stable")
		}
	})
}

// FuzzPassphrase: any typed passphrase is estimated without panicking, matches itself, and its
// canonical form is canonical; an estimate never exceeds 4 bits a byte.
func FuzzPassphrase(f *testing.F) {
	f.Add([]byte("abandon ability able about above absent absorb abstract absurd zoo"))
	f.Add([]byte(" Correct\tHORSE "))
	f.Add([]byte("Tr0ub4dor&3"))
	f.Add([]byte("\xff\xfe é ü"))
	f.Fuzz(func(t *testing.T, p []byte) {
		if bits := PassphraseBits(p); bits < 0 || bits > 4*float64(len(p)) {
			t.Fatalf("%.1f bits for %d bytes", bits, len(p))
		}
		if !SamePassphrase(p, p) {
			t.Fatal("a passphrase does not match itself")
		}
		c := canonicalPassphrase(p)
		if again := canonicalPassphrase(c); !bytes.Equal(again, c) {
			t.Fatalf("canonical form %q is not canonical: %q", c, again)
		}
	})
}

// FuzzRecipientKey: any recipient text fails with a "" error or gives a key whose
// canonical form names the same key.
func FuzzRecipientKey(f *testing.F) {
	f.Add("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq")
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM9nLz31sFzPVz6KIDi039ClR92lDQboM1ZsX0MxhZVo c")
	f.Add("ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := RecipientKey(s)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.HasPrefix(msg, "backup:") {
				t.Fatalf("error empty or led by the package name: %q", msg)
			}
			return
		}
		if again, err := RecipientKey(key); err != nil || again != key {
			t.Fatalf("canonical key %q reads back as %q, %v", key, again, err)
		}
	})
}

// FuzzTypedHeader: any line 1 is refused cleanly or gives a set ID and a share number in range,
// and agrees with CheckTypedLine.
func FuzzTypedHeader(f *testing.F) {
	f.Add(strings.SplitN(fixedShare().Typed(), "\n", 2)[0])
	f.Add("1  7K3M Q9XA  002 003 005  QZC")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		set, index, err := TypedHeader(line)
		if (err == nil) != (CheckTypedLine(1, line) == nil) {
			t.Fatalf("TypedHeader and CheckTypedLine disagree on %q: %v", line, err)
		}
		if err == nil && (!validSetID(set) || index < 1 || index > maxShares) {
			t.Fatalf("header %q gave set %q, share %d", line, set, index)
		}
	})
}
