package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// ImportRSAPublicKey creates a session object for an RSA public key given
// as a DER SubjectPublicKeyInfo (a cloud's import wrapping key), usable
// with WrapOAEP and WrapRSAAES. The object is built from modulus and
// exponent: SoftHSM2 does not build one from CKA_PUBLIC_KEY_INFO alone.
// A trusted key (CKA_TRUSTED, which only the security officer may set, so
// the security officer must be logged in) may wrap target keys made with
// CKA_WRAP_WITH_TRUSTED.
func (s *Session) ImportRSAPublicKey(spkiDER []byte, trusted bool) (*Key, error) {
	pk, err := spki.Parse(spkiDER)
	if err != nil {
		return nil, &Error{Msg: "the wrapping public key is not a valid SubjectPublicKeyInfo: " + err.Error(),
			Hint: "give the wrapping public key as DER (PEM must be decoded first)"}
	}
	pub, ok := pk.(*rsa.PublicKey)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("the wrapping public key is not an RSA key (it is %s)", spki.Kind(pk)),
			Hint: "import wrapping keys are RSA keys; check that the right file was given"}
	}
	bits := pub.N.BitLen()
	id := sha256.Sum256(spkiDER)
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, pub.N.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(pub.E)).Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "keyceremony import wrapping key"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id[:16]),
	}
	if trusted {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true))
	}
	h, err := s.ctx.CreateObject(s.h, tmpl)
	if err != nil {
		return nil, fail(err, fmt.Sprintf("import the RSA-%d wrapping public key", bits))
	}
	return &Key{PublicHandle: h, ID: id[:16], Spec: hsmspec.KeySpec{Type: hsmspec.RSA, Bits: bits}}, nil
}

// oaepParams gives the CKM_RSA_PKCS_OAEP parameters for h with MGF1 over
// the same hash and an empty label, the only combination the clouds use.
func oaepParams(h crypto.Hash) (*pkcs11.OAEPParams, error) {
	switch h {
	case crypto.SHA1:
		return pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil), nil
	case crypto.SHA256:
		return pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, nil), nil
	}
	return nil, &Error{Kind: ErrMechanismUnsupported, Msg: fmt.Sprintf("RSA-OAEP with %s is not supported", h),
		Hint: "use SHA-1 or SHA-256"}
}

// WrapOAEP wraps target under the RSA public key wrapping with
// CKM_RSA_PKCS_OAEP (RFC 8017 RSAES-OAEP, MGF1 with the same hash, empty
// label). It suits secret keys small enough for one RSA block.
func (s *Session) WrapOAEP(wrapping *Key, h crypto.Hash, target *Key) ([]byte, error) {
	p, err := oaepParams(h)
	if err != nil {
		return nil, err
	}
	out, err := s.ctx.WrapKey(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, p)},
		wrapping.PublicHandle, target.Handle)
	if err != nil {
		return nil, s.wrapError(err, "RSA-OAEP", h, target)
	}
	return out, nil
}

// WrapRSAAES wraps target with the token's native CKM_RSA_AES_KEY_WRAP:
// RSA-OAEP of an ephemeral AES-256 key, followed by AES key wrap with
// padding (RFC 5649) of target under it. Tokens without the mechanism
// (SoftHSM2 2.6) need the composition done by the caller instead.
func (s *Session) WrapRSAAES(wrapping *Key, h crypto.Hash, target *Key) ([]byte, error) {
	p, err := oaepParams(h)
	if err != nil {
		return nil, err
	}
	mech := pkcs11.NewMechanism(pkcs11.CKM_RSA_AES_KEY_WRAP, &pkcs11.RSAAESKeyWrapParams{AESKeyBits: 256, OAEPParams: *p})
	out, err := s.ctx.WrapKey(s.h, []*pkcs11.Mechanism{mech}, wrapping.PublicHandle, target.Handle)
	if err != nil {
		return nil, s.wrapError(err, "CKM_RSA_AES_KEY_WRAP", h, target)
	}
	return out, nil
}

