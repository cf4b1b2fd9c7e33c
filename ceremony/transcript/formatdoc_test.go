package transcript

import (
	"flag"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"
)

var updateFormatDoc = flag.Bool("update-format-doc", false, "rewrite docs/transcript-format.md from the package documentation")

// formatDocPath is the transcript format for readers without Go: the package documentation,
// which is the specification, rendered as Markdown.
var formatDocPath = filepath.Join("..", "..", "docs", "transcript-format.md")

// TestFormatDocIsCurrent keeps docs/transcript-format.md equal to the package documentation, so
// the specification has one source and auditors reading the repository see the same text.
func TestFormatDocIsCurrent(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var p comment.Parser
	md := (&comment.Printer{HeadingLevel: 2}).Markdown(p.Parse(f.Doc.Text()))
	want := append([]byte("# The transcript format\n\n"+
		"<!-- Generated from the package documentation of ceremony/transcript (doc.go), the specification;\n"+
		"     edit doc.go, then: go test ./ceremony/transcript -run TestFormatDocIsCurrent -update-format-doc -->\n\n"), md...)
	if *updateFormatDoc {
		if err := os.WriteFile(formatDocPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(formatDocPath)
	if err != nil || string(got) != string(want) {
		t.Fatalf("%s is not the package documentation (doc.go) rendered as Markdown\nhint: go test ./ceremony/transcript -run TestFormatDocIsCurrent -update-format-doc", formatDocPath)
	}
}
