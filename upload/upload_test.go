package upload

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/localkmstest"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/spki"
	"github.com/keyceremony/keyceremony/wrap"
)

// countingClients counts the calls that reach KMS and STS.
type countingClients struct {
	KMS
	STS
	calls atomic.Int32
}

func (c *countingClients) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	c.calls.Add(1)
	return c.KMS.CreateKey(ctx, in, o...)
}

func (c *countingClients) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error) {
	c.calls.Add(1)
	return c.KMS.GetParametersForImport(ctx, in, o...)
}

func (c *countingClients) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error) {
	c.calls.Add(1)
	return c.KMS.ImportKeyMaterial(ctx, in, o...)
}

func (c *countingClients) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, o ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	c.calls.Add(1)
	return c.KMS.DescribeKey(ctx, in, o...)
}

func (c *countingClients) GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, o ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	c.calls.Add(1)
	return c.STS.GetCallerIdentity(ctx, in, o...)
}

// prepared starts local-kms and runs Prepare --create, returning the clients, the result and the
// path of the import parameters file.
func prepared(t *testing.T) (*kms.Client, *sts.Client, *PrepareResult) {
	t.Helper()
	k, s := localKMS(t)
	res, err := Prepare(context.Background(), k, PrepareOptions{
		Create:            true,
		Description:       "keyceremony test",
		WrappingAlgorithm: "RSAES_OAEP_SHA_1",
		WrappingKeySpec:   "RSA_2048",
		Out:               filepath.Join(t.TempDir(), "params.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return k, s, res
}

// buildAWSPackage is a stand-in for the ceremony: it wraps key under the public key of the import
// parameters file with RSAES-OAEP SHA-1 and writes an AWS import package with its manifest; edit
// may change the manifest before it is written.
func buildAWSPackage(t *testing.T, paramsPath string, key []byte, edit func(*wrap.Manifest)) string {
	t.Helper()
	raw, err := os.ReadFile(paramsPath)
	if err != nil {
		t.Fatal(err)
	}
	var p paramsFile
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, pub.(*rsa.PublicKey), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	validTo, err := p.ParametersValidTo.Float64()
	if err != nil {
		t.Fatal(err)
	}
	fp := spki.Fingerprint(p.PublicKey)
	command := "aws kms import-key-material --key-id " + p.KeyId +
		" --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin" +
		" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE\n"
	files := map[string][]byte{
		"EncryptedKeyMaterial.bin": blob,
		"ImportToken.bin":          p.ImportToken,
		"import-command.txt":       []byte(command),
	}
	m := &wrap.Manifest{
		Format:                 wrap.ManifestFormat,
		Profile:                "aws",
		Algorithm:              p.WrappingAlgorithm,
		WrappingKeySpec:        p.WrappingKeySpec,
		WrappingKeyFingerprint: fp,
		Strategy:               "host-assisted",
		StrategyReason:         "test package built in Go",
		Key:                    wrap.ManifestKey{Label: "test-key", Spec: "AES-256", KCV: "000000"},
		ParametersValidTo:      time.UnixMilli(int64(math.Round(validTo * 1000))).UTC(),
		AWS:                    &wrap.ManifestAWS{KeyID: p.KeyId, ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"},
		Command:                strings.TrimSpace(command),
		KeyceremonyVersion:     "test",
		Created:                time.Now().UTC().Truncate(time.Second),
	}
	if edit != nil {
		edit(m)
	}
	return writePackage(t, m, files)
}

// writePackage writes files and the manifest m listing their SHA-256 into a new package folder,
// CEREMONY/targets/pkg, in a ceremony folder whose sealed transcript signs them in a wrap event.
func writePackage(t *testing.T, m *wrap.Manifest, files map[string][]byte) string {
	t.Helper()
	ceremony := t.TempDir()
	dir := filepath.Join(ceremony, "targets", "pkg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m.Files = map[string]string{}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		m.Files[name] = hex.EncodeToString(sum[:])
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, wrap.ManifestName), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	signRecord(t, ceremony, "pkg", append(slices.Collect(maps.Keys(files)), wrap.ManifestName))
	return dir
}

// signRecord writes the sealed transcript of a ceremony that wrapped the package
// CEREMONY/targets/NAME made of files, signed by a new Ed25519 key.
func signRecord(t *testing.T, ceremony, name string, files []string) ed25519.PublicKey {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, err := transcript.Create(ceremony, priv, transcript.Begin{PlanSHA256: strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, "targets/"+name+"/"+f)
	}
	if _, err := w.Append(transcript.Entry{Step: "wrap:" + name, Facts: map[string]any{"target": name}, Files: paths}); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal("keyceremony/upload-test", transcript.Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return pub
}

func randomKey(t *testing.T) []byte {
	key := make([]byte, 32)
	rand.Read(key)
	return key
}

func keyState(t *testing.T, k *kms.Client, keyID string) types.KeyState {
	t.Helper()
	out, err := k.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

func TestPrepareWritesAWSCLIShape(t *testing.T) {
	start := time.Now()
	_, _, res := prepared(t)
	if !res.Created || !strings.HasPrefix(res.KeyID, "arn:aws:kms:eu-west-2:111122223333:key/") {
		t.Errorf("created %v, key id %q; want a new key's ARN", res.Created, res.KeyID)
	}
	raw, err := os.ReadFile(res.Out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("{\n    \"KeyId\": \""+res.KeyID+"\",\n    \"ImportToken\": \"")) {
		t.Errorf("the file does not start as the aws CLI prints:\n%s", raw)
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"ImportToken", "KeyId", "ParametersValidTo", "PublicKey", "WrappingAlgorithm", "WrappingKeySpec"}
	if len(fields) != len(want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	for _, k := range want {
		if _, ok := fields[k]; !ok {
			t.Errorf("no %s in %s", k, raw)
		}
	}
	if fields["WrappingAlgorithm"] != "RSAES_OAEP_SHA_1" || fields["WrappingKeySpec"] != "RSA_2048" {
		t.Errorf("algorithm %v, spec %v", fields["WrappingAlgorithm"], fields["WrappingKeySpec"])
	}
	n, ok := fields["ParametersValidTo"].(json.Number)
	if !ok {
		t.Fatalf("ParametersValidTo is %T, want a number", fields["ParametersValidTo"])
	}
	secs, _ := n.Float64()
	if validTo := time.Unix(int64(secs), 0); validTo.Sub(start) < 23*time.Hour || validTo.Sub(start) > 25*time.Hour {
		t.Errorf("ParametersValidTo %s, want about 24 h from now", validTo)
	}
	if !res.ParametersValidTo.Equal(time.UnixMilli(int64(math.Round(secs * 1000)))) {
		t.Errorf("result says valid to %s, file says %s", res.ParametersValidTo, n)
	}

	var p paramsFile
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(p.PublicKey)
	if want := "SHA256:" + hex.EncodeToString(sum[:]); res.Fingerprint != want {
		t.Errorf("fingerprint %s, want %s", res.Fingerprint, want)
	}
	h := hex.EncodeToString(sum[:])
	if want := readback.Format(res.Fingerprint); res.ReadBack != want || !strings.HasPrefix(want, h[:4]+"-") {
		t.Errorf("read-back form %q, want %q", res.ReadBack, want)
	}
	if len(p.ImportToken) == 0 {
		t.Error("no import token")
	}
}

func TestUploadThenEncryptDecrypt(t *testing.T) {
	k, s, res := prepared(t)
	now := time.Now()
	validTo := now.Add(time.Hour + 500*time.Millisecond)
	dir := buildAWSPackage(t, res.Out, randomKey(t), func(m *wrap.Manifest) {
		m.AWS.ExpirationModel = "KEY_MATERIAL_EXPIRES"
		m.AWS.ValidTo = &validTo // with a fraction of a second, which local-kms cannot take
	})
	r, err := Upload(context.Background(), k, s, dir, Record{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != filepath.Join(dir, "upload-receipt.json") {
		t.Errorf("receipt at %s", r.Path)
	}
	if r.KMS.KeyState != "Enabled" || !r.KMS.Enabled || r.KMS.KeyARN != res.KeyID {
		t.Errorf("receipt KMS answer %+v", r.KMS)
	}
	if want := validTo.UTC().Truncate(time.Second); r.Request.ValidTo == nil || !r.Request.ValidTo.Equal(want) || r.Request.ExpirationModel != "KEY_MATERIAL_EXPIRES" {
		t.Errorf("request %+v, want valid to %s", r.Request, want)
	}
	if r.KMS.ValidTo == nil || !r.KMS.ValidTo.Equal(*r.Request.ValidTo) {
		t.Errorf("DescribeKey valid to %v, want %v", r.KMS.ValidTo, r.Request.ValidTo)
	}
	if r.Identity.ARN != "unknown" || r.Identity.Account != "unknown" || r.Identity.Error == "" {
		t.Errorf("identity %+v; local-kms does not serve STS", r.Identity)
	}
	for _, name := range []string{"EncryptedKeyMaterial.bin", "ImportToken.bin", "manifest.json"} {
		if sum, _ := wrap.FileSHA256(filepath.Join(dir, name)); r.Files[name] != sum {
			t.Errorf("receipt SHA-256 of %s is %q, want %s", name, r.Files[name], sum)
		}
	}
	var onDisk Receipt
	raw, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	onDisk.Path = r.Path
	if got, _ := json.Marshal(onDisk); !bytes.Equal(got, mustJSON(t, r)) {
		t.Errorf("receipt on disk\n%s\ndiffers from the one returned\n%s", got, mustJSON(t, r))
	}
	if _, err := wrap.ReadManifest(dir); err != nil {
		t.Errorf("the package with its receipt no longer reads: %v", err)
	}

	ctx := context.Background()
	plaintext := []byte("keyceremony imported this key")
	enc, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(res.KeyID), Plaintext: plaintext})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) {
		t.Errorf("decrypted %q, want %q", dec.Plaintext, plaintext)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadAgainWritesSecondReceipt(t *testing.T) {
	k, s, res := prepared(t)
	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	if _, err := Upload(context.Background(), k, s, dir, Record{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, "upload-receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Upload(context.Background(), k, s, dir, Record{}, time.Now())
	if err != nil {
		t.Fatalf("re-importing the same package: %v", err)
	}
	if r.Path != filepath.Join(dir, "upload-receipt-2.json") {
		t.Errorf("second receipt at %s", r.Path)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "upload-receipt.json")); !bytes.Equal(again, first) {
		t.Error("the first receipt changed")
	}
	if r.KMS.KeyState != "Enabled" || r.Request.ExpirationModel != "KEY_MATERIAL_DOES_NOT_EXPIRE" || r.Request.ValidTo != nil {
		t.Errorf("receipt %+v", r)
	}
}

func TestUploadOtherMaterialRefused(t *testing.T) {
	k, s, res := prepared(t)
	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	if _, err := Upload(context.Background(), k, s, dir, Record{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	other := buildAWSPackage(t, res.Out, randomKey(t), nil)
	_, err := Upload(context.Background(), k, s, other, Record{}, time.Now())
	want := "ImportKeyMaterial for " + res.KeyID + " failed: the key material is not the one this KMS key already holds, " +
		"or was wrapped for another import token (IncorrectKeyMaterialException)\n" +
		"hint: upload the package the ceremony made for this KMS key with these import parameters; once imported, a KMS key accepts only the same material again"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	var incorrect *types.IncorrectKeyMaterialException
	if !errors.As(err, &incorrect) {
		t.Errorf("errors.As finds no *types.IncorrectKeyMaterialException in %#v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "upload-receipt.json")); err == nil {
		t.Error("a refused upload wrote a receipt")
	}
}

func TestUploadRefusedBeforeAnyCall(t *testing.T) {
	k, s, res := prepared(t)
	now := time.Now().UTC().Truncate(time.Second)
	past, farAhead := now.Add(-time.Second), now.Add(366*24*time.Hour)
	for _, tc := range []struct {
		name string
		edit func(*wrap.Manifest)
		now  time.Time
		want string
	}{
		{"parameters expired", nil, res.ParametersValidTo, "the import parameters of this package expired at " +
			res.ParametersValidTo.Format(time.RFC3339) + "; KMS would refuse its import token\n" +
			"hint: fetch new ones with keyceremony aws prepare --key-id " + res.KeyID + ", and wrap the key again under them"},
		{"material expiry passed", func(m *wrap.Manifest) {
			m.AWS.ExpirationModel, m.AWS.ValidTo = "KEY_MATERIAL_EXPIRES", &past
		}, now, "the key material would expire at " + past.Format(time.RFC3339) + ", which has passed\n" +
			"hint: wrap the key again with a later expiry"},
		{"material expiry beyond a year", func(m *wrap.Manifest) {
			m.AWS.ExpirationModel, m.AWS.ValidTo = "KEY_MATERIAL_EXPIRES", &farAhead
		}, now, "the key material would expire at " + farAhead.Format(time.RFC3339) + ", more than 365 days from now, which KMS refuses\n" +
			"hint: wrap the key again with an expiry within a year"},
		{"expiry without valid_to", func(m *wrap.Manifest) { m.AWS.ExpirationModel = "KEY_MATERIAL_EXPIRES" }, now,
			"the manifest gives KEY_MATERIAL_EXPIRES without valid_to\nhint: use the package as the ceremony wrote it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildAWSPackage(t, res.Out, randomKey(t), tc.edit)
			c := &countingClients{KMS: k, STS: s}
			_, err := Upload(context.Background(), c, c, dir, Record{}, tc.now)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n%v\nwant\n%s", err, tc.want)
			}
			if n := c.calls.Load(); n != 0 {
				t.Errorf("%d calls reached KMS or STS", n)
			}
		})
	}
	if st := keyState(t, k, res.KeyID); st != types.KeyStatePendingImport {
		t.Errorf("key state %s, want PendingImport: an import reached local-kms", st)
	}
}

func TestUploadTamperedPackageRefused(t *testing.T) {
	k, s, res := prepared(t)
	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	path := filepath.Join(dir, "EncryptedKeyMaterial.bin")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &countingClients{KMS: k, STS: s}
	_, err = Upload(context.Background(), c, c, dir, Record{}, time.Now())
	if want := materialNotSigned(dir); err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	requireNoImport(t, c, k, res.KeyID)
}

// materialNotSigned is the refusal of a package whose EncryptedKeyMaterial.bin is not the one
// its ceremony's record signed.
func materialNotSigned(dir string) string {
	ceremony := filepath.Dir(filepath.Dir(dir))
	return "the ceremony's record in " + ceremony + " does not verify: event 1: file targets/pkg/EncryptedKeyMaterial.bin differs from its recorded SHA-256; nothing was sent\n" +
		"hint: check it with keyceremony verify " + ceremony + "; a package whose record does not verify must not be uploaded"
}

// requireNoImport checks that no call reached KMS or STS and the key still waits for its material.
func requireNoImport(t *testing.T, c *countingClients, k *kms.Client, keyID string) {
	t.Helper()
	if n := c.calls.Load(); n != 0 {
		t.Errorf("%d calls reached KMS or STS", n)
	}
	if st := keyState(t, k, keyID); st != types.KeyStatePendingImport {
		t.Errorf("key state %s, want PendingImport: an import reached local-kms", st)
	}
}

func TestPrepareRefusesExistingOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "params.json")
	if err := os.WriteFile(out, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &countingClients{}
	_, err := Prepare(context.Background(), c, PrepareOptions{
		Create: true, WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", Out: out,
	})
	want := "" + out + " already exists; prepare never replaces a file\nhint: give another --out, or move the old file away"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	if n := c.calls.Load(); n != 0 {
		t.Errorf("%d calls reached KMS", n)
	}
	if b, _ := os.ReadFile(out); string(b) != "earlier\n" {
		t.Errorf("the existing file changed to %q", b)
	}
}

func TestPrepareOptionsChecked(t *testing.T) {
	out := filepath.Join(t.TempDir(), "params.json")
	for _, tc := range []struct {
		opts PrepareOptions
		want string
	}{
		{PrepareOptions{KeyID: "k", Create: true, WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", Out: out},
			"give either a key id or create, not both"},
		{PrepareOptions{WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", Out: out},
			"no KMS key named\nhint: give --key-id of a KMS key of origin EXTERNAL, or --create to make one"},
		{PrepareOptions{KeyID: "k", Description: "d", WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", Out: out},
			"a description is only for a key being created\nhint: add --create, or drop --description"},
		{PrepareOptions{KeyID: "k", WrappingAlgorithm: "RSAES_PKCS1_V1_5", WrappingKeySpec: "RSA_2048", Out: out},
			"wrapping algorithm \"RSAES_PKCS1_V1_5\" is not one keyceremony uses with AWS KMS\n" +
				"hint: use one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256"},
		{PrepareOptions{KeyID: "k", WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "SM2", Out: out},
			"wrapping key spec \"SM2\" is not one keyceremony uses with AWS KMS\nhint: use RSA_2048, RSA_3072 or RSA_4096"},
		{PrepareOptions{KeyID: "k", WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048"},
			"no output file named\nhint: give --out FILE for the import parameters"},
		{PrepareOptions{KeyID: "k", WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", Out: filepath.Join(out, "x", "params.json")},
			"the folder of " + filepath.Join(out, "x", "params.json") + " does not exist\nhint: create it first"},
	} {
		c := &countingClients{}
		_, err := Prepare(context.Background(), c, tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: error\n%v\nwant\n%s", tc.opts, err, tc.want)
		}
	}
}

func TestConnectionRefusedExplained(t *testing.T) {
	localkmstest.AWSEnv(t)
	k, _, err := NewClients(context.Background(), "http://127.0.0.1:"+strconv.Itoa(localkmstest.FreeLoopbackPort(t)), "eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(context.Background(), k, PrepareOptions{
		KeyID: "1234abcd-12ab-34cd-56ef-1234567890ab", WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048",
		Out: filepath.Join(t.TempDir(), "params.json"),
	})
	want := "GetParametersForImport for 1234abcd-12ab-34cd-56ef-1234567890ab failed: nothing answers at the AWS endpoint (connection refused)\n" +
		"hint: check --endpoint-url, or start the emulator first"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

func TestNewClientsChecksEndpoint(t *testing.T) {
	localkmstest.AWSEnv(t)
	_, _, err := NewClients(context.Background(), "127.0.0.1:4566", "eu-west-2")
	want := "endpoint URL \"127.0.0.1:4566\" is not an http or https URL\nhint: give it as https://host[:port], e.g. http://127.0.0.1:8080 for local-kms"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	_, _, err = NewClients(context.Background(), "", "")
	want = "no AWS region is configured\nhint: set AWS_REGION, or region in the AWS config profile, or pass --region"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

// disabledAfterImport answers DescribeKey with a disabled key, as KMS would if someone disabled the
// key right after the import.
type disabledAfterImport struct{ KMS }

func (d disabledAfterImport) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, o ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	out, err := d.KMS.DescribeKey(ctx, in, o...)
	if err == nil {
		out.KeyMetadata.KeyState, out.KeyMetadata.Enabled = types.KeyStateDisabled, false
	}
	return out, err
}

func TestUploadNotEnabledStillWritesReceipt(t *testing.T) {
	k, s, res := prepared(t)
	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	_, err := Upload(context.Background(), disabledAfterImport{k}, s, dir, Record{}, time.Now())
	want := "KMS accepted the key material, but DescribeKey shows " + res.KeyID + " in state Disabled\n" +
		"hint: look at it with aws kms describe-key --key-id " + res.KeyID + "\n" +
		"the receipt is " + filepath.Join(dir, "upload-receipt.json")
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "upload-receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Receipt
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.KMS.KeyState != "Disabled" || r.KMS.Enabled {
		t.Errorf("receipt records %+v", r.KMS)
	}
}

// Run is what keyceremony upload calls: clients from the configuration chain, then Upload.
func TestRunUploadsAndSummarises(t *testing.T) {
	localkmstest.AWSEnv(t)
	endpoint := localkmstest.Start(t)
	k, _, err := NewClients(context.Background(), endpoint, "eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Prepare(context.Background(), k, PrepareOptions{
		Create: true, WrappingAlgorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048",
		Out: filepath.Join(t.TempDir(), "params.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantPrepare := "Created the KMS key " + res.KeyID + " (origin EXTERNAL, SYMMETRIC_DEFAULT), waiting for its key material.\n" +
		"Wrote the import parameters for " + res.KeyID + " to " + res.Out + ".\n" +
		"  wrapping     RSAES_OAEP_SHA_1 with an RSA_2048 key\n" +
		"  valid until  " + res.ParametersValidTo.Format(time.RFC3339) + "\n" +
		"  fingerprint  " + res.Fingerprint + "\n" +
		"  read back    " + res.ReadBack + "\n" +
		"Take the file to the ceremony; there, two people check that it shows this fingerprint.\n"
	if got := res.Summary(); got != wantPrepare {
		t.Errorf("prepare summary\n%s\nwant\n%s", got, wantPrepare)
	}

	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	_, err = Run(context.Background(), dir, Record{}, endpoint, "", time.Now())
	if want := "no AWS region is configured\nhint: set AWS_REGION, or region in the AWS config profile, or pass --region"; err == nil || err.Error() != want {
		t.Fatalf("Run with no region: error\n%v\nwant\n%s", err, want)
	}
	t.Setenv("AWS_REGION", "eu-west-2") // the region from the configuration chain
	text, err := Run(context.Background(), dir, Record{}, endpoint, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := "Imported the key material of test-key (AES-256, KCV 000000) into " + res.KeyID + ".\n" +
		"  key state    Enabled\n" +
		"  expires      never\n" +
		"  uploaded by  unknown: STS did not answer (the receipt says why)\n" +
		"  receipt      " + filepath.Join(dir, "upload-receipt.json") + "\n"
	if text != want {
		t.Errorf("Run printed\n%s\nwant\n%s", text, want)
	}
}

// replaceTogether puts another key's material into the package in dir and rewrites its manifest
// to match, as someone who can write to the package but cannot sign the record would.
func replaceTogether(t *testing.T, dir, paramsPath string) {
	t.Helper()
	forged := buildAWSPackage(t, paramsPath, randomKey(t), nil)
	for _, name := range []string{"EncryptedKeyMaterial.bin", wrap.ManifestName} {
		b, err := os.ReadFile(filepath.Join(forged, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wrap.ReadManifest(dir); err != nil {
		t.Fatalf("the forged package does not even pass its own manifest: %v", err)
	}
}

// The key material and the manifest replaced together pass the manifest's own check; the signed
// wrap event refuses them before any call, in the ceremony folder and when the package is carried
// out of it with --transcript.
func TestUploadRefusesFilesAndManifestReplacedTogether(t *testing.T) {
	k, s, res := prepared(t)
	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	ceremony := filepath.Dir(filepath.Dir(dir))

	// Carried out of the folder (copied), then forged: the record is whole, the copy is not.
	carried := filepath.Join(t.TempDir(), "pkg")
	os.Mkdir(carried, 0o755)
	for _, name := range []string{"EncryptedKeyMaterial.bin", "ImportToken.bin", "import-command.txt", wrap.ManifestName} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		os.WriteFile(filepath.Join(carried, name), b, 0o644)
	}
	replaceTogether(t, carried, res.Out)
	c := &countingClients{KMS: k, STS: s}
	_, err := Upload(context.Background(), c, c, carried, Record{}, time.Now())
	want := "" + carried + " is not inside its ceremony folder (CEREMONY/targets/NAME, or CEREMONY/targets/LABEL/NAME), so its signed record cannot be checked\n" +
		"hint: give the ceremony folder: keyceremony upload --transcript CEREMONY " + carried
	if err == nil || err.Error() != want {
		t.Errorf("without --transcript: %v\nwant %s", err, want)
	}
	_, err = Upload(context.Background(), c, c, carried, Record{Dir: ceremony}, time.Now())
	want = "manifest.json in " + carried + " is not the file the ceremony signed (its SHA-256 differs from the wrap event's); nothing was sent\n" +
		"hint: the package was altered; take it from the ceremony's output again"
	if err == nil || err.Error() != want {
		t.Errorf("carried: %v\nwant %s", err, want)
	}

	// Forged in place: the record no longer verifies.
	replaceTogether(t, dir, res.Out)
	_, err = Upload(context.Background(), c, c, dir, Record{}, time.Now())
	if want := materialNotSigned(dir); err == nil || err.Error() != want {
		t.Errorf("in place: %v\nwant %s", err, want)
	}
	requireNoImport(t, c, k, res.KeyID)
}

// A record re-signed wholesale, package and transcript, by another key is refused when the
// witnesses' fingerprint is given; the right fingerprint, in hex or read-back form, lets the
// upload through.
func TestUploadChecksSigningKeyFingerprint(t *testing.T) {
	k, s, res := prepared(t)
	dir := buildAWSPackage(t, res.Out, randomKey(t), nil)
	ceremony := filepath.Dir(filepath.Dir(dir))
	events, err := transcript.Read(ceremony)
	if err != nil {
		t.Fatal(err)
	}
	var begin transcript.BeginFacts
	json.Unmarshal(events[0].Facts, &begin)
	right := strings.TrimPrefix(begin.Fingerprint, "SHA256:")
	wrong := strings.Repeat("0", 32)
	c := &countingClients{KMS: k, STS: s}
	_, err = Upload(context.Background(), c, c, dir, Record{Fingerprint: wrong}, time.Now())
	want := "the record in " + ceremony + " is signed by " + begin.Fingerprint + ", not by the key the witnesses wrote down (" + wrong + "); nothing was sent\n" +
		"hint: the whole folder may have been re-signed; do not upload it"
	if err == nil || err.Error() != want {
		t.Errorf("wrong fingerprint: %v\nwant %s", err, want)
	}
	_, err = Upload(context.Background(), c, c, dir, Record{Fingerprint: right[:16]}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "has 16 hex digits; give 32 to 64 (at least 128 bits)") {
		t.Errorf("16 digits: %v", err)
	}
	if n := c.calls.Load(); n != 0 {
		t.Errorf("%d calls reached KMS or STS", n)
	}
	if _, err := Upload(context.Background(), c, c, dir, Record{Fingerprint: readback.Format(begin.Fingerprint)}, time.Now()); err != nil {
		t.Fatalf("the right fingerprint: %v", err)
	}
}
