package xmppconn

import (
	"encoding/xml"

	"mellium.im/xmpp/jid"
)

// MarshalChat returns the stanza SendChat would write for a message, for
// tools and benchmarks that account for the cost of building it.
func MarshalChat(id string, to jid.JID, body string, o SendOptions) ([]byte, error) {
	return xml.Marshal(newOutMessage(id, to.String(), body, o))
}
