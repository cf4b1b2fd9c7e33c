package transcript

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Signature algorithms, as the begin event names them.
const (
	AlgorithmEd25519   = "ed25519"
	AlgorithmECDSAP256 = "ecdsa-p256-sha256"
	// AlgorithmRSAPSS and AlgorithmRSAPKCS1 are for tokens without EC keys: RSA-3072 with
	// SHA-256, RSASSA-PSS (MGF1 SHA-256, 32-byte salt) or RSASSA-PKCS1-v1_5. The public key
	// does not say which; the begin event does.
	AlgorithmRSAPSS   = "rsa-pss-3072-sha256"
	AlgorithmRSAPKCS1 = "rsa-pkcs1-3072-sha256"
)

// rsaBits is the only RSA signing key size: 128-bit security, as P-256.
const rsaBits = 3072

// pssOptions are the RSASSA-PSS parameters of AlgorithmRSAPSS.
var pssOptions = &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}

// Signature type identifier bytes of c2sp.org/signed-note.
const (
	noteAlgEd25519 = 0x01
	noteAlgECDSA   = 0x02
	// noteAlgOther is the type byte c2sp.org/signed-note reserves for types it does not
	// assign, followed by a longer identifier: RSA has none assigned.
	noteAlgOther = 0xff
)

// noteRSAType is the signature type of an RSA ceremony key in the checkpoint: 0xff, then
// "keyceremony/" and the algorithm name.
func noteRSAType(alg string) []byte { return append([]byte{noteAlgOther}, "keyceremony/"+alg...) }

// key is the ceremony signing public key.
type key struct {
	alg string
	der []byte // SPKI
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey // alg says PSS or PKCS#1 v1.5; "" until the begin event says
}

// newKey makes the key of pub, which signs with alg if it is an RSA key (an empty alg leaves
// it to the begin event); alg is ignored for the others, whose key says it.
func newKey(pub crypto.PublicKey, alg string) (*key, error) {
	k := &key{}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() != rsaBits || p.E != 65537 {
			return nil, fmt.Errorf("the signing key is RSA-%d with exponent %d, want RSA-3072 with 65537", p.N.BitLen(), p.E)
		}
		if alg != "" && alg != AlgorithmRSAPSS && alg != AlgorithmRSAPKCS1 {
			return nil, fmt.Errorf("an RSA signing key signs %q, want %s or %s", alg, AlgorithmRSAPSS, AlgorithmRSAPKCS1)
		}
		k.alg, k.rsa = alg, p
	case ed25519.PublicKey:
		k.alg, k.ed = AlgorithmEd25519, p
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the signing key is ECDSA on %s, want P-256", p.Curve.Params().Name)
		}
		k.alg, k.ec = AlgorithmECDSAP256, p
	default:
		return nil, fmt.Errorf("the signing key is a %T, want Ed25519, ECDSA P-256 or RSA-3072", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the signing public key: %v", err)
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
	k, err := newKey(pub, "")
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
	other, err := newKey(pub, "")
	return err == nil && bytes.Equal(k.der, other.der)
}

func (k *key) verify(msg, sig []byte) bool {
	h := sha256.Sum256(msg)
	switch {
	case k.ed != nil:
		return ed25519.Verify(k.ed, msg, sig)
	case k.alg == AlgorithmRSAPSS:
		return rsa.VerifyPSS(k.rsa, crypto.SHA256, h[:], sig, pssOptions) == nil
	case k.alg == AlgorithmRSAPKCS1:
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, h[:], sig) == nil
	case k.ec != nil:
		return ecdsa.VerifyASN1(k.ec, h[:], sig)
	}
	return false // an RSA key whose algorithm the begin event has not named
}

