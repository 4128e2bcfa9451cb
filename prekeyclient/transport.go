package prekeyclient

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// Transport carries prekey-server message bodies to a prekey server.
// SessionTransport implements it over a mellium session; tests substitute
// an in-memory network. Answers come back through Client.HandleMessage
// (or the handler Handle registers on a mux).
type Transport interface {
	// Send delivers body to the prekey server at to. It must return once
	// the stanza is written, or when ctx is done.
	Send(ctx context.Context, to jid.JID, body string) error
}

// SessionTransport returns a Transport that sends each body as a chat
// message stanza over s, as "Publishing Prekey Values to the Server" shows.
func SessionTransport(s *xmpp.Session) Transport { return sessionTransport{s} }

type sessionTransport struct{ s *xmpp.Session }

type bodyMessage struct {
	stanza.Message
	Body string `xml:"body"`
}

func (t sessionTransport) Send(ctx context.Context, to jid.JID, body string) error {
	err := t.s.Encode(ctx, bodyMessage{
		Message: stanza.Message{To: to, Type: stanza.ChatMessage},
		Body:    body,
	})
	if err != nil {
		return fmt.Errorf("%w: sending to %s: %v", ErrServerUnavailable, to, err)
	}
	return nil
}

// Names of the message children the handler is registered for.
var (
	bodyName  = xml.Name{Space: stanza.NSClient, Local: "body"}
	errorName = xml.Name{Space: stanza.NSClient, Local: "error"}
)

// Handle returns a mux option that routes the message stanzas of the
// prekey server c talks to into c, and every other message with a body to
// next (which may be nil). It handles chat, normal and error messages.
func Handle(c *Client, next mux.MessageHandler) mux.Option {
	h := &messageHandler{c: c, next: next}
	return func(m *mux.ServeMux) {
		mux.Message(stanza.ChatMessage, bodyName, h)(m)
		mux.Message(stanza.NormalMessage, bodyName, h)(m)
		mux.Message(stanza.ErrorMessage, errorName, h)(m)
	}
}

type messageHandler struct {
	c    *Client
	next mux.MessageHandler
}

type incoming struct {
	stanza.Message
	Body  string        `xml:"body"`
	Error *stanza.Error `xml:"error"`
}

// HandleMessage implements mux.MessageHandler.
func (h *messageHandler) HandleMessage(msg stanza.Message, t xmlstream.TokenReadEncoder) error {
	if !h.c.isServer(msg.From) {
		if h.next != nil {
			return h.next.HandleMessage(msg, t)
		}
		return nil
	}
	var m incoming
	if err := xml.NewTokenDecoder(t).Decode(&m); err != nil {
		h.c.log.Debug("prekeyclient: undecodable stanza from prekey server", "from", msg.From, "err", err)
		return nil
	}
	if msg.Type == stanza.ErrorMessage {
		var se error = errors.New("error stanza without an error element")
		if m.Error != nil {
			se = *m.Error
		}
		h.c.HandleError(msg.From, se)
		return nil
	}
	h.c.HandleMessage(msg.From, m.Body)
	return nil
}
