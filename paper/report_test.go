package paper

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestReport: the verdict comes first, an exception is marked in the timeline, and a report of
// a folder that does not verify is one page that says so and holds none of its events.
func TestReport(t *testing.T) {
	r := Report{Folder: "out", Verified: true, Verdict: []string{"OK: 2 events, sealed"},
		Sections: []Section{{Title: "Keys", Lines: []string{`generate-key: key "k", AES-256`}}},
		Timeline: []Entry{
			{Seq: 0, Time: "2026-12-01 10:00:00", Step: "begin", Actor: "Wendy (witness)"},
			{Seq: 1, Time: "2026-12-01 10:01:00", Step: "verify-share:2", Actor: "Bob (custodian)", What: "Bob's share was not read back correctly (attempt 1)", Exception: true},
		}}
	text, _ := pdfText(t, r)
	for _, want := range []string{"VERIFIED\n", "2 events, 1 exceptions", "EXCEPTION 1 2026-12-01 10:01:00 verify-share:2 by Bob (custodian)", "Bob's share was not read back correctly"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report does not say %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "VERIFIED") > strings.Index(text, "Keys") {
		t.Errorf("the verdict is not first:\n%s", text)
	}

	r.Verified, r.Verdict = false, []string{"FAIL at event 1: signature does not verify"}
	text, pages := pdfText(t, r)
	if !strings.Contains(text, "NOT VERIFIED") || !strings.Contains(text, "FAIL at event 1") || strings.Contains(text, "generate-key") || strings.Contains(text, "Bob") {
		t.Errorf("the NOT VERIFIED report:\n%s", text)
	}
	if pages != 1 {
		t.Errorf("the NOT VERIFIED report has %d pages, want 1", pages)
	}
}

// pdfText is pdftotext's reading of the report, each line's spaces collapsed, and its pages.
func pdfText(t *testing.T, r Report) (string, int) {
	t.Helper()
	pdf, err := r.PDF()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pdftotext", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils; scripts/setup installs it): %v", err)
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n"), strings.Count(string(out), "\f")
}
