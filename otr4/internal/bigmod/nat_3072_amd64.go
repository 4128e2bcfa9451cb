// Copyright 2026 The otrchat Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !purego

package bigmod

// addMulVVW3072 is addMulVVW over 48 limbs, for OTRv4's 3072-bit DH group.
// It is generated into nat_amd64.s by _asm/nat_amd64_asm.go like the
// upstream sizes, and uses ADX/BMI2 when supportADX is set.
//
//go:noescape
func addMulVVW3072(z, x *uint, y uint) (c uint)

// addMulVVWn is addMulVVW over n limbs, n known at run time, for the
// triangle of products in montgomerySquare3072.
//
//go:noescape
func addMulVVWn(z, x *uint, y uint, n int) (c uint)
