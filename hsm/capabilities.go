package hsm

import (
	"crypto"
	_ "embed"
	"slices"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// Mechanisms and the key type that miekg/pkcs11 v1.1.2 lacks (PKCS#11 v3.0
// values, which v2.40 tokens such as SoftHSM2 2.6 implement as extensions).
const (
	ckmECEdwardsKeyPairGen = 0x1055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmEdDSA               = 0x1057 // CKM_EDDSA
	ckkECEdwards           = 0x40   // CKK_EC_EDWARDS
)

// ed25519Params is the CKA_EC_PARAMS of an Ed25519 key: the DER of OID
// 1.3.101.112 (RFC 8410).
var ed25519Params = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}

// probeLabel labels the probe's throwaway objects.
const probeLabel = "keyceremony capability probe"

// probePublicKey is a fixed RSA-2048 public key (DER SubjectPublicKeyInfo)
// for the probe's trial wraps. Importing it is much faster than generating
// a key pair in the token, and nothing wrapped under it is ever used.
//
//go:embed probe-rsa2048.der
var probePublicKey []byte

// Capabilities probes the token once per session and caches the result.
// Every trial runs on throwaway session objects, which are destroyed; the
// probe works before login (its objects are not CKA_PRIVATE).
func (s *Session) Capabilities() hsmspec.Capabilities {
	if s.caps == nil {
		c := s.probe()
		s.caps = &c
	}
	return *s.caps
}

