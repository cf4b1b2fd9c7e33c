package transcript

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
)

// MaxFileSize bounds every file a verifier reads from a ceremony folder. A ceremony's files
// are a few KiB (the transcript of a large ceremony a few hundred); the bound stops a folder
// from making a verifier read without end.
const MaxFileSize = 64 << 20

// folderFS is a ceremony folder on disk, opened so that a verifier never follows a symbolic
// link in the last element of a path and never blocks on opening a named pipe or a device.
type folderFS struct{ root *os.Root }

func (f folderFS) Open(name string) (fs.File, error) {
	return f.root.OpenFile(name, os.O_RDONLY|noFollowNonBlock, 0)
}

// Lstat and ReadLink make folderFS an fs.ReadLinkFS, so fs.Lstat sees symbolic links.
func (f folderFS) Lstat(name string) (fs.FileInfo, error) { return f.root.Lstat(name) }
func (f folderFS) ReadLink(name string) (string, error)   { return f.root.Readlink(name) }

// typeName names a kind of file other than a regular one, for messages.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "folder"
	case m.IsRegular():
		return "file"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// notRegularError says that a path, or a folder on it, is not what it must be.
type notRegularError struct {
	path string // the path, or the folder on it, that is wrong
	what string // "is a symlink, not a folder"
}

func (e *notRegularError) Error() string { return e.path + " " + e.what }

// openRegular opens name in fsys for reading only when every folder on its path is a folder
// (not a symlink) and name itself is a regular file of at most MaxFileSize bytes. Its errors
// wrap fs.ErrNotExist when name or a folder on its path does not exist.
func openRegular(fsys fs.FS, name string) (fs.File, error) {
	elems := strings.Split(name, "/")
	for i := range elems {
		p := strings.Join(elems[:i+1], "/")
		fi, err := fs.Lstat(fsys, p)
		if err != nil {
			return nil, err
		}
		if i < len(elems)-1 && !fi.IsDir() {
			return nil, &notRegularError{p, "is a " + typeName(fi.Mode()) + ", not a folder"}
		}
		if i == len(elems)-1 && !fi.Mode().IsRegular() {
			return nil, &notRegularError{p, "is a " + typeName(fi.Mode()) + ", not a regular file"}
		}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, err
	case !fi.Mode().IsRegular(): // changed since the Lstat
		f.Close()
		return nil, &notRegularError{name, "is a " + typeName(fi.Mode()) + ", not a regular file"}
	case fi.Size() > MaxFileSize:
		f.Close()
		return nil, &notRegularError{name, fmt.Sprintf("is larger than %d MiB", MaxFileSize>>20)}
	}
	return f, nil
}

