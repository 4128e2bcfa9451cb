//go:build unix

package keystore

import "syscall"

// oNoFollow makes opening the store fail if its path is a symbolic link.
const oNoFollow = syscall.O_NOFOLLOW
