package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// Signer is a transcript signing key in the token. It implements
// crypto.Signer: Ed25519 signatures are 64 bytes and verify with
// ed25519.Verify; ECDSA P-256 signatures are ASN.1 DER and verify with
// ecdsa.VerifyASN1; RSA-3072 signatures verify with rsa.VerifyPSS or
// rsa.VerifyPKCS1v15. Like its Session, it is not safe for concurrent use.
type Signer struct {
	s          *Session
	priv, pubH pkcs11.ObjectHandle
	pub        crypto.PublicKey
	label      string
	alg        string // hsmspec.Sign*
}

// Public returns an ed25519.PublicKey, an *ecdsa.PublicKey or an *rsa.PublicKey.
func (g *Signer) Public() crypto.PublicKey { return g.pub }

// SignatureAlgorithm is the hsmspec.Sign* name of what the key signs with,
// as the transcript's begin event records it: an RSA key's public half does
// not say whether it signs PSS or PKCS#1 v1.5.
func (g *Signer) SignatureAlgorithm() string { return g.alg }

// Destroy deletes the signing key pair from the token, the private key first: once a transcript
// is sealed, nobody must be able to sign a rewritten one with it. Its public key is in the record.
func (g *Signer) Destroy() error {
	return g.s.Destroy(&Key{Handle: g.priv, PublicHandle: g.pubH, Label: g.label})
}

// Label is the signing key's label in the token.
func (g *Signer) Label() string { return g.label }

// Algorithm names the signature algorithm for people: "Ed25519", "ECDSA
// P-256", "RSA-3072 PSS" or "RSA-3072 PKCS#1 v1.5".
func (g *Signer) Algorithm() string {
	switch g.alg {
	case hsmspec.SignEd25519:
		return "Ed25519"
	case hsmspec.SignRSAPSS:
		return "RSA-3072 PSS"
	case hsmspec.SignRSAPKCS1:
		return "RSA-3072 PKCS#1 v1.5"
	}
	return "ECDSA P-256"
}

// Sign signs with the token key; rand is ignored, the token has its own.
// For Ed25519, digest is the whole message and opts.HashFunc() must be 0
// (pure Ed25519, RFC 8032). For ECDSA and RSA, digest is a SHA-256 digest
// and opts.HashFunc() must be crypto.SHA256; an RSA-PSS key needs
// *rsa.PSSOptions with a 32-byte salt, an RSA PKCS#1 v1.5 key does not
// take them.
func (g *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if g.alg == hsmspec.SignRSAPSS || g.alg == hsmspec.SignRSAPKCS1 {
		return g.signRSA(digest, opts)
	}
	ed := g.alg == hsmspec.SignEd25519
	mech := uint(pkcs11.CKM_ECDSA)
	switch {
	case ed && opts.HashFunc() != 0:
		return nil, &Error{Msg: "an Ed25519 signing key signs whole messages (crypto.Hash(0)), not " + opts.HashFunc().String() + " digests"}
	case ed:
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return nil, &Error{Msg: "the Ed25519 signing key does not support contexts"}
		}
		mech = ckmEdDSA
	case opts.HashFunc() != crypto.SHA256 || len(digest) != 32:
		return nil, &Error{Msg: "the ECDSA P-256 signing key signs SHA-256 digests only"}
	}
	doing := fmt.Sprintf("sign with key %q", g.label)
	if err := g.s.ctx.SignInit(g.s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, g.priv); err != nil {
		return nil, fail(err, doing)
	}
	sig, err := g.s.ctx.Sign(g.s.h, digest)
	if err != nil {
		return nil, fail(err, doing)
	}
	if ed {
		return sig, nil
	}
	r, s := splitRS(sig)
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}