// wrapError names the mechanism and, where the token refused a parameter,
// the hash: a listed mechanism may still refuse SHA-256, as SoftHSM2 2.6
// does for OAEP with CKR_ARGUMENTS_BAD.
func (s *Session) wrapError(err error, mech string, h crypto.Hash, target *Key) error {
	code := codeOf(err)
	switch code {
	case pkcs11.CKR_MECHANISM_INVALID:
		return &Error{Code: code, Kind: ErrMechanismUnsupported,
			Msg:  fmt.Sprintf("the token does not support %s", mech),
			Hint: "choose an import method the token supports; the capability probe lists them"}
	case pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_MECHANISM_PARAM_INVALID:
		return &Error{Code: code, Kind: ErrMechanismUnsupported,
			Msg:  fmt.Sprintf("the token refused %s with %s", mech, hashName(h)),
			Hint: "this token cannot do it; choose a profile whose hash the token supports, or allow host-assisted wrapping in the plan"}
	}
	return fail(err, fmt.Sprintf("wrap key %s with %s", target.name(), mech))
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		return "SHA-1"
	case crypto.SHA256:
		return "SHA-256"
	}
	return h.String()
}

var kwpMech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}

// kwMech is RFC 3394 AES key wrap, the backup's fallback for keys of whole 64-bit blocks.
var kwMech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP, nil)}

// WrapKWP wraps target under the AES key kek with CKM_AES_KEY_WRAP_PAD
// (RFC 5649, standard alternative IV A65959A6). Private keys are wrapped
// as PKCS#8 PrivateKeyInfo. The mechanism takes no parameters: SoftHSM2
// refuses the IV given as one.
func (s *Session) WrapKWP(kek *Key, target *Key) ([]byte, error) {
	out, err := s.ctx.WrapKey(s.h, kwpMech, kek.Handle, target.Handle)
	if err != nil {
		if codeOf(err) == pkcs11.CKR_MECHANISM_INVALID {
			return nil, s.wrapError(err, "CKM_AES_KEY_WRAP_PAD", 0, target)
		}
		return nil, fail(err, fmt.Sprintf("wrap key %s with AES key wrap (RFC 5649)", target.name()))
	}
	return out, nil
}

// WrapBackup wraps target under the backup key kek with mech, one of
// hsmspec.BackupKWP, BackupKW (RFC 3394) or BackupCBCPad; a CBC-PAD blob is
// a fresh IV from the token's RNG followed by the ciphertext.
func (s *Session) WrapBackup(mech string, kek, target *Key) ([]byte, error) {
	var iv []byte
	m := kwpMech
	switch mech {
	case hsmspec.BackupKWP:
		return s.WrapKWP(kek, target)
	case hsmspec.BackupKW:
		m = kwMech
	case hsmspec.BackupCBCPad:
		var err error
		if iv, err = s.random(16); err != nil {
			return nil, err
		}
		m = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, iv)}
	default:
		return nil, &Error{Msg: fmt.Sprintf("%q is not a backup wrapping mechanism", mech)}
	}
	out, err := s.ctx.WrapKey(s.h, m, kek.Handle, target.Handle)
	if err != nil {
		return nil, fail(err, fmt.Sprintf("wrap key %s with %s", target.name(), mech))
	}
	return append(iv, out...), nil
}

// UnwrapKWP restores a key wrapped by WrapKWP as a key of the given spec,
// with the same attributes GenerateKey gives (sensitive, extractable, the
// usages of its type), as a token object when token is true. A token key
// must have a new label. The result is read back and checked against spec.
func (s *Session) UnwrapKWP(kek *Key, blob []byte, label string, spec hsmspec.KeySpec, token bool) (*Key, error) {
	return s.UnwrapBackup(hsmspec.BackupKWP, kek, blob, label, spec, token)
}

