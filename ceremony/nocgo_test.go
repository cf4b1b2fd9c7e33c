package ceremony

import (
	"os"
	"os/exec"
	"testing"
)

// TestBuildsWithoutCgo guards the split this package shares with wrap, backup and cmd: the
// engine's files are built with cgo only, the rest must not use them.
func TestBuildsWithoutCgo(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", os.DevNull, "../cmd/keyceremony")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/keyceremony: %v\n%s\na file built without cgo uses something defined in a file marked //go:build cgo: move what does not drive a token to an unmarked file (docs/architecture.md, \"A pure core and a cgo edge\")", err, out)
	}
}
