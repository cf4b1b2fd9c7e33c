package hsm_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/kwp"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// knownKEK is a key-encryption key the test knows, so that what the token
// wraps under it can be checked with Go and OpenSSL.
var knownKEK = []byte("0123456789abcdef0123456789abcdef")

func mustSpec(t *testing.T, s string) hsmspec.KeySpec {
	t.Helper()
	spec, err := hsmspec.ParseKeySpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func generate(t *testing.T, s *hsm.Session, label, spec string) *hsm.Key {
	t.Helper()
	k, err := s.GenerateKey(label, mustSpec(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func identify(t *testing.T, s *hsm.Session, k *hsm.Key) hsm.Identity {
	t.Helper()
	id, err := s.Identify(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func importKEK(t *testing.T, s *hsm.Session) *hsm.Key {
	t.Helper()
	var kek *hsm.Key
	softhsmtest.AsSecurityOfficer(t, s, func() {
		var err error
		if kek, err = s.ImportSessionAES(bytes.Clone(knownKEK), true); err != nil {
			t.Fatal(err)
		}
	})
	return kek
}

// trustedRSA imports a cloud wrapping key as the security officer, CKA_TRUSTED.
func trustedRSA(t *testing.T, s *hsm.Session, spki []byte) *hsm.Key {
	t.Helper()
	var k *hsm.Key
	softhsmtest.AsSecurityOfficer(t, s, func() {
		var err error
		if k, err = s.ImportRSAPublicKey(spki, true); err != nil {
			t.Fatal(err)
		}
	})
	return k
}

// aesKCV is the usual AES check value: AES-ECB of a zero block, 3 bytes.
func aesKCV(key []byte) string {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 16)
	b.Encrypt(out, out)
	return hex.EncodeToString(out[:3])
}

func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("openssl", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslKWP wraps key under kek with OpenSSL's RFC 5649 implementation.
func opensslKWP(t *testing.T, kek, key []byte) []byte {
	t.Helper()
	in := writeFile(t, "key.bin", key)
	return openssl(t, "enc", "-e", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K", hex.EncodeToString(kek), "-in", in)
}

// targetProtection is what every target key must come out with.
var targetProtection = hsm.Protection{Token: true, Private: true, Sensitive: true, Extractable: true, WrapWithTrusted: true}

func TestGenerateKeys(t *testing.T) {
	s := softhsmtest.Session(t)
	for _, spec := range []string{"AES-128", "AES-256", "HMAC-224", "HMAC-256", "HMAC-512",
		"RSA-2048", "RSA-4096", "EC P-256", "EC P-384", "EC P-521", "EC secp256k1"} {
		t.Run(spec, func(t *testing.T) {
			label := "target " + spec
			k := generate(t, s, label, spec)
			if k.Spec.String() != spec || k.Label != label || len(k.ID) != 16 {
				t.Errorf("key = %+v", k)
			}
			a, err := s.Attributes(k)
			if err != nil {
				t.Fatal(err)
			}
			want := hsm.KeyAttributes{Protection: targetProtection, Local: true, AlwaysSensitive: true}
			if a != want {
				t.Errorf("attributes = %+v, want %+v", a, want)
			}
			found, err := s.FindKey(label)
			if err != nil {
				t.Fatal(err)
			}
			if found.Handle != k.Handle || found.PublicHandle != k.PublicHandle || found.Spec != k.Spec || !bytes.Equal(found.ID, k.ID) {
				t.Errorf("FindKey = %+v, want %+v", found, k)
			}
			id := identify(t, s, k)
			if k.IsSecret() {
				if len(id.KCV) != 6 || id.Fingerprint != "" {
					t.Errorf("identity = %+v", id)
				}
				return
			}
			sum := sha256.Sum256(id.PublicKeyDER)
			if id.Fingerprint != "SHA256:"+hex.EncodeToString(sum[:]) {
				t.Errorf("fingerprint %s does not match the SPKI", id.Fingerprint)
			}
			if err := s.ProvePrivateKey(k, id.PublicKeyDER); err != nil {
				t.Error(err)
			}
			if k.Spec.Curve == "secp256k1" {
				// Go cannot parse it; OpenSSL can, and must see the same curve.
				text := openssl(t, "pkey", "-pubin", "-inform", "DER", "-in", writeFile(t, "pub.der", id.PublicKeyDER), "-noout", "-text")
				if !bytes.Contains(text, []byte("secp256k1")) {
					t.Errorf("openssl does not see a secp256k1 key:\n%s", text)
				}
				return
			}
			pub, err := x509.ParsePKIXPublicKey(id.PublicKeyDER)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := pub.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() != k.Spec.Bits || pub.E != 65537 {
					t.Errorf("RSA key has %d bits, e=%d", pub.N.BitLen(), pub.E)
				}
			case *ecdsa.PublicKey:
				if pub.Curve.Params().Name != k.Spec.Curve {
					t.Errorf("EC key on %s", pub.Curve.Params().Name)
				}
			default:
				t.Errorf("public key is %T", pub)
			}
		})
	}
}

// TestKCV checks both check value definitions against Go, on keys the
// token received from known bytes.
func TestKCV(t *testing.T) {
	s := softhsmtest.Session(t)
	raw := bytes.Repeat([]byte{0x5a}, 32)

	imported, err := s.ImportSessionAES(bytes.Clone(raw), false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := identify(t, s, imported).KCV, aesKCV(raw); got != want {
		t.Errorf("imported AES key: KCV %s, Go computes %s", got, want)
	}

	kek := importKEK(t, s)
	for _, spec := range []string{"AES-256", "HMAC-256"} {
		k, err := s.UnwrapKWP(kek, opensslKWP(t, knownKEK, raw), "", mustSpec(t, spec), false)
		if err != nil {
			t.Fatal(err)
		}
		want := aesKCV(raw)
		if spec == "HMAC-256" {
			sum := sha1.Sum(raw) // PKCS#11 v2.40 CKA_CHECK_VALUE of a generic secret key
			want = hex.EncodeToString(sum[:3])
		}
		if got := identify(t, s, k).KCV; got != want {
			t.Errorf("%s: KCV %s, Go computes %s", spec, got, want)
		}
	}

	// A generated HMAC key's CKA_CHECK_VALUE has the same definition.
	k := generate(t, s, "hmac", "HMAC-256")
	blob, err := s.WrapKWP(kek, k)
	if err != nil {
		t.Fatal(err)
	}
	key, err := kwp.Unwrap(knownKEK, blob)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(key)
	if got, want := identify(t, s, k).KCV, hex.EncodeToString(sum[:3]); got != want {
		t.Errorf("generated HMAC key: KCV %s, Go computes %s", got, want)
	}
}

// goRSAKey is the cloud's side of an import: a fixed RSA-2048 key pair
// (testdata/wrapping-rsa2048.pem, made with openssl genpkey for the tests).
func goRSAKey(t *testing.T) (priv *rsa.PrivateKey, spki []byte, pemFile string) {
	t.Helper()
	pemFile = filepath.Join("testdata", "wrapping-rsa2048.pem")
	data, err := os.ReadFile(pemFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s is not PEM", pemFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv = k.(*rsa.PrivateKey)
	if spki, err = x509.MarshalPKIXPublicKey(&priv.PublicKey); err != nil {
		t.Fatal(err)
	}
	return priv, spki, pemFile
}

func TestWrapOAEPSHA1(t *testing.T) {
	s := softhsmtest.Session(t)
	priv, spki, pemFile := goRSAKey(t)
	wk := trustedRSA(t, s, spki)
	target := generate(t, s, "target", "AES-256")
	kcv := identify(t, s, target).KCV

	blob, err := s.WrapOAEP(wk, crypto.SHA1, target)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.DecryptOAEP(sha1.New(), nil, priv, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if aesKCV(key) != kcv {
		t.Errorf("Go decrypts a key with KCV %s, the token says %s", aesKCV(key), kcv)
	}
	fromOpenSSL := openssl(t, "pkeyutl", "-decrypt", "-inkey", pemFile, "-in", writeFile(t, "wrapped.bin", blob),
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1")
	if !bytes.Equal(fromOpenSSL, key) {
		t.Error("openssl pkeyutl decrypts other bytes than Go")
	}
}

func TestImportRSAPublicKeyRefusesOthers(t *testing.T) {
	s := softhsmtest.Session(t)
	ec := generate(t, s, "ec", "EC P-256")
	_, err := s.ImportRSAPublicKey(identify(t, s, ec).PublicKeyDER, false)
	want := "the wrapping public key is not an RSA key (it is an EC key)\nhint: import wrapping keys are RSA keys; check that the right file was given"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestCapabilities pins what SoftHSM2 2.6.1 really does, and that a
// refused parameter gives a sentence naming it.
func TestCapabilities(t *testing.T) {
	s := softhsmtest.Session(t)
	start := time.Now()
	c := s.Capabilities()
	t.Logf("probe took %v: %s", time.Since(start), c)
	want := "RSA-OAEP SHA-1 yes, SHA-256 no; RSA-AES-KEY-WRAP SHA-1 no, SHA-256 no; AES-KWP yes; AES-KW yes; AES-CBC-PAD wrap no; unwrapped keys sensitive yes; EdDSA yes; ECDSA yes; RSA signing not probed; trusted wrap enforced yes; refused attributes none"
	if c.String() != want {
		t.Errorf("capabilities = %s, want %s", c, want)
	}
	start = time.Now()
	s.Capabilities()
	if d := time.Since(start); d > time.Millisecond {
		t.Errorf("second call took %v: not cached", d)
	}

	_, spki, _ := goRSAKey(t)
	wk := trustedRSA(t, s, spki)
	target := generate(t, s, "target", "AES-256")
	_, err := s.WrapOAEP(wk, crypto.SHA256, target)
	wantErr := "the token refused RSA-OAEP with SHA-256 (CKR_ARGUMENTS_BAD)\nhint: this token cannot do it; choose a profile whose hash the token supports, or allow host-assisted wrapping in the plan"
	if err == nil || err.Error() != wantErr || !errors.Is(err, hsm.ErrMechanismUnsupported) {
		t.Errorf("WrapOAEP SHA-256: err = %v, want %q", err, wantErr)
	}
	_, err = s.WrapRSAAES(wk, crypto.SHA1, target)
	wantErr = "the token does not support CKM_RSA_AES_KEY_WRAP (CKR_MECHANISM_INVALID)\nhint: choose an import method the token supports; the capability probe lists them"
	if err == nil || err.Error() != wantErr || !errors.Is(err, hsm.ErrMechanismUnsupported) {
		t.Errorf("WrapRSAAES: err = %v, want %q", err, wantErr)
	}
}

// TestComposedRSAAES builds RSA-OAEP(eph) || KWP(eph, target) in the token,
// as the wrap package does on tokens without CKM_RSA_AES_KEY_WRAP, and
// opens it with Go.
func TestComposedRSAAES(t *testing.T) {
	s := softhsmtest.Session(t)
	priv, spki, _ := goRSAKey(t)
	wk := trustedRSA(t, s, spki)
	var eph *hsm.Key
	softhsmtest.AsSecurityOfficer(t, s, func() {
		var err error
		if eph, err = s.GenerateSessionAES(256, true); err != nil {
			t.Fatal(err)
		}
	})
	target := generate(t, s, "target", "HMAC-512")
	w1, err := s.WrapOAEP(wk, crypto.SHA1, eph)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.WrapKWP(eph, target)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(eph); err != nil {
		t.Fatal(err)
	}
	ephRaw, err := rsa.DecryptOAEP(sha1.New(), nil, priv, w1, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := kwp.Unwrap(ephRaw, w2)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(key)
	if got, want := hex.EncodeToString(sum[:3]), identify(t, s, target).KCV; len(key) != 64 || got != want {
		t.Errorf("recovered %d bytes with KCV %s, want 64 bytes with %s", len(key), got, want)
	}
}

func TestWrapKWPMatchesOpenSSL(t *testing.T) {
	s := softhsmtest.Session(t)
	kek := importKEK(t, s)
	target := generate(t, s, "target", "AES-256")
	blob, err := s.WrapKWP(kek, target)
	if err != nil {
		t.Fatal(err)
	}
	key, err := kwp.Unwrap(knownKEK, blob)
	if err != nil {
		t.Fatal(err)
	}
	if aesKCV(key) != identify(t, s, target).KCV {
		t.Fatal("the unwrapped key has another KCV than the token's")
	}
	if ossl := opensslKWP(t, knownKEK, key); !bytes.Equal(ossl, blob) {
		t.Errorf("token KWP %x\nopenssl KWP %x", blob, ossl)
	}
}

// TestBackupRestore wraps each kind of target key under a known KEK, checks
// the plaintext with Go, restores it and checks that it is the same key.
func TestBackupRestore(t *testing.T) {
	s := softhsmtest.Session(t)
	kek := importKEK(t, s)
	for _, spec := range []string{"AES-256", "HMAC-384", "RSA-2048", "EC P-256", "EC P-384", "EC secp256k1"} {
		t.Run(spec, func(t *testing.T) {
			k := generate(t, s, "original "+spec, spec)
			id := identify(t, s, k)
			blob, err := s.WrapKWP(kek, k)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := kwp.Unwrap(knownKEK, blob)
			if err != nil {
				t.Fatal(err)
			}
			if !k.IsSecret() && k.Spec.Curve != "secp256k1" {
				pk, err := x509.ParsePKCS8PrivateKey(plain)
				if err != nil {
					t.Fatal(err)
				}
				der, err := x509.MarshalPKIXPublicKey(pk.(crypto.Signer).Public())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(der, id.PublicKeyDER) {
					t.Error("the PKCS#8 key's public key differs from the token's")
				}
			}

			restored, err := s.UnwrapKWP(kek, blob, "restored "+spec, k.Spec, true)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.Attributes(restored)
			if err != nil {
				t.Fatal(err)
			}
			if want := (hsm.KeyAttributes{Protection: targetProtection}); a != want {
				t.Errorf("restored attributes = %+v, want %+v", a, want)
			}
			if k.IsSecret() {
				if got := identify(t, s, restored).KCV; got != id.KCV {
					t.Errorf("restored KCV %s, original %s", got, id.KCV)
				}
				return
			}
			if k.Spec.Type == hsmspec.RSA {
				if got := identify(t, s, restored).Fingerprint; got != id.Fingerprint {
					t.Errorf("restored fingerprint %s, original %s", got, id.Fingerprint)
				}
			}
			if err := s.ProvePrivateKey(restored, id.PublicKeyDER); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestUnwrapErrors(t *testing.T) {
	s := softhsmtest.Session(t)
	kek := importKEK(t, s)
	k := generate(t, s, "target", "AES-256")
	blob, err := s.WrapKWP(kek, k)
	if err != nil {
		t.Fatal(err)
	}
	blob[5] ^= 1
	_, err = s.UnwrapKWP(kek, blob, "restored", k.Spec, true)
	want := `unwrap AES-256 key "restored": the blob does not unwrap under this key (CKR_GENERAL_ERROR)` +
		"\nhint: the blob is damaged, or the backup key is not the one it was made with; check the shares and the blob's SHA-256"
	if err == nil || err.Error() != want {
		t.Errorf("tampered blob: err = %v, want %q", err, want)
	}
	blob[5] ^= 1
	_, err = s.UnwrapKWP(kek, blob, "target", k.Spec, true)
	if !errors.Is(err, hsm.ErrLabelExists) {
		t.Errorf("existing label: err = %v", err)
	}
}

func TestProvePrivateKeyMismatch(t *testing.T) {
	s := softhsmtest.Session(t)
	for _, spec := range []string{"EC P-256", "EC secp256k1"} {
		a := generate(t, s, "a "+spec, spec)
		b := generate(t, s, "b "+spec, spec)
		err := s.ProvePrivateKey(a, identify(t, s, b).PublicKeyDER)
		want := fmt.Sprintf("key %q does not match the recorded public key\n"+
			"hint: the restored key is not the one that was backed up; check that the blob, the shares and the transcript belong together", "a "+spec)
		if err == nil || err.Error() != want || !errors.Is(err, hsm.ErrKeyMismatch) {
			t.Errorf("%s: err = %v, want %q", spec, err, want)
		}
	}
}

func TestSigner(t *testing.T) {
	s := softhsmtest.Session(t)
	g, err := s.GenerateSigningKey("transcript")
	if err != nil {
		t.Fatal(err)
	}
	if g.Algorithm() != "Ed25519" {
		t.Fatalf("SoftHSM2 has EdDSA, but the signing key is %s", g.Algorithm())
	}
	msg := []byte("event 1")
	sig, err := g.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(g.Public().(ed25519.PublicKey), msg, sig) {
		t.Error("Ed25519 signature does not verify")
	}
	again, err := s.FindSigningKey("transcript")
	if err != nil {
		t.Fatal(err)
	}
	if !g.Public().(ed25519.PublicKey).Equal(again.Public()) {
		t.Error("FindSigningKey found another public key")
	}
	sig, err = again.Sign(nil, msg, &ed25519.Options{})
	if err != nil || !ed25519.Verify(g.Public().(ed25519.PublicKey), msg, sig) {
		t.Errorf("reopened key: err=%v, or signature does not verify", err)
	}
	if _, err := g.Sign(nil, msg, crypto.SHA256); err == nil {
		t.Error("Ed25519 signer accepted a SHA-256 digest")
	}

	// The ECDSA P-256 path, on a P-256 key pair (it has CKA_SIGN).
	generate(t, s, "ecdsa", "EC P-256")
	e, err := s.FindSigningKey("ecdsa")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	sig, err = e.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if e.Algorithm() != "ECDSA P-256" || !ecdsa.VerifyASN1(e.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("ECDSA signature does not verify")
	}

	if _, err := s.FindSigningKey("nope"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Errorf("missing signing key: err = %v", err)
	}
}

func TestRand(t *testing.T) {
	s := softhsmtest.Session(t)
	b := make([]byte, 1000) // several C_GenerateRandom calls
	if n, err := s.Rand().Read(b); n != len(b) || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if bytes.Count(b, []byte{0}) > 50 {
		t.Error("the token's random bytes look wrong")
	}
}

func TestDestroy(t *testing.T) {
	s := softhsmtest.Session(t)
	k := generate(t, s, "gone", "EC P-256")
	if err := s.Destroy(k); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.LabelExists("gone"); ok || err != nil {
		t.Errorf("LabelExists after Destroy = %t, %v", ok, err)
	}
}
