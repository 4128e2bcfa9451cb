// Package bigref is a slow, obviously-correct math/big model of
// Ed448-Goldilocks (affine Edwards formulas) that the tests of package curve
// and its backends use as an independent oracle. It is not constant time and
// must not be used outside tests.
package bigref

import (
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
)

// Point is an affine point (X, Y).
type Point struct{ X, Y *big.Int }

var (
	p = common.P
	d = common.D
)

// Identity returns (0, 1).
func Identity() Point { return Point{big.NewInt(0), big.NewInt(1)} }

// Generator returns the base point G of the spec.
func Generator() Point {
	x, _ := new(big.Int).SetString("224580040295924300187604334099896036246789641632564134246125461686950415467406032909029192869357953282578032075146446173674602635247710", 10)
	y, _ := new(big.Int).SetString("298819210078481492676017930443930673437544040154080242095928241372331506189835876003536878655418784733982303233503462500531545062832660", 10)
	return Point{x, y}
}

func mod(x *big.Int) *big.Int { return x.Mod(x, p) }

// IsOnCurve reports whether x^2 + y^2 = 1 + d*x^2*y^2 (mod p).
func (a Point) IsOnCurve() bool {
	x2 := mod(new(big.Int).Mul(a.X, a.X))
	y2 := mod(new(big.Int).Mul(a.Y, a.Y))
	l := mod(new(big.Int).Add(x2, y2))
	r := new(big.Int).Mul(d, x2)
	r.Mul(r, y2)
	r.Add(r, big.NewInt(1))
	return l.Cmp(mod(r)) == 0
}

// Add returns a + b with the complete Edwards addition law.
func Add(a, b Point) Point {
	x1y2 := new(big.Int).Mul(a.X, b.Y)
	y1x2 := new(big.Int).Mul(a.Y, b.X)
	y1y2 := new(big.Int).Mul(a.Y, b.Y)
	x1x2 := new(big.Int).Mul(a.X, b.X)
	t := new(big.Int).Mul(d, x1x2)
	t.Mul(t, y1y2)
	mod(t)
	dx := mod(new(big.Int).Add(big.NewInt(1), t))
	dy := mod(new(big.Int).Sub(big.NewInt(1), t))
	x := mod(new(big.Int).Add(x1y2, y1x2))
	x.Mul(x, new(big.Int).ModInverse(dx, p))
	y := mod(new(big.Int).Sub(y1y2, x1x2))
	y.Mul(y, new(big.Int).ModInverse(dy, p))
	return Point{mod(x), mod(y)}
}

// Neg returns -a.
func Neg(a Point) Point { return Point{mod(new(big.Int).Neg(a.X)), new(big.Int).Set(a.Y)} }

// ScalarMult returns k*a by double-and-add (k >= 0).
func ScalarMult(k *big.Int, a Point) Point {
	r := Identity()
	for i := k.BitLen() - 1; i >= 0; i-- {
		r = Add(r, r)
		if k.Bit(i) == 1 {
			r = Add(r, a)
		}
	}
	return r
}

// Encode returns the RFC 8032 encoding of a.
func Encode(a Point) []byte {
	b := common.LittleEndian(a.Y, common.PointSize)
	b[common.PointSize-1] |= byte(a.X.Bit(0)) << 7
	return b
}

// Decode decodes a canonical RFC 8032 encoding (no subgroup check).
func Decode(b []byte) (Point, bool) {
	if len(b) != common.PointSize || b[common.PointSize-1]&0x7f != 0 {
		return Point{}, false
	}
	sign := uint(b[common.PointSize-1] >> 7)
	y := common.FromLittleEndian(b[:common.PointSize-1])
	if y.Cmp(p) >= 0 {
		return Point{}, false
	}
	y2 := mod(new(big.Int).Mul(y, y))
	u := mod(new(big.Int).Sub(y2, big.NewInt(1)))
	v := mod(new(big.Int).Sub(new(big.Int).Mul(d, y2), big.NewInt(1)))
	x2 := mod(new(big.Int).Mul(u, new(big.Int).ModInverse(v, p)))
	x := new(big.Int).ModSqrt(x2, p)
	if x == nil {
		return Point{}, false
	}
	if x.Sign() == 0 && sign == 1 {
		return Point{}, false
	}
	if x.Bit(0) != sign {
		x.Sub(p, x)
	}
	return Point{x, y}, true
}

// Torsion returns the points of order 1, 2 and 4: (0,1), (0,-1), (1,0), (-1,0).
func Torsion() []Point {
	return []Point{
		Identity(),
		{big.NewInt(0), new(big.Int).Sub(p, big.NewInt(1))},
		{big.NewInt(1), big.NewInt(0)},
		{new(big.Int).Sub(p, big.NewInt(1)), big.NewInt(0)},
	}
}
