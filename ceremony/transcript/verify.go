package transcript

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Report is the outcome of [Verify].
type Report struct {
	OK          bool     // everything holds: chain, signatures, files and seal
	Events      int      // events that verified before the first problem (all when OK)
	FirstBad    int      // seq of the first bad or missing event; -1 when the problem is not an event's
	Problem     string   // the first problem, one line; "" when OK
	Fingerprint string   // the ceremony signing key, "SHA256:<hex>", when transcript.pub was readable
	Sealed      bool     // the checkpoint is present and signed by the ceremony key
	Lines       []string // a short report for a person, ending in the verdict line
}

// NoSeal is the problem of a transcript without a checkpoint.
const NoSeal = "no seal: the ceremony did not finish"

// chain is a transcript read and checked line by line.
type chain struct {
	key     *key
	lines   [][]byte // verified lines, without newlines
	events  []Event  // verified events
	files   int      // files checked
	absent  []string // handouts named by a backup event and not in the folder (see isHandout)
	origin  string   // origin of the end event, if any
	bad     int      // seq of the first bad event, or -1
	problem string   // "" when every line verified
	torn    int64    // offset of an incomplete last line (a cut-short write), or -1
}

func (c *chain) fail(seq int, format string, args ...any) *chain {
	c.bad, c.problem = seq, fmt.Sprintf(format, args...)
	return c
}

// readChain checks transcript.pub and every line of the transcript in the ceremony folder fsys,
// in the order the package documentation gives, and stops at the first problem.
func readChain(fsys fs.FS) *chain {
	c := &chain{bad: -1, torn: -1}
	data, err := fs.ReadFile(fsys, TranscriptFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c.fail(-1, "no %s: not a ceremony folder", TranscriptFile)
		}
		return c.fail(-1, "%s: %v", TranscriptFile, err)
	}
	pemData, err := fs.ReadFile(fsys, PublicKeyFile)
	if err != nil {
		return c.fail(0, "event 0: %s cannot be read", PublicKeyFile)
	}
	if c.key, err = parseKeyPEM(pemData); err != nil {
		return c.fail(0, "event 0: %s: %v", PublicKeyFile, strings.TrimPrefix(err.Error(), "transcript: "))
	}
	lines, complete := splitLines(data)
	if len(data) == 0 {
		return c.fail(0, "event 0: the transcript is empty")
	}
	offset := int64(0)
	for i, line := range lines {
		if i == len(lines)-1 && !complete {
			c.torn = offset
			return c.fail(i, "event %d: the line is incomplete (the file was cut short)", i)
		}
		offset += int64(len(line)) + 1
		e, msg, err := parseLine(line)
		if err != nil {
			return c.fail(i, "event %d: %v", i, err)
		}
		if e.Seq != i {
			return c.fail(i, "event %d: the line has seq %d (an event is missing, repeated or out of order)", i, e.Seq)
		}
		if want := prevOf(c.lines); e.Prev != want {
			return c.fail(i, "event %d: prev is not the hash of the line before it", i)
		}
		switch {
		case i == 0 && e.Kind != KindBegin:
			return c.fail(i, "event %d: the first event is not a begin event", i)
		case i > 0 && c.events[i-1].Kind == KindEnd:
			return c.fail(i, "event %d: an event after the end event", i)
		case i > 0 && e.Kind != KindStep && e.Kind != KindException && e.Kind != KindEnd:
			return c.fail(i, "event %d: kind %q is not allowed here", i, e.Kind)
		}
		if i == 0 {
			var bf struct {
				Algorithm   string `json:"algorithm"`
				PublicKey   string `json:"public_key"` // compared as written, base64 of the SPKI
				Fingerprint string `json:"fingerprint"`
			}
			names := memberNames(e.Facts)
			if !slices.Equal(names, beginMembers) && !slices.Equal(names, append(beginMembers, "ceremony")) ||
				json.Unmarshal(e.Facts, &bf) != nil ||
				bf.Algorithm != c.key.alg || bf.PublicKey != base64.StdEncoding.EncodeToString(c.key.der) ||
				bf.Fingerprint != c.key.fingerprint() {
				return c.fail(i, "event 0: the signing key differs from %s", PublicKeyFile)
			}
		}
		if !c.key.verify(msg, e.Sig) {
			return c.fail(i, "event %d: the signature does not verify", i)
		}
		for _, f := range e.Files {
			if !validPath(f.Path) {
				return c.fail(i, "event %d: file %q is not a path inside the ceremony folder", i, f.Path)
			}
			sum, err := fileSHA256(fsys, f.Path)
			if errors.Is(err, fs.ErrNotExist) && isHandout(e, f.Path) {
				c.absent = append(c.absent, f.Path)
				continue
			}
			if err != nil {
				return c.fail(i, "event %d: file %s is missing or unreadable", i, f.Path)
			}
			if sum != f.SHA256 {
				return c.fail(i, "event %d: file %s differs from its recorded SHA-256", i, f.Path)
			}
			c.files++
		}
		if e.Kind == KindEnd {
			var ef endFacts
			if !slices.Equal(memberNames(e.Facts), []string{"origin"}) || json.Unmarshal(e.Facts, &ef) != nil || checkOrigin(ef.Origin) != nil {
				return c.fail(i, "event %d: the end event has no valid origin", i)
			}
			c.origin = ef.Origin
		}
		c.lines = append(c.lines, line)
		c.events = append(c.events, e)
	}
	return c
}

// handoutPath matches the share files that the first format kept in a share set's folder.
var handoutPath = regexp.MustCompile(`^backup-[^/]+/share-[^/]+$`)

