package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestAWSRotation runs both AWS paths of a rotation against local-kms, from real ceremonies on
// SoftHSM2. The KMS key holding the first key's material is named by an alias. A rotation for the
// same KMS key (on-demand rotation of imported material) is refused by local-kms, which has no
// ImportType and takes the new material for a re-import of other material; nothing is imported.
// A rotation onto a new KMS key behind the alias imports the new material there and moves the
// alias: new encryptions under the alias use the new key, data encrypted before still decrypts.
func TestAWSRotation(t *testing.T) {
	dir := t.TempDir()
	endpoint := localKMSFixtures(t, dir, "test")
	must := func(args ...string) string { return mustSucceed(t, dir, args...) }
	kmsFlags := []string{"--endpoint-url", endpoint, "--region", "eu-west-2"}
	prepare := func(out string, key ...string) string {
		t.Helper()
		args := append([]string{"aws", "prepare", "--wrapping-algorithm", "RSAES_OAEP_SHA_1", "--wrapping-key-spec", "RSA_2048", "--out", out}, kmsFlags...)
		if len(key) == 0 {
			args = append(args, "--create")
		} else {
			args = append(args, "--key-id", key[0])
		}
		must(args...)
		var p struct{ KeyId string }
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, out))), &p); err != nil || p.KeyId == "" {
			t.Fatalf("aws prepare wrote no KeyId: %v", err)
		}
		return p.KeyId
	}
	oldKey := prepare("aws-params.json")
	must(append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)...)
	must(append([]string{"upload", filepath.Join("out", "targets", "aws")}, kmsFlags...)...)
	client, ctx := kmsClient(t, endpoint)
	const alias = "alias/data-key"
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(oldKey)}); err != nil {
		t.Fatal(err)
	}
	before, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(alias), Plaintext: []byte("before the rotation")})
	if err != nil {
		t.Fatal(err)
	}

	kcv := regexp.MustCompile(`"step":"generate-key".*?"kcv":"([0-9a-f]{6})"`).FindStringSubmatch(readFile(t, filepath.Join(dir, "out", "transcript.jsonl")))[1]
	rotation := func(name, label, params, extra string) {
		t.Helper()
		plan := strings.NewReplacer("kind: generate", "kind: rotate", "ceremony: test", "ceremony: "+name, "output: out", "output: "+name,
			"  label: data-key\n", "  label: "+label+"\n  rotates: {label: data-key, kcv: "+kcv+"}\n",
			"params: aws-params.json\n", "params: "+params+"\n"+extra).Replace(readFile(t, filepath.Join(dir, "plan.yaml")))
		write(t, filepath.Join(dir, name+".yaml"), plan)
		must(append([]string{"run", name + ".yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN", "--history", "out"}, identityFlags(dir)...)...)
	}

	// Same KMS key: the package asks for ImportType NEW_KEY_MATERIAL, then RotateKeyOnDemand.
	prepare("aws-params-same.json", oldKey)
	rotation("rotate-same", "data-key-2027", "aws-params-same.json", "")
	if m := readFile(t, filepath.Join(dir, "rotate-same", "targets", "aws", "import-command.txt")); !strings.Contains(m, " --import-type NEW_KEY_MATERIAL\naws kms rotate-key-on-demand --region eu-west-2 --key-id "+oldKey+"\n") {
		t.Errorf("the on-demand rotation's command:\n%s", m)
	}
	out, errOut, code := keyceremony(t, dir, append([]string{"upload", filepath.Join("rotate-same", "targets", "aws")}, kmsFlags...)...)
	want := "keyceremony: ImportKeyMaterial for " + oldKey + " failed: KMS compared the new key material with the material the key already holds, as for a re-import: " +
		"the endpoint did not apply ImportType NEW_KEY_MATERIAL (local-kms does not implement it), or this material was imported into the key before (IncorrectKeyMaterialException)\n"
	if code == 0 || !strings.HasPrefix(errOut, want) {
		t.Errorf("upload of the on-demand rotation to local-kms: exit %d\n%s%s\nwant the refusal\n%s", code, out, errOut, want)
	}

	// A new KMS key behind the alias.
	newKey := prepare("aws-params-new.json")
	rotation("rotate-alias", "data-key-2027b", "aws-params-new.json", "    alias: "+alias+"\n")
	summary := must(append([]string{"upload", filepath.Join("rotate-alias", "targets", "aws")}, kmsFlags...)...)
	if !strings.Contains(summary, "  alias        "+alias+" now names this key\n") {
		t.Errorf("upload summary:\n%s", summary)
	}
	desc, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err != nil || aws.ToString(desc.KeyMetadata.Arn) != newKey {
		t.Fatalf("%s names %v (%v), want the new key %s", alias, desc, err, newKey)
	}
	after, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(alias), Plaintext: []byte("after the rotation")})
	if err != nil || aws.ToString(after.KeyId) != newKey {
		t.Fatalf("encrypt under %s after the rotation: %v, key %s", alias, err, aws.ToString(after.KeyId))
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: before.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("before the rotation")) || aws.ToString(dec.KeyId) != oldKey {
		t.Errorf("data encrypted before the rotation: %v, key %s", err, aws.ToString(dec.KeyId))
	}
	inv := must("inventory", "out", "rotate-alias")
	if !strings.Contains(inv, "  rotation  rotated by rotate-alias on ") || !strings.Contains(inv, "a new version of the rotated key's cloud key (aws-new-key-behind-alias)") {
		t.Errorf("inventory:\n%s", inv)
	}
}
