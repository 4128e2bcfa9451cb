package session

import (
	"fmt"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/internal/cpuclock"
)

// BenchmarkFirstMessageOffline8 is the first message to a contact whose 8
// devices are all offline, through the test bed and our prekey server: the
// device list, the ensemble fetch, 8 offline DAKEs and the send. Each
// iteration forgets the conversations first. At most 20 iterations (the
// prekeys each device published): run with -benchtime=Nx, N <= 20.
func BenchmarkFirstMessageOffline8(b *testing.B) {
	w := newWorld(b, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	var bobs []*dev
	for i := range 8 {
		bobs = append(bobs, w.newDev("bob", fmt.Sprintf("d%d", i), nil))
	}
	subscribe(b, alice, bobs[0])
	for _, d := range bobs {
		d.waitPrekeys()
	}
	alice.waitListed(bobs...)
	for _, d := range bobs {
		d.stop()
	}
	for _, d := range bobs {
		alice.waitOffline(d)
	}
	bob := bobs[0].jid()
	if err := alice.m.SetPolicy(jid.JID{}, instancetag.Multicasting); err != nil {
		b.Fatal(err)
	}
	ctx := ctxT(b)
	if b.N > 20 {
		b.Fatalf("b.N = %d: each device published 20 prekeys", b.N)
	}
	var cpu time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		alice.m.mu.Lock()
		delete(alice.m.contacts, bob.String())
		alice.m.mu.Unlock()
		b.StartTimer()
		start := cpuclock.Now()
		id, err := alice.m.Send(ctx, bob, fmt.Sprintf("first message %d", i))
		cpu += cpuclock.Now() - start
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		waitFor(b, fmt.Sprintf("iteration %d: 8 devices sent", i), func() bool {
			return alice.count(func(e Event) bool {
				d, ok := e.(*DeliveryEvent)
				return ok && d.ID == id && d.Status == Sent && d.Contact.Equal(bob)
			}) == 8
		})
		i++
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
