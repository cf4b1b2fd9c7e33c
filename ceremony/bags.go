package ceremony

import (
	"fmt"
	"strings"
)

// maxBagSerial bounds a typed bag serial: bag makers print 6 to 12 characters.
const maxBagSerial = 40

// checkBagSerial says what is wrong with a typed bag serial: letters, digits and dashes, as
// printed on the bag.
func checkBagSerial(s string) error {
	if s == "" {
		return fmt.Errorf("no bag serial was given")
	}
	if len(s) > maxBagSerial {
		return fmt.Errorf("a bag serial has at most %d characters, %d were typed", maxBagSerial, len(s))
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-') {
			return fmt.Errorf("a bag serial has letters, digits and dashes only; type it as printed on the bag")
		}
	}
	return nil
}

// askBagSerial has who type a bag serial, or takes it from serials in a headless run.
func askBagSerial(ui Interaction, serials map[string]string, who Actor, prompt string) (string, error) {
	if ui.Mode() == ModeHeadless {
		return serials[who.Name], nil
	}
	t, err := ui.Confirm(ConfirmRequest{Actor: who, Reason: true, Prompt: prompt})
	return strings.TrimSpace(t), err
}

// compareBag is a bag serial typed again against the one recorded at the handout, and the
// problem to record when they differ (case and surrounding space do not count).
func compareBag(who Actor, index int, recorded, typed, mode string) (*BagInspection, string) {
	how := ConfirmedTypedBack
	if mode == ModeHeadless {
		how = ConfirmedHeadless
	}
	b := &BagInspection{Custodian: who.Name, Index: index, Recorded: recorded, Typed: typed, TypedBy: Confirmation{By: who, How: how}}
	b.Match = recorded != "" && strings.EqualFold(recorded, typed)
	switch {
	case typed == "":
		return b, fmt.Sprintf("no bag serial was given for %s's share %d", who.Name, index)
	case recorded == "":
		return b, fmt.Sprintf("%s's share %d has no bag serial recorded at its handout; %q is recorded now", who.Name, index, typed)
	case !b.Match:
		return b, fmt.Sprintf("the bag of %s's share %d reads %q, its handout recorded %q: the share may have been taken out", who.Name, index, typed, recorded)
	}
	return b, ""
}
