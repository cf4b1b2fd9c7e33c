package ui

import (
	"bufio"
	"fmt"
	"io"
)

// ReviewLines writes the review of the transcript in dir as plain text, for a screen reader or a
// file: the verification report and verdict first, then every event with its status above it,
// as `keyceremony show` prints it. It returns an error when the transcript does not verify, so a
// script can rely on the exit status.
func ReviewLines(w io.Writer, dir string) error {
	a := loadAudit(dir)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Transcript review: %s\n", dir)
	for _, l := range a.report.Lines {
		fmt.Fprintf(bw, "  %s\n", l)
	}
	fmt.Fprintf(bw, "%s\n", a.verdict())
	if a.readErr != nil {
		fmt.Fprintf(bw, "\nThe events cannot be listed: %s\n", a.readErr.Error())
	}
	for _, e := range a.events {
		fmt.Fprintf(bw, "\n[%s]\n", a.status(e.Seq).mark())
		for _, l := range detail(e) {
			fmt.Fprintln(bw, l)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the review: %w", err)
	}
	return a.err()
}

// err is the review's outcome for the exit status: nil only when the transcript verifies.
func (a audit) err() error {
	if a.report.OK {
		return nil
	}
	return fmt.Errorf("the transcript in %s does not verify: %s", a.dir, a.report.Problem)
}
