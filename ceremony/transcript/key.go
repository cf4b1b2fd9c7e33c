package transcript

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Signature algorithms, as the begin event names them.
const (
	AlgorithmEd25519   = "ed25519"
	AlgorithmECDSAP256 = "ecdsa-p256-sha256"
)

// Signature type identifier bytes of c2sp.org/signed-note.
const (
	noteAlgEd25519 = 0x01
	noteAlgECDSA   = 0x02
)

// key is the ceremony signing public key.
type key struct {
	alg string
	der []byte // SPKI
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
}

func newKey(pub crypto.PublicKey) (*key, error) {
	k := &key{}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		k.alg, k.ed = AlgorithmEd25519, p
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("transcript: the signing key is ECDSA on %s, want P-256", p.Curve.Params().Name)
		}
		k.alg, k.ec = AlgorithmECDSAP256, p
	default:
		return nil, fmt.Errorf("transcript: the signing key is a %T, want Ed25519 or ECDSA P-256", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("transcript: cannot encode the signing public key: %v", err)
	}
	k.der = der
	return k, nil
}

// parseKeyPEM parses the contents of transcript.pub, which must be exactly what [Create]
// writes: one PEM "PUBLIC KEY" block of the SPKI DER, 64 columns, and nothing else.
func parseKeyPEM(data []byte) (*key, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("not a PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %v", err)
	}
	k, err := newKey(pub)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(data, k.pem()) {
		return nil, fmt.Errorf("not in canonical PEM form")
	}
	return k, nil
}

func (k *key) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.der})
}

func (k *key) fingerprint() string {
	sum := sha256.Sum256(k.der)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

func (k *key) equal(pub crypto.PublicKey) bool {
	other, err := newKey(pub)
	return err == nil && bytes.Equal(k.der, other.der)
}

func (k *key) verify(msg, sig []byte) bool {
	if k.ed != nil {
		return ed25519.Verify(k.ed, msg, sig)
	}
	h := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(k.ec, h[:], sig)
}

// sign signs msg with s, whose public key is k, and checks the signature before returning it,
// so a faulty token cannot put a bad signature in the transcript.
func (k *key) sign(s crypto.Signer, msg []byte) ([]byte, error) {
	var sig []byte
	var err error
	if k.ed != nil {
		sig, err = s.Sign(rand.Reader, msg, crypto.Hash(0))
	} else {
		h := sha256.Sum256(msg)
		sig, err = s.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("transcript: signing failed: %w", err)
	}
	if !k.verify(msg, sig) {
		return nil, fmt.Errorf("transcript: the signing key made a signature that does not verify\nhint: check the token; the transcript was not changed")
	}
	return sig, nil
}

// noteKeyID returns the signed-note key ID of k under name.
func (k *key) noteKeyID(name string) uint32 {
	var sum [32]byte
	if k.ed != nil {
		h := sha256.New()
		h.Write([]byte(name + "\n"))
		h.Write([]byte{noteAlgEd25519})
		h.Write(k.ed)
		copy(sum[:], h.Sum(nil))
	} else {
		sum = sha256.Sum256(k.der)
	}
	return binary.BigEndian.Uint32(sum[:4])
}

// VerifierKey returns the signed-note verifier key of the ceremony key pub for checkpoints of
// origin: the standard Ed25519 form "<origin>+<id>+base64(0x01 || key)", or for ECDSA P-256 the
// transparency-dev form "<origin>+<id>+base64(0x02 || SPKI DER)". Witnesses use it to check the
// seal before they cosign it.
func VerifierKey(origin string, pub crypto.PublicKey) (string, error) {
	if err := checkOrigin(origin); err != nil {
		return "", err
	}
	k, err := newKey(pub)
	if err != nil {
		return "", err
	}
	if k.ed != nil {
		return note.NewEd25519VerifierKey(origin, k.ed)
	}
	return fmt.Sprintf("%s+%08x+%s", origin, k.noteKeyID(origin),
		base64.StdEncoding.EncodeToString(append([]byte{noteAlgECDSA}, k.der...))), nil
}

// checkOrigin checks that origin can be a checkpoint origin and a signed-note key name.
func checkOrigin(origin string) error {
	if origin == "" || !utf8.ValidString(origin) || strings.ContainsRune(origin, '+') ||
		strings.IndexFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("transcript: origin %q is not a valid checkpoint origin\nhint: use a name without spaces or '+', such as \"keyceremony/<ceremony id>\"", origin)
	}
	return nil
}

// noteKey is the ceremony key as a signed-note signer and verifier under one name.
type noteKey struct {
	name   string
	k      *key
	signer crypto.Signer // nil for a verifier only
}

func (n *noteKey) Name() string                    { return n.name }
func (n *noteKey) KeyHash() uint32                 { return n.k.noteKeyID(n.name) }
func (n *noteKey) Verify(msg, sig []byte) bool     { return n.k.verify(msg, sig) }
func (n *noteKey) Sign(msg []byte) ([]byte, error) { return n.k.sign(n.signer, msg) }
