package curve

import (
	"crypto/rand"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/circlcurve"
	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
	"github.com/otrchat/otrchat/otr4/internal/curve/internal/refcurve"
)

// benchOps holds one backend's operations on prepared inputs, so that the
// benchmarks time the operation alone.
type benchOps struct {
	name                                                           string
	scalarBaseMult, scalarMult, doubleMult, setBytes, sign, verify func()
}

func newBenchOps[S, P any, PS beScalar[S], PP bePoint[P, S]](b *testing.B, name string,
	sign func(*[common.SignatureSize]byte, *S, []byte, []byte, []byte),
	verify func(*P, []byte, []byte) bool) benchOps {
	seed := make([]byte, 57)
	rand.Read(seed)
	h := common.ExpandSeed(seed)
	common.Prune(h[:57])
	s, k := new(S), new(S)
	PS(s).SetReducedBytes(h[:57])
	PS(k).SetReducedBytes(h[57:])
	A, R := new(P), new(P)
	PP(A).ScalarBaseMult(s)
	var enc [common.PointSize]byte
	PP(A).Bytes(&enc)
	msg := []byte("benchmark message")
	var sig [common.SignatureSize]byte
	sign(&sig, s, h[57:], enc[:], msg)
	if !verify(A, msg, sig[:]) {
		b.Fatalf("%s: signature does not verify", name)
	}
	return benchOps{
		name:           name,
		scalarBaseMult: func() { PP(R).ScalarBaseMult(k) },
		scalarMult:     func() { PP(R).ScalarMult(k, A) },
		doubleMult:     func() { PP(R).VarTimeDoubleScalarBaseMult(k, A, s) },
		setBytes: func() {
			if PP(R).SetBytes(enc[:]) != common.OK {
				b.Fatal("SetBytes failed")
			}
		},
		sign: func() { sign(&sig, s, h[57:], enc[:], msg) },
		verify: func() {
			if !verify(A, msg, sig[:]) {
				b.Fatal("Verify failed")
			}
		},
	}
}

func runBench(b *testing.B, op func(o benchOps) func()) {
	for _, o := range []benchOps{
		newBenchOps[circlcurve.Scalar, circlcurve.Point](b, circlcurve.Name, circlcurve.Sign, circlcurve.Verify),
		newBenchOps[refcurve.Scalar, refcurve.Point](b, refcurve.Name, refcurve.Sign, refcurve.Verify),
	} {
		f := op(o)
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
}

func BenchmarkScalarBaseMult(b *testing.B) {
	runBench(b, func(o benchOps) func() { return o.scalarBaseMult })
}
func BenchmarkScalarMult(b *testing.B) { runBench(b, func(o benchOps) func() { return o.scalarMult }) }
func BenchmarkVarTimeDoubleScalarBaseMult(b *testing.B) {
	runBench(b, func(o benchOps) func() { return o.doubleMult })
}
func BenchmarkSetBytes(b *testing.B) { runBench(b, func(o benchOps) func() { return o.setBytes }) }
func BenchmarkSign(b *testing.B)     { runBench(b, func(o benchOps) func() { return o.sign }) }
func BenchmarkVerify(b *testing.B)   { runBench(b, func(o benchOps) func() { return o.verify }) }
