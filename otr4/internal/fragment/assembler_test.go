package fragment

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"
)

func mustSplit(t *testing.T, f Format, msg string, maxSize int, id, sender, receiver uint32) []string {
	t.Helper()
	frags, err := f.Split(msg, maxSize, id, sender, receiver)
	if err != nil {
		t.Fatal(err)
	}
	return frags
}

// add feeds one fragment and expects no error and the given completion.
func add(t *testing.T, a *Assembler, s string, now time.Time, want string) {
	t.Helper()
	got, done, err := a.Add(s, now)
	if err != nil {
		t.Fatalf("Add(%.60q): %v", s, err)
	}
	if done != (want != "") || got != want {
		t.Fatalf("Add(%.60q) = %.40q, %v; want %.40q", s, got, done, want)
	}
}

func TestDuplicates(t *testing.T) {
	msg := randomMessage(rand.New(rand.NewSource(2)), 300)
	frags := mustSplit(t, FormatV4, msg, 100, 77, alice, bob)
	a := NewAssembler(bob, Limits{})
	add(t, a, frags[1], t0, "")
	before := a.Buffered()
	for i := 0; i < 3; i++ {
		if _, done, err := a.Add(frags[1], t0); !errors.Is(err, ErrDuplicate) || done {
			t.Fatalf("duplicate: done %v, err %v", done, err)
		}
	}
	// A different piece for a filled position is a duplicate too: the
	// first one stays.
	f, _ := Parse(frags[1])
	f.Piece = "XXXX"
	if _, _, err := a.Add(f.String(), t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("conflicting duplicate: %v", err)
	}
	if a.Buffered() != before || a.Pending() != 1 {
		t.Fatalf("duplicate changed state: %d bytes, %d pending", a.Buffered(), a.Pending())
	}
	for i, s := range frags {
		if i == 1 {
			continue
		}
		want := ""
		if i == len(frags)-1 {
			want = msg
		}
		add(t, a, s, t0, want)
	}
	// After completion the same fragments start a new message: the
	// identifier is only unique while a message is in transit.
	add(t, a, frags[0], t0, "")
	if a.Pending() != 1 {
		t.Fatal("replayed fragment not buffered")
	}
}

// TestInterleavedSenders reassembles messages from two senders (two devices
// of the correspondent) that use the same identifier, plus a second message
// from one of them, with all fragments shuffled together.
func TestInterleavedSenders(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const carol = 0x0badcafe
	m1 := randomMessage(r, 1000)
	m2 := randomMessage(r, 1200)
	m3 := randomMessage(r, 700)
	var all []string
	all = append(all, mustSplit(t, FormatV4, m1, 90, 42, alice, bob)...)
	all = append(all, mustSplit(t, FormatV4, m2, 90, 42, carol, 0)...)
	all = append(all, mustSplit(t, FormatV4, m3, 90, 43, alice, bob)...)
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	a := NewAssembler(bob, Limits{})
	got := map[string]int{}
	for _, s := range all {
		msg, done, err := a.Add(s, t0)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			got[msg]++
		}
	}
	if len(got) != 3 || got[m1] != 1 || got[m2] != 1 || got[m3] != 1 {
		t.Fatalf("reassembled %d distinct messages", len(got))
	}
	if a.Pending() != 0 || a.Buffered() != 0 {
		t.Fatalf("left %d pending, %d bytes", a.Pending(), a.Buffered())
	}
}

func TestReceiverTag(t *testing.T) {
	msg := randomMessage(rand.New(rand.NewSource(5)), 100)
	toOther := mustSplit(t, FormatV4, msg, 80, 1, alice, 0x999)
	a := NewAssembler(bob, Limits{})
	if _, _, err := a.Add(toOther[0], t0); !errors.Is(err, ErrNotForUs) {
		t.Fatalf("fragment for another instance: %v", err)
	}
	if a.Pending() != 0 {
		t.Fatal("fragment for another instance buffered")
	}
	v3 := mustSplit(t, FormatV3, msg, 80, 0, alice, 0x999)
	if _, _, err := a.Add(v3[0], t0); !errors.Is(err, ErrNotForUs) {
		t.Fatalf("v3 fragment for another instance: %v", err)
	}
	// Receiver tag 0: for any instance.
	anyone := mustSplit(t, FormatV4, msg, 80, 1, alice, 0)
	for i, s := range anyone {
		want := ""
		if i == len(anyone)-1 {
			want = msg
		}
		add(t, a, s, t0, want)
	}
	// Own tag 0 disables the check.
	b := NewAssembler(0, Limits{})
	for i, s := range toOther {
		want := ""
		if i == len(toOther)-1 {
			want = msg
		}
		add(t, b, s, t0, want)
	}
}

