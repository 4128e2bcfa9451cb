package cpuclock

import "testing"

// Report starts measuring; the returned function, called after the timed
// loop, reports the process CPU time per operation as "cpu-ns/op".
func Report(b *testing.B) func() {
	start := Now()
	return func() {
		b.ReportMetric(float64(Now()-start)/float64(b.N), "cpu-ns/op")
	}
}
