package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseReproducible: scripts/release in two clones of this commit at different paths
// makes the same bytes, with cgo and without, and stamps the commit.
func TestReleaseReproducible(t *testing.T) {
	root, _ := filepath.Abs("../..")
	rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("the repository is needed as a git clone to test the release build: %v", err)
	}
	commit := strings.TrimSpace(string(rev))
	var sums [][]byte
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "some", "longer", "path")}
	for _, dir := range dirs {
		for _, args := range [][]string{{"clone", "-q", root, dir}, {"-C", dir, "checkout", "-q", "--detach", commit}} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		cmd := exec.Command(filepath.Join(dir, "scripts", "release"), "dist")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false") // as on this machine: the script must override it
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/release: %v\n%s", err, out)
		}
		sum, err := os.ReadFile(filepath.Join(dir, "dist", "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
		info, err := exec.Command("go", "version", "-m", filepath.Join(dir, "dist", "keyceremony")).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"vcs.revision=" + commit, "vcs.modified=false", "-trimpath=true", "CGO_ENABLED=1"} {
			if !bytes.Contains(info, []byte(want)) {
				t.Errorf("the ceremony build lacks %s:\n%s", want, info)
			}
		}
		for _, bin := range []string{"keyceremony", "keyceremony-auditor"} {
			if data, _ := os.ReadFile(filepath.Join(dir, "dist", bin)); bytes.Contains(data, []byte(dir)) || len(data) == 0 {
				t.Errorf("%s holds its folder's path %s (or is empty)", bin, dir)
			}
		}
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Fatalf("two clones built different binaries:\n%s\n%s", sums[0], sums[1])
	}
	if n := bytes.Count(sums[0], []byte("\n")); n != 2 {
		t.Fatalf("SHA256SUMS has %d lines:\n%s", n, sums[0])
	}
	t.Logf("both clones:\n%s", sums[0])

	// Refused: an existing output folder, another toolchain, a changed tree.
	release := func(env ...string) string {
		cmd := exec.Command(filepath.Join(dirs[0], "scripts", "release"), "dist")
		cmd.Dir = dirs[0]
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("scripts/release did not refuse:\n%s", out)
		}
		return string(out)
	}
	if out := release(); out != "release: dist exists; a release is never overwritten\nrelease: hint: give another folder, or remove dist\n" {
		t.Errorf("an existing output folder: %q", out)
	}
	os.RemoveAll(filepath.Join(dirs[0], "dist"))
	gomod := filepath.Join(dirs[0], "go.mod")
	data, _ := os.ReadFile(gomod)
	os.WriteFile(gomod, bytes.Replace(data, []byte("\ntoolchain go"), []byte("\ntoolchain go0."), 1), 0o644)
	if out := release(); !strings.HasPrefix(out, "release: go.mod pins the toolchain go0.") {
		t.Errorf("another toolchain: %q", out)
	}
	os.WriteFile(gomod, append(data, "// changed\n"...), 0o644)
	if out := release(); !strings.HasPrefix(out, "release: the working tree has uncommitted changes; a release is built from a commit\n") {
		t.Errorf("a changed tree: %q", out)
	}
}
