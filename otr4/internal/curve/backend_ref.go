//go:build otrv4ed448

package curve

import "github.com/otrchat/otrchat/otr4/internal/curve/internal/refcurve"

type (
	backendScalar = refcurve.Scalar
	backendPoint  = refcurve.Point
)

// Backend names the curve library in use: "circl" or "otrv4ed448".
const Backend = refcurve.Name

var (
	backendSign   = refcurve.Sign
	backendVerify = refcurve.Verify
)
