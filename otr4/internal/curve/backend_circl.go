//go:build !otrv4ed448

package curve

import "github.com/otrchat/otrchat/otr4/internal/curve/internal/circlcurve"

type (
	backendScalar = circlcurve.Scalar
	backendPoint  = circlcurve.Point
)

// Backend names the curve library in use: "circl" or "otrv4ed448".
const Backend = circlcurve.Name

var (
	backendSign   = circlcurve.Sign
	backendVerify = circlcurve.Verify
)
