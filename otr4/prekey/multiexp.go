package prekey

import (
	"math/big"
	"runtime"
	"sync"
)

// multiExp returns prod(b_i ^ t_i) mod dh_p for public bases and exponents
// (the t_i are big-endian), with Straus' simultaneous exponentiation: one
// shared chain of squarings and a 4-bit fixed window per base. Only public
// values pass through here, so math/big's variable time is fine.
func multiExp(bases []*big.Int, exps [][]byte) *big.Int {
	const w = 4
	tables := make([][1 << w]*big.Int, len(bases))
	for i, b := range bases {
		tables[i][1] = new(big.Int).Set(b)
		for k := 2; k < 1<<w; k++ {
			tables[i][k] = mulMod(new(big.Int), tables[i][k-1], b)
		}
	}
	maxLen := 0
	for _, e := range exps {
		maxLen = max(maxLen, len(e))
	}
	acc := big.NewInt(1)
	tmp := new(big.Int)
	for pos := 0; pos < maxLen*8/w; pos++ {
		if pos > 0 {
			for k := 0; k < w; k++ {
				mulMod(acc, acc, acc)
			}
		}
		for i, e := range exps {
			d := nibble(e, maxLen, pos)
			if d != 0 {
				mulMod(acc, tmp.Set(acc), tables[i][d])
			}
		}
	}
	return acc
}

// nibble returns the pos-th 4-bit digit, most significant first, of e
// left-padded to n bytes.
func nibble(e []byte, n, pos int) int {
	i := pos/2 - (n - len(e))
	if i < 0 {
		return 0
	}
	if pos%2 == 0 {
		return int(e[i] >> 4)
	}
	return int(e[i] & 0x0f)
}

func mulMod(z, x, y *big.Int) *big.Int {
	z.Mul(x, y)
	return z.Mod(z, dhP)
}

// parallel splits [0, n) into one chunk per CPU (at most) and runs f on
// each chunk concurrently; batches below minChunk run on one goroutine.
func parallel[T any](n int, f func(lo, hi int) T) []T {
	const minChunk = 8
	k := min(runtime.GOMAXPROCS(0), n/minChunk)
	if k <= 1 {
		return []T{f(0, n)}
	}
	out := make([]T, k)
	var wg sync.WaitGroup
	for c := 0; c < k; c++ {
		lo, hi := c*n/k, (c+1)*n/k
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[c] = f(lo, hi)
		}()
	}
	wg.Wait()
	return out
}
