package ui

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
)

// sharePath reads line 1 of a share entry as the path of a share file when it is one: "file:PATH",
// a file:// URL, or a path as terminals paste a file dropped on them (in single or double quotes,
// or with spaces escaped by backslashes). ok is false for anything else, such as a typed line.
func sharePath(line string) (path string, ok bool) {
	line = strings.TrimSpace(line)
	if rest, isURL := strings.CutPrefix(line, "file://"); isURL {
		p, err := url.PathUnescape(rest)
		if err != nil || !strings.HasPrefix(p, "/") {
			return "", false // file://host/path names another machine
		}
		return p, true
	}
	if rest, isFile := strings.CutPrefix(line, "file:"); isFile {
		line = strings.TrimSpace(rest)
	} else if !strings.ContainsAny(line[:min(len(line), 1)], `'"/~.`) {
		return "", false
	}
	if len(line) >= 2 && (line[0] == '\'' || line[0] == '"') && line[len(line)-1] == line[0] {
		line = line[1 : len(line)-1]
	} else {
		line = strings.ReplaceAll(line, `\ `, " ")
	}
	if rest, ok := strings.CutPrefix(line, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			line = filepath.Join(home, rest)
		}
	}
	return line, line != ""
}

// checkShareLine checks line n of a typed share as it is entered. Line 1 gives the share's set
// and number: a share of another set is refused at once, naming it (a share of the set this one
// replaces is told so), and index is the share's number from then on, so that a later typo names
// the share and its custodian.
func checkShareLine(r ceremony.ShareRequest, n int, line string, index int) (int, error) {
	err := backup.CheckTypedLine(n, line)
	var le *backup.LineError
	if errors.As(err, &le) {
		return index, fmt.Errorf("line %d of %s %s%s", n, whose(r, index), le.Reason, hint(le.Hint))
	}
	if err != nil || n != 1 {
		return index, err
	}
	set, index, err := backup.TypedHeader(line)
	switch {
	case err != nil:
		return 0, err
	case r.Replaced != "" && set == r.Replaced:
		return 0, errors.New(ceremony.SupersededShare(set, r.SetID))
	case r.SetID != "" && set != r.SetID:
		return 0, fmt.Errorf("line 1 is from a share of set %s, not of set %s: a share of another backup\nhint: find your share of set %s (line 1 shows the set after the line number)", set, r.SetID, r.SetID)
	}
	return index, nil
}

// whose names the share being entered: "share 2 (Bob)", "Bob's share", or "your share".
func whose(r ceremony.ShareRequest, index int) string {
	switch {
	case index > 0 && index <= len(r.Custodians):
		return fmt.Sprintf("share %d (%s)", index, r.Custodians[index-1])
	case index > 0:
		return fmt.Sprintf("share %d", index)
	case r.Custodian.Name != "":
		return r.Custodian.Name + "'s share"
	}
	return "your share"
}

func hint(h string) string {
	if h == "" {
		return ""
	}
	return "\nhint: " + h
}

// shareHelp is what to do on a share entry screen, said the same in both modes.
func shareHelp(tui bool) string {
	how := fmt.Sprintf("Type the %d lines of your share, each with its number, and press Enter after each (or paste the whole share). For a share file, type or drop its path.", backup.TypedLines)
	if tui {
		how += " Tab shows what you type."
	}
	return how
}
