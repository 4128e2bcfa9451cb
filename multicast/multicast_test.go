package multicast

import (
	"crypto/rand"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/internal/cpuclock"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/xmppconn"
)

// pair is an encrypted conversation between our device and one remote
// device, made in memory.
type pair struct {
	ours, theirs *otr4.Conversation
	tag          uint32
	account      string
}

func newPair(tb testing.TB, ourID *otr4.Identity, ourTag otr4.InstanceTag, account string) *pair {
	tb.Helper()
	theirID, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		tb.Fatal(err)
	}
	theirTag, err := otr4.NewInstanceTag(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ours, err := otr4.NewConversation(otr4.Config{Identity: ourID, InstanceTag: ourTag, OurAccount: "alice@example.org", TheirAccount: account, Mode: otr4.ModeInteractiveOnly})
	if err != nil {
		tb.Fatal(err)
	}
	theirs, err := otr4.NewConversation(otr4.Config{Identity: theirID, InstanceTag: theirTag, OurAccount: account, TheirAccount: "alice@example.org", Mode: otr4.ModeInteractiveOnly})
	if err != nil {
		tb.Fatal(err)
	}
	out, err := ours.StartInteractive()
	if err != nil {
		tb.Fatal(err)
	}
	toThem, toUs := out.ToSend, []string(nil)
	for range 10 {
		for _, m := range toThem {
			o, err := theirs.Receive(m)
			if err != nil {
				tb.Fatal(err)
			}
			toUs = append(toUs, o.ToSend...)
		}
		toThem = nil
		for _, m := range toUs {
			o, err := ours.Receive(m)
			if err != nil {
				tb.Fatal(err)
			}
			toThem = append(toThem, o.ToSend...)
		}
		toUs = nil
		if ours.State() == otr4.StateEncrypted && theirs.State() == otr4.StateEncrypted && len(toThem) == 0 {
			break
		}
	}
	if ours.State() != otr4.StateEncrypted || theirs.State() != otr4.StateEncrypted {
		tb.Fatalf("DAKE did not finish: %v / %v", ours.State(), theirs.State())
	}
	return &pair{ours: ours, theirs: theirs, tag: uint32(theirTag), account: account}
}

func devices(tb testing.TB, n int) []*pair {
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		tb.Fatal(err)
	}
	tag, _ := otr4.NewInstanceTag(rand.Reader)
	ps := make([]*pair, n)
	for i := range ps {
		account := "bob@example.org"
		if i >= 5 {
			account = "alice@example.org" // our own other devices
		}
		ps[i] = newPair(tb, id, tag, account)
	}
	return ps
}

func recipients(ps []*pair) []Recipient {
	rs := make([]Recipient, len(ps))
	for i, p := range ps {
		rs[i] = Recipient{Account: p.account, Tag: p.tag, Conv: p.ours}
	}
	return rs
}

var accountJIDs = map[string]jid.JID{
	"alice@example.org": jid.MustParse("alice@example.org"),
	"bob@example.org":   jid.MustParse("bob@example.org"),
}

// stanzas builds the stanza of each wire string, as xmppconn writes it.
func stanzas(r Recipient, wire []string) error {
	for i, w := range wire {
		if _, err := xmppconn.MarshalChat("id"+strconv.Itoa(i), accountJIDs[r.Account], w,
			xmppconn.SendOptions{OTR: true, ToDevice: r.Tag}); err != nil {
			return err
		}
	}
	return nil
}

