package atomicfile

import (
	"errors"
	"io/fs"
	"os"
)

var errUnsupported = errors.New("rename without replace is not supported")

// placeFile renames the synced temporary file tmp to path, which must not exist. Without
// RENAME_NOREPLACE it first creates path with O_EXCL, so no other writer can take the name,
// then renames tmp over that empty file. A crash between the two leaves an empty file at path
// (on such file systems only); it is never mistaken for a complete one by callers that expect
// content, and nothing is lost.
func placeFile(tmp, path string) error {
	if err := renameNoReplace(tmp, path); err != errUnsupported {
		return err
	}
	return reserveAndRename(tmp, path)
}

func reserveAndRename(tmp, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	hook("rename", path)
	return os.Rename(tmp, path)
}

// placeDir renames the synced temporary folder tmp to path, which must not exist. Without
// RENAME_NOREPLACE it checks that path is absent, then renames: os.Rename refuses a folder that
// exists, and rename(2) under it never replaces a folder that holds anything, so a folder made
// in between is not lost. A placeholder like placeFile's would not do: some vfat drivers refuse
// to rename over an empty folder.
func placeDir(tmp, path string) error {
	if err := renameNoReplace(tmp, path); err != errUnsupported {
		return err
	}
	return checkAndRename(tmp, path)
}

func checkAndRename(tmp, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fs.ErrExist
	}
	hook("rename", path)
	return os.Rename(tmp, path)
}