func (s *Session) probe() hsmspec.Capabilities {
	c := hsmspec.Capabilities{OAEP: map[crypto.Hash]bool{}, RSAAES: map[crypto.Hash]bool{}}
	listed := map[uint]bool{}
	if ms, err := s.ctx.GetMechanismList(s.token.SlotID); err == nil {
		for _, m := range ms {
			listed[m.Mechanism] = true
		}
	}
	var trash []pkcs11.ObjectHandle
	defer func() {
		// SoftHSM2 leaves the object behind when it refuses a template
		// attribute during C_GenerateKey (CKA_TRUSTED here): the probe's
		// keys carry one label, and whatever carries it goes.
		if left, err := s.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, probeLabel)}); err == nil {
			trash = append(trash, left...)
		}
		slices.Sort(trash)
		for _, h := range slices.Compact(trash) {
			s.ctx.DestroyObject(s.h, h)
		}
	}()
	mech := func(m uint, p any) []*pkcs11.Mechanism { return []*pkcs11.Mechanism{pkcs11.NewMechanism(m, p)} }
	secret := func(extra ...*pkcs11.Attribute) pkcs11.ObjectHandle {
		h, err := s.ctx.GenerateKey(s.h, mech(pkcs11.CKM_AES_KEY_GEN, nil), append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, probeLabel),
		}, extra...))
		if err != nil {
			return 0
		}
		trash = append(trash, h)
		return h
	}
	target, kek := secret(), secret()
	if target == 0 {
		return c // the token cannot even make an AES key; nothing below can work
	}

	if listed[pkcs11.CKM_RSA_PKCS_OAEP] || listed[pkcs11.CKM_RSA_AES_KEY_WRAP] {
		if pub, err := s.ImportRSAPublicKey(probePublicKey, false); err == nil {
			trash = append(trash, pub.PublicHandle)
			for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
				p, _ := oaepParams(h)
				if listed[pkcs11.CKM_RSA_PKCS_OAEP] {
					_, err := s.ctx.WrapKey(s.h, mech(pkcs11.CKM_RSA_PKCS_OAEP, p), pub.PublicHandle, target)
					c.OAEP[h] = err == nil
				}
				if listed[pkcs11.CKM_RSA_AES_KEY_WRAP] {
					rp := &pkcs11.RSAAESKeyWrapParams{AESKeyBits: 256, OAEPParams: *p}
					_, err := s.ctx.WrapKey(s.h, mech(pkcs11.CKM_RSA_AES_KEY_WRAP, rp), pub.PublicHandle, target)
					c.RSAAES[h] = err == nil
				}
			}
		}
	}
	if kek != 0 && listed[pkcs11.CKM_AES_KEY_WRAP_PAD] {
		_, err := s.ctx.WrapKey(s.h, kwpMech, kek, target)
		c.KWP = err == nil
	}
	// The backup's fallbacks when KWP is missing (hsmspec.BackupWrap).
	wraps := func(m []*pkcs11.Mechanism) bool {
		if kek == 0 || !listed[m[0].Mechanism] {
			return false
		}
		_, err := s.ctx.WrapKey(s.h, m, kek, target)
		return err == nil
	}
	c.AESKeyWrap = wraps(kwMech)
	c.CBCPad = wraps(mech(pkcs11.CKM_AES_CBC_PAD, make([]byte, 16)))
	c.UnwrapSensitive = s.unwrapsSensitive(c, kek, target, &trash)
	// A target-like key with each restriction alone finds the ones the
	// token refuses; one with CKA_WRAP_WITH_TRUSTED shows whether the token
	// enforces it against the untrusted kek. Enforcement means nothing if
	// anyone but the security officer can set CKA_TRUSTED (tpm2-pkcs11 lets
	// a plain user), so the probe, which runs before the security officer
	// logs in, tries that too.
	for _, a := range restrictions {
		if h := secret(pkcs11.NewAttribute(a, a == pkcs11.CKA_WRAP_WITH_TRUSTED)); h == 0 {
			c.Refused = append(c.Refused, restrictionName(a))
		} else if a == pkcs11.CKA_WRAP_WITH_TRUSTED && kek != 0 && c.KWP {
			_, err := s.ctx.WrapKey(s.h, kwpMech, kek, h)
			c.TrustedWrap = codeOf(err) == pkcs11.CKR_KEY_NOT_WRAPPABLE && secret(pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true)) == 0
		}
	}
	signs := func(gen, kt uint, params []byte, sign uint) bool {
		if !listed[gen] || !listed[sign] {
			return false
		}
		pub, priv, err := s.ctx.GenerateKeyPair(s.h, mech(gen, nil), []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
		}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		})
		if err != nil {
			return false
		}
		trash = append(trash, pub, priv)
		if s.ctx.SignInit(s.h, mech(sign, nil), priv) != nil {
			return false
		}
		_, err = s.ctx.Sign(s.h, make([]byte, 32))
		return err == nil
	}
	c.EdDSA = signs(ckmECEdwardsKeyPairGen, ckkECEdwards, ed25519Params, ckmEdDSA)
	c.ECDSA = signs(pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC, spki.CurveByName("P-256").Params, pkcs11.CKM_ECDSA)
	if info, err := s.ctx.GetMechanismInfo(s.token.SlotID, mech(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)); !c.EdDSA && !c.ECDSA && err == nil && info.MaxKeySize >= rsaSigningBits {
		// The signing key's last rungs, only where they are needed.
		if pub, priv, err := s.ctx.GenerateKeyPair(s.h, mech(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil),
			rsaSigningTemplate(pkcs11.CKO_PUBLIC_KEY, false, rsaProbeBits), rsaSigningTemplate(pkcs11.CKO_PRIVATE_KEY, false, rsaProbeBits)); err == nil {
			trash = append(trash, pub, priv)
			trial := func(alg string) bool {
				m, msg := rsaSignMech(alg, make([]byte, 32))
				if !listed[m[0].Mechanism] || s.ctx.SignInit(s.h, m, priv) != nil {
					return false
				}
				_, err := s.ctx.Sign(s.h, msg)
				return err == nil
			}
			c.RSAPSS, c.RSAPKCS1 = trial(hsmspec.SignRSAPSS), trial(hsmspec.SignRSAPKCS1)
		}
	}
	return c
}

// unwrapsSensitive unwraps a blob of target, made with the strongest backup mechanism the token
// has, as a session key with CKA_SENSITIVE true, and reads that attribute back: opencryptoki 3.8
// ignores it in C_UnwrapKey and makes the key readable.
func (s *Session) unwrapsSensitive(c hsmspec.Capabilities, kek, target pkcs11.ObjectHandle, trash *[]pkcs11.ObjectHandle) bool {
	var m []*pkcs11.Mechanism
	switch {
	case kek == 0:
		return false
	case c.KWP:
		m = kwpMech
	case c.AESKeyWrap:
		m = kwMech
	case c.CBCPad:
		m = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, make([]byte, 16))}
	default:
		return false
	}
	blob, err := s.ctx.WrapKey(s.h, m, kek, target)
	if err != nil {
		return false
	}
	h, err := s.ctx.UnwrapKey(s.h, m, kek, blob, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, probeLabel),
	})
	if err != nil {
		return false
	}
	*trash = append(*trash, h)
	a, err := s.attrs(h, pkcs11.CKA_SENSITIVE)
	return err == nil && len(a[pkcs11.CKA_SENSITIVE]) == 1 && a[pkcs11.CKA_SENSITIVE][0] == 1
}
