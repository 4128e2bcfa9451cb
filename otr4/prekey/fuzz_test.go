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

// FuzzServerSession feeds arbitrary bytes to a server session in each
// state: nothing panics, and a rejected message leaves an IN_DAKE session
// able to finish its DAKE.
func FuzzServerSession(f *testing.F) {
	for _, m := range sampleMessages(f) {
		f.Add(m.Marshal())
	}
	d, s := newDevice(f), newTestServer(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, d1, err := NewClientDAKE(d.clientConfig(s), StorageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		sess := NewServerSession(s.cfg, "alice@example.org")
		sess.HandleDAKE1(b)
		sess.HandleDAKE3(b)
		d2, err := sess.HandleDAKE1(d1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.HandleDAKE3(b); err == nil {
			t.Fatal("fuzzed DAKE-3 accepted")
		}
		c.Receive(b)
		if _, _, err := c.Receive(d2); err != nil {
			t.Fatalf("client refused the real DAKE-2 after fuzz input: %v", err)
		}
	})
}
