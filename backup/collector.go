package backup

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/shamir"
)

// Verify checks one share against the manifest: its set, its place, and its commitment. The
// split-time verification round calls it as each custodian reads their share back; restore
// calls it (through Collector.Add) as each share is entered.
func Verify(m *Manifest, sh Share) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if sh.SetID != m.SetID {
		return fmt.Errorf("this share belongs to set %s, not to set %s\nhint: find the share made for set %s", sh.SetID, m.SetID, m.SetID)
	}
	if sh.Index < 1 || sh.Index > m.N {
		return fmt.Errorf("share %d does not exist: set %s has %d shares", sh.Index, m.SetID, m.N)
	}
	who := m.shareName(sh.Index)
	if sh.M != m.M || sh.N != m.N {
		return fmt.Errorf("%s says %d of %d shares are needed, the manifest %d of %d\nhint: the share or the manifest is not the one made with it", who, sh.M, sh.N, m.M, m.N)
	}
	if len(sh.Value) != ValueSize {
		return fmt.Errorf("%s has a value of %d bytes, want %d", who, len(sh.Value), ValueSize)
	}
	if sh.x() == 0 {
		return fmt.Errorf("%s has x = 0, which would make its own value the key; refused", who)
	}
	want, err := hex.DecodeString(m.Commitments[sh.Index-1])
	if err != nil {
		return fmt.Errorf("manifest commitment of share %d is not hex", sh.Index)
	}
	got, _ := hex.DecodeString(commitment(sh.SetID, sh.Index, sh.Value))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("%s does not match its commitment\nhint: check it was entered from the right paper or file; if it was, this share is damaged and another custodian's share is needed", who)
	}
	return nil
}

// shareName is "share 3 (Carol)".
func (m *Manifest) shareName(index int) string {
	if index >= 1 && index <= len(m.Custodians) {
		return fmt.Sprintf("share %d (%s)", index, m.Custodians[index-1])
	}
	return fmt.Sprintf("share %d", index)
}

// Collector gathers shares for a restore or re-share, checking each as it arrives.
type Collector struct {
	m      *Manifest
	shares []Share // accepted, in arrival order; values owned by the collector
}

// NewCollector starts collecting shares of m's set.
func NewCollector(m *Manifest) *Collector { return &Collector{m: m} }

// String shows progress, never a share.
func (c *Collector) String() string {
	return fmt.Sprintf("backup.Collector{set %s, %d of %d accepted}", c.m.SetID, len(c.shares), c.m.M)
}

// GoString is String.
func (c *Collector) GoString() string { return c.String() }

// Format prints String for every verb.
func (c *Collector) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// Add checks sh at once and keeps a copy of it; accepted is the number of shares accepted so far.
// A share of another set, a share number out of range, x = 0, a share already given and a share
// that does not match its commitment are each refused with their own message; a refused share
// changes nothing. The caller may zero sh afterwards.
func (c *Collector) Add(sh Share) (accepted int, err error) {
	if sh.SetID == c.m.SetID && sh.Index >= 1 && sh.Index <= c.m.N {
		for _, have := range c.shares {
			if have.Index == sh.Index {
				return len(c.shares), fmt.Errorf("%s was already accepted\nhint: the next share must come from another custodian", c.m.shareName(sh.Index))
			}
		}
	}
	if err := Verify(c.m, sh); err != nil {
		return len(c.shares), err
	}
	sh.Custodian = c.m.Custodians[sh.Index-1]
	sh.Value = append([]byte(nil), sh.Value...)
	c.shares = append(c.shares, sh)
	return len(c.shares), nil
}

// Need is the number of shares still needed (0 when Combine can run).
func (c *Collector) Need() int { return max(c.m.M-len(c.shares), 0) }

// Accepted lists the accepted shares' numbers, in arrival order.
func (c *Collector) Accepted() []int {
	out := make([]int, len(c.shares))
	for i, sh := range c.shares {
		out[i] = sh.Index
	}
	return out
}

// Zero clears every collected share; the collector is empty afterwards.
func (c *Collector) Zero() {
	for i := range c.shares {
		c.shares[i].Zero()
	}
	c.shares = nil
}

// Combine rebuilds the backup key from the first M accepted shares and checks it against the
// manifest's backup key KCV. The caller clears the key when done.
func (c *Collector) Combine() (key []byte, err error) {
	if len(c.shares) < c.m.M {
		return nil, fmt.Errorf("%d of %d shares needed, %d accepted\nhint: %d more custodian(s) must enter their share", c.m.M, c.m.N, len(c.shares), c.m.M-len(c.shares))
	}
	key, err = combine(c.shares[:c.m.M])
	if err != nil {
		return nil, err
	}
	kcv := aesKCV(key)
	if subtle.ConstantTimeCompare([]byte(kcv), []byte(c.m.BackupKeyKCV)) != 1 {
		clear(key)
		return nil, fmt.Errorf("the rebuilt backup key does not match the manifest's backup key KCV\nhint: every share matched its commitment, so the manifest itself is not the one made with these shares")
	}
	return key, nil
}

// combine runs shamir.Combine over share values; it refuses what Combine does not check.
func combine(shares []Share) ([]byte, error) {
	parts := make([][]byte, len(shares))
	seen := make(map[byte]bool, len(shares))
	for i, sh := range shares {
		if len(sh.Value) != ValueSize || sh.x() == 0 || seen[sh.x()] {
			return nil, errors.New("shares with a bad length, x = 0 or a repeated x cannot be combined")
		}
		seen[sh.x()] = true
		parts[i] = sh.Value
	}
	key, err := shamir.Combine(parts)
	if err != nil {
		return nil, fmt.Errorf("combine shares: %v", err)
	}
	return key, nil
}

// aesKCV is the key check value of an AES key: the first 3 bytes of AES-ECB(key, 0^16), hex. It
// equals the CKA_CHECK_VALUE a PKCS#11 token reports for the same AES key.
func aesKCV(key []byte) string {
	c, err := aes.NewCipher(key)
	if err != nil {
		panic("backup: aesKCV called with a key of the wrong size")
	}
	var block [aes.BlockSize]byte
	c.Encrypt(block[:], block[:])
	return hex.EncodeToString(block[:3])
}
