package wrap

import (
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// ExpiryWarning is how close to the parameters' expiry Validate starts warning.
const ExpiryWarning = time.Hour

// maxMaterialValidity is how far ahead AWS accepts ValidTo for key material.
const maxMaterialValidity = 365 * 24 * time.Hour

// Validate checks the import parameters against the key to wrap, at time now, before the token
// is touched. It returns warnings the operator should see (the parameters expire within an hour,
// a documented-but-unusual combination) and the first rule broken, with a hint.
func (p *Params) Validate(key hsmspec.KeySpec, now time.Time) (warnings []string, err error) {
	t := &p.Target
	if err := p.checkState(); err != nil {
		return nil, err
	}
	pub, ok := p.pub.(*rsa.PublicKey)
	if !ok {
		return nil, t.errorf("the wrapping public key is %s, not RSA: every cloud import keyceremony supports wraps under RSA\nhint: fetch the import parameters again; %s", keySpecName(p.pub), paramsHint[t.Profile])
	}
	if pub.E != 65537 {
		return nil, t.errorf("the wrapping public key has public exponent %d; every cloud's wrapping keys use 65537\nhint: this key was not made by the cloud: fetch the import parameters again; %s", pub.E, paramsHint[t.Profile])
	}
	bits := pub.N.BitLen()
	if t.Profile == ProfileAWS && p.WrappingKeySpec != fmt.Sprintf("RSA_%d", bits) {
		return nil, t.errorf("the wrapping public key is RSA_%d but wrapping_key_spec says %s\nhint: give the WrappingKeySpec the parameters were fetched with, or fetch them again", bits, p.WrappingKeySpec)
	}
	if !slices.Contains(p.method.sizes, bits) {
		return nil, t.errorf("the wrapping public key is RSA-%d; %s uses RSA-%s\nhint: fetch the import parameters again; %s", bits, p.Algorithm, joinInts(p.method.sizes, " or RSA-"), paramsHint[t.Profile])
	}
	switch {
	case !p.ValidTo.IsZero() && !now.Before(p.ValidTo):
		return nil, t.errorf("the import parameters expired at %s\nhint: fetch new ones; %s", p.ValidTo.UTC().Format(time.RFC3339), paramsHint[t.Profile])
	case !p.ValidTo.IsZero() && p.ValidTo.Sub(now) < ExpiryWarning:
		warnings = append(warnings, fmt.Sprintf("target %q: the import parameters expire at %s, in %s: upload the package before then", t.label(), p.ValidTo.UTC().Format(time.RFC3339), p.ValidTo.Sub(now).Round(time.Minute)))
	case p.ValidTo.IsZero() && t.Profile == ProfileAWS:
		warnings = append(warnings, fmt.Sprintf("target %q: the expiry of the import parameters is unknown (no parameters_valid_to); AWS import tokens last 24 hours", t.label()))
	}
	if !p.materialTo.IsZero() {
		if !p.materialTo.After(now) {
			return nil, t.errorf("valid_to %s is not in the future\nhint: give a later valid_to, at most 365 days ahead", p.materialTo.Format(time.RFC3339))
		}
		if p.materialTo.Sub(now) > maxMaterialValidity {
			return nil, t.errorf("valid_to %s is more than 365 days ahead, which AWS KMS refuses\nhint: give a valid_to within 365 days, or KEY_MATERIAL_DOES_NOT_EXPIRE", p.materialTo.Format(time.RFC3339))
		}
	}
	w, err := p.checkKey(key)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	if err := p.checkDirect(key, pub); err != nil {
		return nil, err
	}
	if _, err := p.keyAlgorithm(key); err != nil {
		return nil, err
	}
	return warnings, nil
}

// Strategy says how Wrap would wrap for these parameters with a token of these capabilities, or
// why it cannot, naming the missing mechanism and the plan's way out: a preflight, before any key
// exists.
func (p *Params) Strategy(caps hsmspec.Capabilities, allowHostAssisted bool) (*Result, error) {
	return p.plan(caps, allowHostAssisted)
}

// checkState refuses a GCP import job or OCI wrapping key that is not ACTIVE.
func (p *Params) checkState() error {
	t := &p.Target
	switch {
	case t.Profile == ProfileGCP && p.job.state == "PENDING_GENERATION":
		return t.errorf("import job %s is still PENDING_GENERATION\nhint: wait until gcloud kms import-jobs describe shows state ACTIVE, then save its output again", p.job.name)
	case t.Profile == ProfileGCP && p.job.state == "EXPIRED":
		return t.errorf("import job %s is EXPIRED\nhint: create a new import job (they expire 3 days after creation) and save its description", p.job.name)
	case t.Profile == ProfileGCP && p.job.state != "ACTIVE":
		return t.errorf("import job %s is in state %s, not ACTIVE\nhint: create a new import job and save its description", p.job.name, p.job.state)
	case p.ociState != "" && p.ociState != "ACTIVE":
		return t.errorf("the vault's wrapping key is in state %s, not ACTIVE\nhint: wait for the vault to be ACTIVE, then save oci kms management wrapping-key get again", p.ociState)
	}
	return nil
}

// checkKey applies each cloud's rules on the key types and sizes it imports, and on the
// wrapping algorithm it allows for them.
func (p *Params) checkKey(key hsmspec.KeySpec) (warnings []string, err error) {
	t := &p.Target
	isRSAAES := p.method.cons == rsaAES
	switch t.Profile {
	case ProfileAWS:
		switch {
		case key.Type == hsmspec.AES && key.Bits != 256:
			return nil, t.errorf("AWS KMS imports symmetric keys of 32 bytes (SYMMETRIC_DEFAULT); %s has %d\nhint: generate an AES-256 key for AWS", key, key.Bits/8)
		case key.Type == hsmspec.HMAC && !slices.Contains([]int{224, 256, 384, 512}, key.Bits):
			return nil, t.errorf("AWS KMS imports HMAC_224, HMAC_256, HMAC_384 and HMAC_512 keys; %s is none of them\nhint: generate an HMAC key of 224, 256, 384 or 512 bits", key)
		case key.Type == hsmspec.RSA && !isRSAAES:
			return nil, t.errorf("AWS KMS imports RSA private keys only with an RSA_AES wrapping algorithm, not %s\nhint: fetch import parameters with RSA_AES_KEY_WRAP_SHA_256 (or RSA_AES_KEY_WRAP_SHA_1)", p.Algorithm)
		case (key.Type == hsmspec.AES || key.Type == hsmspec.HMAC) && isRSAAES:
			warnings = append(warnings, fmt.Sprintf("target %q: AWS documents %s for RSA and ECC key material; for %s keys RSAES_OAEP_SHA_256 is the documented choice", t.label(), p.Algorithm, key))
		}
	case ProfileGCP:
		switch {
		case key.Type == hsmspec.EC && key.Curve == "P-521":
			return nil, t.errorf("Cloud KMS has no algorithm for EC P-521 keys\nhint: use P-256, P-384 or secp256k1 for Google Cloud")
		case key.Type == hsmspec.RSA && !isRSAAES:
			return nil, t.errorf("import method %s wraps directly and cannot carry RSA keys\nhint: create an import job with an RSA_OAEP_*_AES_256 method", p.Algorithm)
		}
		if p.job.protectionLevel == "SOFTWARE" {
			warnings = append(warnings, fmt.Sprintf("target %q: import job %s has protection level SOFTWARE: the key will not live in a Cloud HSM", t.label(), p.job.name))
		}
	case ProfileAzure:
		switch {
		case key.Type == hsmspec.HMAC:
			return nil, t.errorf("Azure Key Vault cannot import HMAC keys\nhint: import RSA, EC or (on Managed HSM) AES keys into Azure")
		case key.Type == hsmspec.AES && !p.managed:
			warnings = append(warnings, fmt.Sprintf("target %q: Azure imports oct-HSM (AES) keys only into a Managed HSM, and kid names the key vault %s", t.label(), p.kekVault))
		}
	case ProfileVault:
		switch {
		case key.Type == hsmspec.HMAC && key.Bits < 256:
			return nil, t.errorf("Vault Transit imports HMAC keys of 32 to 512 bytes; %s has %d\nhint: generate an HMAC key of at least 256 bits", key, key.Bits/8)
		case key.Type == hsmspec.EC && key.Curve == "secp256k1":
			return nil, t.errorf("Vault Transit has no key type for secp256k1\nhint: use P-256, P-384 or P-521 for Vault")
		}
	case ProfileOCI:
		switch {
		case key.Type == hsmspec.EC:
			return nil, t.errorf("OCI Vault cannot import EC keys\nhint: import AES or RSA keys into OCI")
		case key.Type == hsmspec.HMAC:
			return nil, t.errorf("OCI Vault imports only AES and RSA keys, not %s\nhint: import AES or RSA keys into OCI", key)
		case key.Type == hsmspec.RSA && !isRSAAES:
			return nil, t.errorf("RSA_OAEP_SHA256 wraps directly and cannot carry RSA private keys\nhint: use algorithm RSA_OAEP_AES_SHA256")
		}
	}
	return warnings, nil
}

// checkDirect checks what a direct method's single OAEP block can carry: at most
// k - 2*hLen - 2 bytes (RFC 8017 section 7.1.1), and only a secret key, since PKCS#11
// CKM_RSA_PKCS_OAEP wraps secret keys only (PKCS#11 v2.40 Current Mechanisms, PKCS #1 RSA OAEP).
func (p *Params) checkDirect(key hsmspec.KeySpec, pub *rsa.PublicKey) error {
	if p.method.cons != direct {
		return nil
	}
	t := &p.Target
	capacity := pub.Size() - 2*p.method.hash.Size() - 2
	size, exact := materialSize(key)
	if size > capacity {
		what := fmt.Sprintf("%d bytes", size)
		if !exact {
			what = fmt.Sprintf("PKCS#8, about %d bytes", size)
		}
		hint := "use a larger wrapping key, or an RSA-AES method"
		if t.Profile == ProfileAWS {
			hint = "fetch import parameters with wrapping key spec RSA_3072 or RSA_4096, or with an RSA_AES_KEY_WRAP algorithm"
		}
		return t.errorf("%s key material (%s) does not fit one %s block under RSA-%d (at most %d bytes)\nhint: %s", key, what, p.Algorithm, pub.N.BitLen(), capacity, hint)
	}
	if key.Type != hsmspec.AES && key.Type != hsmspec.HMAC {
		hint := map[string]string{
			ProfileAWS: "fetch import parameters with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256",
			ProfileGCP: "create an import job with an RSA_OAEP_*_AES_256 method",
		}[t.Profile]
		return t.errorf("%s is a private key, and PKCS#11 CKM_RSA_PKCS_OAEP wraps only secret keys, so %s cannot carry it out of a token\nhint: %s", key, p.Algorithm, hint)
	}
	return nil
}

// materialSize is the length of the key material the token emits: the raw key of a secret key
// (exact), the PKCS#8 DER of an EC private key (the size seen from SoftHSM2 and OpenSSL). RSA
// keys never travel in one OAEP block, so their size does not matter here.
func materialSize(key hsmspec.KeySpec) (size int, exact bool) {
	switch key.Type {
	case hsmspec.AES, hsmspec.HMAC:
		return key.Bits / 8, true
	case hsmspec.EC:
		return map[string]int{"P-256": 138, "P-384": 185, "P-521": 241, "secp256k1": 135}[key.Curve], false
	}
	return 0, false
}

// keyAlgorithm is the GCP CryptoKeyVersion algorithm or the Vault key type the key is imported
// as: the plan's key_algorithm when it fits the key, else the only natural one.
func (p *Params) keyAlgorithm(key hsmspec.KeySpec) (string, error) {
	t := &p.Target
	var choices []string
	var derivable bool
	switch t.Profile {
	case ProfileGCP:
		choices, derivable = gcpAlgorithms(key)
	case ProfileVault:
		choices, derivable = vaultTypes(key), true
	default:
		return "", nil
	}
	what := map[string]string{ProfileGCP: "a Cloud KMS algorithm", ProfileVault: "a Vault key type"}[t.Profile]
	switch {
	case t.KeyAlgorithm != "" && !slices.Contains(choices, t.KeyAlgorithm):
		return "", t.errorf("key_algorithm %q is not %s for %s keys\nhint: use one of %s", t.KeyAlgorithm, what, key, strings.Join(choices, ", "))
	case t.KeyAlgorithm != "":
		return t.KeyAlgorithm, nil
	case !derivable:
		return "", t.errorf("key_algorithm is missing: %s keys can be imported as %s\nhint: add key_algorithm to the target", key, strings.Join(choices, ", "))
	}
	return choices[0], nil
}

// gcpAlgorithms lists the CryptoKeyVersion algorithms a key can be imported as
// (cloud.google.com/kms/docs/algorithms); derivable when the first is the natural choice.
func gcpAlgorithms(key hsmspec.KeySpec) (choices []string, derivable bool) {
	switch key.Type {
	case hsmspec.AES:
		if key.Bits == 256 {
			return []string{"google-symmetric-encryption", "aes-256-gcm", "aes-256-cbc", "aes-256-ctr"}, true
		}
		return []string{"aes-128-gcm", "aes-128-cbc", "aes-128-ctr"}, false
	case hsmspec.HMAC:
		return []string{fmt.Sprintf("hmac-sha%d", key.Bits)}, true
	case hsmspec.EC:
		return []string{map[string]string{"P-256": "ec-sign-p256-sha256", "P-384": "ec-sign-p384-sha384", "secp256k1": "ec-sign-secp256k1-sha256"}[key.Curve]}, true
	default: // rsa
		n := key.Bits
		c := []string{
			fmt.Sprintf("rsa-sign-pss-%d-sha256", n), fmt.Sprintf("rsa-sign-pkcs1-%d-sha256", n),
			fmt.Sprintf("rsa-sign-raw-pkcs1-%d", n), fmt.Sprintf("rsa-decrypt-oaep-%d-sha256", n),
			fmt.Sprintf("rsa-decrypt-oaep-%d-sha1", n),
		}
		if n == 4096 {
			c = append(c, "rsa-sign-pss-4096-sha512", "rsa-sign-pkcs1-4096-sha512", "rsa-decrypt-oaep-4096-sha512")
		}
		return c, false
	}
}

// vaultTypes lists the Vault Transit key types a key can be imported as, the default first.
func vaultTypes(key hsmspec.KeySpec) []string {
	switch key.Type {
	case hsmspec.AES:
		if key.Bits == 256 {
			return []string{"aes256-gcm96", "chacha20-poly1305"}
		}
		return []string{"aes128-gcm96"}
	case hsmspec.HMAC:
		return []string{"hmac"}
	case hsmspec.EC:
		return []string{"ecdsa-" + strings.ToLower(strings.ReplaceAll(key.Curve, "-", ""))}
	default: // rsa
		return []string{fmt.Sprintf("rsa-%d", key.Bits)}
	}
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, sep)
}
