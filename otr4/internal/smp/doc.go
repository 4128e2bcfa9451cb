// Package smp implements the Socialist Millionaires Protocol of OTRv4
// (otrv4.md, "Socialist Millionaires Protocol (SMP)": "SMP Overview",
// "Secret Information", "SMP Hash Function", "SMP Message 1" to "SMP
// Message 4" and "The SMP State Machine"), on Ed448 through package curve.
//
// One SMP value belongs to one conversation. The conversation hands it the
// SMP TLVs (types 2 to 6 of "TLV Record Types") it finds in data messages and
// sends back, inside data messages, the TLVs it returns:
//
//	out, err := s.Receive(tlv)          // out.Reply: TLVs to send, out.Result: what to tell the user
//	tlvs, err := s.Start(b, question, secret)   // the user asks to verify
//	tlvs, err := s.Respond(b, secret)   // the user answers after out.Result == SecretNeeded
//	tlv := s.Abort()                    // the user cancels
//	s.Reset()                           // the conversation leaves ENCRYPTED_MESSAGES
//
// The package never looks at instance tags: the spec's "If the instance tag
// in the message is not the instance tag you are currently using, ignore the
// message" is the conversation's job, as is ignoring SMP TLVs outside the
// ENCRYPTED_MESSAGES state.
//
// # Spec ambiguities and how they are resolved
//
//  1. HashToScalar(i || v) ("SMP Hash Function", appendix "HashToScalar") is
//     HWC(i || v, 57) = SHAKE-256("OTRv4" || i || v, 57), read as a
//     little-endian integer reduced mod q. The proof index i (0x01..0x08)
//     takes the place of the usage ID, and v is the concatenation of the
//     57-byte POINT encodings of the listed points ("0x05 || A || B" hashes
//     both encodings directly). libotr-ng instead pre-hashes the two points
//     of cp and cr with a plain SHAKE-256 and decodes 64-byte digests; it is
//     not followed here, so otrchat's SMP does not interoperate with
//     libotr-ng.
//  2. Secret information ("Secret Information"): the table lists the user
//     secret as DATA, the formula shows it bare; the DATA encoding (4-byte
//     big-endian length, then the bytes) is used. The prose says the 57-byte
//     digest is pruned as in "Considerations while working with elliptic
//     curve parameters", the formula does not; the digest is pruned, then
//     read little-endian mod q:
//     x = prune(HWC(usage_SMP_secret(0x19) || 0x01 || initiator fingerprint ||
//     responder fingerprint || SSID || DATA(secret), 57)) mod q.
//     The initiator is the party that sent SMP message 1 of this run.
//  3. The state machine says to answer SMP message 1 with message 2 at once,
//     but message 2 needs the responder's secret, which the user types after
//     seeing the question. As in OTRv3/libotr, the responder stays in
//     SMPSTATE_EXPECT1 with the received message 1 kept; this package names
//     that sub-state WaitingForSecret. Any message other than a new message 1
//     drops it as if the state were SMPSTATE_EXPECT1 (with abort).
//  4. "SMPSTATE_EXPECT1 is reached whenever an error occurs": a malformed
//     message or a failed zero-knowledge proof resets the state and answers
//     with an abort TLV (type 6, "encounters an error in the protocol and
//     cannot continue"), reported as Cheated. An SMP message arriving in the
//     wrong state resets and answers with an abort as the state machine says,
//     reported as Error. A TLV that is not an SMP TLV is refused without any
//     change.
//  5. An abort TLV with a non-empty value (the spec says the length "should"
//     be zero) is still honoured as an abort: aborting is always safe.
//  6. Restarting ("User requests to begin SMP" while not in SMPSTATE_EXPECT1)
//     sends an abort TLV followed by the new SMP message 1.
//  7. The question is opaque bytes (the spec requires UTF-8 only of the
//     secret); the empty question means "no question". Its length is bounded
//     by the 16-bit TLV length. No SMP proof covers it: its integrity rests
//     on the data message's MAC, and the UI must sanitise it before display.
//  8. Besides the POINT checks on decoding (on the curve, prime-order
//     subgroup, not the identity), the computed G2, G3, Qa - Qb and Pa - Pb
//     must not be the identity ("do not degenerate" in "SMP Overview").
//  9. The formulas' typographical slips ("(d6 = r6 - (x mod q) * cp) mod q",
//     "5" for "0x05") are read as the obvious intent.
package smp
