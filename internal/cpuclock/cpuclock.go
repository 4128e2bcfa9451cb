//go:build unix

// Package cpuclock measures the CPU time of the whole process (user and
// system, every thread, the garbage collector included) for benchmarks on
// a shared machine, where wall time per operation is not usable.
package cpuclock

import (
	"syscall"
	"time"
)

// Now returns the process CPU time used so far.
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
