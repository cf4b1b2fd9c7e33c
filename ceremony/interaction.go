package ceremony

import (
	"errors"
	"fmt"

	"github.com/keyceremony/keyceremony/backup"
)

// Why an Interaction returns without an answer. The engine records each in its own words and
// returns an *Interrupted that says where the record is and how to go on.
var (
	// ErrAborted: the operator stopped the ceremony (Ctrl+C in the TUI).
	ErrAborted = errors.New("the operator stopped the ceremony")
	// ErrEndOfInput: the input ended before an answer (line mode reading a pipe or a file that
	// ran out): nobody is there to answer.
	ErrEndOfInput = errors.New("the input ended before the ceremony finished")
)

// Actor is a person acting in a role, as the plan names them.
type Actor struct {
	Role string `yaml:"role" json:"role"`
	Name string `yaml:"name" json:"name"`
}

// String is "Bob (custodian)", or the role alone when no one is named.
func (a Actor) String() string {
	switch {
	case a.Name == "" && a.Role == "":
		return "anyone present"
	case a.Name == "":
		return a.Role
	case a.Role == "":
		return a.Name
	}
	return a.Name + " (" + a.Role + ")"
}

// Status is where a step of the script stands.
type Status int

const (
	Pending Status = iota
	Running
	Done
	Failed
)

func (s Status) String() string {
	return [...]string{"pending", "running", "done", "failed"}[s]
}

// Step is one numbered step of the ceremony script, as `plan check` prints it and the runner shows it.
type Step struct {
	ID           string // stable id recorded in the transcript, e.g. "generate-key"
	Title        string // short, e.g. "Generate the AES-256 key in the HSM"
	Actor        Actor  // who must act
	Instructions string // plain words: what to do and what to confirm
	Status       Status
	// Key is the label of the key a step of a keys: plan is about; "" for the steps about the
	// whole ceremony, and in a plan with one key.
	Key string
}

// SecretRequest asks for a PIN or passphrase; the answer is never echoed.
type SecretRequest struct {
	Actor  Actor
	Prompt string // e.g. "User PIN of token rehearsal"
	// Purpose names the secret for automation: "user-pin", "so-pin", "passphrase:<custodian index>"
	// (a passphrase the custodian chooses, or types to open a share file) or
	// "passphrase-readback:<custodian index>" (a custodian typing back the passphrase shown).
	Purpose string
}

// ConfirmRequest asks a person to confirm a fact before the ceremony goes on.
type ConfirmRequest struct {
	Actor  Actor
	Prompt string // the question
	Detail string // what is shown, e.g. the full fingerprint and where to read it
	// Large is a short value shown in large characters below Detail, to be read across a table
	// and written down (a key check value).
	Large string
	// TypeBack asks the person to type back what is read aloud (a two-person check: a witness
	// types a fingerprint in its read-back form); the engine compares it, never the UI, which
	// is not told the expected answer. Without it the person types "yes".
	TypeBack bool
	// Reason asks for a line in the person's own words (why a ceremony is aborted); anything
	// not blank is the answer.
	Reason bool
	// LastError says why the previous answer was refused, shown above the prompt.
	LastError string
}

// Interaction modes, recorded in the begin event: who could have confirmed the checks.
const (
	ModeGuided   = "guided"   // the full-screen interface, people at the terminal
	ModeLine     = "line"     // line prompts, people at the terminal
	ModeHeadless = "headless" // --yes: no person confirmed the checks
)

// ShareHandout gives one share to its custodian, alone at the screen.
type ShareHandout struct {
	Custodian Actor
	Index, N  int // Index counts from 1
	Share     backup.Share
	// File is set when the share was delivered as a file (age); the UI says where it is
	// instead of showing the share.
	File string
	// Passphrase is set when the handout shows the passphrase the tool made for the custodian's
	// share file, before the file is written: it is shown like a share, to the custodian alone,
	// and cleared from the screen afterwards. The engine zeroes it.
	Passphrase []byte
	// QR says the plan delivers this share as a QR code: it is shown first.
	QR bool
	// Label is what the custodian copies with the share, to know it again years later.
	Label HandoutLabel
}

// HandoutLabel is what a custodian copies with their share: which ceremony, key and share set it
// belongs to, which share it is and how many restore, and when it was made.
type HandoutLabel struct {
	Ceremony, KeyLabel, SetID string
	Threshold                 int
	Date                      string // YYYY-MM-DD
}

