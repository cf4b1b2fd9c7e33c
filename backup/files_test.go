package backup

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReadSet(t *testing.T) {
	_, man, shares := fakeSet(t, newRand(t), 2, 3)
	blob := []byte("blob")
	b := &Backup{Manifest: *man, Blob: blob, Shares: shares}
	dir := filepath.Join(t.TempDir(), "set")
	if err := WriteSet(dir, b); err != nil {
		t.Fatal(err)
	}
	m2, blob2, err := ReadSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m2.SetID != man.SetID || !bytes.Equal(blob2, blob) {
		t.Fatal("read back another set")
	}
	// Write-once.
	err = WriteSet(dir, b)
	wantErr(t, err, ""+dir+" already exists; nothing was written\nhint: write each backup set into its own folder")
	// An existing folder is refused even when empty: a set is never merged into one.
	empty := t.TempDir()
	wantErr(t, WriteSet(empty, b), ""+empty+" already exists; nothing was written\nhint: write each backup set into its own folder")
	if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 1 {
		t.Fatalf("beside the set: %v, want only the set", left)
	}
	err = WriteFile(filepath.Join(dir, BlobFile), []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrite: %v", err)
	}
	// A changed blob is caught.
	dir2 := t.TempDir()
	if err := WriteFile(filepath.Join(dir2, ManifestFile), mustMarshal(t, man), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir2, BlobFile), []byte("blob!"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadSet(dir2)
	wantErr(t, err, "the backup blob does not match manifest set "+man.SetID+" (SHA-256 differs)\nhint: use the blob written with this manifest")
	_, _, err = ReadSet(t.TempDir())
	if err == nil {
		t.Fatal("ReadSet of an empty folder")
	}
	// A blob that is not the manifest's is not written.
	b.Blob = []byte("other")
	if err := WriteSet(filepath.Join(t.TempDir(), "set"), b); err == nil {
		t.Fatal("WriteSet wrote a blob that is not the manifest's")
	}
}

func mustMarshal(t *testing.T, m *Manifest) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
