package backup

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestAESKCV(t *testing.T) {
	// AES-ECB of the zero block under the zero key (FIPS-197 style known answers).
	if got := aesKCV(make([]byte, 16)); got != "66e94b" {
		t.Errorf("AES-128 zero key KCV %s", got)
	}
	if got := aesKCV(make([]byte, 32)); got != "dc95c0" {
		t.Errorf("AES-256 zero key KCV %s", got)
	}
}

func TestCollectorRefusals(t *testing.T) {
	rng := newRand(t)
	_, man, shares := fakeSet(t, rng, 2, 3)
	_, other, otherShares := fakeSet(t, rng, 2, 3)
	c := NewCollector(man)

	// Too few.
	_, err := c.Combine()
	wantErr(t, err, "2 of 3 shares needed, 0 accepted\nhint: 2 more custodian(s) must enter their share")

	// A share of another set.
	_, err = c.Add(otherShares[0])
	wantErr(t, err, "this share belongs to set "+other.SetID+", not to set "+man.SetID+"\nhint: find the share made for set "+man.SetID)

	// Out of range.
	bad := shares[0]
	bad.Index = 4
	_, err = c.Add(bad)
	wantErr(t, err, "share 4 does not exist: set "+man.SetID+" has 3 shares")
	bad.Index = 0
	_, err = c.Add(bad)
	wantErr(t, err, "share 0 does not exist: set "+man.SetID+" has 3 shares")

	// x = 0.
	bad = shares[2]
	bad.Value = append([]byte(nil), bad.Value...)
	bad.Value[ValueSize-1] = 0
	_, err = c.Add(bad)
	wantErr(t, err, "share 3 (Carol) has x = 0, which would make its own value the key; refused")

	// Commitment.
	bad.Value = append([]byte(nil), shares[2].Value...)
	bad.Value[5] ^= 1
	_, err = c.Add(bad)
	wantErr(t, err, "share 3 (Carol) does not match its commitment\nhint: check it was entered from the right paper or file; if it was, this share is damaged and another custodian's share is needed")

	// M and N that disagree with the manifest.
	bad = shares[1]
	bad.M = 3
	_, err = c.Add(bad)
	wantErr(t, err, "share 2 (Bob) says 3 of 3 shares are needed, the manifest 2 of 3\nhint: the share or the manifest is not the one made with it")

	// Accepted, then the same again.
	n, err := c.Add(shares[1])
	if err != nil || n != 1 || c.Need() != 1 {
		t.Fatalf("Add: %d %v, need %d", n, err, c.Need())
	}
	_, err = c.Add(shares[1])
	wantErr(t, err, "share 2 (Bob) was already accepted\nhint: the next share must come from another custodian")
	_, err = c.Combine()
	wantErr(t, err, "2 of 3 shares needed, 1 accepted\nhint: 1 more custodian(s) must enter their share")

	// Refusals changed nothing; the second share completes it.
	if n, err := c.Add(shares[0]); err != nil || n != 2 || c.Need() != 0 {
		t.Fatalf("Add: %d %v", n, err)
	}
	if got := c.Accepted(); len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Errorf("Accepted() = %v", got)
	}
	key, err := c.Combine()
	if err != nil || len(key) != KeySize {
		t.Fatal(err)
	}
	c.Zero()
	if c.Need() != 2 {
		t.Errorf("Zero left %d shares", 2-c.Need())
	}
}

// The collector keeps its own copy: zeroing the caller's share afterwards changes nothing.
func TestCollectorCopies(t *testing.T) {
	key, man, shares := fakeSet(t, newRand(t), 2, 2)
	c := NewCollector(man)
	for _, sh := range shares {
		if _, err := c.Add(sh); err != nil {
			t.Fatal(err)
		}
		sh.Zero()
	}
	got, err := c.Combine()
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Combine after caller zeroed: %v", err)
	}
}

// A manifest whose backup key KCV is not the shares' key is caught after the combination.
func TestCombineKCVMismatch(t *testing.T) {
	_, man, shares := fakeSet(t, newRand(t), 2, 3)
	man.BackupKeyKCV = "000000"
	c := NewCollector(man)
	for _, sh := range shares[:2] {
		if _, err := c.Add(sh); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Combine()
	wantErr(t, err, "the rebuilt backup key does not match the manifest's backup key KCV\nhint: every share matched its commitment, so the manifest itself is not the one made with these shares")
}

// Property: any M of N shares rebuild the key; no M-1 shares do (the collector refuses, and
// Shamir over M-1 points gives another key, which the KCV rejects).
func TestAnyMOfNProperty(t *testing.T) {
	rng := newRand(t)
	for trial := range 300 {
		n := 2 + rng.IntN(15)
		m := 2 + rng.IntN(n-1)
		key, man, shares := fakeSet(t, rng, m, n)
		perm := rng.Perm(n)

		c := NewCollector(man)
		for _, i := range perm[:m] {
			if _, err := c.Add(shares[i]); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
		}
		got, err := c.Combine()
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("trial %d: %d of %d shares %v: %v", trial, m, n, perm[:m], err)
		}

		few := NewCollector(man)
		var sub []Share
		for _, i := range perm[:m-1] {
			if _, err := few.Add(shares[i]); err != nil {
				t.Fatal(err)
			}
			sub = append(sub, shares[i])
		}
		if _, err := few.Combine(); err == nil {
			t.Fatalf("trial %d: %d shares combined for threshold %d", trial, m-1, m)
		}
		if len(sub) >= 2 {
			wrong, err := combine(sub)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(wrong, key) || aesKCV(wrong) == man.BackupKeyKCV {
				t.Fatalf("trial %d: %d of threshold %d shares gave the key", trial, m-1, m)
			}
		}
	}
}

func TestVerifyCommitmentBindsIndexAndSet(t *testing.T) {
	_, man, shares := fakeSet(t, newRand(t), 2, 3)
	for _, sh := range shares {
		if err := Verify(man, sh); err != nil {
			t.Fatal(err)
		}
	}
	// The right value under another share's number fails.
	sh := shares[0]
	sh.Index = 2
	wantErr(t, Verify(man, sh), "share 2 (Bob) does not match its commitment\nhint: check it was entered from the right paper or file; if it was, this share is damaged and another custodian's share is needed")
	if _, err := hex.DecodeString(man.Commitments[0]); err != nil {
		t.Fatal(err)
	}
}
