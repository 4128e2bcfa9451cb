package prekey

import (
	"bytes"
	"testing"
)

// fuzzDecoder checks a decoder of untrusted bytes: it never panics, and
// whatever it accepts re-encodes to the same bytes (the version field, which
// may be any value >= 4 on input, is always written as 4).
func fuzzDecoder[M Message](f *testing.F, typ MessageType, parse func([]byte) (M, error)) {
	for _, m := range sampleMessages(f) {
		f.Add(m.Marshal())
	}
	f.Add([]byte{0, 4, byte(typ)})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		if err != nil {
			return
		}
		if m.Type() != typ {
			t.Fatalf("type %v, want %v", m.Type(), typ)
		}
		out := m.Marshal()
		if len(out) != len(b) || !bytes.Equal(out[2:], b[2:]) {
			t.Fatalf("marshal(parse(b)) != b\n b=%x\nout=%x", b, out)
		}
		again, err := parse(out)
		if err != nil || !bytes.Equal(again.Marshal(), out) {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func FuzzParseDAKE1(f *testing.F) { fuzzDecoder(f, TypeDAKE1, ParseDAKE1) }
func FuzzParseDAKE2(f *testing.F) { fuzzDecoder(f, TypeDAKE2, ParseDAKE2) }
func FuzzParseDAKE3(f *testing.F) { fuzzDecoder(f, TypeDAKE3, ParseDAKE3) }
func FuzzParsePublication(f *testing.F) {
	fuzzDecoder(f, TypePublication, ParsePublication)
}
func FuzzParseStorageInfoRequest(f *testing.F) {
	fuzzDecoder(f, TypeStorageInfoRequest, ParseStorageInfoRequest)
}
func FuzzParseStorageStatus(f *testing.F) { fuzzDecoder(f, TypeStorageStatus, ParseStorageStatus) }
func FuzzParseSuccess(f *testing.F)       { fuzzDecoder(f, TypeSuccess, ParseSuccess) }
func FuzzParseFailure(f *testing.F)       { fuzzDecoder(f, TypeFailure, ParseFailure) }
func FuzzParseEnsembleQuery(f *testing.F) { fuzzDecoder(f, TypeEnsembleQuery, ParseEnsembleQuery) }
func FuzzParseEnsembleRetrieval(f *testing.F) {
	fuzzDecoder(f, TypeEnsembleRetrieval, ParseEnsembleRetrieval)
}
func FuzzParseNoEnsembles(f *testing.F) { fuzzDecoder(f, TypeNoEnsembles, ParseNoEnsembles) }

// FuzzDecode checks the base-64 layer: accepted strings re-encode exactly.
func FuzzDecode(f *testing.F) {
	f.Add("AAQG.")
	f.Add("AAQ=.")
	f.Add(Encode(bytes.Repeat([]byte{0x35}, 100)))
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err != nil {
			return
		}
		if Encode(b) != s {
			t.Fatalf("Encode(Decode(%q)) = %q", s, Encode(b))
		}
	})
}

// FuzzServerSession feeds arbitrary bytes to both roles' state machines:
// to a fresh server session (NOT_IN_DAKE), to a server session waiting
// for DAKE-3 (IN_DAKE) and to a client waiting for DAKE-2. Nothing panics,
// and nothing fuzzed is accepted.
func FuzzServerSession(f *testing.F) {
	for _, m := range sampleMessages(f) {
		f.Add(m.Marshal())
	}
	d, s := newDevice(f), newTestServer(f)
	var (
		c    *ClientDAKE
		sess *ServerSession
	)
	reset := func(t testing.TB) {
		var d1 []byte
		var err error
		if c, d1, err = NewClientDAKE(d.clientConfig(s), StorageRequest{}); err != nil {
			t.Fatal(err)
		}
		sess = NewServerSession(s.cfg, "alice@example.org")
		if _, err = sess.HandleDAKE1(d1); err != nil {
			t.Fatal(err)
		}
	}
	reset(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		fresh := NewServerSession(s.cfg, "alice@example.org")
		fresh.HandleDAKE1(b)
		if _, err := fresh.HandleDAKE3(b); err == nil {
			t.Fatal("DAKE-3 accepted outside a DAKE")
		}
		if _, err := sess.HandleDAKE3(b); err == nil {
			t.Fatal("fuzzed DAKE-3 accepted")
		}
		if _, _, err := c.Receive(b); err == nil {
			t.Fatal("fuzzed message accepted by the client")
		}
		if c.Done() || !sess.InDAKE() {
			reset(t) // the input ended a DAKE (a matching tag with a bad signature)
		}
	})
}
