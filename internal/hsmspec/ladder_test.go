package hsmspec

import (
	"crypto"
	"testing"
)

// Measured on this machine kind: SoftHSM2 2.6.1 and the opencryptoki 3.8.1 soft token.
var (
	softHSM2 = Capabilities{OAEP: map[crypto.Hash]bool{crypto.SHA1: true}, KWP: true, AESKeyWrap: true, UnwrapSensitive: true, EdDSA: true, ECDSA: true, TrustedWrap: true}
	openCK   = Capabilities{OAEP: map[crypto.Hash]bool{crypto.SHA1: true, crypto.SHA256: true}, CBCPad: true, RSAPSS: true, RSAPKCS1: true,
		Refused: []string{"CKA_WRAP_WITH_TRUSTED", "CKA_COPYABLE"}}
)

func TestSigningKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps Capabilities
		alg  string
		err  string
	}{
		{"softhsm2", softHSM2, SignEd25519, ""},
		{"ecdsa only", Capabilities{ECDSA: true, RSAPSS: true}, SignECDSAP256, ""},
		{"opencryptoki", openCK, SignRSAPSS, ""},
		{"pkcs1 only", Capabilities{RSAPKCS1: true}, SignRSAPKCS1, ""},
		{"nothing", Capabilities{}, "", "the token can make no transcript signing key: it signs with none of Ed25519, ECDSA P-256, RSA-3072 PSS or RSA-3072 PKCS#1 v1.5\nhint: use a token that signs with one of them"},
	} {
		alg, why, err := tc.caps.SigningKey()
		if alg != tc.alg || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err || err == nil && why == "" {
			t.Errorf("%s: SigningKey() = %q, %q, %v; want %q, %q", tc.name, alg, why, err, tc.alg, tc.err)
		}
	}
}

func TestBackupWrap(t *testing.T) {
	aes256, hmac224, rsa := KeySpec{Type: AES, Bits: 256}, KeySpec{Type: HMAC, Bits: 224}, KeySpec{Type: RSA, Bits: 3072}
	kwOnly := Capabilities{AESKeyWrap: true, CBCPad: true, UnwrapSensitive: true}
	openCKSensitive := openCK
	openCKSensitive.UnwrapSensitive = true
	for _, tc := range []struct {
		name   string
		caps   Capabilities
		spec   KeySpec
		weaker string
		mech   string
		err    string
	}{
		{"kwp", softHSM2, rsa, "", BackupKWP, ""},
		{"kw for whole blocks", kwOnly, aes256, "", BackupKW, ""},
		{"kw cannot wrap hmac-224", kwOnly, hmac224, "", "", "the token cannot back up the HMAC-224 key: it lacks CKM_AES_KEY_WRAP_PAD, and CKM_AES_KEY_WRAP (RFC 3394) cannot wrap HMAC-224, which is not whole 64-bit blocks\nhint: use a token that does CKM_AES_KEY_WRAP_PAD (RFC 5649), or set backup.allow_weaker_wrap: CKM_AES_CBC_PAD in the plan (no integrity of its own; recorded as an exception)"},
		{"opencryptoki unwraps readable keys", openCK, aes256, BackupCBCPad, "", "the token makes a key it unwraps readable whatever the template says (C_UnwrapKey ignores CKA_SENSITIVE), so the backup could be neither checked nor restored in it without exposing the AES-256 key\nhint: use a token whose C_UnwrapKey keeps CKA_SENSITIVE"},
		{"no kwp or kw", openCKSensitive, aes256, "", "", "the token cannot back up the AES-256 key: it lacks CKM_AES_KEY_WRAP_PAD and CKM_AES_KEY_WRAP\nhint: use a token that does CKM_AES_KEY_WRAP_PAD (RFC 5649), or set backup.allow_weaker_wrap: CKM_AES_CBC_PAD in the plan (no integrity of its own; recorded as an exception)"},
		{"opted in", openCKSensitive, rsa, BackupCBCPad, BackupCBCPad, ""},
		{"opted in, not there", Capabilities{}, aes256, BackupCBCPad, "", "the token cannot wrap with CKM_AES_CBC_PAD either, so the AES-256 key cannot be backed up\nhint: use a token that does CKM_AES_KEY_WRAP_PAD"},
		{"kwp preferred over the opt-in", softHSM2, aes256, BackupCBCPad, BackupKWP, ""},
	} {
		mech, why, err := tc.caps.BackupWrap(tc.spec, tc.weaker)
		if mech != tc.mech || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err || err == nil && why == "" {
			t.Errorf("%s: BackupWrap() = %q, %q, %v; want %q, %q", tc.name, mech, why, err, tc.mech, tc.err)
		}
	}
}
