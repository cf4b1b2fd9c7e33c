package backup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// ManifestFormat names the version of the backup manifest.
const ManifestFormat = "keyceremony-backup/1"

// Manifest describes one share set and the backup blob it opens, without any secret: the
// ceremony signs it into its transcript, and restore checks every share and the result
// against it.
type Manifest struct {
	Format     string      `json:"format"`
	SetID      string      `json:"set_id"`
	M          int         `json:"m"`
	N          int         `json:"n"`
	Custodians []string    `json:"custodians"` // share i+1 belongs to Custodians[i]
	Key        ManifestKey `json:"key"`
	// SharedWith names every key whose blob the set's backup key wraps, when it backs up more
	// than one (a ceremony of several keys with one shared set); omitted for a set of one key.
	SharedWith   []string `json:"shared_with,omitempty"`
	BackupKeyKCV string   `json:"backup_key_kcv"` // AES KCV of the backup key, 6 hex
	Commitments  []string `json:"commitments"`    // share i+1's commitment, SHA-256 hex
	BlobSHA256   string   `json:"blob_sha256"`
	// Wrap is the mechanism that made the blob when it is not CKM_AES_KEY_WRAP_PAD: a token
	// without it falls back to CKM_AES_KEY_WRAP (RFC 3394) or, where the plan allows,
	// CKM_AES_CBC_PAD (hsmspec.BackupWrap). Omitted for KWP, so older manifests read the same.
	Wrap     string    `json:"wrap,omitempty"`
	Replaces string    `json:"replaces"` // the set ID this set replaces, or ""
	Created  time.Time `json:"created"`
}

// ManifestKey identifies the backed-up key: a KCV for a secret key, the SPKI public key and its
// fingerprint for a key pair (restore proves the private key against it).
type ManifestKey struct {
	Label       string `json:"label"`
	Spec        string `json:"spec"`                  // hsmspec.KeySpec.String(): "AES-256", "EC P-256"
	KCV         string `json:"kcv,omitempty"`         // secret keys, 6 hex
	Fingerprint string `json:"fingerprint,omitempty"` // key pairs, "SHA256:<hex of SHA-256 of SPKI>"
	PublicKey   []byte `json:"public_key,omitempty"`  // key pairs, SPKI DER (base64 in JSON)
}

// Marshal returns the manifest as indented JSON with a final newline, after checking it.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseManifest reads a manifest strictly: unknown fields, trailing data and any inconsistency
// are errors.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a valid backup manifest: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a valid backup manifest: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest is complete and consistent.
func (m *Manifest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("manifest "+format, a...)
	}
	switch {
	case m.Format != ManifestFormat:
		return fmt.Errorf("manifest has format %q, want %q\nhint: use the keyceremony version that wrote it", m.Format, ManifestFormat)
	case !validSetID(m.SetID):
		return bad("set ID %q is not %d Crockford base32 characters", m.SetID, setIDLen)
	case m.M < 2 || m.N < m.M || m.N > maxShares:
		return bad("says %d of %d shares are needed, which no share set has", m.M, m.N)
	case len(m.Custodians) != m.N:
		return bad("names %d custodians for %d shares", len(m.Custodians), m.N)
	case len(m.Commitments) != m.N:
		return bad("has %d commitments for %d shares", len(m.Commitments), m.N)
	case !isHex(m.BackupKeyKCV, 6):
		return bad("backup key KCV is not 6 hex digits")
	case !isHex(m.BlobSHA256, 64):
		return bad("blob SHA-256 is not 64 hex digits")
	case m.Wrap != "" && m.Wrap != hsmspec.BackupKW && m.Wrap != hsmspec.BackupCBCPad:
		return bad("says the blob was wrapped with %q, which is not a backup wrapping mechanism", m.Wrap)
	case m.Replaces != "" && !validSetID(m.Replaces):
		return bad("replaces %q, which is not a set ID", m.Replaces)
	case m.Replaces == m.SetID:
		return bad("set %s replaces itself", m.SetID)
	case m.Created.IsZero():
		return bad("has no creation time")
	}
	if err := checkCustodians(m.Custodians); err != nil {
		return err
	}
	if err := checkSharedWith(m.SharedWith, m.Key.Label); err != nil {
		return err
	}
	for i, c := range m.Commitments {
		if !isHex(c, 64) {
			return bad("commitment of share %d is not 64 hex digits", i+1)
		}
	}
	return m.Key.validate()
}

func (k ManifestKey) validate() error {
	if k.Label == "" {
		return errors.New("manifest key has no label")
	}
	secret, err := specIsSecret(k.Spec)
	if err != nil {
		return err
	}
	if secret {
		if !isHex(k.KCV, 6) || k.Fingerprint != "" || len(k.PublicKey) != 0 {
			return fmt.Errorf("manifest key %q (%s) needs a 6-hex-digit KCV and no public key", k.Label, k.Spec)
		}
		return nil
	}
	if k.KCV != "" || len(k.PublicKey) == 0 || k.Fingerprint != spki.Fingerprint(k.PublicKey) {
		return fmt.Errorf("manifest key %q (%s) needs its public key and that key's fingerprint, and no KCV", k.Label, k.Spec)
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// checkCustodians refuses empty, unprintable, overlong and repeated names (a repeated name would
// make "share 3 (Carol)" ambiguous).
func checkCustodians(names []string) error {
	seen := make(map[string]int, len(names))
	for i, name := range names {
		switch {
		case strings.TrimSpace(name) == "":
			return fmt.Errorf("custodian %d has no name\nhint: every share is named after its custodian", i+1)
		case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			return fmt.Errorf("the name of custodian %d has characters that cannot be printed", i+1)
		case utf8.RuneCountInString(name) > 64:
			return fmt.Errorf("the name of custodian %d is longer than 64 characters", i+1)
		}
		key := strings.ToLower(strings.TrimSpace(name))
		if j, ok := seen[key]; ok {
			return fmt.Errorf("custodians %d and %d are both called %q\nhint: give every custodian a distinct name", j+1, i+1, name)
		}
		seen[key] = i
	}
	return nil
}

// checkSharedWith refuses a list of the keys of a shared set that does not name the manifest's
// own key, names fewer than two keys, or names one twice.
func checkSharedWith(labels []string, own string) error {
	if labels == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if l == "" || seen[l] {
			return fmt.Errorf("manifest shared_with names key %q twice or an empty label", l)
		}
		seen[l] = true
	}
	switch {
	case len(labels) < 2:
		return errors.New("manifest shared_with names fewer than two keys")
	case !seen[own]:
		return fmt.Errorf("manifest shared_with does not name its own key %q", own)
	}
	return nil
}

// specIsSecret reports whether a manifest key spec names a secret key.
func specIsSecret(spec string) (bool, error) {
	ks, err := hsmspec.ParseKeySpec(spec)
	if err != nil {
		return false, fmt.Errorf("manifest key spec: %w", err)
	}
	return ks.IsSecret(), nil
}
