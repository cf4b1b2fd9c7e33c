package backup

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// KeySize is the size of the backup key: AES-256.
	KeySize = 32
	// ValueSize is the size of a share value: one y byte per key byte, then the x coordinate,
	// as github.com/hashicorp/vault/shamir lays it out.
	ValueSize = KeySize + 1

	setIDLen         = 8   // Crockford base32 characters, 40 random bits
	maxShares        = 255 // GF(2^8) has 255 non-zero x coordinates
	defaultMaxShares = 16  // beyond this, Options.AllowLarge
	commitDomain     = "keyceremony-backup-share-commitment/1"
)

// Share is one custodian's share of a backup key. Value is secret: Share's String, GoString and
// Format never show it, and Zero clears it.
type Share struct {
	SetID     string // the share set it belongs to (8 Crockford base32 characters)
	Index     int    // 1..N, the custodian's place in the manifest
	M, N      int    // threshold and number of shares
	Custodian string // the custodian's name, from the manifest; not part of the encodings
	Value     []byte // ValueSize bytes: y values, then x
}

// Zero overwrites the share value.
func (s *Share) Zero() { clear(s.Value) }

// String names the share without its value: "share 2 of 5 (Bob), set 7K3MQ9XA, 3 needed".
func (s Share) String() string {
	name := ""
	if s.Custodian != "" {
		name = " (" + s.Custodian + ")"
	}
	return fmt.Sprintf("share %d of %d%s, set %s, %d needed", s.Index, s.N, name, s.SetID, s.M)
}

// GoString is String: the value is never printed.
func (s Share) GoString() string { return "backup.Share{" + s.String() + ", value redacted}" }

// Format prints String for every verb (%v, %+v, %x, %q...), so no format prints the value.
func (s Share) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// wellFormed checks the fields every encoding needs; it does not check x or the commitment.
func (s Share) wellFormed() error {
	switch {
	case !validSetID(s.SetID):
		return fmt.Errorf("share set ID is not %d Crockford base32 characters", setIDLen)
	case s.M < 2 || s.N < s.M || s.N > maxShares:
		return fmt.Errorf("share says %d of %d shares are needed, which no share set has", s.M, s.N)
	case s.Index < 1 || s.Index > s.N:
		return fmt.Errorf("share %d of %d does not exist", s.Index, s.N)
	case len(s.Value) != ValueSize:
		return fmt.Errorf("share %d has a value of %d bytes, want %d", s.Index, len(s.Value), ValueSize)
	}
	return nil
}

// x is the share's x coordinate (the last byte of the value).
func (s Share) x() byte { return s.Value[len(s.Value)-1] }

// commitment is SHA-256 over a domain string, the set ID, the index and the share value, each
// length-prefixed, in lower-case hex as the manifest records it.
func commitment(setID string, index int, value []byte) string {
	h := sha256.New()
	var n [4]byte
	for _, part := range [][]byte{[]byte(commitDomain), []byte(setID)} {
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	binary.BigEndian.PutUint32(n[:], uint32(index))
	h.Write(n[:])
	binary.BigEndian.PutUint32(n[:], uint32(len(value)))
	h.Write(n[:])
	h.Write(value)
	return hex.EncodeToString(h.Sum(nil))
}

// newSetID returns 40 random bits as 8 Crockford base32 characters.
func newSetID() (string, error) {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a set ID: %w", err)
	}
	syms := toBase32(b[:], setIDLen)
	for i, v := range syms {
		syms[i] = crockford[v]
	}
	return string(syms), nil
}

func validSetID(id string) bool {
	if len(id) != setIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(crockford, id[i]) < 0 {
			return false
		}
	}
	return true
}
