package pep_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/pubsub"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/pep"
)

// plainClient logs user in as a second, plain XMPP client (no otrchat code:
// it writes raw pubsub IQs), as a user's other client or a buggy one would.
func plainClient(t *testing.T, srv *testbed.Server, user string) *xmpp.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := srv.Dial(ctx, user, "plain")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sess.Serve(mux.New(stanza.NSClient))
	}()
	t.Cleanup(func() {
		go func() { _ = sess.Close() }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = sess.Conn().Close()
			<-done
		}
	})
	return sess
}

// rawIQ sends an IQ set with payload (XML text) and returns the error the
// server answers, if any.
func rawIQ(ctx context.Context, sess *xmpp.Session, payload string) error {
	resp, err := sess.SendIQElement(ctx, xmlReader(payload), stanza.IQ{Type: stanza.SetIQ})
	if err != nil {
		return err
	}
	defer resp.Close()
	tok, err := resp.Token()
	if err != nil {
		return err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return fmt.Errorf("unexpected %T", tok)
	}
	_, err = stanza.UnmarshalIQError(resp, start)
	return err
}

const (
	nsOwner = "http://jabber.org/protocol/pubsub#owner"
	nsPub   = "http://jabber.org/protocol/pubsub"
)

func publishRaw(ctx context.Context, sess *xmpp.Session, id, payload string) error {
	return rawIQ(ctx, sess, "<pubsub xmlns='"+nsPub+"'><publish node='"+pep.Node+"'><item id='"+id+"'>"+payload+"</item></publish></pubsub>")
}

// readCurrent reads the item "current" of the account's list as a plain
// client, re-encodes it and parses it strictly.
func readCurrent(ctx context.Context, sess *xmpp.Session) (pep.List, error) {
	it := pubsub.Fetch(ctx, sess, pubsub.Query{Node: pep.Node, Item: pep.ItemID})
	defer it.Close()
	var enc strings.Builder
	found := false
	for it.Next() {
		id, r := it.Item()
		if id != pep.ItemID || r == nil {
			continue
		}
		found = true
		e := xml.NewEncoder(&enc)
		for {
			tok, err := r.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if s, ok := tok.(xml.StartElement); ok {
				var attrs []xml.Attr
				for _, a := range s.Attr {
					if a.Name.Local != "xmlns" && a.Name.Space != "xmlns" {
						attrs = append(attrs, a)
					}
				}
				s.Attr = attrs
				tok = s
			}
			if err := e.EncodeToken(tok); err != nil {
				return nil, err
			}
		}
		if err := e.Flush(); err != nil {
			return nil, err
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("no item current")
	}
	return pep.ParseList([]byte(enc.String()))
}

// listedWith waits until the account's current item is a valid list that
// holds every device in want (and, when exact, nothing else).
func listedWith(t *testing.T, sess *xmpp.Session, what string, exact bool, want ...pep.Device) pep.List {
	t.Helper()
	var got pep.List
	waitUntil(t, 15*time.Second, what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := readCurrent(ctx, sess)
		if err != nil {
			return false, err.Error()
		}
		got = l
		if exact && len(l) != len(want) {
			return false, fmt.Sprint(l)
		}
		for _, d := range want {
			if i := indexOf(l, d.Tag); i < 0 || l[i] != d {
				return false, fmt.Sprint(l)
			}
		}
		return true, ""
	})
	return got
}

func indexOf(l pep.List, tag uint32) int {
	for i, d := range l {
		if d.Tag == tag {
			return i
		}
	}
	return -1
}

func seedList(devs ...pep.Device) string {
	var b strings.Builder
	b.WriteString("<devices xmlns='urn:xmpp:otr:1'>")
	for _, d := range devs {
		if d.Label != "" {
			fmt.Fprintf(&b, "<device id='%s' label='%s'/>", pep.FormatID(d.Tag), d.Label)
		} else {
			fmt.Fprintf(&b, "<device id='%s'/>", pep.FormatID(d.Tag))
		}
	}
	b.WriteString("</devices>")
	return b.String()
}

