package wrap

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/kwp"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// cloudKey is a Go-generated RSA key pair standing in for a cloud's wrapping key, one per size
// for the whole test binary (RSA-4096 generation takes about a second).
var cloudKeys = map[int]*struct {
	once sync.Once
	key  *rsa.PrivateKey
}{2048: {}, 3072: {}, 4096: {}}

func cloudKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	c := cloudKeys[bits]
	c.once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		c.key = k
	})
	return c.key
}

func spkiOf(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// standIn writes the params of a target with the cloud's key replaced by a stand-in key pair,
// in the fixture's exact shape and with an expiry a day ahead, and the stand-in's private key as
// PEM for openssl. It returns the params path and the private key path.
func standIn(t *testing.T, tg Target, bits int, replace ...string) (params, keyPEM string) {
	t.Helper()
	k := cloudKey(t, bits)
	der := spkiOf(t, k)
	newPEM := string(pemBlock("PUBLIC KEY", der))
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	dir := t.TempDir()
	fx := readFixture(t, tg.Params)
	switch tg.Profile {
	case ProfileAWS:
		replace = append(replace, b64([]byte(readFixture(t, "aws-PublicKey.bin"))), b64(der),
			"2026-11-28T18:00:00.123000+00:00", tomorrow)
	case ProfileGCP:
		replace = append(replace, jsonText(t, readFixture(t, "azure-kek.pem")), "",
			"2026-11-30T09:00:00.318531Z", tomorrow)
		replace[len(replace)-4] = jsonText(t, extractPEM(t, fx))
		replace[len(replace)-3] = jsonText(t, newPEM)
	case ProfileAzure:
		fx = newPEM
	case ProfileVault:
		replace = append(replace, jsonText(t, readFixture(t, "azure-kek.pem")), jsonText(t, newPEM))
	case ProfileOCI:
		replace = append(replace, jsonText(t, strings.TrimSpace(readFixture(t, "azure-kek.pem"))), jsonText(t, strings.TrimSpace(newPEM)))
	}
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(fx, replace[i]) {
			t.Fatalf("%s does not contain %q", tg.Params, replace[i])
		}
		fx = strings.ReplaceAll(fx, replace[i], replace[i+1])
	}
	params = filepath.Join(dir, filepath.Base(tg.Params))
	keyPEM = filepath.Join(dir, "cloud-private.pem")
	priv, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(params, []byte(fx), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPEM, pemBlock("PRIVATE KEY", priv), 0o600); err != nil {
		t.Fatal(err)
	}
	return params, keyPEM
}

