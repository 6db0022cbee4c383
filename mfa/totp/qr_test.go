package totp_test

import (
	"encoding/xml"
	"fmt"
	"image"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"

	"github.com/latchkey/latchkey/mfa/totp"
)

type svgDoc struct {
	XMLName       xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	ViewBox       string   `xml:"viewBox,attr"`
	ShapeRender   string   `xml:"shape-rendering,attr"`
	Role          string   `xml:"role,attr"`
	AriaLabel     string   `xml:"aria-label,attr"`
	Rects         []svgElt `xml:"rect"`
	Paths         []svgElt `xml:"path"`
	OtherElements []svgElt `xml:",any"`
}

type svgElt struct {
	XMLName xml.Name
	D       string `xml:"d,attr"`
	Fill    string `xml:"fill,attr"`
	Width   string `xml:"width,attr"`
	Height  string `xml:"height,attr"`
}

var runRE = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// parseSVG checks the SVG's structure and returns its side in modules
// (quiet zone included) and its dark modules.
func parseSVG(t *testing.T, svg string) (doc svgDoc, side int, dark map[image.Point]bool) {
	t.Helper()
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, svg)
	}
	if len(doc.Paths) != 1 || len(doc.Rects) != 1 || len(doc.OtherElements) != 0 {
		t.Fatalf("want one rect and one path, got %d rects, %d paths, %d others", len(doc.Rects), len(doc.Paths), len(doc.OtherElements))
	}
	var w, h int
	if n, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &w, &h); n != 2 || err != nil || w != h {
		t.Fatalf("viewBox %q", doc.ViewBox)
	}
	side = w
	if doc.ShapeRender != "crispEdges" || doc.Role != "img" {
		t.Errorf("shape-rendering %q role %q", doc.ShapeRender, doc.Role)
	}
	bg := doc.Rects[0]
	if bg.Fill != "#fff" || bg.Width != strconv.Itoa(side) || bg.Height != strconv.Itoa(side) {
		t.Errorf("background rect %+v does not cover the %d viewBox in white", bg, side)
	}
	if doc.Paths[0].Fill != "#000" {
		t.Errorf("path fill %q", doc.Paths[0].Fill)
	}
	d := doc.Paths[0].D
	if rest := runRE.ReplaceAllString(d, ""); rest != "" {
		t.Fatalf("path has more than horizontal runs: %q", rest)
	}
	dark = map[image.Point]bool{}
	for _, m := range runRE.FindAllStringSubmatch(d, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[3])
		if m[4] != m[3] || n < 1 {
			t.Fatalf("run %q is not a closed one-module-high rectangle", m[0])
		}
		for i := range n {
			p := image.Pt(x+i, y)
			if dark[p] {
				t.Fatalf("module %v drawn twice", p)
			}
			dark[p] = true
		}
	}
	return doc, side, dark
}

