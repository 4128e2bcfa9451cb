package prekeyclient

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
)

func TestDiscoverFiltersByFeatureAndIdentity(t *testing.T) {
	d := newFakeDisco()
	domain := "example.org"
	fp := randomFP(t)
	d.addServer(domain, "prekeys.example.org", fp)
	// A MUC service, a service with the feature but no identity, one with
	// the identity but no feature, one that does not answer.
	d.items[domain] = append(d.items[domain],
		items.Item{JID: jid.MustParse("conference.example.org")},
		items.Item{JID: jid.MustParse("featureonly.example.org")},
		items.Item{JID: jid.MustParse("identonly.example.org")},
		items.Item{JID: jid.MustParse("dead.example.org")},
		items.Item{JID: jid.MustParse("prekeys.example.org")}, // listed twice
	)
	d.infos["conference.example.org"] = disco.Info{Identity: []info.Identity{disco.ConferenceText}}
	d.infos["featureonly.example.org"] = disco.Info{Features: []info.Feature{{Var: NS}}}
	d.infos["identonly.example.org"] = disco.Info{Identity: []info.Identity{{Category: IdentityCategory, Type: IdentityType}}}

	servers, err := Discover(context.Background(), d, jid.MustParse("alice@example.org/phone"), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 || servers[0].JID.String() != "prekeys.example.org" || servers[0].Name != "OTR Prekey Server" {
		t.Fatalf("servers = %+v", servers)
	}
	got, err := FetchFingerprint(context.Background(), d, servers[0].JID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fp) {
		t.Fatalf("fingerprint %x, want %x", got, fp)
	}
}

func TestDiscoverNone(t *testing.T) {
	d := newFakeDisco()
	d.items["example.org"] = []items.Item{{JID: jid.MustParse("conference.example.org")}}
	_, err := Discover(context.Background(), d, jid.MustParse("example.org"), time.Second, nil)
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
	d.failing["example.org"] = errors.New("service-unavailable")
	if _, err := Discover(context.Background(), d, jid.MustParse("example.org"), time.Second, nil); !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
}

func TestDiscoverTimeoutIsBounded(t *testing.T) {
	d := newFakeDisco()
	d.failing["example.org"] = context.DeadlineExceeded // hangs until the query's deadline
	start := time.Now()
	_, err := Discover(context.Background(), d, jid.MustParse("example.org"), 100*time.Millisecond, nil)
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("discovery took %v", el)
	}
}

func TestFingerprintItems(t *testing.T) {
	s := jid.MustParse("prekeys.example.org")
	fp := randomFP(t)
	other := randomFP(t)
	item := func(node, name string) items.Item { return items.Item{JID: s, Node: node, Name: name} }
	for _, tc := range []struct {
		name  string
		items []items.Item
		ok    bool
	}{
		{"one", []items.Item{item(FingerprintNode, hexUpper(fp))}, true},
		{"lower case", []items.Item{item(FingerprintNode, strings.ToLower(hexUpper(fp)))}, true},
		{"with other items", []items.Item{item("", "x"), item(FingerprintNode, hexUpper(fp))}, true},
		{"same twice", []items.Item{item(FingerprintNode, hexUpper(fp)), item(FingerprintNode, hexUpper(fp))}, true},
		{"none", []items.Item{item("", hexUpper(fp))}, false},
		{"two different", []items.Item{item(FingerprintNode, hexUpper(fp)), item(FingerprintNode, hexUpper(other))}, false},
		{"short", []items.Item{item(FingerprintNode, hexUpper(fp[:55]))}, false},
		{"long", []items.Item{item(FingerprintNode, hexUpper(fp)+"00")}, false},
		{"not hex", []items.Item{item(FingerprintNode, strings.Repeat("zz", 56))}, false},
		{"grouped", []items.Item{item(FingerprintNode, FormatFingerprint(fp))}, false},
	} {
		got, err := fingerprintFromItems(s, tc.items)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if tc.ok && !bytes.Equal(got, fp) {
			t.Errorf("%s: got %x", tc.name, got)
		}
		if !tc.ok && !errors.Is(err, ErrBadFingerprint) {
			t.Errorf("%s: err = %v, want ErrBadFingerprint", tc.name, err)
		}
	}
}

func TestChooseIsRandomAndComplete(t *testing.T) {
	var servers []Server
	for _, n := range []string{"a.example.org", "b.example.org", "c.example.org"} {
		servers = append(servers, Server{JID: jid.MustParse(n)})
	}
	first := map[string]int{}
	for i := 0; i < 300; i++ {
		order, err := Choose(nil, servers)
		if err != nil {
			t.Fatal(err)
		}
		if len(order) != 3 {
			t.Fatalf("order %v", order)
		}
		seen := map[string]bool{}
		for _, s := range order {
			seen[s.JID.String()] = true
		}
		if len(seen) != 3 {
			t.Fatalf("order %v is not a permutation", order)
		}
		first[order[0].JID.String()]++
	}
	for _, s := range servers {
		// Each is first with probability 1/3: 100 of 300 expected; below
		// 50 happens with probability < 1e-8.
		if n := first[s.JID.String()]; n < 50 {
			t.Errorf("%s chosen first %d times of 300", s.JID, n)
		}
	}
	if _, err := Choose(bytes.NewReader(nil), servers); err == nil {
		t.Error("Choose with an empty reader succeeded")
	}
}

// TestSpecValues pins the values of "Discovering a Prekey Server".
func TestSpecValues(t *testing.T) {
	for got, want := range map[string]string{
		NS:               "http://jabber.org/protocol/otrv4-prekey-server",
		IdentityCategory: "auth",
		IdentityType:     "otr-prekey",
		FingerprintNode:  "fingerprint",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	if MaxPrekeysPerPublication != 255 || FingerprintSize != 56 {
		t.Error("limits differ from the spec")
	}
}
