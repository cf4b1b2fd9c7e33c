package hsm

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/kwp"
)

// pkcs8Tries bounds the RSA keys ProbePKCS8 makes: each has a DER length that is a multiple of 8
// with a chance of about 1 in 8.
const pkcs8Tries = 8

// ProbePKCS8 generates throwaway session key pairs of spec, wraps each with
// CKM_AES_KEY_WRAP_PAD under a throwaway key known to the host, unwraps it here and compares the
// RFC 5649 length field with the length of the DER it holds (hsmspec.PKCS8Fit.Exact says how many keys
// decide). Nothing of the ceremony's keys is involved. The result is cached per spec for the
// session.
func (s *Session) ProbePKCS8(spec hsmspec.KeySpec) (hsmspec.PKCS8Fit, error) {
	spec, err := spec.Checked()
	if err != nil {
		return hsmspec.PKCS8Fit{}, err
	}
	if f, ok := s.pkcs8[spec]; ok {
		return f, nil
	}
	if spec.Type != hsmspec.RSA && spec.Type != hsmspec.EC {
		return hsmspec.PKCS8Fit{}, &Error{Msg: spec.String() + " is not a private key type"}
	}
	for range pkcs8Tries {
		f, err := s.probePKCS8Once(spec)
		if err != nil {
			return hsmspec.PKCS8Fit{}, err
		}
		if spec.Type == hsmspec.EC || f.DERLength%8 != 0 {
			if s.pkcs8 == nil {
				s.pkcs8 = map[hsmspec.KeySpec]hsmspec.PKCS8Fit{}
			}
			s.pkcs8[spec] = f
			return f, nil
		}
	}
	return hsmspec.PKCS8Fit{}, &Error{Msg: fmt.Sprintf("probe how the token wraps %s private keys: %d throwaway keys all had a PKCS#8 length that is a multiple of 8, which shows nothing", spec, pkcs8Tries),
		Hint: "run the ceremony again; this is very unlikely to happen twice"}
}

func (s *Session) probePKCS8Once(spec hsmspec.KeySpec) (hsmspec.PKCS8Fit, error) {
	doing := "probe how the token wraps " + spec.String() + " private keys"
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyTypeOf(spec.Type)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
	}
	pub, h, err := s.generate(spec, priv, false, "keyceremony probe", nil)
	if err != nil {
		return hsmspec.PKCS8Fit{}, s.keyError(err, doing, spec)
	}
	defer s.Destroy(&Key{Handle: h, PublicHandle: pub})
	raw := make([]byte, 32)
	defer clear(raw)
	rand.Read(raw)
	kek, err := s.ctx.CreateObject(s.h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, raw),
	})
	if err != nil {
		return hsmspec.PKCS8Fit{}, fail(err, doing)
	}
	defer s.ctx.DestroyObject(s.h, kek)
	blob, err := s.ctx.WrapKey(s.h, kwpMech, kek, h)
	if err != nil {
		return hsmspec.PKCS8Fit{}, fail(err, doing)
	}
	plain, err := kwp.Unwrap(raw, blob)
	if err != nil {
		return hsmspec.PKCS8Fit{}, &Error{Msg: doing + ": the token's CKM_AES_KEY_WRAP_PAD output is not RFC 5649: " + err.Error(),
			Hint: "report this token model to the keyceremony maintainers"}
	}
	defer clear(plain)
	n, err := derLength(plain)
	if err != nil {
		return hsmspec.PKCS8Fit{}, &Error{Msg: doing + ": the wrapped private key is not DER: " + err.Error(),
			Hint: "report this token model to the keyceremony maintainers"}
	}
	return hsmspec.PKCS8Fit{Token: s.token.Label, Spec: spec, DERLength: n, LengthField: len(plain)}, nil
}

// derLength is the length of the DER element b starts with, header
// included.
func derLength(b []byte) (int, error) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, errors.New("it does not start with a SEQUENCE")
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return 0, errors.New("bad length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hdr += k
	}
	if hdr+n > len(b) {
		return 0, errors.New("the SEQUENCE runs past the end")
	}
	return hdr + n, nil
}
