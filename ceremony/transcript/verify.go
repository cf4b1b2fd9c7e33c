package transcript

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is the outcome of [Verify].
type Report struct {
	OK          bool     // everything holds: chain, signatures, files and seal
	Events      int      // events that verified before the first problem (all when OK)
	FirstBad    int      // seq of the first bad or missing event; -1 when the problem is not an event's
	Problem     string   // the first problem, one line; "" when OK
	Fingerprint string   // the ceremony signing key, "SHA256:<hex>", when transcript.pub was readable
	Sealed      bool     // the checkpoint is present and signed by the ceremony key
	Checkpoint  string   // the note text of the seal that verified (what witnesses cosign); "" otherwise
	Lines       []string // a short report for a person, ending in the verdict line
	Chain       []Event  // the events that verified, in order (all of them when OK)

	// Signed facts of a verified folder that its signatures do not cover, listed, never checked:
	Cosignatures  []Cosignature // other signatures on the checkpoint (c2sp.org/tlog-cosignature)
	SSHSignatures []string      // witnesses' SSH signature files beside the checkpoint (checkpoint.sshsig-NAME)
	Receipts      []string      // upload receipts beside packages that wrap events name
	Extras        []string      // unexpected files and folders, allowed by Options.AllowExtra
}

// Options change what [VerifyWith] accepts.
type Options struct {
	// AllowExtra lists files and folders that no event names as warnings (Report.Extras)
	// instead of failing, for a folder an archive tool added files to. Entries that are not
	// regular files or folders are refused all the same.
	AllowExtra bool
}

