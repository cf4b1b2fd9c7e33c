package hsm

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// Key is a key in the token. Handle is the secret or private key object,
// PublicHandle the public key object of a pair; either may be 0 (an
// imported public wrapping key has only PublicHandle; a restored private
// key has only Handle).
type Key struct {
	Handle, PublicHandle pkcs11.ObjectHandle
	Label                string
	ID                   []byte
	Spec                 hsmspec.KeySpec
}

// IsSecret reports whether k is a secret (symmetric) key.
func (k *Key) IsSecret() bool { return k.Spec.IsSecret() }

func (k *Key) name() string {
	if k.Label == "" {
		return "(session " + k.Spec.String() + " key)"
	}
	return strconv.Quote(k.Label)
}

// usage gives the usage attributes for a target key of the spec: what a
// key of its type is for, nothing more. Target keys are not key-encryption
// keys in the token, so none gets CKA_WRAP or CKA_UNWRAP.
func usage(t hsmspec.KeyType) (private, public []*pkcs11.Attribute) {
	switch t {
	case hsmspec.AES:
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		}, nil
	case hsmspec.HMAC:
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		}, nil
	}
	return []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_SIGN, true)},
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true)}
}

// keyTypeOf maps a KeyType to its CKK_ value.
func keyTypeOf(t hsmspec.KeyType) uint {
	switch t {
	case hsmspec.AES:
		return pkcs11.CKK_AES
	case hsmspec.HMAC:
		return pkcs11.CKK_GENERIC_SECRET
	case hsmspec.RSA:
		return pkcs11.CKK_RSA
	}
	return pkcs11.CKK_EC
}

// protection is what every target key gets explicitly: SoftHSM2 defaults
// CKA_SENSITIVE and CKA_EXTRACTABLE to false and the rest to whatever suits
// it. The key leaves the token only through C_WrapKey, and with
// CKA_WRAP_WITH_TRUSTED only under a key the security officer marked
// CKA_TRUSTED: a PIN holder's own wrapping key gets CKR_KEY_NOT_WRAPPABLE.
// It cannot be copied (C_CopyObject could reset the attributes of the
// copy), changed, used to derive other keys, or used as a key-encryption key.
func (s *Session) protection(token, secret bool) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
	}
	if secret { // a private key has no CKA_WRAP (CKR_ATTRIBUTE_TYPE_INVALID)
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_WRAP, false))
	}
	// SoftHSM2 applies an unwrap template in order, and nothing after
	// CKA_MODIFIABLE=false (CKR_ATTRIBUTE_READ_ONLY): restrictions go last.
	for _, a := range restrictions {
		if !s.waived[a] {
			t = append(t, pkcs11.NewAttribute(a, a == pkcs11.CKA_WRAP_WITH_TRUSTED))
		}
	}
	return t
}

// restrictions are the protection attributes a token may refuse (the probe
// tries each) and a plan may then waive: CKA_WRAP_WITH_TRUSTED true, the
// others false.
var restrictions = []uint{pkcs11.CKA_WRAP_WITH_TRUSTED, pkcs11.CKA_COPYABLE, pkcs11.CKA_MODIFIABLE}

// privateTemplate is the template of the secret or private half of a
// target key; GenerateKey and UnwrapKWP share it so that a restored key
// has the same attributes as the original.
func (s *Session) privateTemplate(spec hsmspec.KeySpec, label string, id []byte, token bool) []*pkcs11.Attribute {
	class := uint(pkcs11.CKO_PRIVATE_KEY)
	if spec.Type == hsmspec.AES || spec.Type == hsmspec.HMAC {
		class = pkcs11.CKO_SECRET_KEY
	}
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyTypeOf(spec.Type)),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	priv, _ := usage(spec.Type)
	t = append(t, priv...)
	return append(t, s.protection(token, class == pkcs11.CKO_SECRET_KEY)...)
}

var rsaExponent = []byte{1, 0, 1} // 65537

// GenerateKey generates a target key as a token object, refusing a label
// that already exists, and reads it back to check that the token made
// what was asked for; a key that does not match is destroyed.
func (s *Session) GenerateKey(label string, spec hsmspec.KeySpec) (*Key, error) {
	id, err := s.NewKeyID()
	if err != nil {
		return nil, err
	}
	return s.GenerateKeyWithID(label, id, spec)
}

