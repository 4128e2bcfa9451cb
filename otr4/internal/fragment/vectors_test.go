package fragment

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// vector is one testdata/*.txt file: "key: value" lines naming the source,
// the Split parameters, the message and its fragments in order.
type vector struct {
	path, source                 string
	format                       Format
	maxSize                      int
	identifier, sender, receiver uint32
	message                      string
	fragments                    []string
}

func readVector(path string) (vector, error) {
	f, err := os.Open(path)
	if err != nil {
		return vector{}, err
	}
	defer f.Close()
	v := vector{path: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			return vector{}, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		hex := func() uint32 {
			n, e := strconv.ParseUint(val, 16, 32)
			if e != nil {
				err = e
			}
			return uint32(n)
		}
		switch key {
		case "source":
			v.source = val
		case "format":
			i := slices.IndexFunc([]Format{FormatV4, FormatV3, FormatV2, FormatPrekey}, func(f Format) bool { return f.String() == val })
			if i < 0 {
				return vector{}, fmt.Errorf("%s: format %q", path, val)
			}
			v.format = Format(i + 1)
		case "maxsize":
			v.maxSize, err = strconv.Atoi(val)
		case "identifier":
			v.identifier = hex()
		case "sender":
			v.sender = hex()
		case "receiver":
			v.receiver = hex()
		case "message":
			v.message = val
		case "fragment":
			v.fragments = append(v.fragments, val)
		default:
			return vector{}, fmt.Errorf("%s: unknown key %q", path, key)
		}
		if err != nil {
			return vector{}, fmt.Errorf("%s: %s: %v", path, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return vector{}, err
	}
	if v.source == "" || v.format == 0 || v.message == "" || len(v.fragments) == 0 {
		return vector{}, fmt.Errorf("%s: incomplete vector", path)
	}
	return v, nil
}

func mustReadVector(name string) vector {
	v, err := readVector(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return v
}

// TestVectors checks every testdata vector: Split with its parameters gives
// exactly its fragments, each parses to its header values, and an Assembler
// for the receiver reassembles the message from them (in reverse order where
// the format allows it).
func TestVectors(t *testing.T) {
	vs := allVectors(t)
	if len(vs) < 3 {
		t.Fatalf("%d vectors", len(vs))
	}
	for _, v := range vs {
		path := v.path
		got, err := v.format.Split(v.message, v.maxSize, v.identifier, v.sender, v.receiver)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !slices.Equal(got, v.fragments) {
			t.Errorf("%s: Split:\n%s\nwant\n%s", path, strings.Join(got, "\n"), strings.Join(v.fragments, "\n"))
		}
		order := slices.Clone(v.fragments)
		if v.format == FormatV4 || v.format == FormatPrekey {
			slices.Reverse(order)
		}
		a := NewAssembler(v.receiver, Limits{})
		for i, s := range order {
			f, err := Parse(s)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if f.Format != v.format || f.Identifier != v.identifier || f.Sender != v.sender || f.Receiver != v.receiver || int(f.Total) != len(order) {
				t.Errorf("%s: parsed %+v", path, f)
			}
			msg, done, err := a.Add(s, t0)
			if err != nil || done != (i == len(order)-1) || done && msg != v.message {
				t.Fatalf("%s: fragment %d: %.40q %v %v", path, i, msg, done, err)
			}
		}
	}
}

// allVectors reads every testdata vector, to seed the fuzz targets.
func allVectors(tb testing.TB) []vector {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	for _, p := range paths {
		v, err := readVector(p)
		if err != nil {
			tb.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}
