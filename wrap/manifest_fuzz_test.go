package wrap

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadManifest: manifest.json of an import package as an auditor or the connected side
// receives it.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"format":"` + ManifestFormat + `","files":{"x.bin":"00"}}`))
	dir := f.TempDir() // one folder per fuzzing process: a new one per input is slow
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, ManifestName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if m, err := ReadManifest(dir); err == nil && m.Format != ManifestFormat {
			t.Fatalf("accepted format %q", m.Format)
		}
	})
}