// UnwrapBackup is UnwrapKWP for a blob WrapBackup made with mech.
func (s *Session) UnwrapBackup(mech string, kek *Key, blob []byte, label string, spec hsmspec.KeySpec, token bool) (*Key, error) {
	spec, err := spec.Checked()
	if err != nil {
		return nil, err
	}
	// As the token may not report the size of an unwrapped secret key, this is where it is
	// checked: RFC 5649 output is the key padded to whole 8-byte blocks plus the 8-byte
	// integrity block, RFC 3394 the key plus 8 bytes, CBC-PAD the IV and the key padded with
	// 1 to 16 bytes.
	m, n, size := kwpMech, spec.Bits/8, 8+(spec.Bits/8+7)/8*8
	switch mech {
	case hsmspec.BackupKW:
		m, size = kwMech, n+8
	case hsmspec.BackupCBCPad:
		if len(blob) < 32 {
			return nil, &Error{Msg: fmt.Sprintf("the blob (%d bytes) is too short for %s", len(blob), mech)}
		}
		m, size = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, blob[:16])}, 16+(n/16+1)*16
		blob = blob[16:]
		size -= 16
	case hsmspec.BackupKWP:
	default:
		return nil, &Error{Msg: fmt.Sprintf("%q is not a backup wrapping mechanism", mech)}
	}
	if (spec.Type == hsmspec.AES || spec.Type == hsmspec.HMAC) && len(blob) != size {
		return nil, &Error{Msg: fmt.Sprintf("the blob (%d bytes) does not fit key spec %s", len(blob), spec),
			Hint: "check that the blob and the key spec recorded with it belong together"}
	}
	if token {
		if err := s.refuseLabel(label); err != nil {
			return nil, err
		}
	}
	id, err := s.random(16)
	if err != nil {
		return nil, err
	}
	// The curve of an EC key comes from the PKCS#8 blob (SoftHSM2 refuses
	// CKA_EC_PARAMS in the template) and is checked after unwrapping.
	tmpl := s.privateTemplate(spec, label, id, token)
	k := &Key{Label: label, ID: id, Spec: spec}
	k.Handle, err = s.ctx.UnwrapKey(s.h, m, kek.Handle, blob, tmpl)
	if err != nil {
		doing := fmt.Sprintf("unwrap %s key %s", spec, k.name())
		switch codeOf(err) {
		case pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_ENCRYPTED_DATA_INVALID:
			// SoftHSM2 reports a failed RFC 5649 integrity check as CKR_GENERAL_ERROR.
			return nil, &Error{Code: codeOf(err), Msg: doing + ": the blob does not unwrap under this key",
				Hint: "the blob is damaged, or the backup key is not the one it was made with; check the shares and the blob's SHA-256"}
		}
		return nil, s.keyError(err, doing, spec)
	}
	if err := s.check(k, token); err != nil {
		s.Destroy(k)
		return nil, err
	}
	return k, nil
}

// kekTemplate is the template of an AES key-encryption key: sensitive,
// for wrapping (and, as unwrap is true, unwrapping) keys only, never for
// encrypting or decrypting data (wrap plus decrypt is a known way to read
// a key out). A trusted key is a public object with CKA_TRUSTED: only the
// security officer may make it, and the security officer can make only
// public objects; as a session object it is visible to this process alone,
// and stays usable after the security officer logs out and the user logs in.
func kekTemplate(id []byte, token, trusted, unwrap bool) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, !trusted),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, unwrap),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false), // SoftHSM2 defaults both to true
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	if trusted {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true))
	}
	return t
}

// GenerateSessionAES generates the ephemeral AES key of the RSA-AES
// construction as a session object: sensitive, extractable (RSA-OAEP must
// wrap it), able to wrap only. A trusted one is made by the security
// officer and is itself CKA_WRAP_WITH_TRUSTED, so that only a trusted key
// (the cloud's) can wrap it: otherwise a user could wrap the target under
// it, then it under a key of their own. Destroy it after use.
func (s *Session) GenerateSessionAES(bits int, trusted bool) (*Key, error) {
	spec := hsmspec.KeySpec{Type: hsmspec.AES, Bits: bits}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	id, err := s.random(16)
	if err != nil {
		return nil, err
	}
	tmpl := append(kekTemplate(id, false, trusted, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, bits/8))
	if trusted {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, true))
	}
	h, err := s.ctx.GenerateKey(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
	if err != nil {
		return nil, fail(err, fmt.Sprintf("generate a session AES-%d key", bits))
	}
	return &Key{Handle: h, ID: id, Spec: spec}, nil
}

// ImportSessionAES creates a session AES key-encryption key from raw (16,
// 24 or 32 bytes): a backup key, or a host-made ephemeral key. It is not
// extractable: it came from the host and has no reason to leave again.
// The caller clears raw; the token's own copy lives in the session only.
func (s *Session) ImportSessionAES(raw []byte, trusted bool) (*Key, error) {
	return s.importKEK(raw, "", trusted)
}