func TestQRCodeSVGMatchesLibraryMatrix(t *testing.T) {
	key, err := totp.Generate("Latchkey", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	svg, err := key.QRCodeSVG("QR code to scan with your authenticator app")
	if err != nil {
		t.Fatal(err)
	}
	_, side, dark := parseSVG(t, svg)

	want, err := qr.Encode(key.URL, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	dim := want.Bounds().Dx()
	if side != dim+8 {
		t.Fatalf("viewBox side %d, want %d modules + 2×4 quiet zone", side, dim)
	}
	for p := range dark {
		if p.X < 4 || p.Y < 4 || p.X >= 4+dim || p.Y >= 4+dim {
			t.Fatalf("dark module %v in the quiet zone", p)
		}
	}
	for y := range dim {
		for x := range dim {
			r, _, _, _ := want.At(x, y).RGBA()
			if libDark := r == 0; libDark != dark[image.Pt(x+4, y+4)] {
				t.Fatalf("module (%d,%d): svg dark=%v, library dark=%v", x, y, !libDark, libDark)
			}
		}
	}
}

// The error correction level is read from the symbol's own format
// information (ISO/IEC 18004 §7.9), not taken from the library's word.
func TestQRCodeSVGErrorCorrectionM(t *testing.T) {
	svg, err := totp.QRCodeSVG("otpauth://totp/Latchkey:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "QR code")
	if err != nil {
		t.Fatal(err)
	}
	_, side, dark := parseSVG(t, svg)
	size := side - 8
	at := func(x, y int) int {
		if dark[image.Pt(x+4, y+4)] {
			return 1
		}
		return 0
	}
	// Both copies of the 15 format bits, bit i at the positions the
	// standard gives (x is the column).
	var first, second int
	for i := 0; i <= 5; i++ {
		first |= at(8, i) << i
	}
	first |= at(8, 7)<<6 | at(8, 8)<<7 | at(7, 8)<<8
	for i := 9; i < 15; i++ {
		first |= at(14-i, 8) << i
	}
	for i := 0; i < 8; i++ {
		second |= at(size-1-i, 8) << i
	}
	for i := 8; i < 15; i++ {
		second |= at(8, size-15+i) << i
	}
	if first != second {
		t.Fatalf("format copies differ: %015b vs %015b", first, second)
	}
	data := (first ^ 0x5412) >> 10
	// The BCH(15,5) check bits must match the data, or the reading is wrong.
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	if want := (data<<10 | rem&0x3ff) ^ 0x5412; want != first {
		t.Fatalf("format bits %015b fail their BCH check", first)
	}
	if ecl := data >> 3; ecl != 0b00 { // 00 is M (L=01, Q=11, H=10)
		t.Fatalf("error correction level bits %02b, want 00 (M)", ecl)
	}
	if at(8, size-8) != 1 {
		t.Error("the always-dark module is light")
	}
}

func TestQRCodeSVGSizeGrowsWithContent(t *testing.T) {
	prev := 0
	for _, n := range []int{10, 100, 300, 1000} {
		svg, err := totp.QRCodeSVG(strings.Repeat("a", n), "QR code")
		if err != nil {
			t.Fatal(err)
		}
		_, side, _ := parseSVG(t, svg)
		if side <= prev {
			t.Errorf("%d bytes: side %d, not larger than %d", n, side, prev)
		}
		if (side-8-17)%4 != 0 {
			t.Errorf("%d bytes: %d modules is not a QR version size", n, side-8)
		}
		prev = side
	}
}

func TestQRCodeSVGDeterministic(t *testing.T) {
	a, err := totp.QRCodeSVG("otpauth://totp/X:y?secret=ABCD", "QR")
	if err != nil {
		t.Fatal(err)
	}
	b, err := totp.QRCodeSVG("otpauth://totp/X:y?secret=ABCD", "QR")
	if err != nil {
		t.Fatal(err)
	}
	c, err := totp.QRCodeSVG("otpauth://totp/X:y?secret=ABCE", "QR")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("same input, different SVG")
	}
	if a == c {
		t.Error("different content, same SVG")
	}
}

func TestQRCodeSVGEscapesLabel(t *testing.T) {
	label := `Scan "this" <b>code</b> & 'go'`
	svg, err := totp.QRCodeSVG("hello", label)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := parseSVG(t, svg)
	if doc.AriaLabel != label {
		t.Errorf("aria-label round-trips as %q", doc.AriaLabel)
	}
	if strings.Contains(svg, "<b>") || strings.Contains(svg, `"this"`) || strings.Contains(svg, "& ") {
		t.Errorf("label not escaped: %s", svg[:200])
	}
	if !strings.Contains(svg, "&lt;b&gt;code&lt;/b&gt; &amp; ") {
		t.Errorf("escaped label missing: %s", svg[:200])
	}
}

func TestQRCodeSVGErrors(t *testing.T) {
	for _, tc := range []struct{ content, label string }{
		{"", "QR code"},
		{"hello", ""},
		{"hello", "   "},
		{strings.Repeat("x", 3000), "QR code"}, // beyond version 40 at level M
	} {
		if svg, err := totp.QRCodeSVG(tc.content, tc.label); err == nil {
			t.Errorf("QRCodeSVG(%d bytes, %q) = %.40s..., want an error", len(tc.content), tc.label, svg)
		}
	}
}