// TestSeedFormList: lists written by a plain XMPP client in XEP-0364's form
// (Example 1, with the draft's publish-options) are read and used: our
// device joins its account's list keeping the other clients' entries, and a
// stranger (no presence subscription) reads another account's list.
func TestSeedFormList(t *testing.T) {
	srv := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users("alice", "bob"), StartTimeout: 40 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	beagle := pep.Device{Tag: 0xc45b041c, Label: "Beagle Client"}
	other := pep.Device{Tag: 0xc1bb7b7a}
	chat := pep.Device{Tag: 0x7c91e4ce, Label: "ChatSecure Client"}
	for _, user := range []string{"alice", "bob"} {
		plain := plainClient(t, srv, user)
		ex1 := `<pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <publish node='urn:xmpp:otr:1:devices'>
      <item id='current'>
        <devices xmlns='urn:xmpp:otr:1'>
          <device id='c45b041c' label='Beagle Client'/>
          <device id='c1bb7b7a' />
          <device id='7c91e4ce' label='ChatSecure Client' />
        </devices>
      </item>
    </publish>
    <publish-options>
      <x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'>
          <value>http://jabber.org/protocol/pubsub#publish-options</value>
        </field>
        <field var='pubsub#access_model'>
          <value>open</value>
        </field>
      </x>
    </publish-options>
  </pubsub>`
		if err := rawIQ(ctx, plain, ex1); err != nil {
			t.Fatalf("%s: publishing Example 1: %v", user, err)
		}
	}
	// bob's device, a stranger to alice, reads her list as published.
	b1 := startDev(t, srv, "bob", "b1", tagOf(2, 1))
	alice := srv.JID("alice", "")
	l, err := b1.m.Fetch(ctx, alice)
	if err != nil || len(l) != 3 || l[0] != beagle || l[1] != other || l[2] != chat {
		t.Fatalf("bob read alice's seed-form list as %v, %v", l, err)
	}
	devs, ok, err := b1.m.Devices(alice)
	if !ok || err != nil || len(devs) != 3 || devs[0].Device != beagle || devs[0].Online {
		t.Fatalf("Devices(alice) = %v, %v, %v", devs, ok, err)
	}
	// bob's own list: b1 joined it, keeping the three entries.
	plainBob := plainClient(t, srv, "bob")
	listedWith(t, plainBob, "b1 added to bob's seed-form list", true, beagle, other, chat, b1.m.Self())
}

// TestListHeals: each way a user's other client (or a buggy one) can damage
// the list ends, within seconds, with the device listed again in a valid
// list that keeps the valid entries.
func TestListHeals(t *testing.T) {
	cases := []struct {
		name string
		// damage is done by a plain client of the account once the device
		// is listed (next to a foreign entry "kept"); want is what the
		// repaired list must hold besides the device itself.
		damage func(ctx context.Context, plain *xmpp.Session, self pep.Device) error
		want   []pep.Device
		exact  bool
	}{
		{"node deleted", func(ctx context.Context, plain *xmpp.Session, _ pep.Device) error {
			return rawIQ(ctx, plain, "<pubsub xmlns='"+nsOwner+"'><delete node='"+pep.Node+"'/></pubsub>")
		}, nil, true},
		{"node purged", func(ctx context.Context, plain *xmpp.Session, _ pep.Device) error {
			return rawIQ(ctx, plain, "<pubsub xmlns='"+nsOwner+"'><purge node='"+pep.Node+"'/></pubsub>")
		}, nil, true},
		{"current evicted by another item", func(ctx context.Context, plain *xmpp.Session, _ pep.Device) error {
			err := rawIQ(ctx, plain, "<pubsub xmlns='"+nsOwner+"'><configure node='"+pep.Node+"'><x xmlns='jabber:x:data' type='submit'>"+
				"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>"+
				"<field var='pubsub#max_items'><value>1</value></field></x></configure></pubsub>")
			if err != nil {
				return fmt.Errorf("max_items=1: %w", err)
			}
			return publishRaw(ctx, plain, "other", "<note xmlns='urn:example:note'>hello</note>")
		}, []pep.Device{kept}, true},
		{"malformed list", func(ctx context.Context, plain *xmpp.Session, self pep.Device) error {
			return publishRaw(ctx, plain, pep.ItemID, "<devices xmlns='urn:xmpp:otr:1'><device id='0000beef' label='kept'/>stray text<device id='not-hex!'/><device/><device id='"+
				pep.FormatID(0xabc)+"' label='also kept'><child/></device></devices>")
		}, []pep.Device{kept, {Tag: 0xabc, Label: "also kept"}}, true},
		{"twenty devices", func(ctx context.Context, plain *xmpp.Session, self pep.Device) error {
			devs := make([]pep.Device, 20)
			for i := range devs {
				devs[i] = pep.Device{Tag: uint32(0x5000 + i)}
			}
			return publishRaw(ctx, plain, pep.ItemID, seedList(devs...))
		}, []pep.Device{{Tag: 0x5000}, {Tag: 0x5001}, {Tag: 0x5002}, {Tag: 0x5003}, {Tag: 0x5004}, {Tag: 0x5005}, {Tag: 0x5006}}, true},
		{"a tag twice", func(ctx context.Context, plain *xmpp.Session, self pep.Device) error {
			return publishRaw(ctx, plain, pep.ItemID, seedList(kept, pep.Device{Tag: self.Tag, Label: "stale"}, self, pep.Device{Tag: kept.Tag, Label: "again"}))
		}, []pep.Device{kept}, true},
	}
	users := make([]string, len(cases))
	for i := range cases {
		users[i] = fmt.Sprintf("user%d", i)
	}
	srv := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users(users...), StartTimeout: 40 * time.Second})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			plain := plainClient(t, srv, users[i])
			d := startDev(t, srv, users[i], "d", tagOf(1, 1))
			listedWith(t, plain, "device listed", true, d.m.Self())
			// A foreign entry next to ours, which the device learns of.
			if err := publishRaw(ctx, plain, pep.ItemID, seedList(kept, d.m.Self())); err != nil {
				t.Fatal(err)
			}
			// (Read, not only notified: ejabberd may not notify a device
			// whose capabilities it has not learnt yet.)
			waitUntil(t, 10*time.Second, "device sees the foreign entry", func() (bool, string) {
				l, err := d.m.Fetch(ctx, srv.JID(users[i], ""))
				return len(l) == 2, fmt.Sprint(l, err)
			})
			// Delete and purge notifications need the explicit
			// subscription on ejabberd.
			start := time.Now()
			waitUntil(t, 30*time.Second, "device subscribed to its node", func() (bool, string) {
				st := d.m.Stats()
				return st.Subscribed, fmt.Sprintf("%+v", st)
			})
			t.Logf("subscribed after %v", time.Since(start).Round(time.Millisecond))
			before := d.m.Stats()
			if err := tc.damage(ctx, plain, d.m.Self()); err != nil {
				t.Fatalf("damaging the list: %v", err)
			}
			got := listedWith(t, plain, "list repaired", tc.exact, append(tc.want, d.m.Self())...)
			// (The count follows the publication once the device has also
			// renewed its subscription.)
			waitUntil(t, 5*time.Second, "a repair counted", func() (bool, string) {
				return d.m.Stats().Repairs > before.Repairs, fmt.Sprintf("%+v", d.m.Stats())
			})
			t.Logf("repaired list %v; repairs %d", got, d.m.Stats().Repairs-before.Repairs)
		})
	}
}