// readRegular reads name in fsys as openRegular allows.
func readRegular(fsys fs.FS, name string) ([]byte, error) {
	f, err := openRegular(fsys, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err == nil && len(data) > MaxFileSize {
		err = &notRegularError{name, fmt.Sprintf("is larger than %d MiB", MaxFileSize>>20)}
	}
	return data, err
}

// ReadFile reads the file name (slash-separated, relative to the ceremony folder dir) only when
// it is a regular file of at most [MaxFileSize] bytes, reached through no symbolic link, as
// [Verify] reads files: a named pipe or a link to a device cannot make it block. Use it for
// every file of a folder an auditor receives.
func ReadFile(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return readRegular(folderFS{root}, name)
}

// problemOf says in a few words why a file could not be read.
func problemOf(name string, err error) string {
	var nr *notRegularError
	switch {
	case errors.As(err, &nr) && nr.path == name:
		return nr.Error()
	case errors.As(err, &nr):
		return name + ": " + nr.Error()
	case errors.Is(err, fs.ErrNotExist):
		return name + " is missing"
	}
	return name + " cannot be read"
}

// receiptName matches the upload receipts `keyceremony upload` writes beside a package.
var receiptName = regexp.MustCompile(`^upload-receipt(-[1-9][0-9]{0,5})?\.json$`)

// isWrap reports whether e is a wrap step, which names the files of an import package.
func isWrap(e Event) bool {
	return e.Kind == KindStep && (e.Step == "wrap" || strings.HasPrefix(e.Step, "wrap:"))
}

// folderCheck is what checkFolder found beyond the named files.
type folderCheck struct {
	problem  string   // the first entry that may not be there; "" when none
	receipts []string // upload receipts beside packages named by wrap events
	extras   []string // entries not named, allowed as warnings (allowExtra)
	sshsigs  []string // witnesses' SSH signatures of the checkpoint (SSHSignatureFile)
}

// SSHSignaturePrefix starts the name of a witness's SSH signature of the checkpoint,
// "checkpoint.sshsig-NAME", a fixed file of the format beside the checkpoint: an SSHSIG cannot
// be a signed-note line, so it is a file of its own. NAME is the witness's name, of letters,
// digits and "@._-". The ceremony's signatures do not cover it; it vouches for itself.
const SSHSignaturePrefix = CheckpointFile + ".sshsig-"

// sshSignatureName matches the name of a witness's SSH signature file.
var sshSignatureName = regexp.MustCompile(`^` + regexp.QuoteMeta(SSHSignaturePrefix) + `[A-Za-z0-9@._-]{1,64}$`)

// checkFolder lists every entry of the ceremony folder fsys, in byte order of their paths, and
// checks that each one is a folder on the path of a named file, a named file, a fixed file of
// the format, or an upload receipt in a package folder that a wrap event names. A named file
// that is not regular was refused when its event was checked; an entry that is neither a
// regular file nor a folder is refused here, even with allowExtra.
func checkFolder(fsys fs.FS, events []Event, allowExtra bool) folderCheck {
	named := map[string]bool{TranscriptFile: true, PublicKeyFile: true, CheckpointFile: true}
	folders := map[string]bool{}
	packages := map[string]bool{}
	for _, e := range events {
		for _, f := range e.Files {
			named[f.Path] = true
			for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
				folders[d] = true
			}
			// targets/NAME, or targets/LABEL/NAME in a ceremony of several keys
			if d := path.Dir(f.Path); isWrap(e) && strings.HasPrefix(d, "targets/") {
				packages[d] = true
			}
		}
	}
	type entry struct {
		path string
		mode fs.FileMode
	}
	var entries []entry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." {
			entries = append(entries, entry{p, d.Type()})
		}
		return nil
	})
	if err != nil {
		return folderCheck{problem: fmt.Sprintf("the folder cannot be listed: %v", err)}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	// Files first, then folders: a folder no event names is reported by the file in it.
	var c folderCheck
	for _, e := range entries {
		shown := printable(e.path)
		switch {
		case e.mode.IsDir() || e.mode.IsRegular() && named[e.path]:
		case e.mode.IsRegular() && sshSignatureName.MatchString(e.path):
			c.sshsigs = append(c.sshsigs, e.path)
		case e.mode.IsRegular() && packages[path.Dir(e.path)] && receiptName.MatchString(path.Base(e.path)):
			c.receipts = append(c.receipts, shown)
		case !e.mode.IsRegular():
			return folderCheck{problem: fmt.Sprintf("%s is a %s: a ceremony folder holds only regular files and folders", shown, typeName(e.mode))}
		case allowExtra:
			c.extras = append(c.extras, shown)
		default:
			return folderCheck{problem: fmt.Sprintf("unexpected file %s: not named by any signed event", shown)}
		}
	}
	for _, e := range entries {
		switch {
		case !e.mode.IsDir() || folders[e.path]:
		case allowExtra:
			c.extras = append(c.extras, printable(e.path))
		default:
			return folderCheck{problem: fmt.Sprintf("unexpected folder %s: no signed event names a file in it", printable(e.path))}
		}
	}
	return c
}

// printable replaces control characters (bytes below 0x20, and 0x7f) in a path with '?', so
// a message stays one line.
func printable(p string) string {
	b := []byte(p)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

// hashRegular returns the hex SHA-256 of name in fsys, read as openRegular allows.
func hashRegular(fsys fs.FS, name string) (string, error) {
	f, err := openRegular(fsys, name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, MaxFileSize+1))
	if err == nil && n > MaxFileSize {
		err = &notRegularError{name, fmt.Sprintf("is larger than %d MiB", MaxFileSize>>20)}
	}
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
