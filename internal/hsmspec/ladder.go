package hsmspec

import (
	"errors"
	"fmt"
)

// The transcript signing key's algorithms, strongest first, as the begin
// event names them.
const (
	SignEd25519   = "ed25519"
	SignECDSAP256 = "ecdsa-p256-sha256"
	// SignRSAPSS is RSASSA-PSS (RFC 8017) with SHA-256, MGF1 SHA-256 and a
	// 32-byte salt, under an RSA-3072 key.
	SignRSAPSS = "rsa-pss-3072-sha256"
	// SignRSAPKCS1 is RSASSA-PKCS1-v1_5 with SHA-256 under an RSA-3072 key.
	SignRSAPKCS1 = "rsa-pkcs1-3072-sha256"
)

// SigningKey picks the transcript signing key's algorithm from what the
// token does, and says why stronger ones were passed over.
func (c Capabilities) SigningKey() (alg, reason string, err error) {
	switch {
	case c.EdDSA:
		return SignEd25519, "the token does Ed25519 (CKM_EDDSA)", nil
	case c.ECDSA:
		return SignECDSAP256, "the token lacks Ed25519; it does ECDSA P-256 (CKM_ECDSA)", nil
	case c.RSAPSS:
		return SignRSAPSS, "the token lacks Ed25519 and ECDSA P-256; it does RSA-3072 with CKM_RSA_PKCS_PSS", nil
	case c.RSAPKCS1:
		return SignRSAPKCS1, "the token lacks Ed25519, ECDSA P-256 and RSA-PSS; it does RSA-3072 with CKM_RSA_PKCS (PKCS#1 v1.5)", nil
	}
	return "", "", errors.New("the token can make no transcript signing key: it signs with none of Ed25519, ECDSA P-256, RSA-3072 PSS or RSA-3072 PKCS#1 v1.5\nhint: use a token that signs with one of them")
}

// The backup wrapping mechanisms, strongest first.
const (
	BackupKWP = "CKM_AES_KEY_WRAP_PAD" // RFC 5649: any key length, integrity-checked
	BackupKW  = "CKM_AES_KEY_WRAP"     // RFC 3394: integrity-checked, whole 64-bit blocks only
	// BackupCBCPad is AES-256-CBC with PKCS#7 padding and a random IV, under
	// the fresh single-use backup key. It has no integrity of its own: the
	// signed manifest's SHA-256 of the blob and the restored key's KCV give
	// it. A plan must name it to use it.
	BackupCBCPad = "CKM_AES_CBC_PAD"
)

// BackupWrap picks the mechanism that wraps a key of spec under the backup
// key: KWP, else RFC 3394 where the key is whole 64-bit blocks of at least
// 128 bits (a secret key; a private key's PKCS#8 length is the token's),
// else the weaker mechanism the plan names, if the token does it.
func (c Capabilities) BackupWrap(spec KeySpec, allowWeaker string) (mech, reason string, err error) {
	if (c.KWP || c.AESKeyWrap || c.CBCPad) && !c.UnwrapSensitive {
		return "", "", fmt.Errorf("the token makes a key it unwraps readable whatever the template says (C_UnwrapKey ignores CKA_SENSITIVE), so the backup could be neither checked nor restored in it without exposing the %s key\nhint: use a token whose C_UnwrapKey keeps CKA_SENSITIVE", spec)
	}
	switch {
	case c.KWP:
		return BackupKWP, "the token does AES key wrap with padding (RFC 5649)", nil
	case c.AESKeyWrap && spec.IsSecret() && spec.Bits%64 == 0 && spec.Bits >= 128:
		return BackupKW, fmt.Sprintf("the token lacks CKM_AES_KEY_WRAP_PAD; %s is whole 64-bit blocks, so RFC 3394 key wrap, integrity-checked too", spec), nil
	case allowWeaker == BackupCBCPad && c.CBCPad:
		return BackupCBCPad, "the token lacks CKM_AES_KEY_WRAP_PAD" + kwFits(c, spec) + "; allowed by the plan: AES-256-CBC-PAD under the single-use backup key, integrity from the signed manifest's SHA-256 of the blob and the restored key's KCV", nil
	case allowWeaker == BackupCBCPad:
		return "", "", fmt.Errorf("the token cannot wrap with CKM_AES_CBC_PAD either, so the %s key cannot be backed up\nhint: use a token that does CKM_AES_KEY_WRAP_PAD", spec)
	}
	hint := "use a token that does CKM_AES_KEY_WRAP_PAD (RFC 5649)"
	if c.CBCPad {
		hint += ", or set backup.allow_weaker_wrap: CKM_AES_CBC_PAD in the plan (no integrity of its own; recorded as an exception)"
	}
	return "", "", fmt.Errorf("the token cannot back up the %s key: it lacks CKM_AES_KEY_WRAP_PAD%s\nhint: %s", spec, kwFits(c, spec), hint)
}

// kwFits says why RFC 3394 key wrap does not do instead of KWP.
func kwFits(c Capabilities, spec KeySpec) string {
	if !c.AESKeyWrap {
		return " and CKM_AES_KEY_WRAP"
	}
	return fmt.Sprintf(", and CKM_AES_KEY_WRAP (RFC 3394) cannot wrap %s, which is not whole 64-bit blocks", spec)
}