func TestInconsistentTotal(t *testing.T) {
	a := NewAssembler(bob, Limits{})
	add(t, a, Fragment{FormatV4, 5, alice, bob, 1, 3, "aa"}.String(), t0, "")
	add(t, a, Fragment{FormatV4, 5, alice, bob, 2, 3, "bb"}.String(), t0, "")
	if _, _, err := a.Add(Fragment{FormatV4, 5, alice, bob, 3, 4, "cc"}.String(), t0); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("other total: %v", err)
	}
	// "Forget any stored fragments of this buffer": the third piece of the
	// original message no longer completes anything.
	if a.Pending() != 0 || a.Buffered() != 0 {
		t.Fatalf("buffer kept: %d pending", a.Pending())
	}
	add(t, a, Fragment{FormatV4, 5, alice, bob, 3, 3, "cc"}.String(), t0, "")
}

func TestSequentialV3(t *testing.T) {
	frag := func(k, n uint16, p string) string { return Fragment{FormatV3, 0, alice, bob, k, n, p}.String() }
	a := NewAssembler(bob, Limits{})
	// In order.
	add(t, a, frag(1, 3, "a"), t0, "")
	add(t, a, frag(2, 3, "b"), t0, "")
	add(t, a, frag(3, 3, "c"), t0, "abc")
	// Out of order: forget.
	add(t, a, frag(1, 3, "a"), t0, "")
	if _, _, err := a.Add(frag(3, 3, "c"), t0); !errors.Is(err, ErrInconsistent) || a.Pending() != 0 {
		t.Fatalf("skip: %v, %d pending", err, a.Pending())
	}
	if _, _, err := a.Add(frag(2, 3, "b"), t0); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("after reset: %v", err)
	}
	// A duplicate is out of sequence too.
	add(t, a, frag(1, 3, "a"), t0, "")
	add(t, a, frag(2, 3, "b"), t0, "")
	if _, _, err := a.Add(frag(2, 3, "b"), t0); !errors.Is(err, ErrInconsistent) || a.Pending() != 0 {
		t.Fatalf("duplicate: %v", err)
	}
	// k == 1 restarts.
	add(t, a, frag(1, 3, "a"), t0, "")
	add(t, a, frag(1, 2, "x"), t0, "")
	add(t, a, frag(2, 2, "y"), t0, "xy")
	// Another n: forget.
	add(t, a, frag(1, 3, "a"), t0, "")
	if _, _, err := a.Add(frag(2, 4, "b"), t0); !errors.Is(err, ErrInconsistent) || a.Pending() != 0 {
		t.Fatalf("other n: %v", err)
	}
	// An unfragmented message forgets v3 fragments but keeps v4 ones.
	add(t, a, frag(1, 2, "a"), t0, "")
	add(t, a, Fragment{FormatV4, 9, alice, bob, 1, 2, "p"}.String(), t0, "")
	a.NoteUnfragmented()
	if a.Pending() != 1 {
		t.Fatalf("%d pending after NoteUnfragmented", a.Pending())
	}
	if _, _, err := a.Add(frag(2, 2, "b"), t0); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("v3 kept: %v", err)
	}
	add(t, a, Fragment{FormatV4, 9, alice, bob, 2, 2, "q"}.String(), t0, "pq")
	// v2 has no tags.
	add(t, a, "?OTR,1,2,hello ,", t0, "")
	add(t, a, "?OTR,2,2,world,", t0, "hello world")
}

