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
