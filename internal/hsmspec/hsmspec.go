// Package hsmspec holds, as plain values, what keyceremony asks of a
// PKCS#11 token and learns from it: the key to make (KeySpec), the token
// (TokenInfo) and what it really does (Capabilities). It needs no cgo, so
// plans, import parameters and packages are read and checked by the
// auditor's and the connected side's build too; package hsm does the
// asking.
package hsmspec

import (
	"cmp"
	"crypto"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyceremony/keyceremony/internal/spki"
)

// KeyType is the kind of a target key.
type KeyType string

const (
	AES  KeyType = "aes"
	HMAC KeyType = "hmac" // a PKCS#11 generic secret key
	RSA  KeyType = "rsa"
	EC   KeyType = "ec"
)

// KeySpec says what key to generate or restore.
type KeySpec struct {
	Type  KeyType
	Bits  int    // aes: 128|256; hmac: 224..512 in whole bytes; rsa: 2048|3072|4096; ec: set from Curve by GenerateKey and UnwrapKWP
	Curve string // ec: "P-256", "P-384", "P-521" or "secp256k1"
}

// String gives the spec as ParseKeySpec reads it: "AES-256", "HMAC-256",
// "RSA-3072", "EC P-256".
func (k KeySpec) String() string {
	switch k.Type {
	case EC:
		return "EC " + k.Curve
	case AES, HMAC, RSA:
		return strings.ToUpper(string(k.Type)) + "-" + strconv.Itoa(k.Bits)
	}
	return fmt.Sprintf("%s-%d", k.Type, k.Bits)
}

// IsSecret reports whether the spec is of a secret (symmetric) key.
func (k KeySpec) IsSecret() bool { return k.Type == AES || k.Type == HMAC }

// ParseKeySpec reads "AES-256", "HMAC-384", "RSA-3072", "EC P-256" (also
// "EC-P-256"), case-insensitively, and checks the size or curve.
func ParseKeySpec(s string) (KeySpec, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	var k KeySpec
	if rest, ok := strings.CutPrefix(u, "EC"); ok && len(rest) > 1 && (rest[0] == ' ' || rest[0] == '-') {
		name := strings.TrimSpace(rest[1:])
		// "P-256" and "P256" alike: plans written from other tools' names drop the dash.
		bare := func(n string) string { return strings.ReplaceAll(strings.ToUpper(n), "-", "") }
		for _, c := range spki.Curves {
			if bare(c.Name) == bare(name) {
				k = KeySpec{Type: EC, Curve: c.Name, Bits: c.Bits}
			}
		}
		if k.Type == "" {
			return KeySpec{}, specError(s, "unknown curve "+strconv.Quote(name))
		}
		return k, nil
	}
	typ, bits, ok := strings.Cut(u, "-")
	n, err := strconv.Atoi(bits)
	if !ok || err != nil {
		return KeySpec{}, specError(s, "it is not of the form TYPE-BITS")
	}
	k = KeySpec{Type: KeyType(strings.ToLower(typ)), Bits: n}
	if err := k.Validate(); err != nil {
		return KeySpec{}, err
	}
	return k, nil
}

// KeyTypes lists the key types a plan may name, for hints.
const KeyTypes = "AES-128, AES-256, HMAC-224 to HMAC-512, RSA-2048, RSA-3072, RSA-4096, EC P-256, EC P-384, EC P-521, EC secp256k1"

// specError reads like package hsm's errors, which these were.
func specError(s, why string) error {
	return fmt.Errorf("bad key spec %q: %s\nhint: use one of %s", s, why, KeyTypes)
}

// Checked validates the spec and sets Bits of an EC spec from its curve.
func (k KeySpec) Checked() (KeySpec, error) {
	if err := k.Validate(); err != nil {
		return KeySpec{}, err
	}
	if k.Type == EC {
		k.Bits = spki.CurveByName(k.Curve).Bits
	}
	return k, nil
}

// Validate checks the type and size, or curve, of the spec.
func (k KeySpec) Validate() error {
	ok := false
	switch k.Type {
	case AES:
		ok = k.Bits == 128 || k.Bits == 256
	case HMAC:
		ok = k.Bits >= 224 && k.Bits <= 512 && k.Bits%8 == 0
	case RSA:
		ok = k.Bits == 2048 || k.Bits == 3072 || k.Bits == 4096
	case EC:
		c := spki.CurveByName(k.Curve)
		ok = c != nil && (k.Bits == 0 || k.Bits == c.Bits)
	}
	if !ok {
		return specError(k.String(), "unsupported type or size")
	}
	return nil
}

