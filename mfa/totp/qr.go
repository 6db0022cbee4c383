package totp

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// quietZone is the light margin around the symbol, in modules: ISO/IEC
// 18004 asks for 4, and scanners struggle to find the finder patterns
// without it.
const quietZone = 4

// QRCodeSVG renders content as a QR code (error correction level M, the
// level authenticator enrolment conventionally uses: it survives a
// smudged screen without making the symbol much denser) in an inline SVG
// element for an HTML page: no image request, no external QR service that
// would see the secret, no script.
//
// The symbol is one <path> of dark modules on a white square (so it still
// scans on a dark page), with a 4-module quiet zone, a viewBox in module
// units and shape-rendering="crispEdges" so it stays sharp at any size the
// page's CSS gives it. ariaLabel is required: it is what a screen reader
// announces (role="img"), so it should tell the user what the image is for.
// The label is escaped; the result is safe to insert into HTML as is.
func QRCodeSVG(content, ariaLabel string) (string, error) {
	if content == "" {
		return "", errors.New("render qr code: empty content")
	}
	if strings.TrimSpace(ariaLabel) == "" {
		return "", errors.New("render qr code: an aria-label is required")
	}
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("render qr code: %w", err)
	}
	dim := code.Bounds().Dx()
	dark := func(x, y int) bool {
		r, _, _, _ := code.At(x, y).RGBA()
		return r == 0
	}

	size := strconv.Itoa(dim + 2*quietZone)
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `)
	b.WriteString(size + " " + size)
	b.WriteString(`" shape-rendering="crispEdges" role="img" aria-label="`)
	// EscapeText only fails when the writer does; a Builder never does.
	_ = xml.EscapeText(&b, []byte(ariaLabel))
	b.WriteString(`"><rect width="` + size + `" height="` + size + `" fill="#fff"/>`)
	b.WriteString(`<path fill="#000" d="`)
	// One subpath per horizontal run of dark modules keeps the path short
	// without any geometry beyond rectangles.
	for y := 0; y < dim; y++ {
		for x := 0; x < dim; {
			if !dark(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < dim && dark(x+run, y) {
				run++
			}
			w := strconv.Itoa(run)
			b.WriteString("M" + strconv.Itoa(x+quietZone) + " " + strconv.Itoa(y+quietZone) + "h" + w + "v1h-" + w + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
