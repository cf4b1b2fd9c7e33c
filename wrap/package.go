package wrap

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/version"
)

// KeyInfo identifies the wrapped key in the manifest, and the token that wrapped it.
type KeyInfo struct {
	Label       string
	Spec        hsmspec.KeySpec
	KCV         string            // secret keys: 6 hex digits
	Fingerprint string            // key pairs: "SHA256:<hex>" of the SubjectPublicKeyInfo
	Token       hsmspec.TokenInfo // its model and firmware name the generator of an Azure .byok file
	// NewVersion is set in a rotation (Params.NewVersionOf): the package then makes the key a
	// new version of the rotated key's cloud key.
	NewVersion *NewVersion
}

// The files of import packages.
const (
	CommandName          = "import-command.txt"
	AWSMaterialName      = "EncryptedKeyMaterial.bin"
	AWSTokenName         = "ImportToken.bin"
	GCPWrappedKeyName    = "wrapped-key.bin"
	AzureBYOKName        = "KeyTransferPackage.byok"
	VaultCiphertextName  = "ciphertext.b64"
	OCIWrappedImportName = "wrapped-import-key.json"
)

type packageFile struct {
	name string
	data []byte
}

// WritePackage makes the folder outDir, which must not exist yet, holding the import package of
// a wrapped key: the cloud's files, import-command.txt with the exact CLI command, and
// manifest.json, listing the SHA-256 of every other file. The folder is built under a temporary
// name beside outDir, synced and renamed into place (internal/atomicfile), so nothing is
// overwritten and a folder at outDir always holds the whole package.
func WritePackage(outDir string, p *Params, key KeyInfo, res *Result, now time.Time) (*Manifest, error) {
	files, command, err := p.packageFiles(key, res)
	if err != nil {
		return nil, err
	}
	files = append(files, packageFile{CommandName, []byte(command + "\n")})
	m := &Manifest{
		Format:                 ManifestFormat,
		Target:                 p.Target.Name,
		Profile:                p.Target.Profile,
		Algorithm:              p.Algorithm,
		WrappingKeySpec:        p.WrappingKeySpec,
		WrappingKeyFingerprint: p.Fingerprint(),
		Strategy:               res.Strategy,
		StrategyReason:         res.Reason,
		Mechanisms:             res.Mechanisms,
		Key:                    ManifestKey{Label: key.Label, Spec: key.Spec.String(), KCV: key.KCV, Fingerprint: key.Fingerprint},
		ParametersValidTo:      p.ValidTo.UTC(),
		Command:                command,
		Files:                  make(map[string]string, len(files)),
		KeyceremonyVersion:     version.Version,
		Created:                now.UTC().Truncate(time.Second),
		NewVersion:             key.NewVersion,
	}
	if p.Target.Profile == ProfileAWS {
		m.AWS = &ManifestAWS{KeyID: p.keyID, ExpirationModel: p.Target.ExpirationModel}
		if !p.materialTo.IsZero() {
			v := p.materialTo
			m.AWS.ValidTo = &v
		}
		if nv := key.NewVersion; nv != nil && nv.Path == NewVersionAWSRotation {
			m.AWS.ImportType = awsNewKeyMaterial
		}
		if nv := key.NewVersion; nv != nil && nv.Path == NewVersionAWSAlias {
			m.AWS.Alias = p.Target.Alias
		}
	}
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		m.Files[f.name] = hex.EncodeToString(sum[:])
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	files = append(files, packageFile{ManifestName, append(manifest, '\n')})

	if err := os.MkdirAll(filepath.Dir(outDir), 0o755); err != nil {
		return nil, err
	}
	all := make([]atomicfile.File, len(files))
	for i, f := range files {
		all[i] = atomicfile.File{Name: f.name, Data: f.data, Perm: 0o644}
	}
	if err := atomicfile.WriteDir(outDir, all); errors.Is(err, atomicfile.ErrExists) {
		return nil, fmt.Errorf("%s already exists\nhint: import packages are written once; give a new output folder or move the old one away", outDir)
	} else if err != nil {
		return nil, err
	}
	return m, nil
}

