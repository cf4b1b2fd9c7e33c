package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyceremony/keyceremony/wrap"
)

// These tests run the AWS new-version paths of a rotation's package (wrap.NewVersion) against
// local-kms, as far as it implements them, and assert what it does where it does not: it has no
// ImportType (it reads ImportKeyMaterial without it, so NEW_KEY_MATERIAL is a re-import to it),
// returns no KeyMaterialId, and answers RotateKeyOnDemand and ListKeyRotations with HTTP 501.

// rotationPackage is a package for paramsPath holding key, made a new version by path.
func rotationPackage(t *testing.T, paramsPath string, key []byte, path, alias string) string {
	return buildAWSPackage(t, paramsPath, key, func(m *wrap.Manifest) {
		m.NewVersion = &wrap.NewVersion{Path: path, Why: "test", Replaces: "KMS key old"}
		switch path {
		case wrap.NewVersionAWSRotation:
			m.AWS.ImportType = "NEW_KEY_MATERIAL"
			m.Command += " --import-type NEW_KEY_MATERIAL\naws kms rotate-key-on-demand --key-id " + m.AWS.KeyID
		case wrap.NewVersionAWSAlias:
			m.AWS.Alias = alias
			m.Command += "\naws kms update-alias --alias-name " + alias + " --target-key-id " + m.AWS.KeyID
		}
	})
}

// paramsAgain fetches fresh import parameters for keyID, as a rotation's connected side does.
func paramsAgain(t *testing.T, k *kms.Client, keyID string) string {
	t.Helper()
	res, err := Prepare(context.Background(), k, PrepareOptions{KeyID: keyID, WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048",
		Out: filepath.Join(t.TempDir(), "params.json")})
	if err != nil {
		t.Fatal(err)
	}
	return res.Out
}