func TestSendEachDeviceReadsItsOwnCopy(t *testing.T) {
	ps := devices(t, 8)
	sent := map[uint32][]string{}
	outs, err := Send("hello, all eight", recipients(ps), func(r Recipient, wire []string) error {
		sent[r.Tag] = wire
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, o := range outs {
		if o.Err != nil || !o.Sent || o.Tag != ps[i].tag {
			t.Fatalf("outcome %d: %+v", i, o)
		}
		for _, w := range sent[o.Tag] {
			if seen[w] {
				t.Error("two devices got the same ciphertext")
			}
			seen[w] = true
			m, err := ps[i].theirs.Receive(w)
			if err != nil || m.Text != "hello, all eight" || !m.Encrypted {
				t.Fatalf("device %d read %q, %v", i, m.Text, err)
			}
		}
	}
}

func TestSendPartialFailureIsReported(t *testing.T) {
	ps := devices(t, 3)
	rs := recipients(ps)
	rs[1].Conv = nil
	boom := errors.New("link down")
	outs, err := Send("x", rs, func(r Recipient, wire []string) error {
		if r.Tag == ps[2].tag {
			return boom
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || !outs[0].Sent {
		t.Errorf("first device: %+v", outs[0])
	}
	if outs[1].Err == nil || outs[1].Sent {
		t.Errorf("device without conversation: %+v", outs[1])
	}
	if !errors.Is(outs[2].Err, boom) || outs[2].Sent {
		t.Errorf("device whose transport failed: %+v", outs[2])
	}
	if f := Failed(outs); len(f) != 2 {
		t.Errorf("Failed lists %d outcomes, want 2", len(f))
	}
}

func TestCheck(t *testing.T) {
	var rs []Recipient
	for i := range 9 {
		rs = append(rs, Recipient{Account: "bob@example.org", Tag: uint32(0x100 + i)})
	}
	if _, err := Send("x", rs, nil); !errors.Is(err, ErrTooMany) {
		t.Errorf("9 devices of one account: %v", err)
	}
	rs = rs[:8]
	for i := range 7 {
		rs = append(rs, Recipient{Account: "alice@example.org", Tag: uint32(0x100 + i)})
	}
	if err := Check(rs); err != nil {
		t.Errorf("8 + 7 devices of two accounts: %v", err)
	}
	rs = append(rs, Recipient{Account: "alice@example.org", Tag: 0x100})
	if err := Check(rs); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate device: %v", err)
	}
}

func TestSendQueuedBeforeDAKE(t *testing.T) {
	id, _ := otr4.GenerateIdentity(rand.Reader, false)
	conv, err := otr4.NewConversation(otr4.Config{Identity: id, InstanceTag: 0x1234, OurAccount: "a@x", TheirAccount: "b@x", Mode: otr4.ModeInteractiveOnly})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conv.StartInteractive(); err != nil {
		t.Fatal(err)
	}
	outs, err := Send("later", []Recipient{{Account: "b@x", Tag: 0x5678, Conv: conv}}, func(Recipient, []string) error {
		t.Error("a queued message was handed to the transport")
		return nil
	})
	if err != nil || !outs[0].Queued || outs[0].Sent || outs[0].Err != nil {
		t.Errorf("outcome %+v, %v", outs, err)
	}
}

var gcBetween = true

// BenchmarkSend8 is one 100-byte message to 8 devices with established
// sessions: 8 encryptions and the 8 stanzas built. Each iteration's
// messages are read by the receivers outside the timer so that the
// ratchets stay in step.
func BenchmarkSend8(b *testing.B) {
	ps := devices(b, 8)
	rs := recipients(ps)
	text := strings.Repeat("x", 100)
	var cpu time.Duration
	wire := make([][]string, len(ps))
	for b.Loop() {
		start := cpuclock.Now()
		outs, err := Send(text, rs, func(r Recipient, w []string) error {
			for i := range ps {
				if ps[i].tag == r.Tag {
					wire[i] = w
				}
			}
			return stanzas(r, w)
		})
		cpu += cpuclock.Now() - start
		if err != nil || len(Failed(outs)) > 0 {
			b.Fatal(err, Failed(outs))
		}
		b.StopTimer()
		for i, p := range ps {
			for _, w := range wire[i] {
				if _, err := p.theirs.Receive(w); err != nil {
					b.Fatal(err)
				}
			}
		}
		if gcBetween {
			// The receivers' garbage is collected here, so that the
			// process CPU measured around Send is Send's own.
			runtime.GC()
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