// sign signs msg with s, whose public key is k, and checks the signature before returning it,
// so a faulty token cannot put a bad signature in the transcript.
func (k *key) sign(s crypto.Signer, msg []byte) ([]byte, error) {
	var sig []byte
	var err error
	h := sha256.Sum256(msg)
	switch {
	case k.ed != nil:
		sig, err = s.Sign(rand.Reader, msg, crypto.Hash(0))
	case k.alg == AlgorithmRSAPSS:
		sig, err = s.Sign(rand.Reader, h[:], pssOptions)
	default:
		sig, err = s.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("signing failed: %w", err)
	}
	if !k.verify(msg, sig) {
		return nil, fmt.Errorf("the signing key made a signature that does not verify\nhint: check the token; the transcript was not changed")
	}
	return sig, nil
}

// noteKeyID returns the signed-note key ID of k under name.
func (k *key) noteKeyID(name string) uint32 {
	var sum [32]byte
	switch {
	case k.ed != nil:
		h := sha256.New()
		h.Write([]byte(name + "\n"))
		h.Write([]byte{noteAlgEd25519})
		h.Write(k.ed)
		copy(sum[:], h.Sum(nil))
	case k.rsa != nil:
		// As signed-note recommends: SHA-256(name || 0x0A || type || public key), the type
		// being 0xff and its identifier, the public key the SPKI DER.
		sum = sha256.Sum256(slices.Concat([]byte(name+"\n"), noteRSAType(k.alg), k.der))
	default:
		sum = sha256.Sum256(k.der)
	}
	return binary.BigEndian.Uint32(sum[:4])
}

// VerifierKey returns the signed-note verifier key of the ceremony key pub for checkpoints of
// origin: the standard Ed25519 form "<origin>+<id>+base64(0x01 || key)", or for ECDSA P-256 the
// transparency-dev form "<origin>+<id>+base64(0x02 || SPKI DER)". Witnesses use it to check the
// seal before they cosign it. An RSA key needs its algorithm: see [VerifierKeyRSA].
func VerifierKey(origin string, pub crypto.PublicKey) (string, error) {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return "", fmt.Errorf("an RSA public key does not say whether it signs PSS or PKCS#1 v1.5\nhint: use VerifierKeyRSA with the begin event's algorithm")
	}
	return verifierKey(origin, pub, "")
}

// VerifierKeyRSA is [VerifierKey] for an RSA-3072 ceremony key that signs alg
// (AlgorithmRSAPSS or AlgorithmRSAPKCS1): "<origin>+<id>+base64(0xff || "keyceremony/" || alg
// || SPKI DER)". c2sp.org/signed-note assigns RSA no type byte; 0xff is the one it reserves
// for such types, followed by an identifier. Only keyceremony's verifiers know it.
func VerifierKeyRSA(origin string, pub *rsa.PublicKey, alg string) (string, error) {
	if alg == "" {
		return "", fmt.Errorf("no algorithm given for the RSA key")
	}
	return verifierKey(origin, pub, alg)
}

func verifierKey(origin string, pub crypto.PublicKey, alg string) (string, error) {
	if err := checkOrigin(origin); err != nil {
		return "", err
	}
	k, err := newKey(pub, alg)
	if err != nil {
		return "", err
	}
	typ := []byte{noteAlgECDSA}
	switch {
	case k.ed != nil:
		return note.NewEd25519VerifierKey(origin, k.ed)
	case k.rsa != nil:
		typ = noteRSAType(k.alg)
	}
	return fmt.Sprintf("%s+%08x+%s", origin, k.noteKeyID(origin),
		base64.StdEncoding.EncodeToString(append(typ, k.der...))), nil
}

// checkOrigin checks that origin can be a checkpoint origin and a signed-note key name.
func checkOrigin(origin string) error {
	if origin == "" || !utf8.ValidString(origin) || strings.ContainsRune(origin, '+') ||
		strings.IndexFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("origin %q is not a valid checkpoint origin\nhint: use a name without spaces or '+', such as \"keyceremony/<ceremony id>\"", origin)
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
