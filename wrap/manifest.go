package wrap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ManifestFormat names the version of the import package layout.
const ManifestFormat = "keyceremony-import-package/1"

// ManifestName is the file every import package carries.
const ManifestName = "manifest.json"

// Manifest describes one import package: what was wrapped, how, for which cloud, and the SHA-256 of
// every file in it, so the connected side and auditors can check nothing changed on the way.
type Manifest struct {
	Format                 string       `json:"format"`
	Target                 string       `json:"target,omitempty"`
	Profile                string       `json:"profile"`
	Algorithm              string       `json:"algorithm"`
	WrappingKeySpec        string       `json:"wrapping_key_spec"`
	WrappingKeyFingerprint string       `json:"wrapping_key_fingerprint"`
	Strategy               string       `json:"strategy"`
	StrategyReason         string       `json:"strategy_reason"`
	Mechanisms             []string     `json:"mechanisms,omitempty"`
	Key                    ManifestKey  `json:"key"`
	ParametersValidTo      time.Time    `json:"parameters_valid_to,omitzero"` // zero: the cloud states no expiry
	AWS                    *ManifestAWS `json:"aws,omitempty"`
	// NewVersion is set in a rotation's package: how its key becomes a new version of the cloud
	// key the rotated key was imported into, and why that way.
	NewVersion         *NewVersion       `json:"new_version,omitempty"`
	Command            string            `json:"command"`
	Files              map[string]string `json:"files"`
	KeyceremonyVersion string            `json:"keyceremony_version"`
	Created            time.Time         `json:"created"`
}

// ManifestKey identifies the wrapped key without revealing it.
type ManifestKey struct {
	Label       string `json:"label"`
	Spec        string `json:"spec"`
	KCV         string `json:"kcv,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// ManifestAWS holds what ImportKeyMaterial needs beyond the two files.
type ManifestAWS struct {
	KeyID           string     `json:"key_id"`
	ExpirationModel string     `json:"expiration_model"`
	ValidTo         *time.Time `json:"valid_to,omitempty"`
	// ImportType is NEW_KEY_MATERIAL for an on-demand rotation (NewVersionAWSRotation), which the
	// upload follows with RotateKeyOnDemand; empty for a key's first or same material.
	ImportType string `json:"import_type,omitempty"`
	// Alias is moved to KeyID after the import (NewVersionAWSAlias).
	Alias string `json:"alias,omitempty"`
}

// ReadManifest reads dir/manifest.json and checks the SHA-256 of every file it lists, naming the
// first file that is missing or differs. Files it does not list (upload receipts) are left alone.
func ReadManifest(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: it is not an import package\nhint: give the folder the ceremony wrote for one target", dir, ManifestName)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s is not a valid manifest: %v", filepath.Join(dir, ManifestName), err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s has format %q, want %q\nhint: use the keyceremony version that wrote it", filepath.Join(dir, ManifestName), m.Format, ManifestFormat)
	}
	names := make([]string, 0, len(m.Files))
	for name := range m.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if filepath.Base(name) != name || name == ManifestName {
			return nil, fmt.Errorf("manifest lists %q, which is not a plain file name of the package", name)
		}
		sum, err := FileSHA256(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing from the import package %s\nhint: copy the whole package folder as the ceremony wrote it", name, dir)
		}
		if err != nil {
			return nil, err
		}
		if sum != m.Files[name] {
			return nil, fmt.Errorf("%s in %s does not match its SHA-256 in the manifest: the package was altered\nhint: do not upload it; take the package from the ceremony's output again", name, dir)
		}
	}
	return &m, nil
}

// FileSHA256 returns the lowercase hex SHA-256 of a file's contents.
func FileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
