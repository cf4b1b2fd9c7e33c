// Package atomicfile writes files once: to a temporary file in the same folder, synced, then
// linked into place without replacing anything, so a crash leaves either no file or the whole
// file, and an existing file is never overwritten.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is wrapped by WriteOnce when the path is already taken.
var ErrExists = fs.ErrExist

// WriteOnce writes data to path, which must not exist. The data is on disk, and the folder entry
// synced, when it returns nil.
func WriteOnce(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists; nothing was overwritten\nhint: move it away or choose another output: %w", path, ErrExists)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v\nhint: check free disk space; nothing was written", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v\nhint: check free disk space; nothing was written", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	// link(2) fails with EEXIST instead of replacing, unlike rename(2).
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; nothing was overwritten\nhint: move it away or choose another output: %w", path, ErrExists)
		}
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes a folder's entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
