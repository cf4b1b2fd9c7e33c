package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"
)

// Stand-in cloud wrapping keys, made once per test binary (RSA generation is slow).
var (
	cloudKeysOnce sync.Once
	cloudKeys     map[int]*rsa.PrivateKey
)

func cloudKey(bits int) *rsa.PrivateKey {
	cloudKeysOnce.Do(func() {
		cloudKeys = map[int]*rsa.PrivateKey{}
		for _, b := range []int{2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, b)
			if err != nil {
				panic(err)
			}
			cloudKeys[b] = k
		}
	})
	return cloudKeys[bits]
}

// writeFixtures writes, into dir, import parameters in the shape each cloud CLI prints (AWS valid
// for validFor, GCP for 3 days), the stand-in private keys as PEM for openssl, three custodians'
// age identities, and plan.yaml: a generate ceremony of an AES-256 key with a 2-of-3 backup
// delivered as age files, wrapped for AWS, GCP and Azure, into dir/out.
func writeFixtures(dir string, validFor time.Duration) error {
	aws, gcp := cloudKey(2048), cloudKey(3072)
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	for name, k := range map[string]*rsa.PrivateKey{"aws-kek.pem": aws, "gcp-kek.pem": gcp, "azure-kek.pem": gcp} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		if err := write(name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return err
		}
	}
	awsPub, _ := x509.MarshalPKIXPublicKey(&aws.PublicKey)
	gcpPub, _ := x509.MarshalPKIXPublicKey(&gcp.PublicKey)
	gcpPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: gcpPub})
	token := make([]byte, 256)
	rand.Read(token)
	awsJSON, _ := json.MarshalIndent(map[string]any{
		"KeyId":             "arn:aws:kms:eu-west-2:111122223333:key/5d05267f-bb87-4d0b-8594-295a4371d414",
		"ImportToken":       base64.StdEncoding.EncodeToString(token),
		"PublicKey":         base64.StdEncoding.EncodeToString(awsPub),
		"ParametersValidTo": time.Now().Add(validFor).Unix(),
	}, "", "    ")
	gcpJSON, _ := json.MarshalIndent(map[string]any{
		"name":            "projects/test/locations/europe-west2/keyRings/ceremony/importJobs/job1",
		"importMethod":    "RSA_OAEP_3072_SHA1_AES_256",
		"protectionLevel": "HSM",
		"state":           "ACTIVE",
		"createTime":      time.Now().UTC().Format(time.RFC3339Nano),
		"expireTime":      time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339Nano),
		"publicKey":       map[string]string{"pem": string(gcpPEM)},
	}, "", "  ")
	if err := write("aws-params.json", awsJSON); err != nil {
		return err
	}
	if err := write("gcp-import-job.json", gcpJSON); err != nil {
		return err
	}
	if err := write("azure-kek.publickey.pem", gcpPEM); err != nil {
		return err
	}
	var recipients []string
	for _, name := range []string{"alice", "bob", "carol"} {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return err
		}
		if err := write(name+".key", []byte(id.String()+"\n")); err != nil {
			return err
		}
		recipients = append(recipients, id.Recipient().String())
	}
	if err := write("plan-several-keys.yaml", []byte(fmt.Sprintf(severalKeysTemplate, recipients[0], recipients[1], recipients[2]))); err != nil {
		return err
	}
	plan := fmt.Sprintf(planTemplate, recipients[0], recipients[1], recipients[2])
	return write("plan.yaml", []byte(plan))
}

