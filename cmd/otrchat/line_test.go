package main

import (
	"testing"
)

// TestLineModeConversation: the same conversation as TestTwoTUIs, scripted
// through two otrchat processes in line mode; then alice starts again and
// signs in with the password kept in her key store.
func TestLineModeConversation(t *testing.T) {
	w := newChatWorld(t)
	aliceHome := t.TempDir()
	aliceEnv := childEnv(aliceHome, "OTRCHAT_PASSPHRASE=alice")
	alice := startLineProc(t, w.bin, aliceEnv, "--line", "-passphrase", "env")
	bob := startLineProc(t, w.bin, childEnv(t.TempDir(), "OTRCHAT_PASSPHRASE=bob"), "chat", "-line", "-passphrase", "env")
	alice.send(w.setupAnswers("alice", "desk")...)
	bob.send(w.setupAnswers("bob", "phone")...)
	aliceTag := alice.expect(`^ready account=alice@localhost device=([0-9a-f]{8}) label=desk fingerprint="[0-9A-F ]{125}" uri="xmpp:alice@localhost\?otr-fingerprint=[0-9a-f]{112}"$`)[1]
	bobTag := bob.expect(`^ready account=bob@localhost device=([0-9a-f]{8}) label=phone `)[1]
	alice.expect(`^connection online=yes addr=alice@localhost/desk`)
	bob.expect(`^connection online=yes addr=bob@localhost/phone`)

	alice.send("/add bob@localhost Bob")
	alice.expect(`^ok command=add$`)
	bob.expect(`^subscription-request from=alice@localhost$`)
	bob.send("/approve alice@localhost", "/add alice@localhost")
	bob.expect(`^ok command=approve$`)
	alice.expect(`^subscription-request from=bob@localhost$`)
	alice.send("/approve bob@localhost")
	alice.expect(`^ok command=approve$`)

	alice.send("/win bob@localhost", "/otr start")
	alice.expect(`^ok command=otr$`)
	alice.expect(`^state contact=bob@localhost device=` + bobTag + ` label=phone state=encrypted prev=starting version=4$`)
	// (The receiving side may not have read alice's device list yet: the
	// label can still be unknown.)
	bob.expect(`^state contact=alice@localhost device=` + aliceTag + ` label=\S* state=encrypted .* version=4$`)

	alice.send(`hello bob\nsecond line`)
	alice.expect(`^sent contact=bob@localhost id=\S+ encrypted=yes to=` + bobTag + ` text="hello bob\\nsecond line"$`)
	bob.expect(`^message contact=alice@localhost dir=in device=` + aliceTag + ` label=\S* encrypted=yes version=4 trust=untrusted delayed=no time=\S+ text="hello bob\\nsecond line"$`)
	bob.send("/msg alice@localhost hi alice")
	alice.expect(`^message contact=bob@localhost dir=in device=` + bobTag + ` label=phone encrypted=yes version=4 trust=untrusted .* text="hi alice"$`)

	alice.send("/policy recent")
	alice.expect(`^info contact=bob@localhost text="instance policy for bob@localhost is now recent"$`)
	alice.expect(`^info contact=bob@localhost text="the next message to bob@localhost goes to: phone ` + bobTag + `"$`)

	alice.send("/smp ask Our word? tofu")
	alice.expect(`^ok command=smp$`)
	bob.expect(`^smp contact=alice@localhost device=` + aliceTag + ` label=\S* kind=asked question="Our word\?"$`)
	bob.send("/win alice@localhost", "/smp answer tofu")
	m := alice.mark()
	alice.expect(`^smp contact=bob@localhost device=` + bobTag + ` label=phone kind=succeeded`)
	alice.rewind(m)
	alice.expect(`^trust contact=bob@localhost fingerprint="[0-9A-F ]+" level=verified from=-$`)
	bob.expect(`^smp contact=alice@localhost device=` + aliceTag + ` label=\S* kind=succeeded`)
	// Manual trust decisions, the prekey server's count, the QR code,
	// presence.
	bob.send("/distrust alice@localhost " + aliceTag)
	bob.expect(`^trust contact=alice@localhost fingerprint="[0-9A-F ]+" level=untrusted from=-$`)
	bob.send("/trust alice@localhost " + aliceTag)
	bob.expect(`^trust contact=alice@localhost fingerprint="[0-9A-F ]+" level=verified from=-$`)
	bob.send("/prekeys")
	bob.expect(`^info contact=alice@localhost text="prekey server prekeys.localhost stores [0-9]+ of our prekeys`)
	bob.expect(`^ok command=prekeys$`)
	alice.send("/qr")
	alice.expect(`^info contact=bob@localhost text="xmpp:alice@localhost\?otr-fingerprint=[0-9a-f]{112}"$`)
	alice.expect(`^qr [ █▀▄]{20,}$`)
	alice.send("/presence away out for lunch")
	alice.expect(`^ok command=presence$`)
	alice.send("/fingerprint bob@localhost")
	alice.expect(`^info contact=bob@localhost text="bob@localhost phone ` + bobTag + ` \(verified\):"$`)

	alice.send("/quit")
	alice.expect(`^bye$`)
	if err := alice.wait(); err != nil {
		t.Fatalf("alice: %v\n%s", err, alice.errb)
	}
	bob.expect(`^state contact=alice@localhost device=` + aliceTag + ` label=\S* state=finished`)

	// The second start asks for nothing: the password is in the key store.
	again := startLineProc(t, w.bin, aliceEnv, "--line", "-passphrase", "env")
	again.expect(`^ready account=alice@localhost device=` + aliceTag + ` label=desk `)
	again.expect(`^connection online=yes addr=alice@localhost/desk`)
	again.expect(`^roster contact=bob@localhost name=Bob subscription=both pending=no online=yes devices=1 `)
	// Bob's fingerprint is still verified once OTR shows it again.
	again.send("/otr start bob@localhost")
	again.expect(`^state contact=bob@localhost device=` + bobTag + ` label=phone state=encrypted`)
	again.send("/devices bob@localhost")
	again.expect(`^info contact=- text="  phone ` + bobTag + `: online, encrypted v4, verified`)
	again.send("/quit")
	again.expect(`^bye$`)
	if err := again.wait(); err != nil {
		t.Fatal(err)
	}
}
