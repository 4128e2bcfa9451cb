// Package otr3 implements Off-the-Record Messaging version 3
// (otrv3-protocol.txt) for otrchat's OTRv3-compatible mode, so that otrchat
// can talk to the OTR clients people run today (libotr 4.1: Pidgin,
// Profanity, mcabber). It interoperates with libotr; the tests run a peer
// built from Debian's libotr.
//
// It implements the AKE (D-H Commit, D-H Key, Reveal Signature,
// Signature), DSA-1024 long-term keys with SHA-1 fingerprints (signing in
// constant time), data messages (AES-128-CTR, HMAC-SHA1) with key rotation
// and revealed MAC keys, instance tags, fragmentation, the Socialist
// Millionaires' Protocol with and without a question, the extra symmetric
// key, the message and authentication state machines, and the import of
// libotr private key files. Choose tells, from a received plaintext message,
// whether to answer with OTRv4 or OTRv3 (v4 whenever both sides offer it).
//
// A Conversation is one conversation with one remote instance. Its API has
// the shape of otr4.Conversation and uses otr4's Message, Event and TLV
// types, so a session layer drives both alike:
//
//	conv, _ := otr3.NewConversation(otr3.Config{Key: key, InstanceTag: tag})
//	out, _ := conv.StartAKE()          // or send conv.QueryMessage()
//	send(out.ToSend...)
//	for msg := range received {
//		out, err := conv.Receive(msg)
//		show(out.Text, out.Events, err)
//		send(out.ToSend...)
//	}
//	out, _ = conv.Send("hi")           // StartSMP, AnswerSMP, AbortSMP, End
//
// For a session layer: pick the engine with Policy.Choose on what arrives
// (a query or whitespace tag, or the first encoded message), keep one
// otr3.Conversation per remote instance tag (InstanceTags reads it from a
// v3 message or fragment) and otherwise treat it like an
// otr4.Conversation; both satisfy the same method set (Receive, Send,
// StartSMP, AnswerSMP, AbortSMP, End, State, TheirInstanceTag). OTRv3 has
// no offline start and no multicast: it is one instance of the contact.
//
// State reports the message state: otr4.StateStart (MSGSTATE_PLAINTEXT),
// otr4.StateEncrypted or otr4.StateFinished; AuthState the AKE's progress.
// TLVs in Message.TLVs carry OTRv3 type numbers (SMP 2-7, extra key 8).
// The engine does no I/O, starts no goroutines and takes its randomness and
// clock from Config.
package otr3