// packageFiles builds the cloud's files and the command that uploads them, run from inside the
// package folder.
func (p *Params) packageFiles(key KeyInfo, res *Result) ([]packageFile, string, error) {
	t := &p.Target
	keyAlg, err := p.keyAlgorithm(key.Spec)
	if err != nil {
		return nil, "", err
	}
	nv := ""
	if key.NewVersion != nil {
		nv = key.NewVersion.Path
	}
	if err := p.checkNewVersion(nv); err != nil {
		return nil, "", err
	}
	switch t.Profile {
	case ProfileAWS:
		region := []string{}
		if r := awsRegion(p.keyID); r != "" {
			region = []string{"--region", r}
		}
		args := append([]string{"aws", "kms", "import-key-material"}, region...)
		args = append(args, "--key-id", p.keyID,
			"--encrypted-key-material", "fileb://"+AWSMaterialName,
			"--import-token", "fileb://"+AWSTokenName,
			"--expiration-model", t.ExpirationModel)
		if !p.materialTo.IsZero() {
			args = append(args, "--valid-to", p.materialTo.Format(time.RFC3339))
		}
		command := shellJoin(args)
		switch nv {
		case NewVersionAWSRotation:
			command += " --import-type " + awsNewKeyMaterial + "\n" +
				shellJoin(append(append([]string{"aws", "kms", "rotate-key-on-demand"}, region...), "--key-id", p.keyID))
		case NewVersionAWSAlias:
			command += "\n" + shellJoin(append(append([]string{"aws", "kms", "update-alias"}, region...), "--alias-name", t.Alias, "--target-key-id", p.keyID))
		}
		return []packageFile{{AWSMaterialName, res.Blob}, {AWSTokenName, p.importToken}}, command, nil
	case ProfileGCP:
		j := p.job
		return []packageFile{{GCPWrappedKeyName, res.Blob}}, shellJoin([]string{
			"gcloud", "kms", "keys", "versions", "import",
			"--project=" + j.project, "--location=" + j.location, "--keyring=" + j.keyRing,
			"--key=" + t.KeyName, "--import-job=" + j.jobID, "--algorithm=" + keyAlg,
			"--wrapped-key-file=" + GCPWrappedKeyName,
		}), nil
	case ProfileAzure:
		byok, err := json.MarshalIndent(azureBYOK{
			SchemaVersion: "1.0.0",
			Header:        azureHeader{KID: t.KID, Alg: "dir", Enc: azureMethod.name},
			Ciphertext:    base64.RawURLEncoding.EncodeToString(res.Blob),
			Generator:     generator(key.Token),
		}, "", "  ")
		if err != nil {
			return nil, "", err
		}
		vaultFlag := "--vault-name"
		if p.managed {
			vaultFlag = "--hsm-name"
		}
		// az keyvault key import appends -HSM to --kty itself (azure-cli keyvault custom.py,
		// import_key), so it takes RSA, EC or oct here.
		args := []string{"az", "keyvault", "key", "import", vaultFlag, p.kekVault, "--name", t.KeyName,
			"--byok-file", AzureBYOKName}
		switch key.Spec.Type {
		case hsmspec.EC:
			curve := key.Spec.Curve
			if curve == "secp256k1" {
				curve = "P-256K"
			}
			args = append(args, "--kty", "EC", "--curve", curve)
		case hsmspec.AES:
			args = append(args, "--kty", "oct")
		default:
			args = append(args, "--kty", "RSA")
		}
		return []packageFile{{AzureBYOKName, append(byok, '\n')}}, shellJoin(args), nil
	case ProfileVault:
		mount := t.Mount
		if mount == "" {
			mount = "transit"
		}
		args := []string{"vault", "write", mount + "/keys/" + t.KeyName + "/import",
			"ciphertext=@" + VaultCiphertextName,
			"hash_function=" + strings.TrimPrefix(p.Algorithm, "hash_function="),
			"type=" + keyAlg}
		if nv == NewVersionVault { // a version takes the key's type
			args = []string{"vault", "write", mount + "/keys/" + t.KeyName + "/import_version", args[3], args[4]}
		}
		return []packageFile{{VaultCiphertextName, []byte(base64.StdEncoding.EncodeToString(res.Blob))}}, shellJoin(args), nil
	default: // oci
		wrapped, err := json.MarshalIndent(struct {
			KeyMaterial       string `json:"keyMaterial"`
			WrappingAlgorithm string `json:"wrappingAlgorithm"`
		}{base64.StdEncoding.EncodeToString(res.Blob), p.Algorithm}, "", "  ")
		if err != nil {
			return nil, "", err
		}
		files := []packageFile{{OCIWrappedImportName, append(wrapped, '\n')}}
		if nv == NewVersionOCI {
			return files, shellJoin([]string{"oci", "kms", "management", "key-version", "import",
				"--endpoint", t.Endpoint, "--key-id", t.KeyID, "--wrapped-import-key", "file://" + OCIWrappedImportName}), nil
		}
		// OCI key shapes give lengths in bytes.
		shape := fmt.Sprintf(`{"algorithm":"%s","length":%d}`, strings.ToUpper(string(key.Spec.Type)), key.Spec.Bits/8)
		return files, shellJoin([]string{
			"oci", "kms", "management", "key", "import",
			"--endpoint", t.Endpoint, "--compartment-id", t.CompartmentID, "--display-name", t.KeyName,
			"--key-shape", shape, "--wrapped-import-key", "file://" + OCIWrappedImportName,
			"--protection-mode", "HSM",
		}), nil
	}
}