// NewKeyID returns a CKA_ID for a new key: 16 bytes from the token's RNG.
// A ceremony records it before it makes the key, so that a key with the
// same label made by anyone else can be told apart.
func (s *Session) NewKeyID() ([]byte, error) { return s.random(16) }

// GenerateKeyWithID is GenerateKey with the key's CKA_ID given.
func (s *Session) GenerateKeyWithID(label string, id []byte, spec hsmspec.KeySpec) (*Key, error) {
	doing := fmt.Sprintf("generate %s key %q", spec, label)
	spec, err := spec.Checked()
	if err != nil {
		return nil, err
	}
	if err := s.refuseLabel(label); err != nil {
		return nil, err
	}
	k := &Key{Label: label, ID: id, Spec: spec}
	k.PublicHandle, k.Handle, err = s.generate(spec, s.privateTemplate(spec, label, id, true), true, label, id)
	if err != nil {
		return nil, s.keyError(err, doing, spec)
	}
	if err := s.check(k, true); err != nil {
		s.Destroy(k)
		return nil, err
	}
	return k, nil
}

// generate makes a key of spec from the private (or secret) key template
// priv; a key pair's public half gets token, label and id.
func (s *Session) generate(spec hsmspec.KeySpec, priv []*pkcs11.Attribute, token bool, label string, id []byte) (pub, h pkcs11.ObjectHandle, err error) {
	switch spec.Type {
	case hsmspec.AES, hsmspec.HMAC:
		mech := uint(pkcs11.CKM_AES_KEY_GEN)
		if spec.Type == hsmspec.HMAC {
			mech = pkcs11.CKM_GENERIC_SECRET_KEY_GEN
		}
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, spec.Bits/8))
		h, err = s.ctx.GenerateKey(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, priv)
		return 0, h, err
	}
	mech := uint(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN)
	pubT := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyTypeOf(spec.Type)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	_, pubUsage := usage(spec.Type)
	pubT = append(pubT, pubUsage...)
	if spec.Type == hsmspec.RSA {
		pubT = append(pubT,
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, spec.Bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, rsaExponent))
	} else {
		mech = pkcs11.CKM_EC_KEY_PAIR_GEN
		pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, spki.CurveByName(spec.Curve).Params))
	}
	return s.ctx.GenerateKeyPair(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pubT, priv)
}

// keyError explains a failed generation or unwrap; an unsupported curve or
// size is the one mechanism failure a plan can cause.
func (s *Session) keyError(err error, doing string, spec hsmspec.KeySpec) error {
	switch codeOf(err) {
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_CURVE_NOT_SUPPORTED, pkcs11.CKR_DOMAIN_PARAMS_INVALID,
		pkcs11.CKR_KEY_SIZE_RANGE, pkcs11.CKR_TEMPLATE_INCONSISTENT, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID:
		return &Error{Code: codeOf(err), Kind: ErrMechanismUnsupported,
			Msg:  fmt.Sprintf("%s: the token does not support %s keys", doing, spec),
			Hint: "choose a key type the token supports"}
	}
	return fail(err, doing)
}

func (s *Session) refuseLabel(label string) error {
	if label == "" {
		return &Error{Msg: "a key needs a label", Hint: "give the key a label"}
	}
	exists, err := s.LabelExists(label)
	if err != nil {
		return err
	}
	if exists {
		return &Error{Kind: ErrLabelExists,
			Msg:  fmt.Sprintf("a key labelled %q already exists on token %q", label, s.token.Label),
			Hint: "choose another label; keyceremony never replaces a key"}
	}
	return nil
}

// check reads k back and compares it with k.Spec, the protection
// attributes (CKA_TOKEN must equal token) and the RSA public exponent.
func (s *Session) check(k *Key, token bool) error {
	got, err := s.readSpec(k.Handle)
	if err != nil {
		return err
	}
	// SoftHSM2 2.6 leaves CKA_VALUE_LEN at 0 on unwrapped secret keys;
	// UnwrapKWP has checked their size from the blob length instead.
	if got != k.Spec && (got.Bits != 0 || got.Type != k.Spec.Type || !k.IsSecret()) {
		return &Error{Msg: fmt.Sprintf("the token made key %s as %s instead of %s", k.name(), got, k.Spec),
			Hint: "the token ignored part of the template; report this token model to the keyceremony maintainers"}
	}
	a, err := s.Attributes(k)
	if err != nil {
		return err
	}
	if want := s.expected(token); a.Protection != want {
		return &Error{Msg: fmt.Sprintf("key %s came out with %s instead of %s", k.name(), a.Protection, want),
			Hint: "the token ignored part of the template; report this token model to the keyceremony maintainers"}
	}
	if k.Spec.Type == hsmspec.RSA {
		e, err := s.attr(k.Handle, pkcs11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return fail(err, "read the public exponent of key "+k.name())
		}
		if new(big.Int).SetBytes(e).Int64() != 65537 {
			return &Error{Msg: fmt.Sprintf("the token made key %s with public exponent %x instead of 65537", k.name(), e),
				Hint: "report this token model to the keyceremony maintainers"}
		}
	}
	return nil
}

