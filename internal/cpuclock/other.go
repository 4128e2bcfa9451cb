//go:build !unix

package cpuclock

import "time"

// Now returns 0 where the process CPU time is not available.
func Now() time.Duration { return 0 }
