package ui

import (
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony"
)

// FuzzShareInput: whatever a custodian types or drops on line 1 is a share file's path without
// its quotes, or a line checked with a message naming it; nothing panics.
func FuzzShareInput(f *testing.F) {
	for _, s := range []string{"'/media/a b/share-1-a.age'", `/media/a\ b/x.age`, "file:///x%20y.age", "~/x.age", "file:", "1  7K3M Q9XA  002 003 005  QZC", "\"", "'"} {
		f.Add(s)
	}
	req := ceremony.ShareRequest{SetID: "7K3MQ9XA", Replaced: "9QZ2W4RT", Custodians: []string{"Alice", "Bob", "Carol"}}
	f.Fuzz(func(t *testing.T, line string) {
		if path, ok := sharePath(line); ok {
			if path == "" || path[0] == '\'' && strings.HasSuffix(path, "'") && len(path) > 1 {
				t.Fatalf("sharePath(%q) = %q", line, path)
			}
			return
		}
		for n := 1; n <= 4; n++ {
			if _, err := checkShareLine(req, n, line, 0); err != nil && !strings.Contains(err.Error(), "line") && !strings.Contains(err.Error(), "set") {
				t.Fatalf("line %d %q: %v names neither the line nor the set", n, line, err)
			}
		}
	})
}
