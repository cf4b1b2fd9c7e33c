// Package atomicfile writes files and folders once: into a temporary name inside the folder they
// will appear in, synced, then renamed into place without replacing anything, so a crash leaves
// either nothing or the whole file or folder, and nothing that exists is ever overwritten.
//
// On Linux the rename is renameat2(2) with RENAME_NOREPLACE. File systems without it (vfat and
// exFAT, the usual removable ceremony media, answer EINVAL) and other systems get a portable
// fallback: see placeFile and placeDir.
//
// Temporary names start with [TempPrefix]; [Leftovers] finds those an interruption left behind.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrExists is wrapped by WriteOnce and WriteDir when the path is already taken.
var ErrExists = fs.ErrExist

// TempPrefix starts the name of every temporary file and folder this package makes.
const TempPrefix = ".tmp-"

// TestHook, when set, is called before every fsync and rename with "sync" or "rename" and the
// path. It is nil except in crash tests, which slow the writes down to interrupt them.
var TestHook func(op, path string)

func hook(op, path string) {
	if TestHook != nil {
		TestHook(op, path)
	}
}

// File is one file of a folder written by [WriteDir].
type File struct {
	Name string // a name inside the folder, not a path
	Data []byte
	Perm fs.FileMode
}

// WriteOnce writes data to path, which must not exist. The data is on disk, and the folder entry
// synced, when it returns nil.
func WriteOnce(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if _, err := os.Lstat(path); err == nil {
		return existsErr(path)
	}
	tmp := tempName(dir, filepath.Base(path))
	if err := writeNew(tmp, data, perm); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write %s: %v\nhint: check free disk space; nothing was written", path, err)
	}
	defer os.Remove(tmp)
	if err := placeFile(tmp, path); err != nil {
		return placeErr(path, err)
	}
	return SyncDir(dir)
}

// WriteDir makes the folder path, which must not exist, holding files: it writes them into a
// temporary folder beside path, syncs every file and the folder, and renames the folder into
// place. A crash leaves no folder at path, or the whole folder.
func WriteDir(path string, files []File) error {
	if _, err := os.Lstat(path); err == nil {
		return existsErr(path)
	}
	parent := filepath.Dir(path)
	tmp := tempName(parent, filepath.Base(path))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("cannot write %s: %v\nhint: check that its folder exists and is writable", path, err)
	}
	if err := fillDir(tmp, files); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("cannot write %s: %v\nhint: check free disk space; nothing was written", path, err)
	}
	if err := placeDir(tmp, path); err != nil {
		os.RemoveAll(tmp)
		return placeErr(path, err)
	}
	return SyncDir(parent)
}

func fillDir(dir string, files []File) error {
	for _, f := range files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("%q is not a file name", f.Name)
		}
		if err := writeNew(filepath.Join(dir, f.Name), f.Data, f.Perm); err != nil {
			return err
		}
	}
	return SyncDir(dir)
}

// writeNew creates path, which must not exist, with data, and syncs it. The permissions are
// given at creation (and narrowed by the umask): vfat cannot change them afterwards.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := Sync(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Sync flushes f to disk.
func Sync(f *os.File) error {
	hook("sync", f.Name())
	return f.Sync()
}

// SyncDir makes a folder's entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return Sync(d)
}

// tempName returns an unused-looking temporary name for base in dir.
func tempName(dir, base string) string {
	var r [6]byte
	rand.Read(r[:])
	return filepath.Join(dir, TempPrefix+base+"-"+hex.EncodeToString(r[:]))
}

// Leftovers returns the temporary files and folders an interruption left under root, as paths
// relative to root, without looking inside them.
func Leftovers(root string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !strings.HasPrefix(d.Name(), TempPrefix) || path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		found = append(found, filepath.ToSlash(rel))
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	return found, err
}

func existsErr(path string) error {
	return fmt.Errorf("%s already exists; nothing was overwritten\nhint: move it away or choose another output: %w", path, ErrExists)
}

func placeErr(path string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		return existsErr(path)
	}
	return fmt.Errorf("cannot write %s: %v", path, err)
}