// readSpec derives the KeySpec of a secret or private key object.
func (s *Session) readSpec(h pkcs11.ObjectHandle) (hsmspec.KeySpec, error) {
	a, err := s.attrs(h, pkcs11.CKA_KEY_TYPE)
	if err != nil {
		return hsmspec.KeySpec{}, fail(err, "read the key type")
	}
	switch ulong(a[pkcs11.CKA_KEY_TYPE]) {
	case pkcs11.CKK_AES, pkcs11.CKK_GENERIC_SECRET:
		t := hsmspec.AES
		if ulong(a[pkcs11.CKA_KEY_TYPE]) == pkcs11.CKK_GENERIC_SECRET {
			t = hsmspec.HMAC
		}
		v, err := s.attr(h, pkcs11.CKA_VALUE_LEN)
		if err != nil {
			return hsmspec.KeySpec{}, fail(err, "read the key length")
		}
		return hsmspec.KeySpec{Type: t, Bits: int(ulong(v)) * 8}, nil
	case pkcs11.CKK_RSA:
		n, err := s.attr(h, pkcs11.CKA_MODULUS)
		if err != nil {
			return hsmspec.KeySpec{}, fail(err, "read the RSA modulus")
		}
		return hsmspec.KeySpec{Type: hsmspec.RSA, Bits: new(big.Int).SetBytes(n).BitLen()}, nil
	case pkcs11.CKK_EC:
		p, err := s.attr(h, pkcs11.CKA_EC_PARAMS)
		if err != nil {
			return hsmspec.KeySpec{}, fail(err, "read the EC parameters")
		}
		c := spki.CurveByParams(p)
		if c == nil {
			return hsmspec.KeySpec{}, &Error{Msg: fmt.Sprintf("the key's curve (EC parameters %x) is not one keyceremony knows", p)}
		}
		return hsmspec.KeySpec{Type: hsmspec.EC, Curve: c.Name, Bits: c.Bits}, nil
	}
	return hsmspec.KeySpec{}, &Error{Msg: fmt.Sprintf("key type 0x%x is not a target key type", ulong(a[pkcs11.CKA_KEY_TYPE])),
		Hint: "Ed25519 keys are signing keys: open them with FindSigningKey"}
}

// LabelExists reports whether any object visible to the session has the
// label.
func (s *Session) LabelExists(label string) (bool, error) {
	hs, err := s.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return false, fail(err, fmt.Sprintf("look for label %q", label))
	}
	return len(hs) > 0, nil
}

// FindKey opens the target key labelled label: a secret key, or a key
// pair (either half may be missing, but not both).
func (s *Session) FindKey(label string) (*Key, error) {
	doing := fmt.Sprintf("find key %q", label)
	hs, err := s.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return nil, fail(err, doing)
	}
	k := &Key{Label: label}
	var pub pkcs11.ObjectHandle
	for _, h := range hs {
		a, err := s.attrs(h, pkcs11.CKA_CLASS, pkcs11.CKA_ID)
		if err != nil {
			return nil, fail(err, doing)
		}
		dst := &k.Handle
		switch ulong(a[pkcs11.CKA_CLASS]) {
		case pkcs11.CKO_SECRET_KEY, pkcs11.CKO_PRIVATE_KEY:
		case pkcs11.CKO_PUBLIC_KEY:
			dst = &pub
		default:
			continue // certificates and data objects may share a label
		}
		if *dst != 0 {
			return nil, &Error{Msg: fmt.Sprintf("more than one key on token %q is labelled %q", s.token.Label, label),
				Hint: "keyceremony needs labels to be unique; rename or remove the extra keys with the vendor's tool"}
		}
		*dst = h
		if dst == &k.Handle || k.ID == nil {
			k.ID = a[pkcs11.CKA_ID]
		}
	}
	k.PublicHandle = pub
	if k.Handle == 0 && pub == 0 {
		return nil, &Error{Kind: ErrKeyNotFound, Msg: fmt.Sprintf("no key labelled %q on token %q", label, s.token.Label),
			Hint: "check the label (labels are case-sensitive) and that you are logged in"}
	}
	h := k.Handle
	if h == 0 {
		h = pub
	}
	if k.Spec, err = s.readSpec(h); err != nil {
		return nil, err
	}
	return k, nil
}

