// Package session is otrchat's session manager: one device of one account,
// with one OTR conversation per remote device (instance) of each contact
// and of the account's own other devices. It implements the multi-device
// part of shared/spec/otrv4-over-xmpp.md ("Proposal for OTR version 4",
// the instance-tag policies and the caveats) on xmppconn, pep and
// prekeyclient:
//
//   - StartOTR reads the contact's device list and starts an interactive
//     DAKE with every device available in presence and an offline DAKE
//     (from the prekey server's ensemble) with every other one;
//   - Send applies the instance policy (package instancetag), encrypts
//     separately for each chosen device (package multicast), copies the
//     message to the account's other devices under MULTICASTING (carbons
//     are off for OTR), and reports each copy with DeliveryEvents;
//   - received OTR messages are routed by the instance tags in their
//     header; the prekey server's messages go to prekeyclient only;
//   - the encryption policies (manual, opportunistic, always) and trust
//     modes (manual, tofu, blind-before-verification, blind);
//   - trust decisions follow the person: they travel to the account's
//     verified devices inside OTR (TLV 0x7A02; docs/session.md);
//   - in the OTRv3-compatible mode, OTRv3 conversations with clients that
//     speak only version 3 (otr4/otr3), one instance each.
//
// A user interface drives a Manager with its methods and reads Events
// (Subscribe); it needs nothing from the protocol packages. The whole API,
// the routing rules and the TLV formats are in docs/session.md.
package session
