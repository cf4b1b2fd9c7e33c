// Package paper lays out what a ceremony prints: the runbook with a checkbox and initials line
// per step, the printed import request, share cards and the auditor's report. Each is a PDF
// (ISO 32000-1) on A4, made with github.com/signintech/gopdf, with two fonts embedded (subset):
// Go Regular for text and Go Mono for everything a person copies or compares, both from
// golang.org/x/image/font/gofont under the BSD licence. docs/paper.md says why this library.
//
// The package is pure Go: it takes plain values and returns bytes, so the connected side and
// auditors' machines print without PKCS#11. The same input gives the same bytes (no creation
// date is written), so a card's SHA-256 can be recorded before it is placed.
package paper

import (
	"fmt"
	"image"
	"strings"

	"github.com/signintech/gopdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
)

// A4 in points, and the margins every sheet keeps (printers clip the edge).
const (
	pageW, pageH = 595.28, 841.89
	margin       = 50.0
	textW        = pageW - 2*margin
)

// Font families as registered in the document.
const (
	fontText = "go"
	fontBold = "go-bold"
	fontMono = "go-mono"
)

// doc is a sheet being laid out top to bottom; it breaks pages itself. The first error is kept
// and returned by bytes, so layout code reads straight.
type doc struct {
	pdf   gopdf.GoPdf
	y     float64
	err   error
	title string // the running header from the second page on
	pages int
}

func newDoc(title string) *doc {
	d := &doc{title: title}
	d.pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	d.pdf.SetInfo(gopdf.PdfInfo{Title: title, Creator: "keyceremony"})
	for _, f := range []struct {
		name string
		ttf  []byte
	}{{fontText, goregular.TTF}, {fontBold, gobold.TTF}, {fontMono, gomono.TTF}} {
		d.keep(d.pdf.AddTTFFontData(f.name, f.ttf))
	}
	d.page()
	return d
}

func (d *doc) keep(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

// page starts a new page, with the running header and the page number at its foot.
func (d *doc) page() {
	d.pdf.AddPage()
	d.pages++
	d.y = margin
	d.font(fontText, 8)
	d.pdf.SetXY(margin, pageH-margin/2)
	d.keep(d.pdf.Cell(nil, fmt.Sprintf("%s · page %d", d.title, d.pages)))
}

func (d *doc) font(family string, size float64) { d.keep(d.pdf.SetFont(family, "", size)) }

// room breaks the page unless h points are left above the bottom margin.
func (d *doc) room(h float64) {
	if d.y+h > pageH-margin {
		d.page()
	}
}

// lines writes s wrapped to width w at x, in the given font, and advances.
func (d *doc) lines(family string, size, x, w float64, s string) {
	d.font(family, size)
	lead := size * 1.3
	for _, para := range strings.Split(s, "\n") {
		ls := []string{""}
		if strings.TrimSpace(para) != "" {
			var err error
			ls, err = d.pdf.SplitTextWithWordWrap(para, w)
			d.keep(err)
		}
		for _, l := range ls {
			d.room(lead)
			d.pdf.SetXY(x, d.y)
			d.keep(d.pdf.Cell(nil, l))
			d.y += lead
		}
	}
}

func (d *doc) heading(s string) {
	d.room(40)
	d.y += 6
	d.lines(fontBold, 15, margin, textW, s)
	d.y += 4
}

func (d *doc) subheading(s string) {
	d.room(30)
	d.y += 4
	d.lines(fontBold, 11, margin, textW, s)
	d.y += 2
}

func (d *doc) text(s string) { d.lines(fontText, 10, margin, textW, s) }

func (d *doc) mono(size float64, s string) { d.lines(fontMono, size, margin, textW, s) }

// pair writes "label  value" with the value in the monospace font, for what is compared.
func (d *doc) pair(label, value string) {
	d.room(14)
	top := d.y
	d.lines(fontText, 10, margin, 105, label)
	end := d.y
	d.y = top
	d.lines(fontMono, 8.5, margin+110, textW-110, value)
	d.y = max(d.y, end)
}

// field is a line to write on by hand under its label; groups > 0 draws that many boxes
// instead, one per read-back group.
func (d *doc) field(label string, groups int) {
	d.room(42)
	d.lines(fontText, 10, margin, textW, label)
	d.y += 4
	if groups > 0 {
		w := textW / float64(groups)
		for i := range groups {
			d.pdf.RectFromUpperLeftWithStyle(margin+float64(i)*w, d.y, w-6, 22, "D")
		}
		d.y += 30
		return
	}
	d.y += 18
	d.pdf.Line(margin, d.y, margin+textW, d.y)
	d.y += 10
}

// blankLines are n ruled lines for free writing.
func (d *doc) blankLines(n int) {
	for range n {
		d.room(22)
		d.y += 20
		d.pdf.Line(margin, d.y, margin+textW, d.y)
	}
	d.y += 8
}

// box draws a checkbox at the current line's left.
func (d *doc) box(x float64) { d.pdf.RectFromUpperLeftWithStyle(x, d.y, 11, 11, "D") }

func (d *doc) image(img image.Image, x, side float64) {
	d.room(side)
	d.keep(d.pdf.ImageFrom(img, x, d.y, &gopdf.Rect{W: side, H: side}))
	d.y += side
}

func (d *doc) bytes() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	return d.pdf.GetBytesPdfReturnErr()
}
