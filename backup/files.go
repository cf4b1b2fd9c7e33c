package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keyceremony/keyceremony/internal/atomicfile"
)

// File names of a backup set in its folder; where share files go is the ceremony's choice.
const (
	ManifestFile = "backup-manifest.json"
	BlobFile     = "backup-blob.bin"
)

// WriteFile writes data to path once (temporary file, fsync, link into place): it never
// replaces an existing file and never leaves a partial one. Share files (age, PNG) take
// perm 0o600.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	if err := atomicfile.WriteOnce(path, data, perm); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// WriteSet writes b's manifest and blob into dir (which must exist) as ManifestFile and
// BlobFile. Neither holds a secret. The blob is written first, so a manifest on disk always has
// its blob.
func WriteSet(dir string, b *Backup) error {
	man, err := b.Manifest.Marshal()
	if err != nil {
		return err
	}
	if err := b.Manifest.checkBlob(b.Blob); err != nil {
		return err
	}
	for _, name := range []string{ManifestFile, BlobFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("backup: %s already exists; nothing was written\nhint: write each backup set into its own folder", filepath.Join(dir, name))
		}
	}
	if err := WriteFile(filepath.Join(dir, BlobFile), b.Blob, 0o644); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, ManifestFile), man, 0o644)
}

// ReadSet reads the manifest and blob WriteSet wrote, checking the blob against the manifest.
func ReadSet(dir string) (*Manifest, []byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("backup: %s has no %s\nhint: give the folder the ceremony wrote the backup set into", dir, ManifestFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, nil, err
	}
	blob, err := os.ReadFile(filepath.Join(dir, BlobFile))
	if err != nil {
		return nil, nil, fmt.Errorf("backup: read the backup blob: %w", err)
	}
	if err := m.checkBlob(blob); err != nil {
		return nil, nil, err
	}
	return m, blob, nil
}

// checkBlob compares the blob's SHA-256 with the manifest's.
func (m *Manifest) checkBlob(blob []byte) error {
	sum := sha256.Sum256(blob)
	if hex.EncodeToString(sum[:]) != m.BlobSHA256 {
		return fmt.Errorf("backup: the backup blob does not match manifest set %s (SHA-256 differs)\nhint: use the blob written with this manifest", m.SetID)
	}
	return nil
}