// severalKeysTemplate makes two keys with a share set each, for the same custodians and clouds.
const severalKeysTemplate = `version: 1
kind: generate
ceremony: several
token:
  module: /usr/lib/softhsm/libsofthsm2.so
  token: test
keys:
  - label: key-a
    type: AES-256
    targets:
      - {name: aws, profile: aws, params: aws-params.json, algorithm: RSAES_OAEP_SHA_1, wrapping_key_spec: RSA_2048, expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE}
      - {name: gcp, profile: gcp, params: gcp-import-job.json, key_name: data-a, attestation: skip}
  - label: key-b
    type: AES-256
    targets:
      - {name: azure, profile: azure, params: azure-kek.publickey.pem, kid: "https://test.managedhsm.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef", key_name: data-b}
participants:
  - {role: administrator, name: Ada}
  - {role: security-officer, name: Sam}
  - {role: witness, name: Wendy}
backup:
  sets: per-key
  threshold: 2
  custodians:
    - {name: Alice, delivery: age-recipient, recipient: %s}
    - {name: Bob, delivery: age-recipient, recipient: %s}
    - {name: Carol, delivery: age-recipient, recipient: %s}
output: out
`

const planTemplate = `version: 1
kind: generate
ceremony: test
token:
  module: /usr/lib/softhsm/libsofthsm2.so
  token: test
key:
  label: data-key
  type: AES-256
participants:
  - {role: administrator, name: Ada}
  - {role: security-officer, name: Sam}
  - {role: witness, name: Wendy}
backup:
  threshold: 2
  custodians:
    - {name: Alice, delivery: age-recipient, recipient: %s}
    - {name: Bob, delivery: age-recipient, recipient: %s}
    - {name: Carol, delivery: age-recipient, recipient: %s}
targets:
  - name: aws
    profile: aws
    params: aws-params.json
    algorithm: RSAES_OAEP_SHA_1
    wrapping_key_spec: RSA_2048
    expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE
  - name: gcp
    profile: gcp
    params: gcp-import-job.json
    key_name: data
    attestation: skip
  - name: azure
    profile: azure
    params: azure-kek.publickey.pem
    kid: https://test.managedhsm.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef
    key_name: data
output: out
`

// cmdFixtures is the testscript command "fixtures [expired]": writeFixtures into $WORK.
func cmdFixtures(ts *testscript.TestScript, neg bool, args []string) {
	validFor := 24 * time.Hour
	if len(args) == 1 && args[0] == "expired" {
		validFor = -time.Hour
	}
	if err := writeFixtures(ts.Getenv("WORK"), validFor); err != nil {
		ts.Fatalf("fixtures: %v", err)
	}
}

// identityFlags are the --identity flags for the three custodians of writeFixtures.
func identityFlags(dir string) []string {
	var f []string
	for _, name := range []string{"alice", "bob", "carol"} {
		f = append(f, "--identity", filepath.Join(dir, name+".key"))
	}
	return f
}

// cmdAgeKey is the testscript command "agekey NAME": a new age identity in $WORK/NAME.key.
func cmdAgeKey(ts *testscript.TestScript, neg bool, args []string) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		ts.Fatalf("agekey: %v", err)
	}
	if err := os.WriteFile(ts.MkAbs(args[0]+".key"), []byte(id.String()+"\n"), 0o600); err != nil {
		ts.Fatalf("agekey: %v", err)
	}
}

// cmdSubst is the testscript command "subst FILE": each RECIPIENT_NAME in FILE becomes the age
// recipient of $WORK/name.key.
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.MkAbs(args[0])
	text := ts.ReadFile(args[0])
	for _, m := range regexp.MustCompile(`RECIPIENT_([A-Z]+)`).FindAllStringSubmatch(text, -1) {
		ids, err := age.ParseIdentities(strings.NewReader(ts.ReadFile(strings.ToLower(m[1]) + ".key")))
		if err != nil {
			ts.Fatalf("subst: %v", err)
		}
		text = strings.ReplaceAll(text, m[0], ids[0].(*age.X25519Identity).Recipient().String())
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		ts.Fatalf("subst: %v", err)
	}
}

// cmdCpGlob is the testscript command "cpglob PATTERN DEST": copies the one file matching PATTERN.
func cmdCpGlob(ts *testscript.TestScript, neg bool, args []string) {
	matches, _ := filepath.Glob(ts.MkAbs(args[0]))
	if len(matches) != 1 {
		ts.Fatalf("cpglob: %d files match %s", len(matches), args[0])
	}
	data, err := os.ReadFile(matches[0])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o600))
}
