package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// The files of a ceremony folder.
const (
	TranscriptFile = "transcript.jsonl"
	PublicKeyFile  = "transcript.pub"
	CheckpointFile = "checkpoint"
)

// Kind says what an event is.
type Kind string

// The kinds of event.
const (
	KindBegin     Kind = "begin"     // the first event, written by [Create]
	KindStep      Kind = "step"      // a step of the ceremony
	KindException Kind = "exception" // a deviation: host-assisted wrap, retried step, remark
	KindEnd       Kind = "end"       // the last event, written by [Writer.Seal]
)

// Actor is the person who acted, in their ceremony role.
type Actor struct {
	Role string `json:"role"`
	Name string `json:"name"`
}

// File is an artefact named by an event, with the SHA-256 of its content when the event was
// written.
type File struct {
	Path   string `json:"path"`   // relative to the ceremony folder, slash-separated
	SHA256 string `json:"sha256"` // lowercase hex
}

// Event is one line of the transcript. Its JSON encoding, field by field in this order, is the
// line; see the package documentation for the exact rules.
type Event struct {
	Seq   int             `json:"seq"`
	Time  time.Time       `json:"time"`
	Step  string          `json:"step"`
	Kind  Kind            `json:"kind"`
	Actor Actor           `json:"actor"`
	Facts json.RawMessage `json:"facts"`
	Files []File          `json:"files"`
	Prev  string          `json:"prev"`
	Sig   []byte          `json:"sig,omitempty"`
}

// BeginFacts are the facts of the begin event: the ceremony signing key and the plan.
type BeginFacts struct {
	Algorithm   string          `json:"algorithm"`          // "ed25519", "ecdsa-p256-sha256", "rsa-pss-3072-sha256" or "rsa-pkcs1-3072-sha256"
	PublicKey   []byte          `json:"public_key"`         // SPKI DER (base64 in JSON)
	Fingerprint string          `json:"fingerprint"`        // "SHA256:<hex of SHA-256 of PublicKey>"
	PlanSHA256  string          `json:"plan_sha256"`        // hex SHA-256 of the plan file
	Ceremony    json.RawMessage `json:"ceremony,omitempty"` // Begin.Facts
}

// endFacts are the facts of the end event.
type endFacts struct {
	Origin string `json:"origin"`
}

// validPath reports whether p may name an artefact: relative to the ceremony folder,
// slash-separated, with no empty, "." or ".." element, no backslash and no control character.
func validPath(p string) bool {
	return fs.ValidPath(p) && p != "." && !strings.ContainsFunc(p, func(r rune) bool {
		return r == '\\' || r < 0x20 || r == 0x7f
	})
}

// splitLines returns the lines of a transcript file without their newlines, and whether the
// last one ended in a newline.
func splitLines(data []byte) (lines [][]byte, complete bool) {
	if len(data) == 0 {
		return nil, true
	}
	complete = data[len(data)-1] == '\n'
	if complete {
		data = data[:len(data)-1]
	}
	return bytes.Split(data, []byte("\n")), complete
}

// Read returns the events of the transcript in dir, parsed but not verified: use [Verify] for
// that, or [Open], which verifies before it resumes.
func Read(dir string) ([]Event, error) {
	data, err := ReadFile(dir, TranscriptFile)
	if err != nil {
		return nil, fmt.Errorf("%w\nhint: give the ceremony folder, the one holding %s", err, TranscriptFile)
	}
	lines, complete := splitLines(data)
	events := make([]Event, 0, len(lines))
	for i, line := range lines {
		if i == len(lines)-1 && !complete {
			return nil, fmt.Errorf("event %d: the line is incomplete (the file was cut short)\nhint: %s", i, TornHint(dir, int64(len(data)-len(line))))
		}
		e, _, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("event %d: %v", i, err)
		}
		events = append(events, e)
	}
	return events, nil
}