// GenerateSigningKey generates the ceremony's transcript signing key as a
// token key pair, the strongest the probe found (hsmspec.SigningKey):
// Ed25519, ECDSA P-256, else RSA-3072 (PSS, else PKCS#1 v1.5). Unlike target
// keys it is not extractable: it never needs to leave.
func (s *Session) GenerateSigningKey(label string) (*Signer, error) {
	if err := s.refuseLabel(label); err != nil {
		return nil, err
	}
	alg, _, err := s.Capabilities().SigningKey()
	if err != nil {
		return nil, &Error{Kind: ErrMechanismUnsupported, Msg: err.Error()}
	}
	id, err := s.random(16)
	if err != nil {
		return nil, err
	}
	named := func(t []*pkcs11.Attribute) []*pkcs11.Attribute {
		return append(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	gen := uint(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN)
	pubT, privT := rsaSigningTemplate(pkcs11.CKO_PUBLIC_KEY, true, rsaSigningBits), rsaSigningTemplate(pkcs11.CKO_PRIVATE_KEY, true, rsaSigningBits)
	if alg == hsmspec.SignEd25519 || alg == hsmspec.SignECDSAP256 {
		kt, params := uint(pkcs11.CKK_EC), spki.CurveByName("P-256").Params
		gen = pkcs11.CKM_EC_KEY_PAIR_GEN
		if alg == hsmspec.SignEd25519 {
			gen, kt, params = ckmECEdwardsKeyPairGen, ckkECEdwards, ed25519Params
		}
		pubT = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
		}
		privT = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		}
	}
	pub, priv, err := s.ctx.GenerateKeyPair(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(gen, nil)}, named(pubT), named(privT))
	if err != nil {
		return nil, fail(err, fmt.Sprintf("generate %s signing key %q", alg, label))
	}
	g, err := s.signer(label, priv, pub)
	if err != nil {
		s.Destroy(&Key{Handle: priv, PublicHandle: pub})
		return nil, err
	}
	return g, nil
}

// FindSigningKey reopens a signing key made by GenerateSigningKey, to
// resume a ceremony.
func (s *Session) FindSigningKey(label string) (*Signer, error) {
	find := func(class uint) (pkcs11.ObjectHandle, error) {
		hs, err := s.findObjects([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		})
		if err != nil {
			return 0, fail(err, fmt.Sprintf("find signing key %q", label))
		}
		if len(hs) != 1 {
			return 0, &Error{Kind: ErrKeyNotFound,
				Msg:  fmt.Sprintf("token %q has %d key pairs labelled %q, not one", s.token.Label, len(hs), label),
				Hint: "check the signing key label recorded in the transcript, and that you are logged in"}
		}
		return hs[0], nil
	}
	priv, err := find(pkcs11.CKO_PRIVATE_KEY)
	if err != nil {
		return nil, err
	}
	pub, err := find(pkcs11.CKO_PUBLIC_KEY)
	if err != nil {
		return nil, err
	}
	return s.signer(label, priv, pub)
}

// signer reads the public key of a signing pair into a Signer.
func (s *Session) signer(label string, priv, pub pkcs11.ObjectHandle) (*Signer, error) {
	a, err := s.attrs(pub, pkcs11.CKA_KEY_TYPE)
	if err != nil {
		return nil, fail(err, fmt.Sprintf("read the public key of signing key %q", label))
	}
	g := &Signer{s: s, priv: priv, pubH: pub, label: label}
	bad := &Error{Msg: fmt.Sprintf("key %q is not an Ed25519, ECDSA P-256 or RSA-3072 signing key", label),
		Hint: "give the label of a signing key made by keyceremony"}
	kt := ulong(a[pkcs11.CKA_KEY_TYPE])
	if kt == pkcs11.CKK_RSA {
		return s.rsaSigner(g, bad)
	}
	if a, err = s.attrs(pub, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT); err != nil {
		return nil, fail(err, fmt.Sprintf("read the public key of signing key %q", label))
	}
	switch kt {
	case ckkECEdwards:
		g.alg = hsmspec.SignEd25519
		pt := spki.ECPoint(a[pkcs11.CKA_EC_POINT], ed25519.PublicKeySize)
		if len(pt) != ed25519.PublicKeySize {
			return nil, bad
		}
		g.pub = ed25519.PublicKey(pt)
	case pkcs11.CKK_EC:
		g.alg = hsmspec.SignECDSAP256
		if c := spki.CurveByParams(a[pkcs11.CKA_EC_PARAMS]); c == nil || c.Name != "P-256" {
			return nil, bad
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), spki.ECPoint(a[pkcs11.CKA_EC_POINT], 65))
		if err != nil {
			return nil, bad
		}
		g.pub = pk
	default:
		return nil, bad
	}
	return g, nil
}
