package ceremony

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyceremony/keyceremony/wrap"
)

// FuzzParseReceipt: an upload receipt is someone's word; whatever it holds, the parser returns
// a receipt that says when and for which manifest, or an error.
func FuzzParseReceipt(f *testing.F) {
	f.Add([]byte(`{"format":"keyceremony-upload-receipt/1","files":{"manifest.json":"00"},"kms":{"key_state":"Enabled"},"time":"2026-11-30T10:00:00Z"}`))
	f.Add([]byte(`{"time":"2026-11-30T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseReceipt(data)
		if err == nil && (r.Time.IsZero() || r.Files[wrap.ManifestName] == "") {
			t.Fatalf("accepted %q without a time or a manifest SHA-256", data)
		}
	})
}

// FuzzLoadFolder: a ceremony folder's plan copy and plan.source, as resume reads them.
func FuzzLoadFolder(f *testing.F) {
	f.Add([]byte(goodPlan), []byte("/somewhere/plan.yaml\n"))
	f.Add([]byte(goodPlan), []byte(""))
	dir := f.TempDir() // one folder per fuzzing process: a new one per input is slow
	f.Fuzz(func(t *testing.T, plan, source []byte) {
		if err := os.WriteFile(filepath.Join(dir, PlanCopyName), plan, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, PlanSourceName), source, 0o600); err != nil {
			t.Fatal(err)
		}
		if p, err := LoadFolder(dir); err == nil {
			p.Script()
		}
	})
}