// StoreKEK keeps raw in the token as a key-encryption key labelled label
// that can wrap but not unwrap: with C_UnwrapKey the caller chooses the
// new key's attributes (CKA_SENSITIVE false included), so a stored key that
// could unwrap would open any blob made under it in clear. Trusted needs
// the security officer logged in, and makes a public object, which anyone
// who can open a session may use to wrap; it can never return the key.
func (s *Session) StoreKEK(raw []byte, label string, trusted bool) (*Key, error) {
	if err := s.refuseLabel(label); err != nil {
		return nil, err
	}
	return s.importKEK(raw, label, trusted)
}

func (s *Session) importKEK(raw []byte, label string, trusted bool) (*Key, error) {
	if n := len(raw); n != 16 && n != 24 && n != 32 {
		return nil, &Error{Msg: fmt.Sprintf("an AES key has 16, 24 or 32 bytes, not %d", n)}
	}
	id, err := s.random(16)
	if err != nil {
		return nil, err
	}
	token := label != ""
	// CKA_VALUE_LEN is left out: SoftHSM2 refuses it next to CKA_VALUE
	// (CKR_ATTRIBUTE_READ_ONLY) and derives it.
	tmpl := append(kekTemplate(id, token, trusted, !token),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, raw))
	doing := "import a session AES key"
	if token {
		doing = fmt.Sprintf("store AES key %q", label)
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false), pkcs11.NewAttribute(pkcs11.CKA_COPYABLE, false))
	}
	h, err := s.ctx.CreateObject(s.h, tmpl)
	if err != nil {
		return nil, fail(err, doing)
	}
	return &Key{Handle: h, Label: label, ID: id, Spec: hsmspec.KeySpec{Type: hsmspec.AES, Bits: 8 * len(raw)}}, nil
}

// ProvePrivateKey shows that the private key k belongs to the public key
// spkiDER (as recorded when it was generated): the token signs a random
// challenge with k (CKM_SHA256_RSA_PKCS, or CKM_ECDSA over its SHA-256)
// and the signature is verified in Go against spkiDER.
func (s *Session) ProvePrivateKey(k *Key, spkiDER []byte) error {
	mismatch := &Error{Kind: ErrKeyMismatch, Msg: fmt.Sprintf("key %s does not match the recorded public key", k.name()),
		Hint: "the restored key is not the one that was backed up; check that the blob, the shares and the transcript belong together"}
	pk, err := spki.Parse(spkiDER)
	if err != nil {
		return &Error{Msg: "the recorded public key is not a valid SubjectPublicKeyInfo: " + err.Error()}
	}
	challenge := make([]byte, 32)
	rand.Read(challenge)
	digest := sha256.Sum256(challenge)
	mech := uint(pkcs11.CKM_ECDSA)
	msg := digest[:]
	if k.Spec.Type == hsmspec.RSA {
		mech, msg = pkcs11.CKM_SHA256_RSA_PKCS, challenge
	}
	if err := s.ctx.SignInit(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, k.Handle); err != nil {
		return fail(err, "sign a challenge with key "+k.name())
	}
	sig, err := s.ctx.Sign(s.h, msg)
	if err != nil {
		return fail(err, "sign a challenge with key "+k.name())
	}
	ok := false
	switch pub := pk.(type) {
	case *rsa.PublicKey:
		ok = k.Spec.Type == hsmspec.RSA && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	case *ecdsa.PublicKey:
		r, sv := splitRS(sig)
		ok = k.Spec.Type == hsmspec.EC && ecdsa.Verify(pub, digest[:], r, sv)
	case *secp256k1.PublicKey:
		r, sv := splitRS(sig)
		ok = k.Spec.Type == hsmspec.EC && k.Spec.Curve == "secp256k1" && spki.VerifyK1(pub, digest[:], r, sv)
	}
	if !ok {
		return mismatch
	}
	return nil
}

// splitRS splits a PKCS#11 ECDSA signature, r and s concatenated.
func splitRS(sig []byte) (r, s *big.Int) {
	n := len(sig) / 2
	return new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
}