func readReceipt(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// New key material for the same KMS key (on-demand rotation): local-kms ignores ImportType and
// compares the material with the key's, as for a re-import, so it refuses it; nothing is
// imported and no receipt is written.
func TestRotationOnDemandNewMaterialLocalKMS(t *testing.T) {
	k, s, res := prepared(t)
	if _, err := Upload(context.Background(), k, s, buildAWSPackage(t, res.Out, randomKey(t), nil), Record{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := rotationPackage(t, paramsAgain(t, k, res.KeyID), randomKey(t), wrap.NewVersionAWSRotation, "")
	_, err := Upload(context.Background(), k, s, dir, Record{}, time.Now())
	want := "ImportKeyMaterial for " + res.KeyID + " failed: KMS compared the new key material with the material the key already holds, as for a re-import: " +
		"the endpoint did not apply ImportType NEW_KEY_MATERIAL (local-kms does not implement it), or this material was imported into the key before (IncorrectKeyMaterialException)\n" +
		"hint: nothing was imported; upload to AWS KMS itself, or rotate onto a new KMS key behind the alias"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	var incorrect *types.IncorrectKeyMaterialException
	if !errors.As(err, &incorrect) {
		t.Errorf("errors.As finds no *types.IncorrectKeyMaterialException in %#v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "upload-receipt.json")); !os.IsNotExist(err) {
		t.Errorf("a refused upload wrote a receipt: %v", err)
	}
}

// The same material again with ImportType NEW_KEY_MATERIAL: local-kms takes it as a re-import
// and answers without a KeyMaterialId; the receipt records the ImportType sent and the empty
// KeyMaterialId, then RotateKeyOnDemand, which local-kms does not implement (HTTP 501), fails:
// the upload says so, and the receipt records the failure.
func TestRotationOnDemandRecordsImportTypeLocalKMS(t *testing.T) {
	k, s, res := prepared(t)
	material := randomKey(t)
	if _, err := Upload(context.Background(), k, s, buildAWSPackage(t, res.Out, material, nil), Record{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := rotationPackage(t, paramsAgain(t, k, res.KeyID), material, wrap.NewVersionAWSRotation, "")
	_, err := Upload(context.Background(), k, s, dir, Record{}, time.Now())
	receipt := filepath.Join(dir, "upload-receipt.json")
	want := "RotateKeyOnDemand for " + res.KeyID + " failed: the endpoint does not implement RotateKeyOnDemand (HTTP 501)\n" +
		"the new key material is imported but not current (PENDING_ROTATION): the earlier material still encrypts\n" +
		"hint: run aws kms rotate-key-on-demand --key-id " + res.KeyID + "\n" +
		"the receipt is " + receipt
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	r := readReceipt(t, receipt)
	req, kmsAnswer, follow := r["request"].(map[string]any), r["kms"].(map[string]any), r["follow_up"].(map[string]any)
	if req["import_type"] != "NEW_KEY_MATERIAL" {
		t.Errorf("receipt request %v: no import_type NEW_KEY_MATERIAL", req)
	}
	if _, ok := kmsAnswer["key_material_id"]; ok {
		t.Errorf("receipt kms %v has a key_material_id; local-kms returns none", kmsAnswer)
	}
	if follow["call"] != "RotateKeyOnDemand" || follow["key_id"] != res.KeyID || !strings.HasPrefix(follow["error"].(string), "RotateKeyOnDemand for "+res.KeyID+" failed: ") {
		t.Errorf("receipt follow_up %v", follow)
	}
	_, err = k.ListKeyRotations(context.Background(), &kms.ListKeyRotationsInput{KeyId: aws.String(res.KeyID)})
	if !notImplemented(err) {
		t.Errorf("ListKeyRotations: %v, want local-kms's HTTP 501", err)
	}
	_, err = k.GetKeyRotationStatus(context.Background(), &kms.GetKeyRotationStatusInput{KeyId: aws.String(res.KeyID)})
	if want := "UnsupportedOperationException: " + res.KeyID + " origin is EXTERNAL which is not valid for this operation."; serviceError(err) != want {
		t.Errorf("GetKeyRotationStatus: %q, want %q", serviceError(err), want)
	}
}

// A new KMS key behind the alias: local-kms implements every call of it. The alias named the
// old key; after the upload it names the new one, new encryptions use the new material, and data
// encrypted under the old key still decrypts.
func TestRotationNewKeyBehindAliasLocalKMS(t *testing.T) {
	ctx := context.Background()
	k, s, old := prepared(t)
	if _, err := Upload(ctx, k, s, buildAWSPackage(t, old.Out, randomKey(t), nil), Record{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	const alias = "alias/payments"
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(old.KeyID)}); err != nil {
		t.Fatal(err)
	}
	oldData, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(alias), Plaintext: []byte("before the rotation")})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Prepare(ctx, k, PrepareOptions{Create: true, Description: "rotated", WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048",
		Out: filepath.Join(t.TempDir(), "params.json")})
	if err != nil {
		t.Fatal(err)
	}
	dir := rotationPackage(t, fresh.Out, randomKey(t), wrap.NewVersionAWSAlias, alias)
	r, err := Upload(ctx, k, s, dir, Record{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if f := r.FollowUp; f == nil || *f != (ReceiptFollowUp{Call: "UpdateAlias", KeyID: fresh.KeyID, Alias: alias}) {
		t.Errorf("receipt follow_up %+v", r.FollowUp)
	}
	if !strings.Contains(r.Summary(), "  alias        "+alias+" now names this key\n") {
		t.Errorf("summary\n%s", r.Summary())
	}
	desc, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err != nil || aws.ToString(desc.KeyMetadata.Arn) != fresh.KeyID {
		t.Fatalf("%s names %v (%v), want %s", alias, desc, err, fresh.KeyID)
	}
	newData, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(alias), Plaintext: []byte("after the rotation")})
	if err != nil || aws.ToString(newData.KeyId) != fresh.KeyID {
		t.Fatalf("encrypt under %s: %v, key %s", alias, err, aws.ToString(newData.KeyId))
	}
	dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: oldData.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("before the rotation")) || aws.ToString(dec.KeyId) != old.KeyID {
		t.Errorf("old data no longer decrypts under %s: %v", old.KeyID, err)
	}
}

// The manifest's ImportType and alias must be the ones its new-version path calls for: the
// upload refuses a mismatch before any call.
func TestRotationManifestMismatchRefused(t *testing.T) {
	k, s, res := prepared(t)
	for _, tc := range []struct {
		name string
		edit func(*wrap.Manifest)
		want string
	}{
		{"import type without rotation", func(m *wrap.Manifest) { m.AWS.ImportType = "NEW_KEY_MATERIAL" },
			"the manifest gives ImportType \"NEW_KEY_MATERIAL\" with the new-version path \"\"\nhint: use the package as the ceremony wrote it"},
		{"rotation without import type", func(m *wrap.Manifest) { m.NewVersion = &wrap.NewVersion{Path: wrap.NewVersionAWSRotation} },
			"the manifest gives ImportType \"\" with the new-version path \"aws-on-demand-rotation\"\nhint: use the package as the ceremony wrote it"},
		{"alias without its path", func(m *wrap.Manifest) { m.AWS.Alias = "alias/x" },
			"the manifest gives alias \"alias/x\" with the new-version path \"\"\nhint: use the package as the ceremony wrote it"},
		{"another cloud's path", func(m *wrap.Manifest) { m.NewVersion = &wrap.NewVersion{Path: wrap.NewVersionGCP} },
			"the manifest gives the new-version path \"gcp-crypto-key-version\", which is not one of AWS KMS\nhint: use the package as the ceremony wrote it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &countingClients{KMS: k, STS: s}
			dir := buildAWSPackage(t, res.Out, randomKey(t), tc.edit)
			_, err := Upload(context.Background(), c, c, dir, Record{}, time.Now())
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n%v\nwant\n%s", err, tc.want)
			}
			if n := c.calls.Load(); n != 0 {
				t.Errorf("%d calls reached KMS or STS", n)
			}
		})
	}
}