// isHandout reports whether path, named by e, is a share file of the first format, which kept
// the share files (the custodians' handouts) in the ceremony folder and named them in the backup
// event. Custodians take them away, so such a file may be absent; when present it must match.
func isHandout(e Event, path string) bool {
	return e.Step == "backup" && e.Kind == KindStep && handoutPath.MatchString(path)
}

// beginMembers are the members of the begin event's facts, in order; "ceremony" may follow.
var beginMembers = []string{"algorithm", "public_key", "fingerprint", "plan_sha256"}

// memberNames returns the names of the members of a JSON object, in order; nil when raw is
// not an object.
func memberNames(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var names []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		names = append(names, t.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil
		}
	}
	return names
}

func prevOf(lines [][]byte) string {
	if len(lines) == 0 {
		return ""
	}
	return lineHash(lines[len(lines)-1])
}

// Verify checks the ceremony folder dir: transcript.pub, then every event (its form, seq, prev
// hash, signature, and the SHA-256 of every file it names), then the seal. It stops at the first
// problem and names it. The report is OK only when everything holds and the transcript is
// sealed.
func Verify(dir string) Report {
	return verify(os.DirFS(dir))
}

func verify(fsys fs.FS) Report {
	c := readChain(fsys)
	r := Report{Events: len(c.events), FirstBad: c.bad, Problem: c.problem}
	if c.key != nil {
		r.Fingerprint = c.key.fingerprint()
		r.Lines = append(r.Lines, fmt.Sprintf("signing key: %s %s", c.key.alg, r.Fingerprint))
	}
	if c.problem == "" {
		r.Lines = append(r.Lines, fmt.Sprintf("events: %d, chain and signatures verify", len(c.events)))
		r.Lines = append(r.Lines, fmt.Sprintf("files: %d checked, all match", c.files))
		for _, p := range c.absent {
			r.Lines = append(r.Lines, "handout not in the folder: "+p)
		}
		r.Sealed, r.FirstBad, r.Problem = checkSeal(fsys, c)
		if r.Sealed && r.Problem == "" {
			r.Lines = append(r.Lines, fmt.Sprintf("seal: %s, signed by the ceremony key", c.origin))
		}
	}
	if r.Problem == "" {
		r.OK = true
		r.Lines = append(r.Lines, fmt.Sprintf("OK: %d events, sealed", r.Events))
	} else {
		r.Lines = append(r.Lines, "FAIL: "+r.Problem)
	}
	return r
}

// checkSeal checks the checkpoint of a chain whose lines all verified.
func checkSeal(fsys fs.FS, c *chain) (sealed bool, bad int, problem string) {
	data, err := fs.ReadFile(fsys, CheckpointFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, -1, NoSeal
	}
	if err != nil {
		return false, -1, fmt.Sprintf("%s: %v", CheckpointFile, err)
	}
	origin, _, _ := strings.Cut(string(data), "\n")
	if checkOrigin(origin) != nil {
		return false, -1, fmt.Sprintf("%s: malformed", CheckpointFile)
	}
	v, err := c.noteVerifier(origin)
	if err != nil {
		return false, -1, fmt.Sprintf("%s: malformed", CheckpointFile)
	}
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil || !canonicalSigs(data) {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return false, -1, fmt.Sprintf("%s: not signed by the ceremony key", CheckpointFile)
		}
		var invalid *note.InvalidSignatureError
		if errors.As(err, &invalid) {
			return false, -1, fmt.Sprintf("%s: the signature does not verify", CheckpointFile)
		}
		return false, -1, fmt.Sprintf("%s: malformed", CheckpointFile)
	}
	body := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(body) != 3 {
		return true, -1, fmt.Sprintf("%s: the text is not origin, count and chain head", CheckpointFile)
	}
	count, err := strconv.Atoi(body[1])
	if err != nil || count < 1 || len(body[1]) > 18 || strconv.Itoa(count) != body[1] {
		return true, -1, fmt.Sprintf("%s: the event count is malformed", CheckpointFile)
	}
	have := len(c.lines)
	switch {
	case count > have:
		return true, have, fmt.Sprintf("event %d: missing (the seal covers %d events)", have, count)
	case count < have:
		return true, count, fmt.Sprintf("event %d: not covered by the seal (it covers %d events)", count, count)
	}
	last := c.lines[have-1]
	if body[2] != base64.StdEncoding.EncodeToString(lineSum(last)) {
		return true, have - 1, fmt.Sprintf("event %d: the line does not match the seal's chain head", have-1)
	}
	if c.events[have-1].Kind != KindEnd || c.origin != origin {
		return true, have - 1, fmt.Sprintf("event %d: the end event does not match the seal's origin", have-1)
	}
	return true, -1, ""
}

// noteVerifier returns the signed-note verifier of the ceremony key under name. For Ed25519 it
// is x/mod's own, from the standard verifier key.
func (c *chain) noteVerifier(name string) (note.Verifier, error) {
	if c.key.ed != nil {
		vkey, err := note.NewEd25519VerifierKey(name, c.key.ed)
		if err != nil {
			return nil, err
		}
		return note.NewVerifier(vkey)
	}
	return &noteKey{name: name, k: c.key}, nil
}

// canonicalSigs reports whether every signature line of a signed note is in canonical base64,
// which note.Open does not check (it would accept a changed unused bit).
func canonicalSigs(data []byte) bool {
	i := bytes.LastIndex(data, []byte("\n\n"))
	if i < 0 {
		return false
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data[i+2:]), "\n"), "\n") {
		sig := line[strings.LastIndexByte(line, ' ')+1:]
		if _, err := base64.StdEncoding.Strict().DecodeString(sig); err != nil {
			return false
		}
	}
	return true
}
