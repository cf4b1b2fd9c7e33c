//go:build cgo

package ceremony

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/readback"
)

// signOffKey has the witness write down the new or restored key's identity and type it back
// from the paper: the key check value of a secret key, shown large, or the public key
// fingerprint of a key pair in its read-back form. The confirmation goes into the key's event.
func (e *engine) signOffKey(step string, facts *KeyFacts) error {
	r := ConfirmRequest{Actor: e.actor()}
	what := fmt.Sprintf("Key %q (%s)", e.key.Label, e.plan.spec)
	if e.oldManifest != nil {
		what += ", restored: it matches the backup manifest"
	}
	if e.id.KCV != "" {
		r.Prompt = "Write the key check value on the paper log, then type it back from the paper"
		r.Detail = what + ". Key check value:"
		r.Large = strings.ToUpper(e.id.KCV)
		c, err := e.confirmCheck(step, r, "key check value", func(typed string) error { return checkKCV(e.id.KCV, typed) })
		facts.KCVConfirmed = &c
		return err
	}
	r.Prompt = "Write the public key fingerprint on the paper log, then type back its read-back form from the paper"
	r.Detail = what + ". Public key fingerprint:\n" + groupHex(e.id.Fingerprint) + "\nRead-back form: " + readback.Format(e.id.Fingerprint)
	c, err := e.confirm(step, r, e.id.Fingerprint)
	facts.FingerprintConfirmed = &c
	return err
}

// checkKCV compares a typed key check value with kcv (hex): case, spaces and dashes do not count.
func checkKCV(kcv, typed string) error {
	t := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToLower(typed))
	switch {
	case len(t) != len(kcv):
		return fmt.Errorf("the key check value has %d characters, %d were typed; type all of it again", len(kcv), len(t))
	case t != strings.ToLower(kcv):
		return fmt.Errorf("the key check value does not match; read it again")
	}
	return nil
}

// signOff shows the summary that goes on the paper log and has the witness confirm it before
// the seal. The summary is read back from the transcript, so a resumed ceremony shows all of it.
func (e *engine) signOff() error {
	events, err := transcript.Read(e.out)
	if err != nil {
		return err
	}
	summary := closingSummary(e.plan, e.tr.Fingerprint(), events)
	c, err := e.confirm(stepSignOff, ConfirmRequest{
		Actor:  e.actor(),
		Prompt: "Copy this summary onto the paper log and check it against the screen; then type yes to seal the transcript",
		Detail: strings.Join(summary, "\n"),
	}, "")
	if err != nil {
		return err
	}
	return e.record(stepSignOff, SignOffFacts{Summary: summary, Confirmed: c})
}

// closingSummary is what the paper log keeps of a ceremony: the signing key, the key, the share
// set and its holders, the packages and the keys they are wrapped under, and every exception.
func closingSummary(p *Plan, signingKey string, events []transcript.Event) []string {
	out := []string{
		"Ceremony " + p.Ceremony + " (" + p.Kind + ")",
		"Signing key fingerprint: " + signingKey,
		"  read back: " + readback.Format(signingKey),
	}
	var exceptions, wrappingKeys []string
	handouts := map[int]string{}
	byWrappingKey := map[string][]string{}
	for _, ev := range events {
		var f struct {
			Label, Spec, KCV, Fingerprint, Target string
			SetID                                 string   `json:"set_id"`
			Threshold                             int      `json:"threshold"`
			Custodians                            []string `json:"custodians"`
			Index                                 int      `json:"index"`
			HandoutFile                           string   `json:"handout_file"`
			WrappingKey                           string   `json:"wrapping_key_fingerprint"`
			Key                                   string   `json:"key"`
			Exception                             string   `json:"exception"`
		}
		if json.Unmarshal(ev.Facts, &f) != nil {
			continue
		}
		id, _, _ := strings.Cut(ev.Step, ":")
		switch {
		case ev.Kind == transcript.KindException:
			exceptions = append(exceptions, ev.Step+": "+f.Exception)
		case ev.Kind != transcript.KindStep:
		case id == stepGenerateKey || id == stepRestoreKey || id == stepFindKey:
			key := fmt.Sprintf("Key %q, %s", f.Label, f.Spec)
			if f.KCV != "" {
				key += ", key check value " + strings.ToUpper(f.KCV)
			}
			out = append(out, key)
			if f.Fingerprint != "" {
				out = append(out, "  public key "+f.Fingerprint, "  read back: "+readback.Format(f.Fingerprint))
			}
		case id == stepHandout && f.HandoutFile != "":
			handouts[f.Index] = f.HandoutFile
		case id == stepBackup:
			out = append(out, fmt.Sprintf("Share set %s: any %d of %d restore", f.SetID, f.Threshold, len(f.Custodians)))
			for i, c := range f.Custodians {
				held := "on paper"
				if file, ok := handouts[i+1]; ok {
					held = "file " + file
				}
				out = append(out, fmt.Sprintf("  share %d: %s, %s", i+1, c, held))
			}
		case id == stepWrap && f.Key != "":
			// A ceremony of several keys: its packages are counted under the wrapping keys, so
			// that a hundred keys do not make three hundred lines to copy.
			if _, ok := byWrappingKey[f.WrappingKey]; !ok {
				wrappingKeys = append(wrappingKeys, f.WrappingKey)
			}
			byWrappingKey[f.WrappingKey] = append(byWrappingKey[f.WrappingKey], path.Join(f.Key, f.Target))
		case id == stepWrap:
			dir := ""
			if len(ev.Files) > 0 {
				dir = path.Dir(ev.Files[0].Path)
			}
			out = append(out, fmt.Sprintf("Package %s: %s/, wrapped under %s", f.Target, dir, f.WrappingKey))
		}
	}
	for _, fp := range wrappingKeys {
		out = append(out, fmt.Sprintf("Packages wrapped under %s: %s", fp, someOf(byWrappingKey[fp])))
	}
	out = append(out, fmt.Sprintf("Exceptions: %d", len(exceptions)))
	for _, x := range exceptions {
		out = append(out, "  "+x)
	}
	return out
}

// someOf names a list in a line: all of it when short, else its first two, its last and how many.
func someOf(names []string) string {
	if len(names) <= 4 {
		return fmt.Sprintf("%d (%s)", len(names), strings.Join(names, ", "))
	}
	return fmt.Sprintf("%d (%s, %s, ... %s; targets/LABEL/TARGET)", len(names), names[0], names[1], names[len(names)-1])
}