// Protection are the attributes that keep a target key in the token
// (PKCS#11 v2.40 sections 4.4, 4.7 to 4.9), recorded under their PKCS#11
// names. A public key has only the first two.
type Protection struct {
	Token           bool `json:"CKA_TOKEN"`
	Private         bool `json:"CKA_PRIVATE"`
	Sensitive       bool `json:"CKA_SENSITIVE"`
	Extractable     bool `json:"CKA_EXTRACTABLE"`
	WrapWithTrusted bool `json:"CKA_WRAP_WITH_TRUSTED"`
	Derive          bool `json:"CKA_DERIVE"`
	Copyable        bool `json:"CKA_COPYABLE"`
	Modifiable      bool `json:"CKA_MODIFIABLE"`
	Wrap            bool `json:"CKA_WRAP"`
	Unwrap          bool `json:"CKA_UNWRAP"`
}

func (p Protection) String() string {
	return fmt.Sprintf("token=%t private=%t sensitive=%t extractable=%t wrap_with_trusted=%t derive=%t copyable=%t modifiable=%t wrap=%t unwrap=%t",
		p.Token, p.Private, p.Sensitive, p.Extractable, p.WrapWithTrusted, p.Derive, p.Copyable, p.Modifiable, p.Wrap, p.Unwrap)
}

// expected is the Protection a target key made in this session must have.
// A restriction the plan waived is whatever the token made of it: the
// token refused to be told.
func (s *Session) expected(token bool) Protection {
	return Protection{Token: token, Private: true, Sensitive: true, Extractable: true,
		WrapWithTrusted: !s.waived[pkcs11.CKA_WRAP_WITH_TRUSTED]}
}

// KeyAttributes are the security attributes of a key. Restored keys have
// Local, AlwaysSensitive and NeverExtractable false: that is how a
// restored key can be told from a generated one.
type KeyAttributes struct {
	Protection
	Local            bool `json:"CKA_LOCAL"`
	AlwaysSensitive  bool `json:"CKA_ALWAYS_SENSITIVE"`
	NeverExtractable bool `json:"CKA_NEVER_EXTRACTABLE"`
}

// Attributes reads the security attributes of the secret or private key
// (of the public key when there is no other). A restriction the plan
// waived because the token does not know it reads as false.
func (s *Session) Attributes(k *Key) (KeyAttributes, error) {
	h := k.Handle
	types := []uint{pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_LOCAL,
		pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE,
		pkcs11.CKA_DERIVE, pkcs11.CKA_UNWRAP}
	if h == 0 {
		h, types = k.PublicHandle, types[:3] // public keys have no sensitivity attributes
	} else {
		if k.IsSecret() { // a private key has no CKA_WRAP
			types = append(types, pkcs11.CKA_WRAP)
		}
		for _, a := range restrictions {
			if !s.waived[a] {
				types = append(types, a)
			}
		}
	}
	a, err := s.attrs(h, types...)
	if err != nil {
		return KeyAttributes{}, fail(err, "read the attributes of key "+k.name())
	}
	b := func(t uint) bool { return boolean(a[t]) }
	return KeyAttributes{
		Protection: Protection{Token: b(pkcs11.CKA_TOKEN), Private: b(pkcs11.CKA_PRIVATE),
			Sensitive: b(pkcs11.CKA_SENSITIVE), Extractable: b(pkcs11.CKA_EXTRACTABLE),
			WrapWithTrusted: b(pkcs11.CKA_WRAP_WITH_TRUSTED), Derive: b(pkcs11.CKA_DERIVE),
			Copyable: b(pkcs11.CKA_COPYABLE), Modifiable: b(pkcs11.CKA_MODIFIABLE),
			Wrap: b(pkcs11.CKA_WRAP), Unwrap: b(pkcs11.CKA_UNWRAP)},
		Local: b(pkcs11.CKA_LOCAL), AlwaysSensitive: b(pkcs11.CKA_ALWAYS_SENSITIVE), NeverExtractable: b(pkcs11.CKA_NEVER_EXTRACTABLE),
	}, nil
}

