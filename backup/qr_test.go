package backup

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"rsc.io/qr"
)

func TestQR(t *testing.T) {
	sh := fixedShare()
	text := string(sh.qrText())
	if got, err := ParseTyped(text); err != nil || !bytes.Equal(got.Value, sh.Value) {
		t.Fatalf("the QR text does not parse back: %v", err)
	}
	want, err := qr.Encode(text, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	size := want.Size
	if size != 41 {
		t.Errorf("QR code has %d modules, want 41 (version 6)", size)
	}

	// PNG: decodes, and every module has the colour of the code (4-module quiet zone, scale 8).
	data, err := sh.QRPNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if d := img.Bounds().Dx(); d != (size+8)*8 {
		t.Fatalf("PNG is %d pixels wide for a %d-module code", d, size)
	}
	for y := -4; y < size+4; y++ {
		for x := -4; x < size+4; x++ {
			r, _, _, _ := img.At((x+4)*8+4, (y+4)*8+4).RGBA()
			if (r == 0) != want.Black(x, y) {
				t.Fatalf("PNG module (%d,%d) differs", x, y)
			}
		}
	}

	// Terminal, half blocks: light modules are drawn.
	rows := strings.Split(strings.TrimSuffix(sh.QRTerminal(), "\n"), "\n")
	if len(rows) != (size+2*qrQuiet+1)/2 {
		t.Fatalf("%d rows for a %d-module code", len(rows), size)
	}
	for ry, row := range rows {
		cells := []rune(row)
		if len(cells) != size+2*qrQuiet {
			t.Fatalf("row %d has %d cells", ry, len(cells))
		}
		for cx, c := range cells {
			x, y := cx-qrQuiet, 2*ry-qrQuiet
			top := c == '█' || c == '▀'
			bottom := c == '█' || c == '▄'
			if top != !want.Black(x, y) || (y+1 < size+qrQuiet && bottom != !want.Black(x, y+1)) {
				t.Fatalf("terminal cell (%d,%d) %q differs", cx, ry, c)
			}
		}
	}

	// ASCII: "##" for dark modules.
	lines := strings.Split(strings.TrimSuffix(sh.QRASCII(), "\n"), "\n")
	if len(lines) != size+2*qrQuiet {
		t.Fatalf("%d ASCII lines", len(lines))
	}
	for ly, line := range lines {
		if len(line) != 2*(size+2*qrQuiet) {
			t.Fatalf("ASCII line %d has %d characters", ly, len(line))
		}
		for lx := 0; lx < len(line); lx += 2 {
			if (line[lx:lx+2] == "##") != want.Black(lx/2-qrQuiet, ly-qrQuiet) {
				t.Fatalf("ASCII module (%d,%d) differs", lx/2, ly)
			}
		}
	}

	if _, err := (Share{}).QRPNG(); err == nil {
		t.Fatal("QRPNG of an empty share")
	}
}
