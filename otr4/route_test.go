package otr4

import (
	"testing"
	"time"
)

func TestPeekRoute(t *testing.T) {
	clk := &clock{t: time.Now()}
	a := newParty(t, "alice@example.org", "bob@example.org", 0x1111, clk, func(c *Config) { c.Mode = ModeCompatible }).conv
	out, err := a.StartInteractive()
	if err != nil {
		t.Fatal(err)
	}
	r := PeekRoute(out.ToSend[0])
	if !r.Identity() || r.Sender != 0x1111 || r.Receiver != 0 || r.Version != 4 {
		t.Errorf("identity message routed as %+v", r)
	}
	q, _ := a.QueryMessage()
	if r := PeekRoute(q); r.Kind != RouteQuery || len(r.Offers) != 1 || r.Offers[0] != 4 {
		t.Errorf("query routed as %+v", r)
	}
	tagged, _ := a.TagPlaintext("hi")
	if r := PeekRoute(tagged); r.Kind != RoutePlaintextWithTag {
		t.Errorf("tagged plaintext routed as %+v", r)
	}
	if StripWhitespaceTag(tagged) != "hi" {
		t.Errorf("StripWhitespaceTag(%q) = %q", tagged, StripWhitespaceTag(tagged))
	}
	if r := PeekRoute("?OTR|00000001|00001111|00002222,00001,00002,abc,"); r.Kind != RouteFragment || r.Sender != 0x1111 || r.Receiver != 0x2222 || r.Version != 4 {
		t.Errorf("fragment routed as %+v", r)
	}
	if r := PeekRoute("hello"); r.Kind != RoutePlaintext {
		t.Errorf("plaintext routed as %+v", r)
	}
	if r := PeekRoute("?OTR Error: ERROR_1: x"); r.Kind != RouteError {
		t.Errorf("error routed as %+v", r)
	}
}

func FuzzPeekRoute(f *testing.F) {
	for _, s := range []string{"hello", "?OTRv4?", "?OTR:AAQ1AAARERERAAAAAA==.", "?OTR|00000001|00001111|00002222,00001,00002,abc,",
		"?OTR|1|2,1,2,x,", "?OTR Error: ERROR_2: x", "a \t  \t\t\t\t \t \t \t    \t\t  \t "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := PeekRoute(s)
		if r.Identity() && r.Version != 4 {
			t.Fatalf("identity with version %d", r.Version)
		}
		_ = StripWhitespaceTag(s)
	})
}
