// Package otr4 implements Off-the-Record messaging version 4 (otrv4.md): the
// interactive DAKE (DAKEZ) and the non-interactive DAKE (XZDH) from prekey
// ensembles, the double ratchet with the 3072-bit DH brace key, data
// messages with TLVs, revealed MAC keys and the extra symmetric key, the
// Socialist Millionaires Protocol, fragmentation, query messages and
// whitespace tags, and the protocol state machine in the OTRv4 modes.
//
// A Conversation is one conversation with one remote instance (device) of
// a correspondent. It does no I/O: give it the wire strings you receive,
// and it returns the text to show, the events to report and the wire
// strings to send. Time and randomness are injected through Config.
//
//	conv, _ := otr4.NewConversation(otr4.Config{Identity: id, InstanceTag: tag,
//		OurAccount: "alice@example.org", TheirAccount: "bob@example.org"})
//	out, _ := conv.StartInteractive()  // or conv.QueryMessage(), conv.StartOffline(ensemble, text)
//	send(out.ToSend...)
//	for msg := range received {
//		out, err := conv.Receive(msg)
//		show(out.Text, out.Events, err)
//		send(out.ToSend...)
//	}
//
// Choices made where the specification is ambiguous are listed, with the
// spec's words, in docs/spec-notes.md.
package otr4
