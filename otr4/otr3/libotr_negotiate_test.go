package otr3

import (
	"strings"
	"testing"

	"github.com/otrchat/otrchat/otr4"
)

var compatible = Policy{AllowV3: true, AllowV4: true}

// TestLibotrOffersAnsweredInV3: we offer versions 3 and 4, libotr 4.1 knows
// only 3, and the conversation runs in OTRv3.
func TestLibotrOffersAnsweredInV3(t *testing.T) {
	for _, tc := range []struct {
		name  string
		offer string
	}{
		{"query ?OTRv34?", "?OTRv34?"},
		{"our query ?OTRv43?", compatible.QueryMessage()},
		{"whitespace tag", compatible.TagPlaintext("Hello Bob!")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, _ := compatibleQueryVersions(tc.offer); tc.name != "whitespace tag" && v != "34" {
				t.Fatalf("query %q offers %q", tc.offer, v)
			}
			dir, kf := newPeerDir(t)
			p := startPeer(t, dir, "bob", kf)
			r := p.do("recv", tc.offer)
			if len(r.wires) != 1 {
				t.Fatalf("libotr answered %q", r.wires)
			}
			if compatible.Choose(r.wires[0]) != Version3 {
				t.Fatalf("Choose(%.30q) = %v", r.wires[0], compatible.Choose(r.wires[0]))
			}
			if strings.Contains(tc.offer, "Hello") && (len(r.texts) != 1 || r.texts[0] != "Hello Bob!") {
				t.Fatalf("libotr showed %q", r.texts)
			}
			g := newGoSide(t, Config{})
			pump(g, p, nil, r.wires)
			encrypted(t, g, p)
			chat(t, g, p, 1)
		})
	}
}

func compatibleQueryVersions(q string) (string, bool) {
	switch {
	case q == "?OTRv34?" || q == "?OTRv43?":
		return "34", true
	}
	return "", false
}

// TestLibotrTagFromLibotr: libotr's whitespace tag (versions 2 and 3)
// starts an OTRv3 AKE from our side.
func TestLibotrTagFromLibotr(t *testing.T) {
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf)
	p.do("policy", "118") // OTRL_POLICY_OPPORTUNISTIC: versions 2 and 3, tags, start on tag or error
	r := p.do("send", "Hi Alice")
	if len(r.wires) != 1 || r.wires[0] == "Hi Alice" {
		t.Fatalf("libotr sent %q", r.wires)
	}
	if v := compatible.Choose(r.wires[0]); v != Version3 {
		t.Fatalf("Choose = %v", v)
	}
	if v := (Policy{AllowV4: true}).Choose(r.wires[0]); v != VersionNone {
		t.Fatalf("Choose without v3 = %v", v)
	}
	g := newGoSide(t, Config{})
	pump(g, p, nil, r.wires)
	if len(g.texts) != 1 || g.texts[0] != "Hi Alice" {
		t.Fatalf("we showed %q", g.texts)
	}
	encrypted(t, g, p)
	chat(t, g, p, 1)
}

// TestLibotrTwoInstances: Bob runs libotr on two devices with one key;
// we (one device) talk to both at once. Everything we send reaches both
// devices, as on a network that copies messages to every resource, and
// each message from them goes to the conversation of its instance tag.
func TestLibotrTwoInstances(t *testing.T) {
	dir, kf := newPeerDir(t)
	p1 := startPeer(t, dir, "bob-laptop", kf)
	p2 := startPeer(t, dir, "bob-phone", kf)
	if p1.FP != p2.FP || p1.Tag == p2.Tag {
		t.Fatalf("fingerprints %s %s, tags %v %v", p1.FP, p2.FP, p1.Tag, p2.Tag)
	}
	peers := []*peer{p1, p2}
	convs := map[otr4.InstanceTag]*goSide{}
	var orphans []string

	// toGo routes one message from a libotr instance to its conversation.
	var broadcast func(msgs []string)
	toGo := func(m string) {
		sender, _, ok := InstanceTags(m)
		if !ok {
			t.Fatalf("not an OTRv3 message: %.40q", m)
		}
		g := convs[sender]
		if g == nil {
			if compatible.Choose(m) != Version3 {
				t.Fatalf("Choose(%.30q)", m)
			}
			g = newGoSide(t, Config{})
			convs[sender] = g
		}
		broadcast(g.take(g.c.Receive(m)))
	}
	depth := 0
	broadcast = func(msgs []string) {
		depth++
		if depth > 60 {
			t.Fatal("does not settle")
		}
		for _, m := range msgs {
			for _, p := range peers {
				r := p.do("recv", m)
				for _, w := range r.wires {
					toGo(w)
				}
				orphans = append(orphans, r.texts...)
			}
		}
		depth--
	}
	broadcast([]string{compatible.QueryMessage()})
	if len(convs) != 2 {
		t.Fatalf("%d conversations", len(convs))
	}
	for _, p := range peers {
		g := convs[p.Tag]
		if g == nil {
			t.Fatalf("no conversation with %v", p.Tag)
		}
		encrypted(t, g, p)
	}
	if len(orphans) != 0 {
		t.Fatalf("libotr showed %q", orphans)
	}
	// A message for each device is read by that device only.
	for i, p := range peers {
		g := convs[p.Tag]
		text := "only for " + p.name
		wires := g.take(g.c.Send(text))
		for _, w := range wires {
			for j, q := range peers {
				got := q.do("recv", w).texts
				if i == j && (len(got) != 1 || got[0] != text) {
					t.Fatalf("%s read %q", q.name, got)
				}
				if i != j && len(got) != 0 {
					t.Fatalf("%s read %q, meant for %s", q.name, got, p.name)
				}
			}
		}
		r := p.do("send", "reply from "+p.name)
		for _, w := range r.wires {
			toGo(w)
		}
		if n := len(g.texts); n == 0 || g.texts[n-1] != "reply from "+p.name {
			t.Fatalf("conversation with %s read %q", p.name, g.texts)
		}
	}
	for _, g := range convs {
		if g.c.State() != otr4.StateEncrypted {
			t.Fatal(g.c.State())
		}
	}
}
