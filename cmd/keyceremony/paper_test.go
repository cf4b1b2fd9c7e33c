package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony"
)

var updateRunbooks = flag.Bool("update-runbooks", false, "rewrite testdata/runbooks from the example plans")

// TestRunbookGolden prints the runbook of every example plan and compares pdftotext's reading
// of it with testdata/runbooks, so a change to what the paper says shows in review.
func TestRunbookGolden(t *testing.T) {
	plans, err := filepath.Glob("../../testdata/plans/*.yaml")
	if err != nil || len(plans) == 0 {
		t.Fatalf("no example plans: %v", err)
	}
	for _, path := range plans {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			p, err := ceremony.LoadPlan(path)
			if err != nil {
				t.Fatal(err)
			}
			pdf, err := runbook(p, "2026-12-01", strings.Repeat("0", 64)).PDF()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("pdftotext", "-layout", "-", "-")
			cmd.Stdin = bytes.NewReader(pdf)
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("pdftotext (poppler-utils, scripts/setup installs it): %v", err)
			}
			golden := filepath.Join("testdata", "runbooks", name+".txt")
			if *updateRunbooks {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the runbook of %s reads differently from %s (go test -run TestRunbookGolden -update-runbooks rewrites it):\n%s", path, golden, got)
			}
			// The same plan prints the same bytes: no creation date, nothing random.
			again, err := runbook(p, "2026-12-01", strings.Repeat("0", 64)).PDF()
			if err != nil || !bytes.Equal(again, pdf) {
				t.Errorf("a second print of %s differs (err %v)", path, err)
			}
		})
	}
}
