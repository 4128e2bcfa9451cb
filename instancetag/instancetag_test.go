package instancetag

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func TestSelect(t *testing.T) {
	a := Instance{Tag: 0x100, State: Encrypted, Trust: Verified, LastReceived: at(10), LastSent: at(5)}
	b := Instance{Tag: 0x200, State: Encrypted, Trust: Assumed, LastReceived: at(20), LastSent: at(1)}
	c := Instance{Tag: 0x300, State: Plaintext, Trust: Unknown, LastReceived: at(1), LastSent: at(30)}
	d := Instance{Tag: 0x400, State: Finished, Trust: Verified}
	tests := []struct {
		name          string
		p             Policy
		ins           []Instance
		want          []uint32
		notMostRecent bool
	}{
		{"best prefers encrypted and verified", Best, []Instance{a, b, c}, []uint32{0x100}, true},
		{"best: state before trust", Best, []Instance{d, b}, []uint32{0x200}, false},
		{"best: finished before plaintext", Best, []Instance{c, d}, []uint32{0x400}, true},
		{"best: trust before recency", Best, []Instance{b, a}, []uint32{0x100}, true},
		{"best: recency breaks a tie", Best, []Instance{
			{Tag: 0x500, State: Encrypted, LastReceived: at(3)},
			{Tag: 0x600, State: Encrypted, LastReceived: at(4)},
		}, []uint32{0x600}, false},
		{"best: one-second resolution, then the lowest tag", Best, []Instance{
			{Tag: 0x600, State: Encrypted, LastReceived: at(4.9)},
			{Tag: 0x500, State: Encrypted, LastReceived: at(4.1)},
		}, []uint32{0x500}, true},
		{"best: unknown policy is best", Policy("nonsense"), []Instance{a, b}, []uint32{0x100}, true},
		{"recent: received or sent", Recent, []Instance{a, b, c}, []uint32{0x300}, false},
		{"recent: sub-second", Recent, []Instance{
			{Tag: 0x600, LastReceived: at(4.1)},
			{Tag: 0x500, LastReceived: at(4.9)},
		}, []uint32{0x500}, false},
		{"recent-received", RecentReceived, []Instance{a, b, c}, []uint32{0x200}, true},
		{"recent-sent", RecentSent, []Instance{a, b, c}, []uint32{0x300}, false},
		{"recent-sent, none sent: lowest tag", RecentSent, []Instance{
			{Tag: 0x900, LastReceived: at(9)}, {Tag: 0x800},
		}, []uint32{0x800}, true},
		{"multicast: all, sorted", Multicasting, []Instance{c, a, b}, []uint32{0x100, 0x200, 0x300}, false},
		{"one instance", RecentSent, []Instance{d}, []uint32{0x400}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.ins)
			got, err := Select(tt.p, tt.ins)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Tags, tt.want) {
				t.Errorf("tags %#x, want %#x", got.Tags, tt.want)
			}
			if got.NotMostRecent != tt.notMostRecent {
				t.Errorf("NotMostRecent = %v, want %v (most recent %#x)", got.NotMostRecent, tt.notMostRecent, got.MostRecent)
			}
			if !slices.Equal(in, tt.ins) {
				t.Error("Select modified its input")
			}
		})
	}
}

func TestSelectMulticastLimit(t *testing.T) {
	var ins []Instance
	for i := range 10 {
		st := Plaintext
		if i >= 5 {
			st = Encrypted
		}
		ins = append(ins, Instance{Tag: uint32(0x100 + i), State: st})
	}
	got, err := Select(Multicasting, ins)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tags) != MaxDevices {
		t.Fatalf("%d tags, want %d", len(got.Tags), MaxDevices)
	}
	for _, tag := range []uint32{0x105, 0x106, 0x107, 0x108, 0x109} {
		if !slices.Contains(got.Tags, tag) {
			t.Errorf("encrypted instance %#x left out of %#x", tag, got.Tags)
		}
	}
}

func TestSelectNone(t *testing.T) {
	for _, p := range Policies {
		if _, err := Select(p, nil); !errors.Is(err, ErrNoInstance) {
			t.Errorf("%s: err = %v, want ErrNoInstance", p, err)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Policy{
		"best": Best, "BEST": Best, "recent": Recent, "recent-received": RecentReceived,
		"RECENT_SENT": RecentSent, "multicast": Multicasting, "MULTICASTING": Multicasting,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := Parse("loudest"); !errors.Is(err, ErrUnknownPolicy) {
		t.Errorf("Parse(loudest) err = %v", err)
	}
	for _, p := range Policies {
		back, err := Parse(p.Short())
		if err != nil || back != p {
			t.Errorf("Parse(%q.Short()) = %v, %v", p, back, err)
		}
	}
}
