// Copyright 2026 The otrchat Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build purego || !amd64

package bigmod

import "unsafe"

// addMulVVW3072 is addMulVVW over 3072 bits of limbs. Only amd64 has an
// assembly version; everywhere else (and with -tags purego) the generic
// loop runs with a constant length the compiler can see.
func addMulVVW3072(z, x *uint, y uint) (c uint) {
	return addMulVVW(unsafe.Slice(z, 3072/_W), unsafe.Slice(x, 3072/_W), y)
}

// addMulVVWn is addMulVVW over n limbs, n known at run time.
func addMulVVWn(z, x *uint, y uint, n int) (c uint) {
	if n == 0 {
		return 0
	}
	return addMulVVW(unsafe.Slice(z, n), unsafe.Slice(x, n), y)
}
