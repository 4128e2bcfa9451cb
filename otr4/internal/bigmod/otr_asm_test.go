// Copyright 2026 The otrchat Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !purego && (386 || amd64 || arm || arm64 || loong64 || ppc64 || ppc64le || riscv64 || s390x)

package bigmod

// adxSwitch lets TestAddMulVVW3072Paths run both amd64 code paths.
var adxSwitch = &supportADX
