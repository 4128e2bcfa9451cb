// Package pep publishes and follows OTRv4 device lists through the Personal
// Eventing Protocol (XEP-0163, on XEP-0060 publish-subscribe).
//
// Each device of an account announces its OTRv4 instance tag in one list,
// the item "current" of the PEP node Node ("urn:xmpp:otr:1:devices"), in the
// form XEP-0364 gives ("Adding a instance tag to the device list"; the id is
// the instance tag as eight hexadecimal digits):
//
//	<devices xmlns='urn:xmpp:otr:1'>
//	  <device id='c45b041c' label='laptop'/>
//	</devices>
//
// The node's access model is "open" by default, as XEP-0364 requires, or
// "presence" (Options.AccessModel). It implements the device-list
// requirements of shared/spec/otrv4-over-xmpp.md ("Proposal for OTR version 4
// and XMPP": at most 8 devices) and XEP-0364 ("Adding a instance tag to the
// device list", "DAKE advertisement"); docs/device-list.md explains the
// choices.
//
// The list heals itself: a device re-announces itself when a notification
// or a read of its own account's list lacks it, and repairs the list when it
// was deleted, purged, evicted by an item with another id, or is damaged
// (malformed, more than 8 devices, an id twice), keeping the valid entries.
// Repairs are spread by a random delay, retried a bounded number of times,
// and rate-limited so that devices that disagree cannot publish in a loop.
// The Manager also follows its contacts' lists through "+notify"
// notifications, and ties each online full JID to an instance tag through
// the <device/> element that xmppconn puts in presence.
package pep