// Cosignature is a signature line of the checkpoint by a key other than the ceremony's, in the
// form of a C2SP tlog-cosignature (type 0x04: a timestamp and an Ed25519 signature). The
// verifier recognises it and does not check it.
type Cosignature struct {
	Name      string    // the witness's key name
	KeyID     uint32    // the signed-note key ID
	Timestamp time.Time // when the witness says it cosigned
	Signature []byte    // the Ed25519 signature, 64 bytes
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
	data, err := readRegular(fsys, TranscriptFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c.fail(-1, "no %s: not a ceremony folder", TranscriptFile)
		}
		return c.fail(-1, "%s", problemOf(TranscriptFile, err))
	}
	pemData, err := readRegular(fsys, PublicKeyFile)
	if err != nil {
		return c.fail(0, "event 0: %s", problemOf(PublicKeyFile, err))
	}
	if c.key, err = parseKeyPEM(pemData); err != nil {
		return c.fail(0, "event 0: %s: %v", PublicKeyFile, err)
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
			ok := json.Unmarshal(e.Facts, &bf) == nil
			if ok && c.key.rsa != nil && (bf.Algorithm == AlgorithmRSAPSS || bf.Algorithm == AlgorithmRSAPKCS1) {
				// An RSA key's public half does not say how it signs; the begin event, which
				// must verify with it that way, does.
				c.key.alg = bf.Algorithm
			}
			if !slices.Equal(names, beginMembers) && !slices.Equal(names, append(beginMembers, "ceremony")) || !ok ||
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
			sum, err := hashRegular(fsys, f.Path)
			if errors.Is(err, fs.ErrNotExist) && isHandout(e, f.Path) {
				c.absent = append(c.absent, f.Path)
				continue
			}
			if err != nil {
				return c.fail(i, "event %d: file %s", i, problemOf(f.Path, err))
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

// Verify checks the ceremony folder dir strictly: [VerifyWith] without options.
func Verify(dir string) Report { return VerifyWith(dir, Options{}) }

// VerifyWith checks the ceremony folder dir: transcript.pub, then every event (its form, seq,
// prev hash, signature, and the SHA-256 of every file it names), then the seal, then that the
// folder holds nothing else. It stops at the first problem and names it. The report is OK only
// when everything holds and the transcript is sealed. Files are read only when they are regular
// files of at most [MaxFileSize] bytes; symbolic links are never followed.
func VerifyWith(dir string, o Options) Report {
	root, err := os.OpenRoot(dir)
	if err != nil {
		problem := fmt.Sprintf("%s cannot be opened as a folder", dir)
		if errors.Is(err, fs.ErrNotExist) {
			problem = fmt.Sprintf("no %s: not a ceremony folder", TranscriptFile)
		}
		return Report{FirstBad: -1, Problem: problem, Lines: []string{"FAIL: " + problem}}
	}
	defer root.Close()
	return verify(folderFS{root}, o)
}

func verify(fsys fs.FS, o Options) Report {
	c := readChain(fsys)
	r := Report{Events: len(c.events), FirstBad: c.bad, Problem: c.problem, Chain: c.events}
	if c.key != nil {
		r.Fingerprint = c.key.fingerprint()
		r.Lines = append(r.Lines, fmt.Sprintf("signing key: %s %s", c.key.alg, r.Fingerprint))
	}
	if c.problem == "" {
		r.Lines = append(r.Lines, fmt.Sprintf("events: %d, chain and signatures verify", len(c.events)))
		if Headless(c.events) {
			r.Lines = append(r.Lines, HeadlessNote)
		}
		r.Lines = append(r.Lines, fmt.Sprintf("files: %d checked, all match", c.files))
		for _, p := range c.absent {
			r.Lines = append(r.Lines, "handout not in the folder: "+p)
		}
		var seal sealCheck
		seal, r.FirstBad, r.Problem = checkSeal(fsys, c)
		r.Sealed, r.Cosignatures = seal.sealed, seal.cosignatures
		if r.Problem == "" {
			r.Checkpoint = seal.text
			r.Lines = append(r.Lines, fmt.Sprintf("seal: %s, signed by the ceremony key", c.origin))
			for _, cs := range r.Cosignatures {
				r.Lines = append(r.Lines, fmt.Sprintf("cosignature by %s (key ID %08x): not checked", cs.Name, cs.KeyID))
			}
		}
	}
	if r.Problem == "" {
		f := checkFolder(fsys, c.events, o.AllowExtra)
		r.Problem, r.Receipts, r.Extras, r.SSHSignatures = f.problem, f.receipts, f.extras, f.sshsigs
		for _, p := range r.Receipts {
			r.Lines = append(r.Lines, "unverified receipt: "+p)
		}
		for _, p := range r.SSHSignatures {
			r.Lines = append(r.Lines, "witness SSH signature "+p+": not checked")
		}
		for _, p := range r.Extras {
			r.Lines = append(r.Lines, "warning: not named by any signed event: "+p)
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

// Banner is the line a tool shows above facts read from a folder that did not verify:
// "NOT VERIFIED: <problem>; the facts below are not proven". It is "" when r is OK.
func (r Report) Banner() string {
	if r.OK {
		return ""
	}
	return "NOT VERIFIED: " + r.Problem + "; the facts below are not proven"
}

// sealCheck is what checkSeal found.
type sealCheck struct {
	sealed       bool   // signed by the ceremony key
	text         string // the note text
	cosignatures []Cosignature
}

// maxSignatures bounds the signature lines of a checkpoint, as golang.org/x/mod/sumdb/note does.
const maxSignatures = 100

// checkSeal checks the checkpoint of a chain whose lines all verified: a signed note
// (c2sp.org/signed-note) whose text is origin, count and chain head, with exactly one
// signature line by the ceremony key and any number of witness cosignatures.
func checkSeal(fsys fs.FS, c *chain) (s sealCheck, bad int, problem string) {
	fail := func(format string, args ...any) (sealCheck, int, string) {
		return sealCheck{}, -1, CheckpointFile + ": " + fmt.Sprintf(format, args...)
	}
	data, err := readRegular(fsys, CheckpointFile)
	if errors.Is(err, fs.ErrNotExist) {
		return s, -1, NoSeal
	}
	if err != nil {
		return s, -1, problemOf(CheckpointFile, err)
	}
	// The text ends at the last blank line; the signature lines follow, each ending in a newline.
	sep := strings.LastIndex(string(data), "\n\n")
	if sep < 0 {
		return fail("malformed")
	}
	text, sigs := string(data[:sep+1]), string(data[sep+2:])
	origin, _, _ := strings.Cut(text, "\n")
	if !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 && r != '\n' }) ||
		checkOrigin(origin) != nil || sigs == "" || !strings.HasSuffix(sigs, "\n") {
		return fail("malformed")
	}
	lines := strings.Split(strings.TrimSuffix(sigs, "\n"), "\n")
	if len(lines) > maxSignatures {
		return fail("malformed")
	}
	id := c.key.noteKeyID(origin)
	for _, line := range lines {
		name, b64, ok := strings.Cut(strings.TrimPrefix(line, "— "), " ")
		sig, err := base64.StdEncoding.Strict().DecodeString(b64)
		if !strings.HasPrefix(line, "— ") || !ok || checkOrigin(name) != nil || err != nil || len(sig) < 5 {
			return fail("malformed")
		}
		keyID := binary.BigEndian.Uint32(sig)
		switch {
		case name == origin && keyID == id:
			if s.sealed {
				return fail("more than one signature by the ceremony key")
			}
			if !c.key.verify([]byte(text), sig[4:]) {
				return fail("the signature does not verify")
			}
			s.sealed = true
		case name == origin:
			return fail("a signature named %s is not by the ceremony key", origin)
		case keyID == id:
			return fail("a signature with the ceremony key's ID is named %s, not %s", name, origin)
		case len(sig) == 4+8+ed25519.SignatureSize:
			s.cosignatures = append(s.cosignatures, Cosignature{Name: name, KeyID: keyID,
				Timestamp: time.Unix(int64(binary.BigEndian.Uint64(sig[4:12])), 0).UTC(), Signature: sig[12:]})
		default:
			return fail("the signature by %s is neither the ceremony key's nor a witness cosignature", name)
		}
	}
	if !s.sealed {
		return fail("not signed by the ceremony key")
	}
	body := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(body) != 3 {
		return s, -1, fmt.Sprintf("%s: the text is not origin, count and chain head", CheckpointFile)
	}
	count, err := strconv.Atoi(body[1])
	if err != nil || count < 1 || len(body[1]) > 18 || strconv.Itoa(count) != body[1] {
		return s, -1, fmt.Sprintf("%s: the event count is malformed", CheckpointFile)
	}
	have := len(c.lines)
	switch {
	case count > have:
		return s, have, fmt.Sprintf("event %d: missing (the seal covers %d events)", have, count)
	case count < have:
		return s, count, fmt.Sprintf("event %d: not covered by the seal (it covers %d events)", count, count)
	}
	last := c.lines[have-1]
	if body[2] != base64.StdEncoding.EncodeToString(lineSum(last)) {
		return s, have - 1, fmt.Sprintf("event %d: the line does not match the seal's chain head", have-1)
	}
	if c.events[have-1].Kind != KindEnd || c.origin != origin {
		return s, have - 1, fmt.Sprintf("event %d: the end event does not match the seal's origin", have-1)
	}
	s.text = text
	return s, -1, ""
}