var kept = pep.Device{Tag: 0xbeef, Label: "kept"}

// TestTwoDevicesRepairAtOnce: two devices of one account see the same
// damage at once and both repair; the list converges to one valid list with
// both (and the valid entries, online devices first), and the publications
// stop.
func TestTwoDevicesRepairAtOnce(t *testing.T) {
	srv := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users("alice"), StartTimeout: 40 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plain := plainClient(t, srv, "alice")
	a1 := startDev(t, srv, "alice", "a1", tagOf(1, 1))
	a2 := startDev(t, srv, "alice", "a2", tagOf(1, 2))
	listedWith(t, plain, "both listed", true, a1.m.Self(), a2.m.Self())

	settled := func(what string) {
		t.Helper()
		// No publication for 2 s: the devices agree.
		waitUntil(t, 15*time.Second, what+": publications stop", func() (bool, string) {
			n := a1.m.Stats().Publications + a2.m.Stats().Publications
			time.Sleep(2 * time.Second)
			m := a1.m.Stats().Publications + a2.m.Stats().Publications
			return n == m, fmt.Sprintf("%d -> %d publications", n, m)
		})
	}
	for _, damage := range []struct {
		name, iq string
		want     []pep.Device
	}{
		{"20 devices without either", func() string {
			devs := make([]pep.Device, 20)
			for i := range devs {
				devs[i] = pep.Device{Tag: uint32(0x5000 + i)}
			}
			return "<pubsub xmlns='" + nsPub + "'><publish node='" + pep.Node + "'><item id='current'>" + seedList(devs...) + "</item></publish></pubsub>"
		}(), []pep.Device{{Tag: 0x5000}, {Tag: 0x5001}, {Tag: 0x5002}, {Tag: 0x5003}, {Tag: 0x5004}, {Tag: 0x5005}}},
		{"node deleted", "<pubsub xmlns='" + nsOwner + "'><delete node='" + pep.Node + "'/></pubsub>", nil},
		{"a tag twice", "<pubsub xmlns='" + nsPub + "'><publish node='" + pep.Node + "'><item id='current'>" +
			seedList(a1.m.Self(), kept, a2.m.Self(), a1.m.Self()) + "</item></publish></pubsub>", []pep.Device{kept}},
	} {
		before := a1.m.Stats().Repairs + a2.m.Stats().Repairs
		if err := rawIQ(ctx, plain, damage.iq); err != nil {
			t.Fatalf("%s: %v", damage.name, err)
		}
		listedWith(t, plain, damage.name+": repaired with both", true, append(damage.want, a1.m.Self(), a2.m.Self())...)
		settled(damage.name)
		l, err := readCurrent(ctx, plain)
		if err != nil || len(l) != len(damage.want)+2 {
			t.Fatalf("%s: list moved after settling: %v, %v", damage.name, l, err)
		}
		t.Logf("%s: %d repairs by the two devices; list %v", damage.name, a1.m.Stats().Repairs+a2.m.Stats().Repairs-before, l)
	}
}

