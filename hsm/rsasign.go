package hsm

import (
	"crypto"
	"crypto/rsa"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// rsaSigningBits is the size of an RSA transcript signing key: 128-bit security, as P-256.
const rsaSigningBits = 3072

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2, note 1):
// CKM_RSA_PKCS signs the DigestInfo it is given.
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// rsaProbeBits is the size of the probe's trial RSA signing key: small, since a 3072-bit key
// pair takes seconds to make; the probe asks the token whether it makes 3072-bit ones.
const rsaProbeBits = 1024

// rsaSigningTemplate is one half of an RSA signing key pair of bits: a token object for the
// ceremony (private, not extractable), a public session object for the probe.
func rsaSigningTemplate(class uint, token bool, bits int) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
	}
	if class == pkcs11.CKO_PUBLIC_KEY {
		return append(t,
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	}
	return append(t,
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, token),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true))
}

// rsaSignMech is the mechanism that signs a SHA-256 digest with alg, and what to give C_Sign.
func rsaSignMech(alg string, digest []byte) ([]*pkcs11.Mechanism, []byte) {
	if alg == hsmspec.SignRSAPSS {
		p := pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32)
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, p)}, digest
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, append(append([]byte{}, sha256DigestInfo...), digest...)
}

// rsaSigner completes g for an RSA key pair: RSA-3072 only, and PSS where the token signs it
// (the probe found out), PKCS#1 v1.5 otherwise; the transcript checks every signature against
// the algorithm it recorded.
func (s *Session) rsaSigner(g *Signer, bad *Error) (*Signer, error) {
	a, err := s.attrs(g.pubH, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
	if err != nil {
		return nil, fail(err, "read the public key of signing key "+g.label)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(a[pkcs11.CKA_MODULUS])}
	e := new(big.Int).SetBytes(a[pkcs11.CKA_PUBLIC_EXPONENT])
	if pub.N.BitLen() != rsaSigningBits || !e.IsInt64() || e.Int64() != 65537 {
		return nil, bad
	}
	pub.E = 65537
	g.pub, g.alg = pub, hsmspec.SignRSAPKCS1
	if s.Capabilities().RSAPSS {
		g.alg = hsmspec.SignRSAPSS
	}
	return g, nil
}

// signRSA signs a SHA-256 digest with the token's RSA key.
func (g *Signer) signRSA(digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	pss, isPSS := opts.(*rsa.PSSOptions)
	switch {
	case opts.HashFunc() != crypto.SHA256 || len(digest) != 32:
		return nil, &Error{Msg: "the RSA signing key signs SHA-256 digests only"}
	case g.alg == hsmspec.SignRSAPSS && (!isPSS || pss.SaltLength != 32):
		return nil, &Error{Msg: "the RSA-PSS signing key signs with *rsa.PSSOptions and a 32-byte salt only"}
	case g.alg == hsmspec.SignRSAPKCS1 && isPSS:
		return nil, &Error{Msg: "the RSA signing key signs PKCS#1 v1.5, not PSS: the token has no CKM_RSA_PKCS_PSS"}
	}
	m, msg := rsaSignMech(g.alg, digest)
	doing := "sign with key " + g.label
	if err := g.s.ctx.SignInit(g.s.h, m, g.priv); err != nil {
		return nil, fail(err, doing)
	}
	sig, err := g.s.ctx.Sign(g.s.h, msg)
	if err != nil {
		return nil, fail(err, doing)
	}
	return sig, nil
}
