// Package e2e holds end-to-end tests of otrchat's layers together: OTRv4
// conversations (otr4) carried by the XMPP transport (xmppconn) through a
// real server of the test bed (internal/testbed). It has no code of its own.
package e2e
