package dh

import (
	"crypto/rand"
	"flag"
	"fmt"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A timing test in the style of dudect (Reparaz, Balasch, Verbauwhede,
// "Dude, is my code constant time?", 2017): run an operation many times on
// two classes of secret inputs, a fixed one (the all-zero exponent) and fresh
// random ones, in random order, and compare the two timing distributions
// with Welch's t statistic, on all samples and on samples cropped at several
// percentiles (which drops the long tail a busy machine adds). A sample is
// the CPU time of the measuring thread (CLOCK_THREAD_CPUTIME_ID), so other
// processes on this shared machine do not count. |t| above 10 is dudect's
// "definitely not constant time"; below 4.5, no evidence of a leak. It runs
// only with -dh.dudect=N (N samples per operation), e.g.
//
//	go test ./otr4/internal/dh -run TestDudect -v -args -dh.dudect=4000
//
// and it checks itself: math/big's variable-time Exp on the same classes
// must show a large t.
var dudectSamples = flag.Int("dh.dudect", 0, "run the dudect-style timing test with this many samples per operation")

// threadCPU returns the CPU time of the calling thread, in nanoseconds.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// welch returns Welch's t statistic of two samples.
func welch(a, b []float64) float64 {
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	variance := func(x []float64, m float64) float64 {
		s := 0.0
		for _, v := range x {
			s += (v - m) * (v - m)
		}
		return s / float64(len(x)-1)
	}
	ma, mb := mean(a), mean(b)
	return (ma - mb) / math.Sqrt(variance(a, ma)/float64(len(a))+variance(b, mb)/float64(len(b)))
}

// dudect measures op on n samples of the two classes and returns the t
// statistics: uncropped, then cropped below each of dudect's percentiles.
func dudect(n int, op func(e []byte)) (ts []float64, names []string) {
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	fixed := make([]byte, SecretSize)
	inputs := make([][]byte, n)
	classes := make([]int, n)
	for i := range inputs {
		classes[i] = r.IntN(2)
		inputs[i] = make([]byte, SecretSize)
		if classes[i] == 1 {
			rand.Read(inputs[i])
		} else {
			copy(inputs[i], fixed)
		}
	}
	for i := 0; i < 20; i++ { // warm up
		op(inputs[i%n])
	}
	runtime.GC()
	// Each sample is the CPU time of this (locked) thread, not wall time:
	// on a shared machine, wall time mostly measures who else was running.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	times := make([]float64, n)
	for i, e := range inputs {
		start := threadCPU()
		op(e)
		times[i] = float64(threadCPU() - start)
	}
	sorted := slices.Sorted(slices.Values(times))
	crop := func(limit float64) float64 {
		var a, b []float64
		for i, t := range times {
			if t > limit {
				continue
			}
			if classes[i] == 0 {
				a = append(a, t)
			} else {
				b = append(b, t)
			}
		}
		if len(a) < 2 || len(b) < 2 {
			return math.NaN() // a class cropped away entirely
		}
		return welch(a, b)
	}
	ts = append(ts, crop(math.Inf(1)))
	names = append(names, "all")
	for _, pct := range []float64{0.99, 0.9, 0.75, 0.5} {
		ts = append(ts, crop(sorted[int(pct*float64(n-1))]))
		names = append(names, fmt.Sprintf("p%.0f", pct*100))
	}
	return ts, names
}

// maxAbs returns the largest |t|, ignoring crops that left a class empty.
func maxAbs(ts []float64) float64 {
	m := 0.0
	for _, t := range ts {
		if !math.IsNaN(t) {
			m = max(m, math.Abs(t))
		}
	}
	return m
}

func TestDudect(t *testing.T) {
	n := *dudectSamples
	if n == 0 {
		t.Skip("timing test: run with -dh.dudect=N")
	}
	peer, _ := GenerateKey(rand.Reader)
	k, _ := GenerateKey(rand.Reader)
	combOnce.Do(buildComb)
	for _, c := range []struct {
		name string
		op   func(e []byte)
	}{
		{"SharedSecret (Exp)", func(e []byte) { copy(k.secret[:], e); k.SharedSecret(peer.public) }},
		{"fixedBaseExp (comb)", func(e []byte) { fixedBaseExp(e) }},
	} {
		ts, names := dudect(n, c.op)
		t.Logf("%s, %d samples: max |t| = %.2f (%v: %.2f)", c.name, n, maxAbs(ts), names, ts)
		if maxAbs(ts) > 10 {
			t.Errorf("%s: |t| = %.2f > 10, timing depends on the exponent", c.name, maxAbs(ts))
		}
	}
	// The harness must see a leak where there is one: math/big's Exp
	// returns at once for a zero exponent and otherwise takes time that
	// depends on the exponent.
	out := new(big.Int)
	ts, _ := dudect(min(n, 1000), func(e []byte) { out.Exp(peer.public, new(big.Int).SetBytes(e), p) })
	t.Logf("math/big Exp (variable time, control): max |t| = %.2f", maxAbs(ts))
	if maxAbs(ts) < 10 {
		t.Errorf("the harness does not see math/big's variable-time Exp (|t| = %.2f)", maxAbs(ts))
	}
}
