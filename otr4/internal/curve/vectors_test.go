package curve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rfcVector is one file of testdata/rfc8032: RFC 8032 section 7.4 Ed448
// (pure, empty context).
type rfcVector struct {
	name                       string
	seed, public, message, sig []byte
}

func loadRFC8032(t testing.TB) []rfcVector {
	t.Helper()
	files, err := filepath.Glob("testdata/rfc8032/*.txt")
	if err != nil || len(files) != 8 {
		t.Fatalf("want 8 RFC 8032 vector files, got %d (%v)", len(files), err)
	}
	var vs []rfcVector
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string][]byte{}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ": ")
			if !ok {
				k, v = strings.TrimSuffix(sc.Text(), ":"), ""
			}
			if k == "source" {
				continue
			}
			b, err := hex.DecodeString(v)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, k, err)
			}
			fields[k] = b
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, rfcVector{filepath.Base(name), fields["seed"], fields["public"], fields["message"], fields["signature"]})
	}
	return vs
}

func TestRFC8032(t *testing.T) {
	for _, v := range loadRFC8032(t) {
		t.Run(v.name, func(t *testing.T) {
			k, err := NewKeyFromSeed(v.seed)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.PublicBytes(); !bytes.Equal(got, v.public) {
				t.Fatalf("public key\n got %x\nwant %x", got, v.public)
			}
			if got := k.Public().Bytes(); !bytes.Equal(got, v.public) {
				t.Fatalf("Public().Bytes()\n got %x\nwant %x", got, v.public)
			}
			if !bytes.Equal(k.Seed(), v.seed) {
				t.Fatal("Seed() differs")
			}
			// sk*G must be the public key.
			if got := new(Point).ScalarBaseMult(k.Scalar()).Bytes(); !bytes.Equal(got, v.public) {
				t.Fatalf("Scalar()*G = %x", got)
			}
			if got := k.Sign(v.message); !bytes.Equal(got, v.sig) {
				t.Fatalf("signature\n got %x\nwant %x", got, v.sig)
			}
			pub, err := new(Point).SetBytes(v.public)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(pub, v.message, v.sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// Tampering with any part must be rejected.
			for i := 0; i < SignatureSize; i += 7 {
				bad := bytes.Clone(v.sig)
				bad[i] ^= 0x01
				if err := Verify(pub, v.message, bad); !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("signature with byte %d flipped: err = %v", i, err)
				}
			}
			msg := append(bytes.Clone(v.message), 0)
			if err := Verify(pub, msg, v.sig); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("longer message accepted: %v", err)
			}
			if err := Verify(pub, v.message, v.sig[:SignatureSize-1]); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("short signature accepted: %v", err)
			}
			if err := Verify(NewGeneratorPoint(), v.message, v.sig); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("other key accepted: %v", err)
			}
		})
	}
}

type wycheproofFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Key struct {
			PK string `json:"pk"`
		} `json:"key"`
		Tests []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Msg     string   `json:"msg"`
			Sig     string   `json:"sig"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproof runs Project Wycheproof's Ed448 verification cases
// (testdata/wycheproof_Ed448.json.gz, copied from
// github.com/cloudflare/circl@v1.6.5 sign/ed448/testdata).
func TestWycheproof(t *testing.T) {
	f, err := os.Open("testdata/wycheproof_Ed448.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var w wycheproofFile
	if err := json.NewDecoder(z).Decode(&w); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range w.TestGroups {
		pkb, err := hex.DecodeString(g.Key.PK)
		if err != nil {
			t.Fatal(err)
		}
		pub, perr := new(Point).SetBytes(pkb)
		for _, tc := range g.Tests {
			n++
			msg, err1 := hex.DecodeString(tc.Msg)
			sig, err2 := hex.DecodeString(tc.Sig)
			if err1 != nil || err2 != nil {
				t.Fatalf("tcId %d: bad hex", tc.TcID)
			}
			var err error
			if perr != nil {
				err = perr
			} else {
				err = Verify(pub, msg, sig)
			}
			switch tc.Result {
			case "valid":
				if err != nil {
					t.Errorf("tcId %d (%s): valid signature rejected: %v", tc.TcID, tc.Comment, err)
				}
			case "invalid":
				if err == nil {
					t.Errorf("tcId %d (%s): invalid signature accepted", tc.TcID, tc.Comment)
				}
			default:
				t.Fatalf("tcId %d: unexpected result %q", tc.TcID, tc.Result)
			}
		}
	}
	if n != w.NumberOfTests || n == 0 {
		t.Fatalf("ran %d of %d tests", n, w.NumberOfTests)
	}
}