// extractPEM finds the JSON-escaped PEM of a GCP job description.
func extractPEM(t *testing.T, fx string) string {
	t.Helper()
	start := strings.Index(fx, "-----BEGIN PUBLIC KEY-----")
	end := strings.Index(fx, "-----END PUBLIC KEY-----")
	if start < 0 || end < 0 {
		t.Fatal("no PEM in the fixture")
	}
	return strings.ReplaceAll(fx[start:end+len("-----END PUBLIC KEY-----")], `\n`, "\n") + "\n"
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

var opensslHash = map[crypto.Hash]string{crypto.SHA1: "sha1", crypto.SHA224: "sha224", crypto.SHA256: "sha256",
	crypto.SHA384: "sha384", crypto.SHA512: "sha512"}

// opensslUnwrap undoes the cloud's construction with the stand-in's private key, using only
// the openssl CLI: pkeyutl -decrypt for the OAEP part and enc -d -id-aes256-wrap-pad for the KWP
// part. The KWP part is also unwrapped with the package's own RFC 5649 code.
func opensslUnwrap(t *testing.T, p *Params, keyPEM string, blob []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	md := opensslHash[p.method.hash]
	k := p.rsaKey().Size()
	oaep := filepath.Join(dir, "oaep.bin")
	first := blob
	if p.method.cons == rsaAES {
		first = blob[:k]
	}
	if err := os.WriteFile(oaep, first, 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "oaep-plain.bin")
	run(t, "openssl", "pkeyutl", "-decrypt", "-inkey", keyPEM, "-in", oaep, "-out", plain,
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	out, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if p.method.cons == direct {
		return out
	}
	eph := out
	if len(eph) != 32 {
		t.Fatalf("the ephemeral key has %d bytes, want 32", len(eph))
	}
	wrapped := filepath.Join(dir, "kwp.bin")
	if err := os.WriteFile(wrapped, blob[k:], 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target.bin")
	run(t, "openssl", "enc", "-d", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K", hex.EncodeToString(eph), "-in", wrapped, "-out", target)
	material, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if mine, err := kwp.Unwrap(eph, blob[k:]); err != nil || !bytes.Equal(mine, material) {
		t.Errorf("internal/kwp and openssl disagree on the KWP part: %v", err)
	}
	return material
}

// checkMaterial proves the unwrapped material is the token's key: its KCV for secret keys (AES:
// AES-ECB of a zero block; HMAC: SHA-1, as CKA_CHECK_VALUE defines it), else the public key
// openssl derives from the PKCS#8 equals the token's.
func checkMaterial(t *testing.T, s *hsm.Session, key *hsm.Key, info KeyInfo, material []byte) {
	t.Helper()
	switch key.Spec.Type {
	case hsmspec.AES:
		c, err := aes.NewCipher(material)
		if err != nil || len(material)*8 != key.Spec.Bits {
			t.Fatalf("AES key of %d bytes: %v", len(material), err)
		}
		var blk [16]byte
		c.Encrypt(blk[:], blk[:])
		if kcv := hex.EncodeToString(blk[:3]); kcv != info.KCV {
			t.Errorf("KCV %s, token says %s", kcv, info.KCV)
		}
	case hsmspec.HMAC:
		sum := sha1.Sum(material)
		if kcv := hex.EncodeToString(sum[:3]); len(material)*8 != key.Spec.Bits || kcv != info.KCV {
			t.Errorf("HMAC key of %d bytes, KCV %s; token says %s", len(material), kcv, info.KCV)
		}
	default:
		if size, _ := materialSize(key.Spec); key.Spec.Type == hsmspec.EC && len(material) > size {
			t.Errorf("PKCS#8 of %s has %d bytes, more than the %d Validate assumes", key.Spec, len(material), size)
		}
		spki := pkcs8Public(t, material)
		id, err := s.Identify(key)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(spki)
		if !bytes.Equal(spki, id.PublicKeyDER) || "SHA256:"+hex.EncodeToString(sum[:]) != info.Fingerprint {
			t.Errorf("the unwrapped %s does not match the token's public key", key.Spec)
		}
	}
	clear(material)
}

// pkcs8Public gives the SubjectPublicKeyInfo of a PKCS#8 private key: parsed in Go, or by
// openssl for secp256k1, which Go's x509 does not know.
func pkcs8Public(t *testing.T, der []byte) []byte {
	t.Helper()
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		spki, err := x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
		if err != nil {
			t.Fatal(err)
		}
		return spki
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "target.der"), filepath.Join(dir, "spki.der")
	if err := os.WriteFile(in, der, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "openssl", "pkey", "-inform", "DER", "-in", in, "-pubout", "-outform", "DER", "-out", out)
	spki, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return spki
}

// packageBlob reads the blob back out of the package, through each cloud's encoding.
func packageBlob(t *testing.T, p *Params, dir string) []byte {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch p.Target.Profile {
	case ProfileAWS:
		return read(AWSMaterialName)
	case ProfileGCP:
		return read(GCPWrappedKeyName)
	case ProfileAzure:
		return azureCiphertext(t, dir, p.Target.KID)
	case ProfileVault:
		b, err := base64.StdEncoding.DecodeString(string(read(VaultCiphertextName)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	default:
		return ociKeyMaterial(t, dir, p.Algorithm)
	}
}

// TestTokenOpenSSL wraps token keys for every profile and every key type it takes, writes the
// package, and unwraps it with the openssl CLI and the stand-in cloud key.
func TestTokenOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed; run scripts/setup")
	}
	s := softhsmtest.Session(t)
	caps := s.Capabilities()
	if !caps.KWP || !caps.OAEP[crypto.SHA1] {
		t.Fatalf("the test token lacks KWP or OAEP SHA-1: %s", caps)
	}
	// The SHA-256 cases below expect SoftHSM2 2.6's limits; a token that does more would make
	// them pass through stronger rungs, so say so rather than fail obscurely.
	if caps.OAEP[crypto.SHA256] || caps.RSAAES[crypto.SHA1] || caps.RSAAES[crypto.SHA256] {
		t.Fatalf("the test token does more than SoftHSM2 2.6.1 (%s); update the expected strategies", caps)
	}
	keys := map[string]*hsm.Key{}
	for _, spec := range []string{"AES-256", "AES-128", "HMAC-256", "RSA-2048", "EC P-256", "EC P-384", "EC P-521", "EC secp256k1"} {
		ks, err := hsmspec.ParseKeySpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.GenerateKey("target "+spec, ks)
		if err != nil {
			t.Fatal(err)
		}
		keys[spec] = k
	}
	with := func(tg Target, f func(*Target)) Target { f(&tg); return tg }
	aws := func(alg string) Target { return with(awsTarget(), func(tg *Target) { tg.Algorithm = alg }) }
	gcpRSA := with(gcpTarget(), func(tg *Target) { tg.KeyAlgorithm = "rsa-sign-pss-2048-sha256" })
	gcp128 := with(gcpTarget(), func(tg *Target) { tg.KeyAlgorithm = "aes-128-gcm" })
	managed := with(azureTarget(), func(tg *Target) { tg.KID = azureHSMKID })
	vault := func(hf string) Target { return with(vaultTarget(), func(tg *Target) { tg.HashFunction = hf }) }
	oci := func(alg string) Target { return with(ociTarget(), func(tg *Target) { tg.Algorithm = alg }) }
	const sha256AES = "RSA_OAEP_3072_SHA256_AES_256"
	type tcase struct {
		target   Target
		bits     int
		replace  []string // more fixture edits
		keys     []string
		allow    bool
		strategy string
		err      string
	}
	cases := []tcase{
		{aws("RSAES_OAEP_SHA_1"), 2048, nil, []string{"AES-256", "HMAC-256"}, false, StrategyNative, ""},
		{aws("RSA_AES_KEY_WRAP_SHA_1"), 2048, nil, []string{"RSA-2048", "EC P-256", "EC P-384", "EC P-521", "EC secp256k1", "AES-256"}, false, StrategyComposed, ""},
		{aws("RSA_AES_KEY_WRAP_SHA_256"), 2048, nil, []string{"RSA-2048", "EC P-256"}, true, StrategyHostAssisted, ""},
		{gcpTarget(), 3072, nil, []string{"AES-256", "HMAC-256", "EC P-256", "EC P-384", "EC secp256k1"}, false, StrategyComposed, ""},
		{gcpRSA, 3072, nil, []string{"RSA-2048"}, false, StrategyComposed, ""},
		{gcp128, 3072, nil, []string{"AES-128"}, false, StrategyComposed, ""},
		{gcpTarget(), 3072, []string{"RSA_OAEP_3072_SHA1_AES_256", sha256AES}, []string{"AES-256"}, true, StrategyHostAssisted, ""},
		{gcpTarget(), 4096, []string{"RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_4096_SHA1_AES_256"}, []string{"HMAC-256"}, false, StrategyComposed, ""},
		{gcpTarget(), 4096, []string{"RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_4096_SHA256_AES_256"}, []string{"EC P-384"}, true, StrategyHostAssisted, ""},
		{azureTarget(), 4096, nil, []string{"RSA-2048", "EC P-256", "EC P-384", "EC P-521", "EC secp256k1"}, false, StrategyComposed, ""},
		{managed, 2048, nil, []string{"AES-256", "AES-128"}, false, StrategyComposed, ""},
		{vault("SHA1"), 4096, nil, []string{"AES-256", "HMAC-256", "RSA-2048", "EC P-521"}, false, StrategyComposed, ""},
		{vault("SHA256"), 4096, nil, []string{"AES-128", "EC P-384"}, true, StrategyHostAssisted, ""},
		{vault("SHA512"), 4096, nil, []string{"AES-256"}, true, StrategyHostAssisted, ""},
		{oci("RSA_OAEP_AES_SHA256"), 4096, nil, []string{"AES-256", "AES-128", "RSA-2048"}, true, StrategyHostAssisted, ""},

		// SHA-256 without the mechanisms: refused, naming what is missing and the way out.
		{aws("RSAES_OAEP_SHA_256"), 2048, nil, []string{"AES-256"}, true, "",
			`target "aws-prod": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256, which RSAES_OAEP_SHA_256 needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token` +
				"\nhint: use an HSM that does OAEP with SHA-256 or fetch import parameters with RSAES_OAEP_SHA_1, or with RSA_AES_KEY_WRAP_SHA_256 and allow_host_assisted: true"},
		{aws("RSA_AES_KEY_WRAP_SHA_256"), 2048, nil, []string{"RSA-2048"}, false, "",
			`target "aws-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which RSA_AES_KEY_WRAP_SHA_256 needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not), use an HSM that does OAEP with SHA-256 or fetch import parameters with RSA_AES_KEY_WRAP_SHA_1"},
		{gcpTarget(), 3072, []string{"RSA_OAEP_3072_SHA1_AES_256", sha256AES}, []string{"AES-256"}, false, "",
			`target "gcp-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which RSA_OAEP_3072_SHA256_AES_256 needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not), use an HSM that does OAEP with SHA-256 or create an import job with RSA_OAEP_3072_SHA1_AES_256 or RSA_OAEP_4096_SHA1_AES_256"},
		{gcpTarget(), 3072, []string{"RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_3072_SHA256"}, []string{"AES-256"}, true, "",
			`target "gcp-prod": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256, which RSA_OAEP_3072_SHA256 needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token` +
				"\nhint: use an HSM that does OAEP with SHA-256 or create an import job with RSA_OAEP_3072_SHA1_AES_256 or RSA_OAEP_4096_SHA1_AES_256"},
		{vault("SHA256"), 4096, nil, []string{"AES-256"}, false, "",
			`target "vault-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which hash_function=SHA256 needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not), use an HSM that does OAEP with SHA-256 or use hash_function: SHA1"},
		{oci("RSA_OAEP_AES_SHA256"), 4096, nil, []string{"AES-256"}, false, "",
			`target "oci-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which RSA_OAEP_AES_SHA256 needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not) or use an HSM that does OAEP with SHA-256"},
		{oci("RSA_OAEP_SHA256"), 4096, nil, []string{"AES-256"}, true, "",
			`target "oci-prod": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256, which RSA_OAEP_SHA256 needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token` +
				"\nhint: use an HSM that does OAEP with SHA-256 or use RSA_OAEP_AES_SHA256 with allow_host_assisted: true"},
	}
	for _, tc := range cases {
		for _, spec := range tc.keys {
			key := keys[spec]
			name := tc.target.Name + "/" + tc.target.Algorithm + tc.target.HashFunction + "/" + spec
			if len(tc.replace) > 0 {
				name += "/" + tc.replace[1]
			}
			t.Run(name, func(t *testing.T) {
				tg := tc.target
				tg.AllowHostAssisted = tc.allow
				tg.AllowPaddedPKCS8 = true // TestPaddedPKCS8Refused tests the refusal
				var keyPEM string
				tg.Params, keyPEM = standIn(t, tg, tc.bits, tc.replace...)
				p, err := Load(tg, "")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Validate(key.Spec, time.Now()); err != nil {
					t.Fatal(err)
				}
				res, err := trustedWrap(t, s, p, key)
				if tc.err != "" {
					if err == nil || err.Error() != tc.err {
						t.Fatalf("error\n%v\nwant\n%s", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Strategy != tc.strategy {
					t.Fatalf("strategy %s (%s), want %s", res.Strategy, res.Reason, tc.strategy)
				}
				info, err := Describe(s, key)
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(t.TempDir(), "package")
				if _, err := WritePackage(dir, p, info, res, time.Now()); err != nil {
					t.Fatal(err)
				}
				if _, err := ReadManifest(dir); err != nil {
					t.Fatal(err)
				}
				blob := packageBlob(t, p, dir)
				if !bytes.Equal(blob, res.Blob) {
					t.Fatal("the package does not hold the wrapped key")
				}
				checkMaterial(t, s, key, info, opensslUnwrap(t, p, keyPEM, blob))
			})
		}
	}
}

// TestTokenLeavesNoEphemeralKeys checks that the composed and host-assisted rungs destroy their
// ephemeral keys and the imported cloud key: the session holds as many objects after as before.
func TestTokenLeavesNoEphemeralKeys(t *testing.T) {
	s := softhsmtest.Session(t)
	spec, _ := hsmspec.ParseKeySpec("AES-256")
	key, err := s.GenerateKey("target", spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg   string
		allow bool
	}{{"RSA_AES_KEY_WRAP_SHA_1", false}, {"RSA_AES_KEY_WRAP_SHA_256", true}, {"RSAES_OAEP_SHA_1", false}} {
		tg := awsTarget()
		tg.Algorithm = tc.alg
		tg.Params, _ = standIn(t, tg, 2048)
		p, err := Load(tg, "")
		if err != nil {
			t.Fatal(err)
		}
		p.Target.AllowHostAssisted = tc.allow
		before := countObjects(t, s)
		if _, err := trustedWrap(t, s, p, key); err != nil {
			t.Fatal(err)
		}
		if after := countObjects(t, s); after != before {
			t.Errorf("%s: %d objects before wrapping, %d after", tc.alg, before, after)
		}
	}
}

// trustedWrap prepares the wrap as the security officer (the objects CKA_TRUSTED), then wraps
// as the user, as a ceremony does. The user's login is new, so key is found again by its label.
func trustedWrap(t *testing.T, s *hsm.Session, p *Params, key *hsm.Key) (*Result, error) {
	t.Helper()
	var pr *Prepared
	var err error
	softhsmtest.AsSecurityOfficer(t, s, func() {
		pr, err = Prepare(s, p, key.Spec, p.Target.AllowHostAssisted, true)
	})
	if err != nil {
		return nil, err
	}
	found, err := s.FindKey(key.Label)
	if err != nil {
		t.Fatal(err)
	}
	*key = *found
	return Wrap(s, p, key, pr)
}

// countObjects counts the objects the token shows this process (token objects, and the session
// objects of every session: PKCS#11 shares them and the login across an application's sessions),
// through a second handle on the module that is never finalized, since that would end hsm's too.
func countObjects(t *testing.T, s *hsm.Session) int {
	t.Helper()
	ctx := pkcs11.New(softhsmtest.Module)
	if ctx == nil {
		t.Fatal("cannot load the PKCS#11 module")
	}
	if err := ctx.Initialize(); err != nil && err != pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		t.Fatal(err)
	}
	sh, err := ctx.OpenSession(s.Token().SlotID, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.CloseSession(sh)
	if err := ctx.FindObjectsInit(sh, nil); err != nil {
		t.Fatal(err)
	}
	defer ctx.FindObjectsFinal(sh)
	objs, _, err := ctx.FindObjects(sh, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}
