package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// algCosignatureV1 is the signed-note signature type of an Ed25519 tlog-cosignature/v1.
const algCosignatureV1 = 0x04

// Key is a witness's Ed25519 cosigning key.
type Key struct {
	name string
	priv ed25519.PrivateKey
}

// Verifier is the public half of a witness key, as an auditor lists it.
type Verifier struct {
	Name  string
	KeyID uint32
	Pub   ed25519.PublicKey
}

// GenerateKey makes a witness key named name and returns its private key line (a secret: the
// caller zeroes it after use) and its verifier key.
func GenerateKey(name string) (skey []byte, vkey string, err error) {
	if err := checkName(name); err != nil {
		return nil, "", err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	defer clear(priv)
	id := keyID(name, pub)
	seed := append([]byte{algCosignatureV1}, priv.Seed()...)
	defer clear(seed)
	skey = fmt.Appendf(nil, "PRIVATE+KEY+%s+%08x+", name, id)
	skey = base64.StdEncoding.AppendEncode(skey, seed)
	return append(skey, '\n'), Verifier{name, id, pub}.String(), nil
}

// ParseKey reads a private key line made by [GenerateKey]. It does not keep skey.
func ParseKey(skey []byte) (*Key, error) {
	bad := errors.New("not a witness private key (PRIVATE+KEY+NAME+ID+KEY)\nhint: give the file keyceremony witness keygen wrote")
	rest, ok := strings.CutPrefix(strings.TrimSuffix(string(skey), "\n"), "PRIVATE+KEY+")
	if !ok {
		return nil, bad
	}
	name, id, key, ok := splitKey(rest)
	if !ok || len(key) != 1+ed25519.SeedSize || key[0] != algCosignatureV1 {
		return nil, bad
	}
	defer clear(key)
	k := &Key{name: name, priv: ed25519.NewKeyFromSeed(key[1:])}
	if keyID(name, k.Public()) != id {
		return nil, errors.New("the private key's ID does not match its key\nhint: the file is damaged; use the witness's backup or make a new key")
	}
	return k, nil
}

// ParseVerifier reads a verifier key, NAME+ID+base64(0x04 || public key).
func ParseVerifier(vkey string) (Verifier, error) {
	name, id, key, ok := splitKey(vkey)
	switch {
	case !ok:
		return Verifier{}, fmt.Errorf("%q is not a verifier key (NAME+ID+KEY)", vkey)
	case len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1:
		return Verifier{}, fmt.Errorf("verifier key %s is not an Ed25519 cosignature key (type 0x04)", name)
	}
	v := Verifier{name, id, ed25519.PublicKey(key[1:])}
	if keyID(name, v.Pub) != id {
		return Verifier{}, fmt.Errorf("verifier key %s has the key ID %08x, its key has %08x", name, id, keyID(name, v.Pub))
	}
	return v, nil
}

// splitKey splits NAME+ID+BASE64. A name holds no '+', and base64 may.
func splitKey(s string) (name string, id uint32, key []byte, ok bool) {
	name, rest, ok1 := strings.Cut(s, "+")
	hexID, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || len(hexID) != 8 || checkName(name) != nil {
		return "", 0, nil, false
	}
	n, err := strconv.ParseUint(hexID, 16, 32)
	if err != nil {
		return "", 0, nil, false
	}
	if key, err = base64.StdEncoding.Strict().DecodeString(b64); err != nil {
		return "", 0, nil, false
	}
	return name, uint32(n), key, true
}

// checkName checks that name can be a signed-note key name: not empty, valid UTF-8, no space,
// no '+' and no control character.
func checkName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r == '+' || r == 0x7f || r == 0xa0 || r == 0x2028 || r == 0x2029
	}) {
		return fmt.Errorf("%q is not a valid witness name\nhint: use a name without spaces or '+', such as witness.example.org/alice", name)
	}
	return nil
}

func keyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Name is the witness's key name.
func (k *Key) Name() string { return k.name }

// Public is the witness's public key.
func (k *Key) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// Verifier is the witness's verifier key.
func (k *Key) Verifier() Verifier { return Verifier{k.name, keyID(k.name, k.Public()), k.Public()} }

// Close zeroes the private key.
func (k *Key) Close() { clear(k.priv) }

// String is the verifier key, NAME+ID+base64(0x04 || public key).
func (v Verifier) String() string {
	return fmt.Sprintf("%s+%08x+%s", v.Name, v.KeyID, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, v.Pub...)))
}

// Fingerprint is "SHA256:" and the hex SHA-256 of the public key.
func (v Verifier) Fingerprint() string {
	sum := sha256.Sum256(v.Pub)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// cosignedMessage is what a tlog-cosignature/v1 signs: a header line, the time line, the note text.
func cosignedMessage(text string, t time.Time) []byte {
	return fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t.Unix(), text)
}

// sign returns the signature line of a cosignature of the note text at time t.
func (k *Key) sign(text string, t time.Time) string {
	sig := binary.BigEndian.AppendUint32(nil, keyID(k.name, k.Public()))
	sig = binary.BigEndian.AppendUint64(sig, uint64(t.Unix()))
	sig = append(sig, ed25519.Sign(k.priv, cosignedMessage(text, t))...)
	return "— " + k.name + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
}

// verify reports whether sig (the Ed25519 signature of a cosignature made at t) is v's over text.
func (v Verifier) verify(text string, t time.Time, sig []byte) bool {
	return t.Unix() >= 0 && ed25519.Verify(v.Pub, cosignedMessage(text, t), sig)
}
