// Package benchplan writes the ceremony of the scale benchmark (issue 17): many AES-256 keys in
// one generate plan, each wrapped for Google Cloud KMS, Azure Key Vault and Vault Transit, and
// one share set (2 of 3, age-recipient delivery, so that no person is needed) shared by them all.
//
// The three profiles are ones whose wrapping key may legitimately serve many keys: a Google
// Cloud import job, an Azure key-exchange key and a Vault Transit mount's wrapping key import
// any number of keys. All three use SHA-1 OAEP here, which SoftHSM2 2.6.1 does in the token, so
// every wrap is composed in the token (no host-assisted exception): an ephemeral AES-256 key,
// RSA-OAEP of it, AES key wrap with padding (RFC 5649) of the target under it.
package benchplan

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
)

// Target is one cloud every key is wrapped for, with the private half of its wrapping key so
// that tests can open the packages.
type Target struct {
	Name    string // the target's name in the plan, and its package folder
	Profile string
	KEK     *rsa.PrivateKey
}

// Targets are the benchmark's clouds, in plan order. Every one is RSA-OAEP with SHA-1 of an
// ephemeral AES-256 key followed by AES-KWP of the key.
func Targets() []Target {
	keksOnce.Do(func() {
		for _, t := range []struct {
			name, profile string
			bits          int
		}{{"gcp", "gcp", 3072}, {"azure", "azure", 3072}, {"vault", "vault", 4096}} {
			k, err := rsa.GenerateKey(rand.Reader, t.bits)
			if err != nil {
				panic(err)
			}
			keks = append(keks, Target{Name: t.name, Profile: t.profile, KEK: k})
		}
	})
	return keks
}

// The wrapping keys are made once per process: RSA-4096 generation takes seconds.
var (
	keksOnce sync.Once
	keks     []Target
)

// Keys is the scale target's number of keys in one ceremony.
const Keys = 100

// Custodians are the share set's holders; any Threshold of them restore the keys.
var Custodians = []string{"Alice", "Bob", "Carol"}

// Threshold is the share set's quorum.
const Threshold = 2

// Fixture is a written plan and what a headless run of it needs besides the PINs.
type Fixture struct {
	Plan          string         // the plan file
	Output        string         // the ceremony folder the plan names
	Labels        []string       // the keys' labels, in plan order
	Identities    []age.Identity // the custodians' age identities, in Custodians order
	IdentityFiles []string       // the same, as files for keyceremony run --identity
}

// Write writes, under dir, a generate plan for keys AES-256 keys on the PKCS#11 token labelled
// token in module, the import parameters of Targets, and the custodians' age identities.
func Write(dir, module, token string, keys int) (*Fixture, error) {
	f := &Fixture{Plan: filepath.Join(dir, "plan.yaml"), Output: filepath.Join(dir, "ceremony")}
	for _, sub := range []string{"cloud", "custodians"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	var plan strings.Builder
	fmt.Fprintf(&plan, `version: 1
kind: generate
ceremony: bench
token: {module: %s, token: %s}
participants:
  - {role: administrator, name: Ada}
  - {role: security-officer, name: Sam}
  - {role: witness, name: Wendy}
backup:
  threshold: %d
  custodians:
`, module, token, Threshold)
	for _, name := range Custodians {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, "custodians", strings.ToLower(name)+".key")
		text := fmt.Sprintf("# public key: %s\n%s\n", id.Recipient(), id)
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			return nil, err
		}
		f.Identities = append(f.Identities, id)
		f.IdentityFiles = append(f.IdentityFiles, file)
		fmt.Fprintf(&plan, "    - {name: %s, delivery: age-recipient, recipient: %s}\n", name, id.Recipient())
	}
	params, err := writeParams(filepath.Join(dir, "cloud"))
	if err != nil {
		return nil, err
	}
	plan.WriteString("keys:\n")
	for i := range keys {
		label := fmt.Sprintf("bench-%03d", i+1)
		f.Labels = append(f.Labels, label)
		fmt.Fprintf(&plan, "  - label: %s\n    type: AES-256\n    targets:\n", label)
		for _, t := range Targets() {
			fmt.Fprintf(&plan, "      - {name: %s, profile: %s, params: %s, %s, key_name: %s}\n", t.Name, t.Profile, params[t.Name], profileFields[t.Profile], label)
		}
	}
	plan.WriteString("output: ceremony\n")
	if err := os.WriteFile(f.Plan, []byte(plan.String()), 0o600); err != nil {
		return nil, err
	}
	return f, nil
}

// profileFields are each profile's plan fields besides name, params and key_name. The import
// job is made up, so it has no HSM attestation to check.
var profileFields = map[string]string{
	"gcp":   "key_algorithm: google-symmetric-encryption, attestation: skip",
	"azure": "kid: https://bench.managedhsm.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef",
	"vault": "hash_function: SHA1, key_algorithm: aes256-gcm96",
}

// writeParams writes each target's import parameters as its cloud's CLI prints them and
// returns their paths relative to the plan, by target name.
func writeParams(dir string) (map[string]string, error) {
	paths := map[string]string{}
	for _, t := range Targets() {
		der, err := x509.MarshalPKIXPublicKey(&t.KEK.PublicKey)
		if err != nil {
			return nil, err
		}
		pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		var name string
		var data []byte
		switch t.Profile {
		case "gcp": // gcloud kms import-jobs describe --format=json
			name = "gcp-import-job.json"
			data, err = json.Marshal(map[string]any{
				"name":         "projects/bench/locations/europe-west2/keyRings/bench/importJobs/bench",
				"importMethod": "RSA_OAEP_3072_SHA1_AES_256", "protectionLevel": "HSM", "state": "ACTIVE",
				"createTime": "2026-01-01T00:00:00Z", "generateTime": "2026-01-01T00:00:01Z",
				"expireTime": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339Nano),
				"publicKey":  map[string]string{"pem": pub},
			})
		case "azure": // az keyvault key download --encoding PEM
			name, data = "azure-kek.publickey.pem", []byte(pub)
		case "vault": // vault read -format=json transit/wrapping_key
			name = "vault-wrapping-key.json"
			data, err = json.Marshal(map[string]any{"data": map[string]string{"public_key": pub}})
		}
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
		paths[t.Name] = "cloud/" + name
	}
	return paths, nil
}