// Capabilities is what the token really does, as opposed to what it lists:
// SoftHSM2 2.6.1 lists CKM_RSA_PKCS_OAEP but refuses SHA-256 with
// CKR_ARGUMENTS_BAD. Higher layers pick their wrapping strategy from it.
type Capabilities struct {
	OAEP   map[crypto.Hash]bool // C_WrapKey with CKM_RSA_PKCS_OAEP and this hash works
	RSAAES map[crypto.Hash]bool // C_WrapKey with CKM_RSA_AES_KEY_WRAP (AES-256) and this hash works
	KWP    bool                 // C_WrapKey with CKM_AES_KEY_WRAP_PAD works
	// AESKeyWrap: C_WrapKey of an AES-256 key with CKM_AES_KEY_WRAP (RFC 3394) works.
	AESKeyWrap bool
	// CBCPad: C_WrapKey of an AES-256 key with CKM_AES_CBC_PAD works.
	CBCPad bool
	// UnwrapSensitive: a key C_UnwrapKey makes (with the strongest of those three) is
	// sensitive when its template says so. opencryptoki 3.8 ignores CKA_SENSITIVE there.
	UnwrapSensitive bool
	EdDSA           bool // Ed25519 key pair generation and CKM_EDDSA signing work
	ECDSA           bool // P-256 key pair generation and CKM_ECDSA signing work
	// RSAPSS and RSAPKCS1: RSA-3072 key pair generation and signing a
	// SHA-256 digest with CKM_RSA_PKCS_PSS, or CKM_RSA_PKCS (PKCS#1 v1.5),
	// work. Probed only where neither EdDSA nor ECDSA does: they are the
	// signing key's last rungs.
	RSAPSS   bool
	RSAPKCS1 bool
	// Refused names the target key restrictions (CKA_WRAP_WITH_TRUSTED,
	// CKA_COPYABLE, CKA_MODIFIABLE) the token refuses in a key template.
	Refused []string
	// TrustedWrap: the token refuses (CKR_KEY_NOT_WRAPPABLE) to wrap a
	// CKA_WRAP_WITH_TRUSTED key under a key that is not CKA_TRUSTED, and
	// refuses CKA_TRUSTED to anyone but the security officer. That the
	// security officer can set it is found out when they do.
	TrustedWrap bool
	// PKCS8 is how the token wraps the planned private key type, when a
	// plan check probed it (hsm.Session.ProbePKCS8); nil otherwise.
	PKCS8 *PKCS8Fit
}

// PKCS8Fit is what a token puts inside an RFC 5649 wrap of a private key of one type: the
// length of the PKCS#8 DER and the length the wrap's length field (the MLI of the alternative
// IV) states, for the throwaway key that decided. They differ when the token pads the DER before
// wrapping, as SoftHSM2 2.6.1 does (to a multiple of 8 bytes): the zeros are then part of the
// authenticated key material, which a strict cloud parser may refuse.
type PKCS8Fit struct {
	Token       string // the token's label
	Spec        KeySpec
	DERLength   int
	LengthField int
}

// Exact reports whether the token wraps every key of the type exactly. An EC key's PKCS#8 has
// the same length for every key of a curve, so one key decides; an RSA key's varies with its
// numbers, so the probe decides on a key whose DER is not a multiple of 8 bytes long: padding to
// 8 shows there, and a lucky target key cannot be counted on.
func (f PKCS8Fit) Exact() bool { return f.DERLength == f.LengthField }

func (f PKCS8Fit) String() string {
	return fmt.Sprintf("%s: PKCS#8 DER %d bytes, KWP length field %d", f.Spec, f.DERLength, f.LengthField)
}

// String gives one line, for the operator and the transcript.
func (c Capabilities) String() string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	rsaSign := "RSA-PSS " + yes(c.RSAPSS) + ", RSA-PKCS1 " + yes(c.RSAPKCS1)
	if c.EdDSA || c.ECDSA {
		rsaSign = "RSA signing not probed"
	}
	return strings.Join([]string{
		fmt.Sprintf("RSA-OAEP SHA-1 %s, SHA-256 %s", yes(c.OAEP[crypto.SHA1]), yes(c.OAEP[crypto.SHA256])),
		fmt.Sprintf("RSA-AES-KEY-WRAP SHA-1 %s, SHA-256 %s", yes(c.RSAAES[crypto.SHA1]), yes(c.RSAAES[crypto.SHA256])),
		"AES-KWP " + yes(c.KWP),
		"AES-KW " + yes(c.AESKeyWrap),
		"AES-CBC-PAD wrap " + yes(c.CBCPad),
		"unwrapped keys sensitive " + yes(c.UnwrapSensitive),
		"EdDSA " + yes(c.EdDSA),
		"ECDSA " + yes(c.ECDSA),
		rsaSign,
		"trusted wrap enforced " + yes(c.TrustedWrap),
		"refused attributes " + cmp.Or(strings.Join(c.Refused, ", "), "none"),
	}, "; ")
}

// TokenInfo describes a token as C_GetTokenInfo reports it, padding removed.
type TokenInfo struct {
	SlotID       uint
	Label        string
	Manufacturer string
	Model        string
	Serial       string
	Firmware     string
}