// LabelText is the label in one line: "ceremony c1 · key k · set 7K3MQ9XA · share 2, any 2 of 3
// restore · 2026-11-27".
func (h ShareHandout) LabelText() string {
	l := h.Label
	return fmt.Sprintf("ceremony %s · key %s · set %s · share %d, any %d of %d restore · %s", l.Ceremony, l.KeyLabel, l.SetID, h.Index, l.Threshold, h.N, l.Date)
}

// ShareRequest asks a custodian for a share: typed back, or read from an age file.
type ShareRequest struct {
	Custodian Actor  // empty Name when any quorum member may answer (restore)
	Progress  string // e.g. "2 of 3 shares accepted"
	LastError string // why the previous attempt was refused, shown above the prompt
	// Accepted says which share the engine took last: "accepted: share 2 (Bob)".
	Accepted string
	// SetID is the share set asked for: a line 1 of another set is refused at once. Replaced is
	// the set it replaces (a re-share), whose shares are told apart from those of a wrong set.
	SetID, Replaced string
	// Custodians names the set's custodians by share number (Custodians[0] holds share 1), so a
	// typo names whose share it is in.
	Custodians []string
}

// SupersededShare is what a custodian is told who enters a share of the set being replaced.
func SupersededShare(old, replacement string) string {
	return fmt.Sprintf("this is your share from set %s, replaced by set %s in this ceremony; enter the share of set %s you were just given", old, replacement, replacement)
}

// Interaction is what the engine needs from a person. The TUI, line mode and headless mode
// each implement it; the engine holds all ceremony logic and calls these in order from one
// goroutine. Any method may return ErrAborted when the operator stops the ceremony.
type Interaction interface {
	// Mode is ModeGuided, ModeLine or ModeHeadless.
	Mode() string
	// Terminal says whether a person sees this run on a terminal, so that a typed or QR share
	// can be shown.
	Terminal() bool
	// Recording says why the session looks recorded (a recorder among the parent processes,
	// tmux pipe-pane, output that is not a terminal), so that no share is shown into a
	// recording unawares; nil when nothing suggests it.
	Recording() []string
	// Script is called with all steps whenever one changes status; current indexes the running
	// step. The ceremony ends when the engine returns, not with a call here.
	Script(steps []Step, current int)
	// Record is called after each transcript event is written, with a one-line summary.
	Record(summary string)
	// Notice shows a warning or information the operator must see, until the step ends; it
	// does not wait.
	Notice(text string)
	// Success shows that a check passed (a fingerprint matched, the transcript was sealed),
	// until the step ends; it does not wait.
	Success(text string)
	// Busy marks a slow operation (RSA generation); the returned func ends it.
	Busy(title string) (done func())
	Secret(SecretRequest) ([]byte, error)
	// Confirm returns what the person typed: the type-back, or "yes". A headless Interaction
	// returns "" without asking.
	Confirm(ConfirmRequest) (string, error)
	ShowShare(ShareHandout) error
	// EnterShare returns the share as typed text or, for an age file, the file's path prefixed by "file:".
	EnterShare(ShareRequest) (string, error)
}

// Interrupted is what Run returns when nobody answered a question: the operator stopped the
// ceremony, or the input ended. It says where the record is and the two ways to go on.
type Interrupted struct {
	Cause error // ErrAborted or ErrEndOfInput
	Step  string
	Dir   string // the ceremony folder; "" when the transcript had not started
	Plan  string // the plan, to start again when nothing was recorded
}

func (in *Interrupted) Error() string {
	what := "the ceremony was stopped by the operator at " + in.Step
	if errors.Is(in.Cause, ErrEndOfInput) {
		what = "the input ended at " + in.Step + " before anyone answered"
	}
	if in.Dir == "" {
		return what + "; nothing was recorded\nhint: start it again with 'keyceremony run " + in.Plan + "'"
	}
	return fmt.Sprintf("%s; the transcript in %s records every step done so far\nhint: continue it with 'keyceremony run --resume %s', or end it with 'keyceremony run --abort %s'", what, in.Dir, in.Dir, in.Dir)
}

func (in *Interrupted) Unwrap() error { return in.Cause }
