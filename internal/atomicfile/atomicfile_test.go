package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/internal/mediatest"
)

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noTemps fails when dir holds a temporary file or folder.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	left, err := Leftovers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("temporary files left in %s: %v", dir, left)
	}
}

func TestWriteOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a")
	if err := WriteOnce(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteOnce(path, []byte("second"), 0o600)
	if !errors.Is(err, ErrExists) || !strings.HasPrefix(err.Error(), path+" already exists; nothing was overwritten\nhint: ") {
		t.Fatalf("second write: %v", err)
	}
	if got := readAll(t, path); got != "first" {
		t.Errorf("content %q, want first", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("mode %v, want no access for others", fi.Mode())
	}
	noTemps(t, dir)
}

// TestWriteOnceRace has two writers take the same name: exactly one wins, the other is refused
// and nothing is replaced, which a check-then-rename would not guarantee.
func TestWriteOnceRace(t *testing.T) {
	dir := t.TempDir()
	for i := range 50 {
		path := filepath.Join(dir, "f"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
		errs := make(chan error, 2)
		for _, data := range []string{"one", "two"} {
			go func() { errs <- WriteOnce(path, []byte(data), 0o644) }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("two writers of %s: %v, %v; want exactly one refused", path, e1, e2)
		}
		if err := errors.Join(e1, e2); !errors.Is(err, ErrExists) {
			t.Fatalf("the loser: %v", err)
		}
	}
	noTemps(t, dir)
}

func TestWriteDir(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "pkg")
	files := []File{{"manifest.json", []byte("{}"), 0o644}, {"blob", []byte("b"), 0o600}}
	if err := WriteDir(path, files); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, filepath.Join(path, "manifest.json")) + readAll(t, filepath.Join(path, "blob")); got != "{}b" {
		t.Errorf("content %q", got)
	}
	// An existing folder is refused whether it holds something or not.
	os.Mkdir(filepath.Join(parent, "empty"), 0o700)
	for _, p := range []string{path, filepath.Join(parent, "empty")} {
		err := WriteDir(p, []File{{"x", []byte("x"), 0o644}})
		if !errors.Is(err, ErrExists) || !strings.HasPrefix(err.Error(), p+" already exists; nothing was overwritten\n") {
			t.Errorf("WriteDir over %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, "empty", "x")); err == nil {
		t.Error("a file was written into an existing folder")
	}
	if err := WriteDir(filepath.Join(parent, "bad"), []File{{"../escape", nil, 0o644}}); err == nil || !strings.Contains(err.Error(), `"../escape" is not a file name`) {
		t.Errorf("a path as a file name: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(parent, "bad")); err == nil {
		t.Error("a refused folder was made")
	}
	noTemps(t, parent)
}

// TestFallbacks runs the no-replace fallbacks here, as on a file system without
// RENAME_NOREPLACE: they place a new name and refuse a taken one.
func TestFallbacks(t *testing.T) {
	dir := t.TempDir()
	tmp, path := filepath.Join(dir, ".tmp-f"), filepath.Join(dir, "f")
	os.WriteFile(tmp, []byte("new"), 0o644)
	if err := reserveAndRename(tmp, path); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tmp, []byte("newer"), 0o644)
	if err := reserveAndRename(tmp, path); !errors.Is(err, ErrExists) {
		t.Errorf("file over a file: %v", err)
	}
	if got := readAll(t, path); got != "new" {
		t.Errorf("content %q, want new", got)
	}
	tmpDir, full, empty := filepath.Join(dir, ".tmp-d"), filepath.Join(dir, "full"), filepath.Join(dir, "empty")
	os.MkdirAll(filepath.Join(full, "keep"), 0o700)
	os.Mkdir(empty, 0o700)
	os.Mkdir(tmpDir, 0o700)
	for _, p := range []string{full, empty} {
		if err := checkAndRename(tmpDir, p); !errors.Is(err, ErrExists) {
			t.Errorf("folder over %s: %v", p, err)
		}
	}
	if err := checkAndRename(tmpDir, filepath.Join(dir, "new")); err != nil {
		t.Error(err)
	}
}

func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "targets", ".tmp-aws-1", ".tmp-inner"), 0o700)
	os.WriteFile(filepath.Join(dir, ".tmp-checkpoint-2"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "checkpoint"), nil, 0o600)
	got, err := Leftovers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".tmp-checkpoint-2", "targets/.tmp-aws-1"}; !slices.Equal(got, want) {
		t.Errorf("Leftovers = %v, want %v", got, want)
	}
}

// TestExfat writes on a real exFAT file system (the usual removable ceremony media), which has
// neither RENAME_NOREPLACE (EINVAL) nor hard links.
func TestExfat(t *testing.T) {
	mnt := t.TempDir()
	mediatest.Exfat(t, mnt, 8<<20)
	os.WriteFile(filepath.Join(mnt, "probe"), nil, 0o600)
	if err := renameNoReplace(filepath.Join(mnt, "probe"), filepath.Join(mnt, "probed")); err != errUnsupported {
		t.Fatalf("renameat2 on exFAT: %v, want it unsupported (so the fallback is what is tested)", err)
	}
	path := filepath.Join(mnt, "checkpoint")
	if err := WriteOnce(path, []byte("sealed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteOnce(path, []byte("forged"), 0o644); !errors.Is(err, ErrExists) {
		t.Errorf("second write: %v", err)
	}
	if got := readAll(t, path); got != "sealed" {
		t.Errorf("content %q", got)
	}
	pkg := filepath.Join(mnt, "pkg")
	if err := WriteDir(pkg, []File{{"manifest.json", []byte("{}"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(pkg, []File{{"manifest.json", []byte("{forged}"), 0o644}}); !errors.Is(err, ErrExists) {
		t.Errorf("second folder: %v", err)
	}
	if got := readAll(t, filepath.Join(pkg, "manifest.json")); got != "{}" {
		t.Errorf("content %q", got)
	}
	noTemps(t, mnt)
}