// checkNewVersion refuses a new-version path of another cloud, and the rotation-only fields in a
// package that is not a new version.
func (p *Params) checkNewVersion(path string) error {
	t := &p.Target
	want := map[string][]string{
		ProfileAWS: {NewVersionAWSRotation, NewVersionAWSAlias}, ProfileGCP: {NewVersionGCP},
		ProfileAzure: {NewVersionAzure}, ProfileVault: {NewVersionVault}, ProfileOCI: {NewVersionOCI},
	}[t.Profile]
	switch {
	case path != "" && !slices.Contains(want, path):
		return t.errorf("new-version path %s is not one of %s", path, CloudName(t.Profile))
	case path == "" && t.Alias != "":
		return t.errorf("alias is for a rotation onto a new KMS key (kind: rotate)\nhint: remove alias; a first import names the KMS key by key_id")
	case path == "" && t.Profile == ProfileOCI && t.KeyID != "":
		return t.errorf("key_id is for a rotation, which adds a version to that key (kind: rotate)\nhint: remove key_id; a first import creates the key named key_name")
	case path != NewVersionAWSAlias && t.Alias != "":
		return t.errorf("alias %s is for a rotation onto a new KMS key, not %s\nhint: remove alias", t.Alias, path)
	}
	return nil
}

// azureBYOK is the .byok file of the Azure BYOK specification, fields in its order.
type azureBYOK struct {
	SchemaVersion string      `json:"schema_version"`
	Header        azureHeader `json:"header"`
	Ciphertext    string      `json:"ciphertext"`
	Generator     string      `json:"generator"`
}

type azureHeader struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Enc string `json:"enc"`
}

// generator names the BYOK tool and the source HSM, as the Azure specification asks.
func generator(tok hsmspec.TokenInfo) string {
	hsmName := strings.TrimSpace(tok.Manufacturer + " " + tok.Model)
	return fmt.Sprintf("keyceremony %s; source HSM %s, firmware %s", version.Version, hsmName, tok.Firmware)
}

// awsRegion is the region of a key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID), or "".
func awsRegion(keyID string) string {
	parts := strings.Split(keyID, ":")
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" {
		return parts[3]
	}
	return ""
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellJoin joins a command line, single-quoting the arguments a POSIX shell would split or expand.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if shellSafe.MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