func TestSingleFragment(t *testing.T) {
	a := NewAssembler(bob, Limits{})
	add(t, a, "?OTR|1|5a73a599|0,1,1,?OTR:AAQD.,", t0, "?OTR:AAQD.")
	if a.Pending() != 0 {
		t.Fatal("single fragment buffered")
	}
}

// TestFragmentOfFragment: "you can't fragment a fragment". Pieces cannot
// hold commas, so a reassembled fragment can only be recognised by its
// prefix.
func TestFragmentOfFragment(t *testing.T) {
	a := NewAssembler(bob, Limits{})
	add(t, a, Fragment{FormatV4, 1, alice, bob, 1, 2, "?OTR|1|5a73a599|0"}.String(), t0, "")
	if _, done, err := a.Add(Fragment{FormatV4, 1, alice, bob, 2, 2, "|1|1|x"}.String(), t0); !errors.Is(err, ErrMalformed) || done {
		t.Fatalf("fragment of fragment: %v", err)
	}
	if _, _, err := a.Add(Fragment{FormatV4, 2, alice, bob, 1, 1, "?OTRP|x"}.String(), t0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("single-piece fragment of fragment: %v", err)
	}
	if a.Pending() != 0 {
		t.Fatal("left pending")
	}
}

func TestLimitMaxTotal(t *testing.T) {
	a := NewAssembler(bob, Limits{MaxTotal: 10})
	if _, _, err := a.Add(Fragment{FormatV4, 1, alice, bob, 1, 11, "a"}.String(), t0); !errors.Is(err, ErrLimit) {
		t.Fatalf("total 11: %v", err)
	}
	add(t, a, Fragment{FormatV4, 1, alice, bob, 1, 10, "a"}.String(), t0, "")
}

func TestLimitMessageBytes(t *testing.T) {
	a := NewAssembler(bob, Limits{MaxMessageBytes: 100})
	p := strings.Repeat("x", 40)
	add(t, a, Fragment{FormatV4, 1, alice, bob, 1, 3, p}.String(), t0, "")
	add(t, a, Fragment{FormatV4, 1, alice, bob, 2, 3, p}.String(), t0, "")
	if _, _, err := a.Add(Fragment{FormatV4, 1, alice, bob, 3, 3, p}.String(), t0); !errors.Is(err, ErrLimit) {
		t.Fatalf("120-byte message: %v", err)
	}
	if a.Pending() != 0 || a.Buffered() != 0 {
		t.Fatal("oversized message kept")
	}
	if _, _, err := a.Add(Fragment{FormatV4, 1, alice, bob, 1, 1, strings.Repeat("y", 101)}.String(), t0); !errors.Is(err, ErrLimit) {
		t.Fatalf("101-byte single fragment: %v", err)
	}
	// Exactly at the limit is fine.
	add(t, a, Fragment{FormatV4, 2, alice, bob, 2, 2, strings.Repeat("z", 50)}.String(), t0, "")
	add(t, a, Fragment{FormatV4, 2, alice, bob, 1, 2, strings.Repeat("w", 50)}.String(), t0, strings.Repeat("w", 50)+strings.Repeat("z", 50))
}

// TestLimitPending: a new partial message beyond MaxPending evicts the
// oldest one.
func TestLimitPending(t *testing.T) {
	a := NewAssembler(bob, Limits{MaxPending: 3})
	for id := uint32(1); id <= 5; id++ {
		add(t, a, Fragment{FormatV4, id, alice, bob, 1, 2, "a"}.String(), t0.Add(time.Duration(id)), "")
		if a.Pending() > 3 {
			t.Fatalf("%d pending", a.Pending())
		}
	}
	// Identifiers 1 and 2 were evicted; 3, 4, 5 complete.
	for id := uint32(1); id <= 2; id++ {
		add(t, a, Fragment{FormatV4, id, alice, bob, 2, 2, "b"}.String(), t0, "")
	}
	a = NewAssembler(bob, Limits{MaxPending: 3})
	for id := uint32(1); id <= 5; id++ {
		add(t, a, Fragment{FormatV4, id, alice, bob, 1, 2, "a"}.String(), t0, "")
	}
	for id := uint32(3); id <= 5; id++ {
		add(t, a, Fragment{FormatV4, id, alice, bob, 2, 2, "b"}.String(), t0, "ab")
	}
}

