package wrap

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	otherKeyARN    = "arn:aws:kms:eu-west-2:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab"
	mrkKeyARN      = "arn:aws:kms:eu-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
	vaultFP        = "SHA256:919f2a2801b4e8d5d3768cf9f297b626db96453d227bb44bca6cc4ff2be88ac0" // of testdata/vault-wrapping-key.json
	rotatedKeyOCID = "ocid1.key.oc1.eu-frankfurt-1.bbqe2hfkaacuu.abzwkljrexamplekey"
)

// oldPackage writes the first package of a key for target t, as the ceremony that made the key
// did, and returns its manifest: what a rotation finds in the history.
func oldPackage(t *testing.T, tg Target, spec hsmspec.KeySpec) *Manifest {
	t.Helper()
	p := mustLoad(t, tg)
	m, err := WritePackage(filepath.Join(t.TempDir(), "old", tg.Name), p, KeyInfo{Label: "payments-2026", Spec: spec, KCV: "a1b2c3", Token: softHSMToken},
		&Result{Blob: fakeBlob(p), Strategy: StrategyComposed, Reason: "because"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// awsFor is the AWS target with its import parameters fetched for keyARN.
func awsFor(t *testing.T, keyARN string) Target {
	tg := awsTarget()
	tg.Params = variantJSON(t, "aws-get-parameters-for-import.json", "KeyId", keyARN)
	return tg
}

// TestNewVersionGolden: for each cloud, how a rotation's package makes its key a new version of
// the rotated key's cloud key, why, and the command it writes, against testdata/newversion.golden.
func TestNewVersionGolden(t *testing.T) {
	ociRotate := ociTarget()
	ociRotate.KeyID = rotatedKeyOCID
	awsAlias := awsFor(t, otherKeyARN)
	awsAlias.Alias = "alias/payments"
	mrk := awsFor(t, mrkKeyARN)
	mrkNew := awsFor(t, otherKeyARN)
	mrkNew.Alias = "alias/payments"
	vault := vaultTarget()
	vault.Mount = "kms/transit"
	var out strings.Builder
	for _, tc := range []struct {
		name     string
		old, new Target
		spec     hsmspec.KeySpec
	}{
		{"aws AES-256, same key", awsTarget(), awsTarget(), aes256},
		{"aws AES-256, new key", awsTarget(), awsAlias, aes256},
		{"aws HMAC-256, new key", awsTarget(), awsAlias, hmac256},
		{"aws multi-Region, new key", mrk, mrkNew, aes256},
		{"gcp", gcpTarget(), gcpTarget(), aes256},
		{"azure", azureTarget(), azureTarget(), p256},
		{"vault", vault, vault, aes256},
		{"oci", ociTarget(), ociRotate, aes256},
	} {
		old := oldPackage(t, tc.old, tc.spec)
		p := mustLoad(t, tc.new)
		nv, err := p.NewVersionOf(tc.spec, old)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		dir := filepath.Join(t.TempDir(), tc.new.Name)
		m, err := WritePackage(dir, p, KeyInfo{Label: "payments-2027", Spec: tc.spec, KCV: "d4e5f6", Token: softHSMToken, NewVersion: nv},
			&Result{Blob: fakeBlob(p), Strategy: StrategyComposed, Reason: "because"}, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if read, err := ReadManifest(dir); err != nil || read.NewVersion == nil || *read.NewVersion != *nv || read.CloudKey() != p.CloudKey() {
			t.Errorf("%s: the manifest read back says new_version %+v, cloud key %q (%v); want %+v, %q", tc.name, read.NewVersion, read.CloudKey(), err, nv, p.CloudKey())
		}
		fmt.Fprintf(&out, "== %s\npath: %s\nreplaces: %s\nwhy: %s\n", tc.name, nv.Path, nv.Replaces, nv.Why)
		if m.AWS != nil {
			fmt.Fprintf(&out, "import_type: %q alias: %q\n", m.AWS.ImportType, m.AWS.Alias)
		}
		fmt.Fprintf(&out, "command:\n%s\n\n", m.Command)
	}
	golden := filepath.Join("testdata", "newversion.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v\nhint: go test ./wrap -run TestNewVersionGolden -update", err)
	}
	if out.String() != string(want) {
		t.Errorf("got\n%s\nwant (%s)\n%s", out.String(), golden, want)
	}
}

// TestNewVersionRefusals: a rotation's target that names another cloud key, or a way the cloud
// does not offer for the key, is refused before the token is touched, with the difference named.
func TestNewVersionRefusals(t *testing.T) {
	sameHMAC := awsTarget()
	aliasSame := awsTarget()
	aliasSame.Alias = "alias/payments"
	gcpOther := gcpTarget()
	gcpOther.KeyName = "payments-2027"
	managed := azureTarget()
	managed.KID = azureHSMKID
	vaultOther := vaultTarget()
	vaultOther.Mount = "kms/transit"
	ociNamed := ociTarget()
	ociNamed.KeyID = rotatedKeyOCID
	ociNamed.KeyName = "payments-2027"
	for _, tc := range []struct {
		name     string
		old, new Target
		spec     hsmspec.KeySpec
		want     string
	}{
		{"aws HMAC same key", awsTarget(), sameHMAC, hmac256,
			`target "aws-prod": these import parameters are for 1234abcd-12ab-34cd-56ef-1234567890ab itself, which cannot take new key material: HMAC-256 material: AWS KMS holds one key material for life in an asymmetric or HMAC key` + "\n" +
				"hint: create a new KMS key (origin EXTERNAL) for the new key, fetch import parameters for it, and give alias: the alias of 1234abcd-12ab-34cd-56ef-1234567890ab, which the upload moves to the new key"},
		{"aws multi-Region same key", awsFor(t, mrkKeyARN), awsFor(t, mrkKeyARN), aes256,
			`target "aws-prod": these import parameters are for mrk-1234abcd12ab34cd56ef1234567890ab itself, which cannot take new key material: mrk-1234abcd12ab34cd56ef1234567890ab is a multi-Region key: new key material must be imported into every replica before the rotation, which one import package does not do` + "\n" +
				"hint: create a new KMS key (origin EXTERNAL) for the new key, fetch import parameters for it, and give alias: the alias of mrk-1234abcd12ab34cd56ef1234567890ab, which the upload moves to the new key"},
		{"aws new key without alias", awsTarget(), awsFor(t, otherKeyARN), aes256,
			`target "aws-prod": these import parameters are for KMS key 9999abcd-12ab-34cd-56ef-1234567890ab, not 1234abcd-12ab-34cd-56ef-1234567890ab, the key it rotates, and no alias is given` + "\n" +
				"hint: fetch import parameters for 1234abcd-12ab-34cd-56ef-1234567890ab itself (on-demand rotation), or give alias: the alias of 1234abcd-12ab-34cd-56ef-1234567890ab, which the upload moves to the new key"},
		{"aws HMAC new key without alias", awsTarget(), awsFor(t, otherKeyARN), hmac256,
			`target "aws-prod": these import parameters are for KMS key 9999abcd-12ab-34cd-56ef-1234567890ab, not 1234abcd-12ab-34cd-56ef-1234567890ab, the key it rotates, and no alias is given` + "\n" +
				"hint: give alias: the alias of 1234abcd-12ab-34cd-56ef-1234567890ab, which the upload moves to the new key"},
		{"aws alias for the same key", awsTarget(), aliasSame, aes256,
			`target "aws-prod": alias alias/payments is for a rotation onto a new KMS key, but these import parameters are for 1234abcd-12ab-34cd-56ef-1234567890ab itself (on-demand rotation)` + "\n" +
				"hint: remove alias"},
		{"gcp another crypto key", gcpTarget(), gcpOther, aes256,
			`target "gcp-prod": these import parameters are for projects/acme-kms/locations/europe-west2/keyRings/ceremony/cryptoKeys/payments-2027, but the key it rotates was imported into projects/acme-kms/locations/europe-west2/keyRings/ceremony/cryptoKeys/payments` + "\n" +
				"hint: a rotation adds a version to the same cloud key; give the target that key's names"},
		{"azure another vault", azureTarget(), managed, p256,
			`target "azure-prod": these import parameters are for managed HSM contoso-mhsm, key payments, but the key it rotates was imported into vault contoso-byok, key payments` + "\n" +
				"hint: a rotation adds a version to the same cloud key; give the target that key's names"},
		{"vault another mount", vaultTarget(), vaultOther, aes256,
			`target "vault-prod": these import parameters are for kms/transit/keys/payments (wrapping key ` + vaultFP + `), but the key it rotates was imported into transit/keys/payments (wrapping key ` + vaultFP + `)` + "\n" +
				"hint: a rotation adds a version to the same cloud key; give the target that key's names"},
		{"oci without key_id", ociTarget(), ociTarget(), aes256,
			`target "oci-prod": a rotation needs key_id, the OCID of the key the earlier package made (vault ` + ociEndpoint + `, compartment ocid1.compartment.oc1..aaaaaaaaexamplecompartment, display name payments)` + "\n" +
				"hint: copy its id from oci kms management key list --compartment-id ocid1.compartment.oc1..aaaaaaaaexamplecompartment --endpoint " + ociEndpoint},
		{"oci another display name", ociTarget(), ociNamed, aes256,
			`target "oci-prod": these import parameters are for vault ` + ociEndpoint + `, compartment ocid1.compartment.oc1..aaaaaaaaexamplecompartment, display name payments-2027, but the key it rotates was imported into vault ` + ociEndpoint + `, compartment ocid1.compartment.oc1..aaaaaaaaexamplecompartment, display name payments` + "\n" +
				"hint: a rotation adds a version to the same cloud key; give the target that key's names"},
		{"another cloud", gcpTarget(), vaultTarget(), aes256,
			`target "vault-prod": the key it rotates was imported into Google Cloud KMS, not Vault Transit` + "\n" +
				"hint: a rotation makes a new version of the same cloud key; give this target the profile gcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := oldPackage(t, tc.old, tc.spec)
			nv, err := mustLoad(t, tc.new).NewVersionOf(tc.spec, old)
			if err == nil || err.Error() != tc.want {
				t.Errorf("NewVersionOf = %+v, %v\nwant the refusal\n%s", nv, err, tc.want)
			}
		})
	}
}

// TestRotationFieldsOutsideRotation: alias (aws) and key_id (oci) say which key a rotation
// changes; a package that is not a rotation's is refused with them, and nothing is written.
func TestRotationFieldsOutsideRotation(t *testing.T) {
	aws := awsTarget()
	aws.Alias = "alias/payments"
	oci := ociTarget()
	oci.KeyID = rotatedKeyOCID
	badAlias := awsTarget()
	badAlias.Alias = "alias/aws/payments"
	if _, err := Load(badAlias, "testdata"); err == nil || err.Error() != `target "aws-prod": alias "alias/aws/payments" is not a KMS alias name`+"\n"+
		"hint: give it as aws kms list-aliases prints it: alias/ and letters, digits, /, _ and -, not alias/aws/" {
		t.Errorf("Load with alias/aws/: %v", err)
	}
	for _, tc := range []struct {
		target Target
		want   string
	}{
		{aws, `target "aws-prod": alias is for a rotation onto a new KMS key (kind: rotate)` + "\nhint: remove alias; a first import names the KMS key by key_id"},
		{oci, `target "oci-prod": key_id is for a rotation, which adds a version to that key (kind: rotate)` + "\nhint: remove key_id; a first import creates the key named key_name"},
	} {
		p := mustLoad(t, tc.target)
		dir := filepath.Join(t.TempDir(), "pkg")
		_, err := WritePackage(dir, p, KeyInfo{Label: "k", Spec: aes256, KCV: "a1b2c3"}, &Result{Blob: fakeBlob(p)}, now)
		if err == nil || err.Error() != tc.want {
			t.Errorf("WritePackage: %v\nwant %s", err, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s was written: %v", dir, err)
		}
	}
}

// FuzzShellSplit: CommandFlag reads the command shellJoin wrote back into the same words.
func FuzzShellSplit(f *testing.F) {
	f.Add("--display-name", "Payments 2026", "it's")
	f.Add("a\nb", "'", `\`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		words := []string{a, b, c}
		for _, w := range words {
			if w == "" {
				return // no command has an empty word
			}
		}
		if got := shellSplit(shellJoin(words)); !slices.Equal(got, words) {
			t.Fatalf("shellSplit(shellJoin(%q)) = %q", words, got)
		}
	})
}
