package paper

import (
	"fmt"
	"strings"

	"github.com/signintech/gopdf"
)

// ShareCard is one custodian's share on paper. Typed and QRPNG are the share itself: the caller
// clears QRPNG and the returned PDF after use.
type ShareCard struct {
	Ceremony, KeyLabel, SetID, Date, Custodian string
	Index, Threshold, N                        int
	Typed                                      string // the typed form, one line per typed line
	QRPNG                                      []byte // the QR code of the typed form
}

// PDF lays the card out on one page: who and what it is for, the typed share in large monospace
// (each line ending in its check characters), its QR code, and how to restore and check in.
func (c ShareCard) PDF() ([]byte, error) {
	d := newDoc(fmt.Sprintf("Share card: %s, set %s, share %d", c.Ceremony, c.SetID, c.Index))
	d.lines(fontBold, 18, margin, textW, fmt.Sprintf("Share %d, any %d of %d restore", c.Index, c.Threshold, c.N))
	d.y += 6
	d.pair("Custodian", c.Custodian)
	d.pair("Ceremony", c.Ceremony)
	d.pair("Key", c.KeyLabel)
	d.pair("Share set", c.SetID)
	d.pair("Date", c.Date)
	d.y += 14
	d.lines(fontText, 10, margin, textW, "The share: type these lines exactly as printed. The last three characters of each line are its check characters.")
	d.y += 6
	for _, l := range strings.Split(strings.TrimSpace(c.Typed), "\n") {
		d.mono(17, l)
		d.y += 4
	}
	d.y += 10
	holder, err := gopdf.ImageHolderByBytes(c.QRPNG)
	d.keep(err)
	if err == nil {
		d.keep(d.pdf.ImageByHolder(holder, margin, d.y, &gopdf.Rect{W: 190, H: 190}))
	}
	top := d.y
	d.lines(fontText, 9, margin+205, textW-205, "The QR code holds the same lines without spaces; a scanner's text is accepted where the share is typed.")
	d.y = max(d.y, top+200)
	d.subheading("Keep it")
	d.text(fmt.Sprintf("This card is a share of key %s: anyone who gathers %d shares of set %s holds the key. Keep it sealed (in its tamper-evident bag if the ceremony gave you one, and note the bag's serial), apart from other custodians' shares, and never photograph or scan it.", c.KeyLabel, c.Threshold, c.SetID))
	d.subheading("Restore and check-in")
	d.text(fmt.Sprintf("At a restore or a check-in you are asked for share %d of set %s: bring this card (and its bag, unopened, so its serial can be compared), and type the four lines when the screen asks for your share. Each line is checked as you type it. If the set is declared void or superseded, destroy this card.", c.Index, c.SetID))
	if d.pages > 1 {
		return nil, fmt.Errorf("the share card of %s does not fit one page", c.Custodian)
	}
	return d.bytes()
}
