package ui

import (
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the light border around the code, in modules.
const qrQuiet = 2

// qrLines draws text as a QR code with half blocks, two modules a line:
// light modules are drawn (█ ▀ ▄), dark ones are left blank, so the code
// reads on a dark background; the TUI paints it black on white.
func qrLines(text string) ([]string, error) {
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		return nil, err
	}
	n := code.Size + 2*qrQuiet
	light := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		if x < 0 || y < 0 || x >= code.Size || y >= code.Size {
			return true
		}
		return !code.Black(x, y)
	}
	var out []string
	for y := 0; y < n; y += 2 {
		var b strings.Builder
		for x := 0; x < n; x++ {
			top, bot := light(x, y), y+1 >= n || light(x, y+1)
			switch {
			case top && bot:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bot:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		out = append(out, b.String())
	}
	return out, nil
}
