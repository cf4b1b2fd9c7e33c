package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/vault/shamir"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

var names = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
	"Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil"}

// fakeSet splits a random key M-of-N in Go, the way Create does after the token work, and
// returns the key, a manifest for an AES-256 target and the shares.
func fakeSet(t testing.TB, rng *rand.Rand, m, n int) ([]byte, *Manifest, []Share) {
	t.Helper()
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	parts, err := shamir.Split(key, n, m)
	if err != nil {
		t.Fatal(err)
	}
	setID, err := newSetID()
	if err != nil {
		t.Fatal(err)
	}
	blobSum := sha256.Sum256([]byte("blob"))
	man := &Manifest{
		Format: ManifestFormat, SetID: setID, M: m, N: n,
		Key:          ManifestKey{Label: "target", Spec: "AES-256", KCV: "a1b2c3"},
		BackupKeyKCV: aesKCV(key), BlobSHA256: hex.EncodeToString(blobSum[:]),
		Created: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
	var shares []Share
	for i, p := range parts {
		name := names[i%len(names)]
		if i >= len(names) {
			name += " " + string(rune('A'+i/len(names)))
		}
		man.Custodians = append(man.Custodians, name)
		man.Commitments = append(man.Commitments, commitment(setID, i+1, p))
		shares = append(shares, Share{SetID: setID, Index: i + 1, M: m, N: n, Custodian: name, Value: p})
	}
	if err := man.Validate(); err != nil {
		t.Fatal(err)
	}
	return key, man, shares
}

func newRand(t testing.TB) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(len(t.Name())), 0x6b657963))
}

// wantErr fails unless err's text is exactly want.
func wantErr(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}
}

// untrusted is a test token session whose target keys lack CKA_WRAP_WITH_TRUSTED, so that Create
// may make its own untrusted backup key.
func untrusted(t testing.TB) *hsm.Session {
	s := softhsmtest.Session(t)
	if err := s.Waive("CKA_WRAP_WITH_TRUSTED"); err != nil {
		t.Fatal(err)
	}
	return s
}

// trustedKey makes a backup key as the security officer, as a ceremony does, and finds key
// again after the user's new login.
func trustedKey(t *testing.T, s *hsm.Session, key *hsm.Key) *Key {
	t.Helper()
	var k *Key
	var err error
	softhsmtest.AsSecurityOfficer(t, s, func() { k, err = NewKey(s, true, "") })
	if err != nil {
		t.Fatal(err)
	}
	found, err := s.FindKey(key.Label)
	if err != nil {
		t.Fatal(err)
	}
	*key = *found
	return k
}
