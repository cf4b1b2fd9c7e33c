// Package mediatest mounts small file systems for tests: a tmpfs to fill up, and an exFAT image,
// the usual removable ceremony media. Mounting needs root and the tools scripts/setup installs;
// without them the test is skipped with the reason, which is not a pass.
package mediatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED, not passed: mounting a file system needs root")
	}
}

// Tmpfs mounts a tmpfs of size bytes on the folder dir, which must exist, until the test ends.
func Tmpfs(t testing.TB, dir string, size int64) {
	t.Helper()
	needRoot(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED, not passed: cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// Resize grows (or shrinks) the tmpfs mounted on dir to size bytes: space freed.
func Resize(t testing.TB, dir string, size int64) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", fmt.Sprintf("remount,size=%d", size), dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v: %s", dir, err, out)
	}
}

// Exfat makes an exFAT image of size bytes and mounts it with exfat-fuse on a loop device on the
// folder mnt, which must exist, until the test ends. exFAT has neither renameat2(RENAME_NOREPLACE), which
// FUSE answers with EINVAL, nor hard links. (This kernel may have no vfat module, and fusefat
// loses a folder's files when it renames the folder, so FAT itself is not offered.)
func Exfat(t testing.TB, mnt string, size int64) {
	t.Helper()
	for _, tool := range []string{"mkfs.exfat", "mount.exfat-fuse", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED, not passed: %s is missing (scripts/setup installs exfatprogs and exfat-fuse)", tool)
		}
	}
	needRoot(t)
	img := filepath.Join(t.TempDir(), "exfat.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.exfat", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.exfat: %v: %s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("SKIPPED, not passed: no loop device here: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	if out, err := exec.Command("mount.exfat-fuse", dev, mnt).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED, not passed: cannot mount exFAT with FUSE here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
}
