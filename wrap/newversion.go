package wrap

import (
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// The ways a rotation's new key becomes a new version of the cloud key the rotated key was
// imported into, one per cloud and two for AWS KMS.
const (
	// NewVersionGCP: gcloud kms keys versions import into the same crypto key.
	NewVersionGCP = "gcp-crypto-key-version"
	// NewVersionAzure: az keyvault key import under the same key name, which adds a version.
	NewVersionAzure = "azure-key-version"
	// NewVersionVault: Vault Transit's MOUNT/keys/NAME/import_version.
	NewVersionVault = "vault-import-version"
	// NewVersionOCI: oci kms management key-version import --key-id OCID.
	NewVersionOCI = "oci-key-version"
	// NewVersionAWSRotation: ImportKeyMaterial with ImportType NEW_KEY_MATERIAL into the same
	// KMS key, then RotateKeyOnDemand.
	NewVersionAWSRotation = "aws-on-demand-rotation"
	// NewVersionAWSAlias: a new KMS key (origin EXTERNAL) takes the material, and UpdateAlias
	// moves the alias that named the old key to it.
	NewVersionAWSAlias = "aws-new-key-behind-alias"
)

// AWS KMS's ImportType that adds key material to a key for on-demand rotation.
const awsNewKeyMaterial = "NEW_KEY_MATERIAL"

// NewVersion is how a rotation's package makes its key a new version of the cloud key an earlier
// key was imported into, and why that way. The manifest, the upload instructions and the
// ceremony's wrap event record it.
type NewVersion struct {
	Path string `json:"path"` // one of the NewVersion* constants
	Why  string `json:"why"`
	// Replaces names the cloud key the earlier package imported into (Manifest.CloudKey).
	Replaces string `json:"replaces"`
}

// NewVersionOf says how the key of spec, wrapped under these parameters, becomes a new version
// of the cloud key that old, the rotated key's package manifest, imported into. It refuses
// parameters for another cloud key, naming both, and a way the cloud does not offer for spec.
// It reads only what the parameters and the manifest say, and runs before the token is touched.
func (p *Params) NewVersionOf(spec hsmspec.KeySpec, old *Manifest) (*NewVersion, error) {
	t := &p.Target
	if old.Profile != t.Profile {
		return nil, t.errorf("the key it rotates was imported into %s, not %s\nhint: a rotation makes a new version of the same cloud key; give this target the profile %s", CloudName(old.Profile), CloudName(t.Profile), old.Profile)
	}
	was, now := old.CloudKey(), p.CloudKey()
	if t.Profile == ProfileAWS {
		return p.awsNewVersion(spec, old)
	}
	if t.Profile == ProfileOCI && t.KeyID == "" {
		return nil, t.errorf("a rotation needs key_id, the OCID of the key the earlier package made (%s)\nhint: copy its id from oci kms management key list --compartment-id %s --endpoint %s", was, t.CompartmentID, t.Endpoint)
	}
	if t.Profile == ProfileOCI && !strings.HasPrefix(was, "key ") {
		// The earlier package created the key by display name: the OCID is the plan's word,
		// and the vault, compartment and display name must be the earlier ones.
		now = ociCloudKey("", t.Endpoint, t.CompartmentID, t.KeyName)
	}
	if now != was {
		return nil, t.errorf("these import parameters are for %s, but the key it rotates was imported into %s\nhint: a rotation adds a version to the same cloud key; give the target that key's names", now, was)
	}
	nv := &NewVersion{Replaces: was}
	switch t.Profile {
	case ProfileGCP:
		nv.Path = NewVersionGCP
		nv.Why = fmt.Sprintf("Cloud KMS keeps every version of a crypto key: the new key is imported as a new version of %s, and its earlier versions stay enabled for old data", was)
	case ProfileAzure:
		nv.Path = NewVersionAzure
		nv.Why = fmt.Sprintf("Key Vault keeps versions under one key name: importing under the same name adds a new version of %s, which becomes the current one; earlier versions stay usable by their versioned identifier for old data", was)
	case ProfileVault:
		nv.Path = NewVersionVault
		nv.Why = fmt.Sprintf("Vault Transit keeps numbered versions of an imported key: import_version adds the new key as the latest version of %s; earlier versions stay for decrypting down to its min_decryption_version", was)
	case ProfileOCI:
		nv.Path = NewVersionOCI
		nv.Why = fmt.Sprintf("OCI Vault keeps key versions: key-version import adds the new key as a new version of key %s and rotates the key to it; earlier versions stay for old data", t.KeyID)
		if !strings.HasPrefix(was, "key ") {
			nv.Why += fmt.Sprintf(" (the earlier package created that key by %s; that key_id names it is the plan's word)", was)
		}
	}
	return nv, nil
}

// awsNewVersion chooses between the two AWS paths. AWS KMS rotates imported key material on demand
// only in single-Region symmetric encryption keys (SYMMETRIC_DEFAULT): ImportKeyMaterial with
// ImportType NEW_KEY_MATERIAL, then RotateKeyOnDemand. Asymmetric and HMAC keys hold one key
// material for life, and a multi-Region key needs the same material imported into every replica
// before the rotation, which one package does not do: those get a new KMS key behind the alias.
func (p *Params) awsNewVersion(spec hsmspec.KeySpec, old *Manifest) (*NewVersion, error) {
	t := &p.Target
	if old.AWS == nil || old.AWS.KeyID == "" {
		return nil, t.errorf("the package of the key it rotates names no KMS key\nhint: name a history folder whose package the ceremony wrote as it is")
	}
	oldKey, newKey := awsKeyID(old.AWS.KeyID), awsKeyID(p.keyID)
	cannot := ""
	switch {
	case spec.Type != hsmspec.AES:
		cannot = fmt.Sprintf("%s material: AWS KMS holds one key material for life in an asymmetric or HMAC key", spec)
	case strings.HasPrefix(oldKey, "mrk-"):
		cannot = fmt.Sprintf("%s is a multi-Region key: new key material must be imported into every replica before the rotation, which one import package does not do", oldKey)
	}
	if newKey == oldKey {
		if cannot != "" {
			return nil, t.errorf("these import parameters are for %s itself, which cannot take new key material: %s\nhint: create a new KMS key (origin EXTERNAL) for the new key, fetch import parameters for it, and give alias: the alias of %s, which the upload moves to the new key", oldKey, cannot, oldKey)
		}
		if t.Alias != "" {
			return nil, t.errorf("alias %s is for a rotation onto a new KMS key, but these import parameters are for %s itself (on-demand rotation)\nhint: remove alias", t.Alias, oldKey)
		}
		return &NewVersion{Path: NewVersionAWSRotation, Replaces: old.CloudKey(), Why: fmt.Sprintf(
			"%s material in single-Region symmetric encryption KMS key %s, which holds several imported key materials: ImportKeyMaterial with ImportType %s adds it as PENDING_ROTATION and RotateKeyOnDemand makes it current; the earlier material stays for decrypting old data (AWS allows 10 on-demand rotations per key)",
			spec, oldKey, awsNewKeyMaterial)}, nil
	}
	if t.Alias == "" {
		hint := "fetch import parameters for " + oldKey + " itself (on-demand rotation), or give alias: the alias of " + oldKey + ", which the upload moves to the new key"
		if cannot != "" {
			hint = "give alias: the alias of " + oldKey + ", which the upload moves to the new key"
		}
		return nil, t.errorf("these import parameters are for KMS key %s, not %s, the key it rotates, and no alias is given\nhint: %s", newKey, oldKey, hint)
	}
	why := fmt.Sprintf("the import parameters are for a new KMS key, %s: it takes the new key, and UpdateAlias moves %s from %s to it; %s keeps the earlier material for decrypting old data, so keep it enabled", newKey, t.Alias, oldKey, oldKey)
	if cannot != "" {
		why = cannot + "; so " + why
	}
	return &NewVersion{Path: NewVersionAWSAlias, Replaces: old.CloudKey(), Why: why}, nil
}

// awsKeyID is the key ID of a KMS key ARN (arn:...:key/ID), or id itself.
func awsKeyID(id string) string {
	if _, after, ok := strings.Cut(id, ":key/"); ok {
		return after
	}
	return id
}

// CloudKey names the cloud key these parameters import into, so that two packages for one key
// are known as such (two targets of a ceremony, a rotation and the key it replaces): the AWS KMS
// key as its parameters name it, the GCP crypto key's resource name, the Azure vault (or Managed
// HSM) and key name, the Vault Transit key path and the mount's wrapping key, the OCI key OCID
// (or the vault, compartment and display name of a key the import creates).
func (p *Params) CloudKey() string {
	t := &p.Target
	switch t.Profile {
	case ProfileAWS:
		return "KMS key " + p.keyID
	case ProfileGCP:
		return gcpCloudKey(p.job.project, p.job.location, p.job.keyRing, t.KeyName)
	case ProfileAzure:
		return azureCloudKey(p.managed, p.kekVault, t.KeyName)
	case ProfileVault:
		return vaultCloudKey(vaultMountOf(t)+"/keys/"+t.KeyName, p.Fingerprint())
	default:
		return ociCloudKey(t.KeyID, t.Endpoint, t.CompartmentID, t.KeyName)
	}
}

// CloudKey names the cloud key the package imports into, in the form of Params.CloudKey, read
// from its manifest: the AWS section, else the flags of its command (packages written before
// rotations existed name their key only there).
func (m *Manifest) CloudKey() string {
	cmd := m.Command
	flag := func(name string) string { v, _ := CommandFlag(cmd, name); return v }
	switch m.Profile {
	case ProfileAWS:
		if m.AWS == nil {
			return ""
		}
		return "KMS key " + m.AWS.KeyID
	case ProfileGCP:
		return gcpCloudKey(flag("--project"), flag("--location"), flag("--keyring"), flag("--key"))
	case ProfileAzure:
		if v := flag("--hsm-name"); v != "" {
			return azureCloudKey(true, v, flag("--name"))
		}
		return azureCloudKey(false, flag("--vault-name"), flag("--name"))
	case ProfileVault:
		for _, f := range shellSplit(cmd) {
			if strings.Contains(f, "/keys/") {
				return vaultCloudKey(strings.TrimSuffix(strings.TrimSuffix(f, "/import"), "/import_version"), m.WrappingKeyFingerprint)
			}
		}
		return ""
	case ProfileOCI:
		return ociCloudKey(flag("--key-id"), flag("--endpoint"), flag("--compartment-id"), flag("--display-name"))
	}
	return ""
}

func gcpCloudKey(project, location, keyRing, key string) string {
	return fmt.Sprintf("projects/%s/locations/%s/keyRings/%s/cryptoKeys/%s", project, location, keyRing, key)
}

func azureCloudKey(managed bool, vault, key string) string {
	if managed {
		return fmt.Sprintf("managed HSM %s, key %s", vault, key)
	}
	return fmt.Sprintf("vault %s, key %s", vault, key)
}

func vaultCloudKey(path, wrappingKey string) string {
	return fmt.Sprintf("%s (wrapping key %s)", path, wrappingKey)
}

func ociCloudKey(keyID, endpoint, compartment, displayName string) string {
	if keyID != "" {
		return "key " + keyID
	}
	return fmt.Sprintf("vault %s, compartment %s, display name %s", endpoint, compartment, displayName)
}

func vaultMountOf(t *Target) string {
	if t.Mount == "" {
		return "transit"
	}
	return t.Mount
}

// CommandFlag returns the value of a flag in a command line shellJoin wrote, given as
// "--flag value" or "--flag=value", and whether the command gives it.
func CommandFlag(cmd, flag string) (string, bool) {
	words := shellSplit(cmd)
	for i, w := range words {
		if v, ok := strings.CutPrefix(w, flag+"="); ok {
			return v, true
		}
		if w == flag && i+1 < len(words) {
			return words[i+1], true
		}
	}
	return "", false
}

// shellSplit splits command lines as a POSIX shell would split what shellJoin wrote: words
// apart at blanks and newlines, single quotes kept together, '\” as a quote within them.
func shellSplit(cmd string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted, escaped := false, false, false
	for i := 0; i < len(cmd); i++ { // bytes: every delimiter is ASCII
		r := cmd[i]
		switch {
		case escaped:
			w.WriteByte(r)
			escaped = false
		case r == '\'':
			quoted, inWord = !quoted, true
		case !quoted && r == '\\':
			escaped, inWord = true, true
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
			}
			inWord = false
		default:
			w.WriteByte(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
