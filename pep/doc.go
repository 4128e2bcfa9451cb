// Package pep publishes and follows OTRv4 device lists through the Personal
// Eventing Protocol (XEP-0163, on XEP-0060 publish-subscribe).
//
// Each device of an account announces its OTRv4 instance tag in one list,
// the item "current" of the PEP node Node ("urn:otrchat:otrv4:devices:0"):
//
//	<devices xmlns='urn:otrchat:otrv4:0'>
//	  <device tag='0x1234abcd' label='laptop'/>
//	</devices>
//
// It implements the device-list requirements of shared/spec/otrv4-over-xmpp.md
// ("Proposal for OTR version 4 and XMPP": at most 8 devices) and XEP-0364
// ("Adding a instance tag to the device list", "DAKE advertisement"), after
// the OMEMO device list (omemo-protoxep-0.0.1 "Announcing support"); the
// differences are explained in docs/device-list.md. A device re-announces
// itself when a notification of its own account's list lacks it (a racing
// update removed it), follows its contacts' lists through "+notify"
// notifications, and ties each online full JID to an instance tag through
// the <device/> element that xmppconn puts in presence.
package pep
