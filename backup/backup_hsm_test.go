package backup

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// twoTokens makes two tokens in one SoftHSM2 configuration (softhsmtest.NewToken replaces the
// configuration on a second call) and returns a logged-in session on each.
func twoTokens(t *testing.T) (src, dst *hsm.Session) {
	t.Helper()
	module := softhsmtest.NewToken(t, "source")
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "restore",
		"--so-pin", softhsmtest.SOPIN, "--pin", softhsmtest.PIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	m, err := hsm.Open(module)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	open := func(label string) *hsm.Session {
		s, err := m.OpenSession(label)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Login(hsm.User, []byte(softhsmtest.PIN)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open("source"), open("restore")
}

func genKey(t *testing.T, s *hsm.Session, label, spec string) *hsm.Key {
	t.Helper()
	ks, err := hsmspec.ParseKeySpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.GenerateKey(label, ks)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func opts(m int, custodians ...string) Options {
	return Options{Threshold: m, Custodians: custodians, Created: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

// collect feeds shares to a new collector for m, failing the test on a refusal.
func collect(t *testing.T, m *Manifest, shares ...Share) *Collector {
	t.Helper()
	c := NewCollector(m)
	for _, sh := range shares {
		if _, err := c.Add(sh); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// The KCV computed in Go equals the token's CKA_CHECK_VALUE for the same AES key.
func TestAESKCVMatchesToken(t *testing.T) {
	s := untrusted(t)
	for _, n := range []int{16, 32} {
		raw := make([]byte, n)
		if _, err := s.Rand().Read(raw); err != nil {
			t.Fatal(err)
		}
		k, err := s.ImportSessionAES(raw, false)
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.Identify(k)
		if err != nil {
			t.Fatal(err)
		}
		if id.KCV != aesKCV(raw) {
			t.Errorf("AES-%d: token KCV %s, Go KCV %s", 8*n, id.KCV, aesKCV(raw))
		}
		s.Destroy(k)
	}
}

// Back up AES, HMAC, RSA and EC keys in one token; carry the shares as typed text, age files
// and through the manifest file; restore into another, freshly made token.
func TestRoundTripIntoAnotherToken(t *testing.T) {
	src, dst := twoTokens(t)
	for _, spec := range []string{"AES-256", "AES-128", "HMAC-256", "RSA-2048", "EC P-256", "EC P-384"} {
		t.Run(strings.ReplaceAll(spec, " ", "-"), func(t *testing.T) {
			label := "target " + spec
			key := genKey(t, src, label, spec)
			want, err := src.Identify(key)
			if err != nil {
				t.Fatal(err)
			}
			o := opts(2, "Alice", "Bob", "Carol")
			o.Key = trustedKey(t, src, key)
			b, err := Create(src, key, o)
			if err != nil {
				t.Fatal(err)
			}
			m := b.Manifest
			if m.Key.Spec != spec || m.Key.Label != label || m.Key.KCV != want.KCV || m.Key.Fingerprint != want.Fingerprint ||
				!bytes.Equal(m.Key.PublicKey, want.PublicKeyDER) || m.M != 2 || m.N != 3 || m.Replaces != "" {
				t.Fatalf("manifest key %+v, want %+v", m.Key, want)
			}
			// The check copy and the backup key are gone from the source token.
			if ok, _ := src.LabelExists("keyceremony backup check " + m.SetID); ok {
				t.Fatal("Create left its check copy in the token")
			}

			// Through files: the manifest and blob as written, the shares as typed text and an age file.
			dir := filepath.Join(t.TempDir(), "set")
			if err := WriteSet(dir, b); err != nil {
				t.Fatal(err)
			}
			man, blob, err := ReadSet(dir)
			if err != nil {
				t.Fatal(err)
			}
			typed, err := ParseTyped(b.Shares[2].Typed())
			if err != nil {
				t.Fatal(err)
			}
			r, _ := PassphraseRecipient([]byte("correct horse battery staple"))
			r.SetWorkFactor(10)
			file, err := b.Shares[0].EncryptAge(r)
			if err != nil {
				t.Fatal(err)
			}
			id, _ := PassphraseIdentity([]byte("correct horse battery staple"))
			fromAge, err := DecryptAge(file, id)
			if err != nil {
				t.Fatal(err)
			}
			b.Zero()

			restored, err := Restore(dst, man, blob, collect(t, man, typed, fromAge), "")
			if err != nil {
				t.Fatal(err)
			}
			if restored.Label != label || restored.Spec.String() != spec {
				t.Fatalf("restored %q %s", restored.Label, restored.Spec)
			}
			a, err := dst.Attributes(restored)
			if err != nil {
				t.Fatal(err)
			}
			if want := (hsm.Protection{Token: true, Private: true, Sensitive: true, Extractable: true, WrapWithTrusted: true}); a.Protection != want || a.Local {
				t.Fatalf("restored key attributes %+v, want %+v", a, want)
			}
			if restored.IsSecret() {
				got, err := dst.Identify(restored)
				if err != nil {
					t.Fatal(err)
				}
				if got.KCV != want.KCV {
					t.Fatalf("restored KCV %s, want %s", got.KCV, want.KCV)
				}
			} else if err := dst.ProvePrivateKey(restored, want.PublicKeyDER); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRestoreRefusals(t *testing.T) {
	s := untrusted(t)
	key := genKey(t, s, "target", "AES-256")
	b, err := Create(s, key, opts(2, "Alice", "Bob", "Carol"))
	if err != nil {
		t.Fatal(err)
	}
	m := &b.Manifest

	// An existing label is refused before anything happens (even with too few shares).
	_, err = Restore(s, m, b.Blob, NewCollector(m), "")
	wantErr(t, err, `a key labelled "target" already exists on token "softhsmtest"; nothing was restored`+
		"\nhint: restore under another label, or into another token")

	// A blob that is not the manifest's.
	bad := append([]byte(nil), b.Blob...)
	bad[len(bad)-1] ^= 1
	_, err = Restore(s, m, bad, collect(t, m, b.Shares[0], b.Shares[1]), "copy")
	wantErr(t, err, "the backup blob does not match manifest set "+m.SetID+" (SHA-256 differs)\nhint: use the blob written with this manifest")

	// Too few shares.
	_, err = Restore(s, m, b.Blob, collect(t, m, b.Shares[1]), "copy")
	wantErr(t, err, "2 of 3 shares needed, 1 accepted\nhint: 1 more custodian(s) must enter their share")

	// Shares collected against another set's manifest.
	other, err := Create(s, key, opts(2, "Dave", "Erin"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Restore(s, m, b.Blob, collect(t, &other.Manifest, other.Shares...), "copy")
	wantErr(t, err, "the shares were collected for set "+other.Manifest.SetID+", not set "+m.SetID)

	// None of the refusals left a key behind; a good restore works under a new label.
	if ok, _ := s.LabelExists("copy"); ok {
		t.Fatal("a refused restore left a key")
	}
	k, err := Restore(s, m, b.Blob, collect(t, m, b.Shares[2], b.Shares[0]), "copy")
	if err != nil {
		t.Fatal(err)
	}
	if k.Label != "copy" {
		t.Fatalf("label %q", k.Label)
	}
}

// After a re-share the new shares restore the key, the old ones cannot open the new blob, and
// the new manifest names the set it replaces.
func TestReshare(t *testing.T) {
	src, dst := twoTokens(t)
	if err := src.Waive("CKA_WRAP_WITH_TRUSTED"); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"AES-256", "EC P-256"} {
		t.Run(strings.ReplaceAll(spec, " ", "-"), func(t *testing.T) {
			key := genKey(t, src, "target "+spec, spec)
			old, err := Create(src, key, opts(2, "Alice", "Bob", "Carol"))
			if err != nil {
				t.Fatal(err)
			}
			om := &old.Manifest
			reshared, err := Reshare(src, []Opened{{om, old.Blob}}, collect(t, om, old.Shares[0], old.Shares[2]), opts(3, "Alice", "Carol", "Dave", "Erin"))
			if err != nil {
				t.Fatal(err)
			}
			nb := reshared[0]
			nm := &nb.Manifest
			if nm.Replaces != om.SetID || nm.SetID == om.SetID || nm.M != 3 || nm.N != 4 || nm.Custodians[3] != "Erin" ||
				nm.Key.Label != om.Key.Label || nm.Key.KCV != om.Key.KCV || nm.Key.Fingerprint != om.Key.Fingerprint {
				t.Fatalf("new manifest %+v", nm)
			}
			if bytes.Equal(nb.Blob, old.Blob) || nm.BackupKeyKCV == om.BackupKeyKCV {
				t.Fatal("re-share kept the old backup key")
			}
			if ok, _ := src.LabelExists("keyceremony reshare " + om.SetID); ok {
				t.Fatal("Reshare left its session copy")
			}

			// Old shares are refused against the new manifest...
			_, err = NewCollector(nm).Add(old.Shares[0])
			wantErr(t, err, "this share belongs to set "+om.SetID+", not to set "+nm.SetID+"\nhint: find the share made for set "+nm.SetID)
			// ...and the old backup key, rebuilt from them, does not open the new blob.
			oldKey, err := collect(t, om, old.Shares[1], old.Shares[2]).Combine()
			if err != nil {
				t.Fatal(err)
			}
			kek, err := dst.ImportSessionAES(oldKey, false)
			clear(oldKey)
			if err != nil {
				t.Fatal(err)
			}
			ks, _ := hsmspec.ParseKeySpec(spec)
			_, err = dst.UnwrapKWP(kek, nb.Blob, "old shares", ks, false)
			if err == nil || !strings.Contains(err.Error(), "does not unwrap under this key") {
				t.Fatalf("old backup key on the new blob: %v", err)
			}
			dst.Destroy(kek)

			// The new shares restore the key into the other token.
			k, err := Restore(dst, nm, nb.Blob, collect(t, nm, nb.Shares[3], nb.Shares[0], nb.Shares[1]), "")
			if err != nil {
				t.Fatal(err)
			}
			if k.IsSecret() {
				id, _ := dst.Identify(k)
				if id.KCV != om.Key.KCV {
					t.Fatalf("KCV %s, want %s", id.KCV, om.Key.KCV)
				}
			}
		})
	}
}

func TestCreateBounds(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "custodian " + string(rune('A'+i/26)) + string(rune('a'+i%26))
		}
		return out
	}
	cases := []struct {
		o    Options
		want string
	}{
		{Options{Threshold: 2}, "no custodians\nhint: name at least 2 custodians, one share each"},
		{Options{Threshold: 1, Custodians: many(3)}, "threshold 1 is too low: restoring must need at least 2 shares\nhint: choose a threshold from 2 to the number of custodians"},
		{Options{Threshold: 4, Custodians: many(3)}, "threshold 4 is more than the 3 custodians\nhint: choose a threshold of at most 3, or name more custodians"},
		{Options{Threshold: 3, Custodians: many(17)}, "17 custodians is more than 16\nhint: name at most 16 custodians, or allow a large quorum explicitly"},
		{Options{Threshold: 3, Custodians: many(256), AllowLarge: true}, "256 custodians is more than 255, the most shares over GF(2^8)\nhint: name at most 255 custodians"},
		{Options{Threshold: 2, Custodians: []string{"Alice", " alice "}}, "custodians 1 and 2 are both called \" alice \"\nhint: give every custodian a distinct name"},
		{Options{Threshold: 2, Custodians: []string{"Alice", ""}}, "custodian 2 has no name\nhint: every share is named after its custodian"},
		{Options{Threshold: 2, Custodians: many(2), Replaces: "nope"}, "replaced set \"nope\" is not a set ID"},
	}
	for _, c := range cases {
		_, err := Create(nil, nil, c.o)
		wantErr(t, err, c.want)
	}
}

// Large quorums work when allowed: 20 custodians, threshold 11.
func TestCreateLarge(t *testing.T) {
	s := untrusted(t)
	key := genKey(t, s, "target", "AES-256")
	o := opts(11)
	for i := range 20 {
		o.Custodians = append(o.Custodians, names[i%len(names)]+" "+string(rune('a'+i)))
	}
	o.AllowLarge = true
	b, err := Create(s, key, o)
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, &b.Manifest, b.Shares[9:]...)
	k, err := Restore(s, &b.Manifest, b.Blob, c, "copy")
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := s.Identify(k); id.KCV != b.Manifest.Key.KCV {
		t.Fatal("large quorum restored another key")
	}
}

// A restored key that is not the manifest's (here: the manifest names another key) is destroyed,
// and the error says so.
func TestRestoreMismatchDestroysKey(t *testing.T) {
	s := untrusted(t)
	for _, spec := range []string{"AES-256", "EC P-256"} {
		key := genKey(t, s, "target "+spec, spec)
		b, err := Create(s, key, opts(2, "Alice", "Bob"))
		if err != nil {
			t.Fatal(err)
		}
		m := b.Manifest
		var want string
		if key.IsSecret() {
			m.Key.KCV = "000000"
			id, _ := s.Identify(key)
			want = "the unwrapped key's KCV " + id.KCV + " differs from the manifest's 000000 for \"target AES-256\""
		} else {
			other := genKey(t, s, "other", spec)
			id, _ := s.Identify(other)
			m.Key.PublicKey, m.Key.Fingerprint = id.PublicKeyDER, id.Fingerprint
			want = "the unwrapped private key does not match the manifest's public key of \"target EC P-256\": "
		}
		_, err = Restore(s, &m, b.Blob, collect(t, &m, b.Shares...), "copy")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("%s: %v, want %q...", spec, err, want)
		}
		if ok, _ := s.LabelExists("copy"); ok {
			t.Fatalf("%s: the wrong key was left in the token", spec)
		}
	}
}

// TestRFC3394Backup backs up keys of whole 64-bit blocks with CKM_AES_KEY_WRAP, the fallback of
// a token without KWP: the manifest names the mechanism, the blob is RFC 3394's size, and a
// restore into another token follows the manifest. A manifest that says KWP for the same blob
// does not open it.
func TestRFC3394Backup(t *testing.T) {
	src, dst := twoTokens(t)
	for _, spec := range []string{"AES-256", "HMAC-384"} {
		t.Run(spec, func(t *testing.T) {
			key := genKey(t, src, "kw "+spec, spec)
			want, _ := src.Identify(key)
			o := opts(2, "Alice", "Bob")
			o.Key, o.Wrap = trustedKey(t, src, key), hsmspec.BackupKW
			b, err := Create(src, key, o)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Zero()
			if b.Manifest.Wrap != hsmspec.BackupKW || len(b.Blob) != key.Spec.Bits/8+8 {
				t.Fatalf("manifest wrap %q, blob %d bytes", b.Manifest.Wrap, len(b.Blob))
			}
			bad := b.Manifest
			bad.Wrap = "CKM_AES_ECB"
			if err := bad.Validate(); err == nil || err.Error() != `manifest says the blob was wrapped with "CKM_AES_ECB", which is not a backup wrapping mechanism` {
				t.Errorf("a manifest naming CKM_AES_ECB: %v", err)
			}
			kwp := b.Manifest
			kwp.Wrap = ""
			if _, err := Restore(dst, &kwp, b.Blob, collect(t, &kwp, b.Shares[0], b.Shares[1]), ""); err == nil || !strings.Contains(err.Error(), "the blob does not unwrap under this key") {
				t.Errorf("a KWP manifest opened an RFC 3394 blob: %v", err)
			}
			restored, err := Restore(dst, &b.Manifest, b.Blob, collect(t, &b.Manifest, b.Shares[0], b.Shares[1]), "")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := dst.Identify(restored); got.KCV != want.KCV {
				t.Errorf("restored KCV %s, want %s", got.KCV, want.KCV)
			}
		})
	}
}

// A set shared by several keys is re-shared whole: the new set backs up every key under a new
// backup key, and a re-share given only some of its manifests is refused before anything is
// opened.
func TestReshareSharedSet(t *testing.T) {
	src, dst := twoTokens(t)
	if err := src.Waive("CKA_WRAP_WITH_TRUSTED"); err != nil {
		t.Fatal(err)
	}
	k1, k2 := genKey(t, src, "k1", "AES-256"), genKey(t, src, "k2", "AES-256")
	old, err := CreateShared(src, []Backed{{Key: k1}, {Key: k2}}, opts(2, "Alice", "Bob", "Carol"))
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := &old[0].Manifest, &old[1].Manifest
	if !slices.Equal(m1.SharedWith, []string{"k1", "k2"}) || m1.SetID != m2.SetID || !slices.Equal(m1.Commitments, m2.Commitments) {
		t.Fatalf("the shared set's manifests: %+v\n%+v", m1, m2)
	}
	_, err = Reshare(src, []Opened{{m2, old[1].Blob}}, collect(t, m2, old[0].Shares[0], old[0].Shares[1]), opts(2, "Dave", "Erin"))
	wantErr(t, err, "backup set "+m1.SetID+" backs up 2 keys (k1, k2); a re-share carries every one of them, and the manifests of 1 were given\nhint: keep the set's folder whole: each key's manifest and blob in backup-"+m1.SetID+"/LABEL")

	set := []Opened{{m1, old[0].Blob}, {m2, old[1].Blob}}
	reshared, err := Reshare(src, set, collect(t, m1, old[0].Shares[0], old[0].Shares[2]), opts(2, "Dave", "Erin"))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range reshared {
		nm := &b.Manifest
		if nm.Replaces != m1.SetID || nm.Key.Label != set[i].Manifest.Key.Label || nm.Key.KCV != set[i].Manifest.Key.KCV || !slices.Equal(nm.SharedWith, m1.SharedWith) || nm.BackupKeyKCV == m1.BackupKeyKCV {
			t.Fatalf("new manifest %d: %+v", i, nm)
		}
		// The new shares restore each key on another token.
		k, err := Restore(dst, nm, b.Blob, collect(t, nm, b.Shares[0], b.Shares[1]), "")
		if err != nil {
			t.Fatal(err)
		}
		if k.Label != nm.Key.Label {
			t.Fatalf("restored %q", k.Label)
		}
	}
}