// Identity names a key without revealing it.
type Identity struct {
	KCV          string // secret keys: 6 hex digits
	Fingerprint  string // key pairs: "SHA256:" and the hex SHA-256 of PublicKeyDER
	PublicKeyDER []byte // key pairs: the DER SubjectPublicKeyInfo
}

// Identify computes the key's check value or public key fingerprint.
//
// The KCV of an AES key is the first 3 bytes of AES-ECB(key, 16 zero
// bytes), the usual definition. That of a generic secret (HMAC) key is
// the first 3 bytes of SHA-1(key), which is how PKCS#11 v2.40 defines its
// CKA_CHECK_VALUE (and what SoftHSM2 returns). Both are read from
// CKA_CHECK_VALUE where the token sets it, else computed in the token
// (C_Encrypt with CKM_AES_ECB, or C_DigestKey with CKM_SHA_1).
func (s *Session) Identify(k *Key) (Identity, error) {
	if k.IsSecret() {
		kcv, err := s.kcv(k)
		if err != nil {
			return Identity{}, err
		}
		return Identity{KCV: hex.EncodeToString(kcv)}, nil
	}
	der, err := s.publicKeyDER(k)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Fingerprint: spki.Fingerprint(der), PublicKeyDER: der}, nil
}

func (s *Session) kcv(k *Key) ([]byte, error) {
	cv, err := s.attr(k.Handle, pkcs11.CKA_CHECK_VALUE)
	if err == nil && len(cv) >= 3 {
		return cv[:3], nil
	}
	// SoftHSM2 2.6 sets no CKA_CHECK_VALUE on unwrapped keys: compute the
	// same value in the token.
	doing := "compute the check value of key " + k.name()
	var out []byte
	if k.Spec.Type == hsmspec.AES {
		if err := s.ctx.EncryptInit(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, k.Handle); err != nil {
			return nil, fail(err, doing)
		}
		if out, err = s.ctx.Encrypt(s.h, make([]byte, 16)); err != nil {
			return nil, fail(err, doing)
		}
	} else {
		if err := s.ctx.DigestInit(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA_1, nil)}); err != nil {
			return nil, fail(err, doing)
		}
		if err := s.ctx.DigestKey(s.h, k.Handle); err != nil { // an error ends the operation
			return nil, fail(err, doing)
		}
		if out, err = s.ctx.DigestFinal(s.h); err != nil {
			return nil, fail(err, doing)
		}
	}
	kcv := bytes.Clone(out[:3])
	clear(out)
	return kcv, nil
}

// publicKeyDER builds the SubjectPublicKeyInfo of a key pair from the
// public key object or, for RSA without one, from the private key's
// modulus and exponent.
func (s *Session) publicKeyDER(k *Key) ([]byte, error) {
	doing := "read the public key of " + k.name()
	h := k.PublicHandle
	if h == 0 {
		if k.Spec.Type != hsmspec.RSA {
			return nil, &Error{Kind: ErrKeyNotFound, Msg: fmt.Sprintf("the token holds no public key for %s", k.name()),
				Hint: "a restored EC private key has no public half in the token; check it against the recorded public key with ProvePrivateKey"}
		}
		h = k.Handle
	}
	if k.Spec.Type == hsmspec.RSA {
		a, err := s.attrs(h, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return nil, fail(err, doing)
		}
		return publicKeyError(spki.RSA(a[pkcs11.CKA_MODULUS], a[pkcs11.CKA_PUBLIC_EXPONENT]))
	}
	a, err := s.attrs(h, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, fail(err, doing)
	}
	return publicKeyError(spki.EC(a[pkcs11.CKA_EC_PARAMS], a[pkcs11.CKA_EC_POINT]))
}

// publicKeyError frames an error of package spki as this package's.
func publicKeyError(der []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	return der, nil
}

// restrictionNames are the PKCS#11 names of the restrictions.
var restrictionNames = map[string]uint{
	"CKA_WRAP_WITH_TRUSTED": pkcs11.CKA_WRAP_WITH_TRUSTED,
	"CKA_COPYABLE":          pkcs11.CKA_COPYABLE,
	"CKA_MODIFIABLE":        pkcs11.CKA_MODIFIABLE,
}

func restrictionName(a uint) string {
	for n, v := range restrictionNames {
		if v == a {
			return n
		}
	}
	return fmt.Sprintf("0x%x", a)
}
