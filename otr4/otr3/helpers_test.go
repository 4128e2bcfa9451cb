package otr3

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/otrchat/otrchat/otr4"
)

var (
	keysOnce sync.Once
	testKeys [2]*PrivateKey
)

// testKey returns one of two fixed DSA keys, kept in libotr's format in
// testdata (made with GenerateKey; test keys only): making DSA parameters
// takes a while on a busy machine, and fuzzing workers would each do it.
func testKey(t testing.TB, i int) *PrivateKey {
	keysOnce.Do(func() {
		for j, name := range []string{"alice", "bob"} {
			data, err := os.ReadFile("testdata/" + name + ".private_key")
			if err != nil {
				panic(err)
			}
			keys, err := ImportLibotrKeys(data)
			if err != nil || len(keys) != 1 {
				panic(fmt.Sprint(name, keys, err))
			}
			testKeys[j] = keys[0].Key
		}
	})
	return testKeys[i]
}

func newPair(t testing.TB) (alice, bob *Conversation) {
	t.Helper()
	a, err := NewConversation(Config{Key: testKey(t, 0), InstanceTag: 0x1000})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewConversation(Config{Key: testKey(t, 1), InstanceTag: 0x2000})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// deliver feeds msgs to c and returns everything c answers, collecting
// texts and events.
type collected struct {
	texts  []string
	events []otr4.Event
}

func (col *collected) has(k otr4.EventKind) bool {
	for _, e := range col.events {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// exchange runs messages back and forth until both sides are quiet.
func exchange(t testing.TB, from, to *Conversation, msgs []string) (colFrom, colTo *collected) {
	t.Helper()
	colFrom, colTo = new(collected), new(collected)
	pending := msgs
	cur, other := to, from
	curCol, otherCol := colTo, colFrom
	for rounds := 0; len(pending) > 0; rounds++ {
		if rounds > 50 {
			t.Fatal("exchange does not settle")
		}
		var next []string
		for _, m := range pending {
			out, err := cur.Receive(m)
			if err != nil {
				t.Fatalf("Receive(%.40q): %v", m, err)
			}
			if out.Text != "" {
				curCol.texts = append(curCol.texts, out.Text)
			}
			curCol.events = append(curCol.events, out.Events...)
			next = append(next, out.ToSend...)
		}
		pending = next
		cur, other = other, cur
		curCol, otherCol = otherCol, curCol
	}
	return colFrom, colTo
}
