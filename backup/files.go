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

// Backup is a new share set: the manifest and blob to store, the shares to hand out.
type Backup struct {
	Manifest Manifest
	Blob     []byte  // AES-KWP(backup key, target key), RFC 5649; not secret
	Shares   []Share // Shares[i] belongs to Manifest.Custodians[i]
}

// Zero clears every share.
func (b *Backup) Zero() {
	for i := range b.Shares {
		b.Shares[i].Zero()
	}
}

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
		return err
	}
	return nil
}

// WriteSet makes the folder dir, which must not exist, holding b's manifest and blob as
// ManifestFile and BlobFile; neither holds a secret. The folder is built under a temporary name
// and renamed into place (internal/atomicfile), so a folder at dir always holds both.
func WriteSet(dir string, b *Backup) error {
	man, err := b.Manifest.Marshal()
	if err != nil {
		return err
	}
	if err := b.Manifest.checkBlob(b.Blob); err != nil {
		return err
	}
	err = atomicfile.WriteDir(dir, []atomicfile.File{{Name: BlobFile, Data: b.Blob, Perm: 0o644}, {Name: ManifestFile, Data: man, Perm: 0o644}})
	if errors.Is(err, atomicfile.ErrExists) {
		return fmt.Errorf("%s already exists; nothing was written\nhint: write each backup set into its own folder", dir)
	}
	if err != nil {
		return err
	}
	return nil
}

// ReadSet reads the manifest and blob WriteSet wrote, checking the blob against the manifest.
func ReadSet(dir string) (*Manifest, []byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s has no %s\nhint: give the folder the ceremony wrote the backup set into", dir, ManifestFile)
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, nil, err
	}
	blob, err := os.ReadFile(filepath.Join(dir, BlobFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read the backup blob: %w", err)
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
		return fmt.Errorf("the backup blob does not match manifest set %s (SHA-256 differs)\nhint: use the blob written with this manifest", m.SetID)
	}
	return nil
}
