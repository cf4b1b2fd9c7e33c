// Package keyceremony_test holds checks of the repository as a whole.
package keyceremony_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// outside are path fragments that point outside a clone of the repository: the workspace it was
// developed in and the design notes beside it. A person who clones the repository has neither,
// so docs, scripts and code must not name them. (Spelt in pieces so this file does not match.)
var outside = []string{"../" + "shared", "/" + "work/"}

// TestNoPathsOutsideRepository reads every tracked file and fails naming each one that mentions
// a path outside the repository.
func TestNoPathsOutsideRepository(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files (the test needs a git checkout): %v", err)
	}
	files := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files; run the test from the repository", len(files))
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if os.IsNotExist(err) { // deleted in the working tree, not yet committed
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, frag := range outside {
			if i := bytes.Index(data, []byte(frag)); i >= 0 {
				line := 1 + bytes.Count(data[:i], []byte("\n"))
				t.Errorf("%s:%d names %q, a path outside the repository; say it in the repository's own docs instead", name, line, frag)
			}
		}
	}
}