func TestLimitBufferedBytes(t *testing.T) {
	limit := 4 * (100 + PieceOverhead)
	a := NewAssembler(bob, Limits{MaxBufferedBytes: limit})
	p := strings.Repeat("x", 100)
	for id := uint32(1); id <= 10; id++ {
		add(t, a, Fragment{FormatV4, id, alice, bob, 1, 2, p}.String(), t0, "")
		if a.Buffered() > limit {
			t.Fatalf("%d bytes buffered, limit %d", a.Buffered(), limit)
		}
	}
	if a.Pending() != 4 {
		t.Fatalf("%d pending, want 4", a.Pending())
	}
	// One message larger than the whole buffer: rejected, and its partial
	// state discarded, without evicting the others for nothing.
	b := NewAssembler(bob, Limits{MaxBufferedBytes: limit})
	add(t, b, Fragment{FormatV4, 100, carolTag, bob, 1, 2, p}.String(), t0, "")
	for i := uint16(1); i <= 3; i++ {
		add(t, b, Fragment{FormatV4, 1, alice, bob, i, 5, p}.String(), t0, "")
	}
	if _, _, err := b.Add(Fragment{FormatV4, 1, alice, bob, 4, 5, p}.String(), t0); err != nil {
		t.Fatalf("fourth piece (evicting the other message): %v", err)
	}
	if b.Pending() != 1 {
		t.Fatalf("%d pending", b.Pending())
	}
	if _, _, err := b.Add(Fragment{FormatV4, 1, alice, bob, 5, 5, p}.String(), t0); !errors.Is(err, ErrLimit) {
		t.Fatalf("fifth piece: %v", err)
	}
	if b.Pending() != 0 || b.Buffered() != 0 {
		t.Fatalf("%d pending, %d bytes", b.Pending(), b.Buffered())
	}
	// A single piece larger than the buffer.
	if _, _, err := b.Add(Fragment{FormatV4, 1, alice, bob, 1, 2, strings.Repeat("y", limit)}.String(), t0); !errors.Is(err, ErrLimit) {
		t.Fatalf("huge piece: %v", err)
	}
}

const carolTag = 0x0badcafe

func TestExpiry(t *testing.T) {
	a := NewAssembler(bob, Limits{Expiry: time.Minute})
	add(t, a, Fragment{FormatV4, 1, alice, bob, 1, 2, "a"}.String(), t0, "")
	add(t, a, Fragment{FormatV4, 2, alice, bob, 1, 2, "c"}.String(), t0.Add(50*time.Second), "")
	// Exactly Expiry later the first is still there.
	add(t, a, Fragment{FormatV4, 1, alice, bob, 2, 2, "b"}.String(), t0.Add(time.Minute), "ab")
	add(t, a, Fragment{FormatV4, 3, alice, bob, 1, 2, "e"}.String(), t0, "")
	// 110 seconds: identifier 3 (t0) expired, identifier 2 (t0+50s) not.
	add(t, a, Fragment{FormatV4, 2, alice, bob, 2, 2, "d"}.String(), t0.Add(110*time.Second), "cd")
	if a.Pending() != 0 {
		t.Fatalf("%d pending; identifier 3 should have expired", a.Pending())
	}
	// A clock going backwards expires nothing.
	add(t, a, Fragment{FormatV4, 4, alice, bob, 1, 2, "f"}.String(), t0, "")
	add(t, a, Fragment{FormatV4, 4, alice, bob, 2, 2, "g"}.String(), t0.Add(-time.Hour), "fg")
}

func TestDefaultLimits(t *testing.T) {
	a := NewAssembler(bob, Limits{MaxTotal: 70000, MaxPending: -1})
	if a.limits != DefaultLimits() {
		t.Fatalf("limits %+v", a.limits)
	}
}
