//go:build !unix

package keystore

// oNoFollow: this system has no O_NOFOLLOW; Open's Lstat check stands alone.
const oNoFollow = 0
