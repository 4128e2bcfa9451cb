package wire

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 0x35)
	b = AppendShort(b, 4)
	b = AppendInt(b, 0x100)
	b = AppendLong(b, -2)
	b = AppendData(b, []byte("hello"))
	b = AppendMPI(b, big.NewInt(0x1234))
	b = AppendMPI(b, nil)
	r := NewReader(b)
	if r.Byte() != 0x35 || r.Short() != 4 || r.Int() != 0x100 || r.Long() != -2 {
		t.Fatal("fixed fields differ")
	}
	if string(r.Data(10)) != "hello" {
		t.Fatal("DATA differs")
	}
	if r.MPI().Int64() != 0x1234 || r.MPI() != nil {
		t.Fatal("MPI differs")
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestStrict(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		read func(r *Reader)
		want error
	}{
		{"short truncated", []byte{1}, func(r *Reader) { r.Short() }, ErrTruncated},
		{"data truncated", []byte{0, 0, 0, 5, 1}, func(r *Reader) { r.Data(10) }, ErrTruncated},
		{"data too large", []byte{0, 0, 0, 11}, func(r *Reader) { r.Data(10) }, ErrTooLarge},
		{"data huge length", []byte{0xff, 0xff, 0xff, 0xff}, func(r *Reader) { r.Data(1 << 20) }, ErrTooLarge},
		{"mpi leading zero", []byte{0, 0, 0, 2, 0, 1}, func(r *Reader) { r.MPI() }, ErrMPINotMinimal},
		{"mpi too large", append([]byte{0, 0, 1, 0x81}, make([]byte, 385)...), func(r *Reader) { r.MPI() }, ErrTooLarge},
		{"trailing", []byte{0, 1, 2}, func(r *Reader) { r.Short() }, ErrTrailing},
	}
	for _, c := range cases {
		r := NewReader(c.in)
		c.read(r)
		if err := r.Done(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestStickyError(t *testing.T) {
	r := NewReader([]byte{1})
	r.Int()
	if r.Short() != 0 || r.Bytes(0) != nil || r.Err() != ErrTruncated {
		t.Fatal("reader did not keep the first error")
	}
}

func FuzzReader(f *testing.F) {
	f.Add(AppendMPI(AppendData(nil, []byte("x")), big.NewInt(7)))
	f.Add([]byte{0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(in)
		d := r.Data(64)
		m := r.MPI()
		if r.Err() != nil {
			return
		}
		// Re-encoding an accepted prefix gives back the same bytes.
		out := AppendMPI(AppendData(nil, d), m)
		if !bytes.Equal(out, in[:len(in)-r.Len()]) {
			t.Fatalf("re-encoding %x gives %x", in, out)
		}
	})
}
