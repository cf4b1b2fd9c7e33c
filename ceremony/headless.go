package ceremony

import (
	"fmt"
	"io"
	"strings"

	"github.com/keyceremony/keyceremony/internal/errs"
)

// Headless answers the engine without a person: for automation and rehearsals (`run --yes`).
// Confirmations are accepted and logged, secrets come from Secrets, shares can only be handed out
// as age files (a typed share needs a custodian at the screen), and the verification round opens
// those files with the identities given to the engine.
type Headless struct {
	// Secrets returns the secret for a purpose ("user-pin", "passphrase:N"); the engine zeroes it.
	Secrets func(purpose string) ([]byte, error)
	// Log receives one line per step, record and notice.
	Log io.Writer
	// ShareFiles are entered in order when a quorum is asked for shares (restore, re-share):
	// age files, or text files holding a typed share.
	ShareFiles []string

	files map[string]string // custodian name -> share file handed out
	asked map[string]bool   // secrets already given, by purpose
}

func (h *Headless) Script(steps []Step, current int) {
	if s := steps[current]; s.Status == Running {
		fmt.Fprintf(h.Log, "step %d/%d: %s\n", current+1, len(steps), s.Title)
	}
}

func (h *Headless) Record(summary string) { fmt.Fprintf(h.Log, "  recorded: %s\n", summary) }

func (h *Headless) Notice(text string) { fmt.Fprintf(h.Log, "  notice: %s\n", text) }

func (h *Headless) Success(text string) { fmt.Fprintf(h.Log, "  ok: %s\n", text) }

func (h *Headless) Busy(title string) func() { return func() {} }

func (h *Headless) Secret(r SecretRequest) ([]byte, error) {
	if h.Secrets == nil {
		return nil, errs.New(r.Prompt+" is needed and this run is headless", "pass --pin-env NAME or --pin-file PATH")
	}
	// A secret asked for again was refused: trying it again would only count down the token's
	// PIN retry counter.
	if h.asked[r.Purpose] {
		return nil, errs.New("the "+r.Purpose+" given for this headless run was refused; it is not tried again", "check the secret in --pin-env or --pin-file")
	}
	if h.asked == nil {
		h.asked = map[string]bool{}
	}
	h.asked[r.Purpose] = true
	return h.Secrets(r.Purpose)
}

func (h *Headless) Mode() string { return ModeHeadless }

// Terminal is false: a headless run shows no share.
func (h *Headless) Terminal() bool { return false }

// Recording is nil: a headless run shows no share.
func (h *Headless) Recording() []string { return nil }

// Confirm asks no one: the engine records the check as confirmed headless.
func (h *Headless) Confirm(r ConfirmRequest) (string, error) {
	fmt.Fprintf(h.Log, "  not checked by a person (--yes): %s\n", strings.Join(strings.Fields(r.Detail), " "))
	return "", nil
}

func (h *Headless) ShowShare(s ShareHandout) error {
	if s.Passphrase != nil {
		return fmt.Errorf("custodian %s's passphrase is shown on the screen; a headless run cannot hand it out\nhint: use delivery age-recipient for headless runs, or run on a terminal without --yes", s.Custodian.Name)
	}
	if s.File == "" {
		return fmt.Errorf("custodian %s's share is typed; a headless run cannot hand it out\nhint: use delivery age-recipient for headless runs, or run on a terminal without --yes", s.Custodian.Name)
	}
	if h.files == nil {
		h.files = map[string]string{}
	}
	h.files[s.Custodian.Name] = s.File
	fmt.Fprintf(h.Log, "  share %d of %d for %s written to %s\n", s.Index, s.N, s.Custodian.Name, s.File)
	return nil
}

func (h *Headless) EnterShare(r ShareRequest) (string, error) {
	if r.LastError != "" {
		fmt.Fprintf(h.Log, "  share refused: %s\n", r.LastError)
	}
	if f, ok := h.files[r.Custodian.Name]; ok && r.Custodian.Name != "" {
		if r.LastError != "" {
			return "", fmt.Errorf("%s's share file was refused: %s", r.Custodian.Name, r.LastError)
		}
		return "file:" + f, nil
	}
	if len(h.ShareFiles) == 0 {
		return "", fmt.Errorf("another share is needed (%s) and no more share files were given\nhint: pass one --share FILE per quorum member", r.Progress)
	}
	f := h.ShareFiles[0]
	h.ShareFiles = h.ShareFiles[1:]
	return "file:" + f, nil
}