// TestDisagreeingDevicesAreRateLimited: two running copies of one device
// (same instance tag, different labels: a key store copied to a second
// machine) never agree; each keeps putting its own label back. The rate
// limit bounds how often they publish.
func TestDisagreeingDevicesAreRateLimited(t *testing.T) {
	srv := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users("alice"), StartTimeout: 40 * time.Second})
	opts := pep.Options{RepairBurst: 2, RepairInterval: time.Second}
	start := time.Now()
	x := startDevOpts(t, srv, "alice", "copy-x", tagOf(1, 1), opts)
	y := startDevOpts(t, srv, "alice", "copy-y", tagOf(1, 1), opts)
	time.Sleep(4 * time.Second)
	elapsed := time.Since(start)
	// At most the burst, plus one per interval, per device.
	bound := uint64(opts.RepairBurst) + uint64(elapsed/opts.RepairInterval) + 1
	for _, d := range []*dev{x, y} {
		st := d.m.Stats()
		t.Logf("%s after %v: %+v (bound %d)", d.name, elapsed.Round(time.Millisecond), st, bound)
		if st.Repairs > bound {
			t.Errorf("%s made %d repairs in %v, more than %d", d.name, st.Repairs, elapsed, bound)
		}
	}
	if x.m.Stats().Throttled+y.m.Stats().Throttled == 0 {
		t.Errorf("the copies never disagreed: the test tests nothing")
	}
}

// TestRemoveMendsDuplicates: Remove reads a list with a tag twice (and
// other damage) leniently and publishes a valid list without the removed
// device, even when the Manager does not repair on its own (stopped).
func TestRemoveMendsDuplicates(t *testing.T) {
	srv := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users("alice"), StartTimeout: 40 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plain := plainClient(t, srv, "alice")
	a1 := startDev(t, srv, "alice", "a1", tagOf(1, 1))
	listedWith(t, plain, "a1 listed", true, a1.m.Self())
	a1.m.Stop() // no repairs on its own from here
	stale := pep.Device{Tag: 0x5a1e, Label: "stale"}
	if err := publishRaw(ctx, plain, pep.ItemID, seedList(kept, stale, a1.m.Self(), kept, stale)); err != nil {
		t.Fatal(err)
	}
	if _, err := a1.m.Fetch(ctx, srv.JID("alice", "")); !errors.Is(err, pep.ErrMalformed) {
		t.Fatalf("list with a tag twice read as %v", err)
	}
	if err := a1.m.Remove(ctx, stale.Tag); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	listedWith(t, plain, "mended without the stale device", true, kept, a1.m.Self())
}

// TestCheckWithoutNotification: with the node's notifications switched off
// (pubsub#deliver_notifications false, as a server that sends none), a
// damaged list is still repaired, by the periodic read of the own list.
func TestCheckWithoutNotification(t *testing.T) {
	srv := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users("alice"), StartTimeout: 40 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plain := plainClient(t, srv, "alice")
	a1 := startDevOpts(t, srv, "alice", "a1", tagOf(1, 1), pep.Options{CheckInterval: 500 * time.Millisecond})
	listedWith(t, plain, "a1 listed", true, a1.m.Self())
	// Not while a1 configures the node itself (ejabberd answers a
	// concurrent configuration with "Database failure").
	waitUntil(t, 30*time.Second, "a1 subscribed", func() (bool, string) { return a1.m.Stats().Subscribed, "" })
	err := rawIQ(ctx, plain, "<pubsub xmlns='"+nsOwner+"'><configure node='"+pep.Node+"'><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>"+
		"<field var='pubsub#deliver_notifications'><value>false</value></field></x></configure></pubsub>")
	if err != nil {
		t.Fatalf("switching notifications off: %v", err)
	}
	before := a1.m.Stats().Repairs
	if err := publishRaw(ctx, plain, pep.ItemID, seedList(kept)); err != nil {
		t.Fatal(err)
	}
	listedWith(t, plain, "a1 back without a notification", true, kept, a1.m.Self())
	waitUntil(t, 5*time.Second, "a repair counted", func() (bool, string) {
		return a1.m.Stats().Repairs > before, fmt.Sprintf("%+v", a1.m.Stats())
	})
}
