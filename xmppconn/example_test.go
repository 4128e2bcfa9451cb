package xmppconn_test

import (
	"context"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/xmppconn"
)

func ExampleFormatTag() {
	s := xmppconn.FormatTag(0x1234abcd)
	tag, err := xmppconn.ParseTag(s)
	fmt.Println(s, tag == 0x1234abcd, err)
	_, err = xmppconn.ParseTag("0x000000ff")
	fmt.Println(err)
	// Output:
	// 0x1234abcd true <nil>
	// xmppconn: bad instance tag: 0x000000ff is reserved (below 0x00000100)
}

// A client queues messages even before it is connected; Run sends them
// once online, in order.
func ExampleClient_SendChat() {
	c, err := xmppconn.New(xmppconn.Config{
		JID:         jid.MustParse("alice@example.org"),
		Password:    "secret",
		InstanceTag: 0x1aaa0001,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// An OTR message for bob's offline device 0x2bbb0001: to the bare JID,
	// stored by the server, addressed to the device.
	_, err = c.SendChat(ctx, jid.MustParse("bob@example.org"), "?OTR:AAQD...", xmppconn.SendOptions{
		OTR: true, ToDevice: 0x2bbb0001, Store: true,
	})
	fmt.Println(err, c.QueueLen(), c.State())
	// Output: <nil> 1 disconnected
}

// The session layer follows each message it sent through DeliveryEvents:
// queued, written (again after a connection loss), acknowledged by the
// server (never written again after that), or failed.
func ExampleDeliveryEvent() {
	c, err := xmppconn.New(xmppconn.Config{JID: jid.MustParse("alice@example.org"), Password: "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	pending := map[string]bool{}
	c.Subscribe(func(e xmppconn.Event) {
		switch e := e.(type) {
		case *xmppconn.DeliveryEvent:
			switch e.Status {
			case xmppconn.DeliveryAcked:
				delete(pending, e.ID) // the server has it
			case xmppconn.DeliveryFailed:
				delete(pending, e.ID) // tell the user: e.Err
			}
		case *xmppconn.StateEvent:
			if e.State == xmppconn.StateOnline && e.StreamManagement == xmppconn.SMOff {
				// No XEP-0198 on this server: acknowledgements come from
				// ping round trips.
			}
		}
	})
	id, _ := c.SendChat(context.Background(), jid.MustParse("bob@example.org"), "hi", xmppconn.SendOptions{})
	pending[id] = true
	fmt.Println(len(pending), xmppconn.DeliveryQueued, xmppconn.DeliveryAcked, xmppconn.SMResumed)
	// Output: 1 queued acked resumed
}
