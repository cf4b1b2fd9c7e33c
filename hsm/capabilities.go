package hsm

import (
	"cmp"
	"crypto"
	_ "embed"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// Mechanisms and the key type that miekg/pkcs11 v1.1.2 lacks (PKCS#11 v3.0
// values, which v2.40 tokens such as SoftHSM2 2.6 implement as extensions).
const (
	ckmECEdwardsKeyPairGen = 0x1055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmEdDSA               = 0x1057 // CKM_EDDSA
	ckkECEdwards           = 0x40   // CKK_EC_EDWARDS
)

// Capabilities is what the token really does, as opposed to what it lists:
// SoftHSM2 2.6.1 lists CKM_RSA_PKCS_OAEP but refuses SHA-256 with
// CKR_ARGUMENTS_BAD. Higher layers pick their wrapping strategy from it.
type Capabilities struct {
	OAEP   map[crypto.Hash]bool // C_WrapKey with CKM_RSA_PKCS_OAEP and this hash works
	RSAAES map[crypto.Hash]bool // C_WrapKey with CKM_RSA_AES_KEY_WRAP (AES-256) and this hash works
	KWP    bool                 // C_WrapKey with CKM_AES_KEY_WRAP_PAD works
	EdDSA  bool                 // Ed25519 key pair generation and CKM_EDDSA signing work
	ECDSA  bool                 // P-256 key pair generation and CKM_ECDSA signing work
	// Refused names the target key restrictions (CKA_WRAP_WITH_TRUSTED,
	// CKA_COPYABLE, CKA_MODIFIABLE) the token refuses in a key template.
	Refused []string
	// TrustedWrap: the token refuses (CKR_KEY_NOT_WRAPPABLE) to wrap a
	// CKA_WRAP_WITH_TRUSTED key under a key that is not CKA_TRUSTED. That
	// the security officer can set CKA_TRUSTED is found out when they do.
	TrustedWrap bool
}

// String gives one line, for the operator and the transcript.
func (c Capabilities) String() string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return strings.Join([]string{
		fmt.Sprintf("RSA-OAEP SHA-1 %s, SHA-256 %s", yes(c.OAEP[crypto.SHA1]), yes(c.OAEP[crypto.SHA256])),
		fmt.Sprintf("RSA-AES-KEY-WRAP SHA-1 %s, SHA-256 %s", yes(c.RSAAES[crypto.SHA1]), yes(c.RSAAES[crypto.SHA256])),
		"AES-KWP " + yes(c.KWP),
		"EdDSA " + yes(c.EdDSA),
		"ECDSA " + yes(c.ECDSA),
		"trusted wrap enforced " + yes(c.TrustedWrap),
		"refused attributes " + cmp.Or(strings.Join(c.Refused, ", "), "none"),
	}, "; ")
}

// probePublicKey is a fixed RSA-2048 public key (DER SubjectPublicKeyInfo)
// for the probe's trial wraps. Importing it is much faster than generating
// a key pair in the token, and nothing wrapped under it is ever used.
//
//go:embed probe-rsa2048.der
var probePublicKey []byte

// Capabilities probes the token once per session and caches the result.
// Every trial runs on throwaway session objects, which are destroyed; the
// probe works before login (its objects are not CKA_PRIVATE).
func (s *Session) Capabilities() Capabilities {
	if s.caps == nil {
		c := s.probe()
		s.caps = &c
	}
	return *s.caps
}

func (s *Session) probe() Capabilities {
	c := Capabilities{OAEP: map[crypto.Hash]bool{}, RSAAES: map[crypto.Hash]bool{}}
	listed := map[uint]bool{}
	if ms, err := s.ctx.GetMechanismList(s.token.SlotID); err == nil {
		for _, m := range ms {
			listed[m.Mechanism] = true
		}
	}
	var trash []pkcs11.ObjectHandle
	defer func() {
		for _, h := range trash {
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
	// A target-like key with each restriction alone finds the ones the
	// token refuses; one with CKA_WRAP_WITH_TRUSTED shows whether the token
	// enforces it against the untrusted kek.
	for _, a := range restrictions {
		if h := secret(pkcs11.NewAttribute(a, a == pkcs11.CKA_WRAP_WITH_TRUSTED)); h == 0 {
			c.Refused = append(c.Refused, restrictionName(a))
		} else if a == pkcs11.CKA_WRAP_WITH_TRUSTED && kek != 0 && c.KWP {
			_, err := s.ctx.WrapKey(s.h, kwpMech, kek, h)
			c.TrustedWrap = codeOf(err) == pkcs11.CKR_KEY_NOT_WRAPPABLE
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
	c.ECDSA = signs(pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC, curveByName("P-256").params, pkcs11.CKM_ECDSA)
	return c
}
