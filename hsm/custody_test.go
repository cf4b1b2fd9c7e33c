package hsm_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// rawSession is a second session on s's token through miekg/pkcs11 directly, as another part
// of the same application would have: it shares the user's login.
func rawSession(t *testing.T, s *hsm.Session) (*pkcs11.Ctx, pkcs11.SessionHandle) {
	t.Helper()
	ctx := pkcs11.New(softhsmtest.Module)
	if err := ctx.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	sh, err := ctx.OpenSession(s.Token().SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.CloseSession(sh) })
	return ctx, sh
}

// TestTargetKeyResistsTheUser tries, with the user logged in, every way around
// CKA_WRAP_WITH_TRUSTED SoftHSM2 offers: wrapping under the user's own key, marking that key
// trusted, turning the attribute off, copying the key without it. Each is refused by the token.
func TestTargetKeyResistsTheUser(t *testing.T) {
	s := softhsmtest.Session(t)
	for _, spec := range []string{"AES-256", "EC P-256"} {
		t.Run(spec, func(t *testing.T) {
			k := generate(t, s, "target "+spec, spec)
			own, err := s.ImportSessionAES(bytes.Repeat([]byte{7}, 32), false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.WrapKWP(own, k)
			wantErr(t, err, `wrap key "target `+spec+`" with AES key wrap (RFC 5649): the token refuses to wrap this key under this wrapping key (CKR_KEY_NOT_WRAPPABLE)`+
				"\nhint: a key made with CKA_WRAP_WITH_TRUSTED leaves only under a wrapping key the security officer marked CKA_TRUSTED; some key types cannot be wrapped at all (SoftHSM2 2.6: Ed25519)", hsm.ErrKeyUnextractable)

			ctx, sh := rawSession(t, s)
			for _, a := range []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, false),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, "renamed"),
			} {
				if err := ctx.SetAttributeValue(sh, k.Handle, []*pkcs11.Attribute{a}); err == nil {
					t.Errorf("C_SetAttributeValue(0x%x) on the target key succeeded", a.Type)
				}
				if h, err := ctx.CopyObject(sh, k.Handle, []*pkcs11.Attribute{a}); err == nil {
					ctx.DestroyObject(sh, h)
					t.Errorf("C_CopyObject with 0x%x succeeded", a.Type)
				} else if !errors.Is(err, pkcs11.Error(0x1B)) { // CKR_ACTION_PROHIBITED: CKA_COPYABLE is false
					t.Errorf("C_CopyObject: %v, want CKR_ACTION_PROHIBITED", err)
				}
			}
			a, err := s.Attributes(k)
			if err != nil {
				t.Fatal(err)
			}
			if a.Protection != targetProtection {
				t.Errorf("attributes after the attempts: %s", a.Protection)
			}
		})
	}
	// The user cannot mark a key trusted: only the security officer can.
	_, spki, _ := goRSAKey(t)
	_, err := s.ImportRSAPublicKey(spki, true)
	wantErr(t, err, "import the RSA-2048 wrapping public key: the template sets an attribute this user may not set, or one that cannot change (CKR_ATTRIBUTE_READ_ONLY)"+
		"\nhint: only the security officer may set CKA_TRUSTED; CKA_WRAP_WITH_TRUSTED, CKA_SENSITIVE and CKA_EXTRACTABLE never go back, and a key with CKA_MODIFIABLE false does not change", nil)
}

// TestKeyEncryptionKeysOnlyWrap: the backup key and the kept copy can wrap (and the session
// copy unwrap) but never encrypt, decrypt, sign or verify; the kept copy cannot unwrap.
func TestKeyEncryptionKeysOnlyWrap(t *testing.T) {
	s := softhsmtest.Session(t)
	raw := bytes.Repeat([]byte{9}, 32)
	var session, kept *hsm.Key
	softhsmtest.AsSecurityOfficer(t, s, func() {
		var err error
		if session, err = s.ImportSessionAES(raw, true); err != nil {
			t.Fatal(err)
		}
		if kept, err = s.StoreKEK(raw, "kept", true); err != nil {
			t.Fatal(err)
		}
	})
	ctx, sh := rawSession(t, s)
	for _, k := range []*hsm.Key{session, kept} {
		got, err := ctx.GetAttributeValue(sh, k.Handle, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, nil), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, nil),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, nil), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, nil), pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, nil),
			pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0, 0, 0, 0, 0, 0, 1, 1, 1}
		if k == kept {
			want[7] = 0
		}
		for i, a := range got {
			if len(a.Value) != 1 || a.Value[0] != want[i] {
				t.Errorf("key %q: attribute 0x%x = %v, want %d", k.Label, a.Type, a.Value, want[i])
			}
		}
		if err := ctx.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, k.Handle); !errors.Is(err, pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)) {
			t.Errorf("key %q: C_EncryptInit: %v, want CKR_KEY_FUNCTION_NOT_PERMITTED", k.Label, err)
		}
	}
}

// TestProbePKCS8 measures how SoftHSM2 2.6.1 wraps private keys with CKM_AES_KEY_WRAP_PAD: it pads
// the PKCS#8 DER to a multiple of 8 bytes, and the KWP length field counts the padding. EC keys
// have one length per curve (P-384 and secp256k1 happen to be multiples of 8); an RSA key is
// judged on a key whose length shows the padding, since a lucky length says nothing.
func TestProbePKCS8(t *testing.T) {
	s := softhsmtest.Session(t)
	for _, tc := range []struct {
		spec     string
		der, kwp int // -1: varies with the key
	}{{"EC P-256", 67, 72}, {"EC P-384", 80, 80}, {"EC P-521", 98, 104}, {"EC secp256k1", 64, 64}, {"RSA-2048", -1, -1}, {"RSA-3072", -1, -1}} {
		fit, err := s.ProbePKCS8(mustSpec(t, tc.spec))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", fit)
		switch {
		case tc.der >= 0 && (fit.DERLength != tc.der || fit.LengthField != tc.kwp):
			t.Errorf("%s: got %s, want DER %d, length field %d", tc.spec, fit, tc.der, tc.kwp)
		case fit.LengthField%8 != 0 || fit.LengthField-fit.DERLength >= 8 || fit.LengthField < fit.DERLength:
			t.Errorf("%s: %s is not the DER padded to a multiple of 8", tc.spec, fit)
		case tc.der < 0 && (fit.DERLength%8 == 0 || fit.Exact()):
			t.Errorf("%s: decided on %s, a length that cannot show padding", tc.spec, fit)
		}
	}
	if _, err := s.ProbePKCS8(mustSpec(t, "AES-256")); err == nil {
		t.Error("ProbePKCS8 accepted a secret key type")
	}
}

// TestProbeLeavesNothing: the capability probe and the PKCS#8 probe leave no object behind, not
// even the one SoftHSM2 keeps when it refuses CKA_TRUSTED in a template (the probe tries it).
func TestProbeLeavesNothing(t *testing.T) {
	s := softhsmtest.Session(t)
	s.Capabilities()
	if _, err := s.ProbePKCS8(mustSpec(t, "EC P-256")); err != nil {
		t.Fatal(err)
	}
	ctx, sh := rawSession(t, s)
	if err := ctx.FindObjectsInit(sh, nil); err != nil {
		t.Fatal(err)
	}
	objs, _, err := ctx.FindObjects(sh, 100)
	ctx.FindObjectsFinal(sh)
	if err != nil || len(objs) != 0 {
		t.Errorf("%d objects left after the probes (%v)", len(objs), err)
	}
}
