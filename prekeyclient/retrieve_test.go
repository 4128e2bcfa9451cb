package prekeyclient

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// retrievalServer answers every query for bob with the ensembles make
// returns (or a No Prekey Ensembles message when it returns none).
func retrievalServer(t *testing.T, make func(q *prekey.EnsembleQuery) prekey.Message) *fakeServer {
	srv := &fakeServer{jid: jid.MustParse(testServer)}
	srv.respond = func(b []byte) []string {
		q, err := prekey.ParseEnsembleQuery(b)
		if err != nil {
			t.Errorf("server got %x: %v", b, err)
			return nil
		}
		m := make(q)
		if m == nil {
			return nil
		}
		return []string{encodeBody(m.Marshal())}
	}
	return srv
}

func TestRetrieveOnePerDevice(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	var bobs []*device
	for i := 0; i < 3; i++ {
		bobs = append(bobs, newDevice(t, "bob@example.org/d"))
	}
	srv := retrievalServer(t, func(q *prekey.EnsembleQuery) prekey.Message {
		if q.Identity != "bob@example.org" || q.Versions != "4" || q.SenderTag != alice.tag {
			t.Errorf("query %+v", q)
		}
		m := &prekey.EnsembleRetrieval{ReceiverTag: q.SenderTag, Identity: q.Identity}
		for _, b := range bobs {
			m.Ensembles = append(m.Ensembles, b.ensemble(t))
		}
		return m
	})
	c := newTestClient(t, alice, srv, time.Second)
	got, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org/whatever"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ByTag) != 3 || len(got.Warnings) != 0 {
		t.Fatalf("got %d ensembles, warnings %v", len(got.ByTag), got.Warnings)
	}
	for _, b := range bobs {
		e := got.ByTag[b.tag]
		if e == nil || e.Client.InstanceTag != b.tag {
			t.Fatalf("no ensemble for %v", b.tag)
		}
	}
}

func TestRetrieveNoEnsembles(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	srv := retrievalServer(t, func(q *prekey.EnsembleQuery) prekey.Message {
		return &prekey.NoEnsembles{ReceiverTag: q.SenderTag, Identity: q.Identity, Text: prekey.NoEnsemblesText + "\x1b[2J"}
	})
	c := newTestClient(t, alice, srv, time.Second)
	_, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org"))
	var ne *NoEnsemblesError
	if !errors.As(err, &ne) || !errors.Is(err, ErrNoEnsembles) {
		t.Fatalf("err = %v", err)
	}
	if ne.Identity != "bob@example.org" || ne.Message != prekey.NoEnsemblesText+"?[2J" {
		t.Fatalf("error %+v", ne)
	}
}

// TestRetrieveMisbehaviours runs a malicious server for each misbehaviour
// of "Security Properties" that concerns retrieval.
func TestRetrieveMisbehaviours(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	bob := newDevice(t, "bob@example.org/phone")
	bob2 := newDevice(t, "bob@example.org/tablet")
	mallory := newDevice(t, "mallory@example.org/x")
	past := time.Now().Add(-time.Hour)

	expired := func() *otr4.PrekeyEnsemble {
		e := bob.ensemble(t)
		cp, err := otr4.NewClientProfile(bob.id, bob.tag, "4", past)
		if err != nil {
			t.Fatal(err)
		}
		e.Client = cp
		return e
	}
	otherTag := func() *otr4.PrekeyEnsemble {
		e := bob.ensemble(t)
		e.Message = bob2.ensemble(t).Message
		return e
	}
	otherKey := func() *otr4.PrekeyEnsemble {
		e := bob.ensemble(t)
		pp, _, err := otr4.NewPrekeyProfile(rand.Reader, mallory.id, bob.tag, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		e.Prekey = pp
		return e
	}
	retrieval := func(q *prekey.EnsembleQuery, es ...*otr4.PrekeyEnsemble) *prekey.EnsembleRetrieval {
		return &prekey.EnsembleRetrieval{ReceiverTag: q.SenderTag, Identity: q.Identity, Ensembles: es}
	}

	for _, tc := range []struct {
		name    string
		respond func(q *prekey.EnsembleQuery) []string
		want    []error // errors.Is targets of the error
		warn    error   // when the retrieval succeeds: a warning it must carry
	}{
		{"unavailable", func(*prekey.EnsembleQuery) []string { return nil }, []error{ErrServerUnavailable}, nil},
		{"garbage", func(*prekey.EnsembleQuery) []string { return []string{"hello"} }, []error{ErrServerUnavailable, ErrBadReply}, nil},
		{"incomplete", func(q *prekey.EnsembleQuery) []string {
			b := retrieval(q, bob.ensemble(t)).Marshal()
			return []string{encodeBody(b[:len(b)-30])}
		}, []error{ErrBadReply}, nil},
		{"wrong count", func(q *prekey.EnsembleQuery) []string {
			b := retrieval(q, bob.ensemble(t), bob2.ensemble(t)).Marshal()
			// L says 3, two ensembles follow.
			off := 2 + 1 + 4 + 4 + len(q.Identity)
			b[off+3] = 3
			return []string{encodeBody(b)}
		}, []error{ErrBadReply}, nil},
		{"expired", func(q *prekey.EnsembleQuery) []string {
			return []string{encodeBody(retrieval(q, expired()).Marshal())}
		}, []error{ErrNoValidEnsembles, otr4.ErrProfileExpired}, nil},
		{"prekey message of another device", func(q *prekey.EnsembleQuery) []string {
			return []string{encodeBody(retrieval(q, otherTag()).Marshal())}
		}, []error{ErrNoValidEnsembles, otr4.ErrEnsembleTags}, nil},
		{"prekey profile signed by another key", func(q *prekey.EnsembleQuery) []string {
			return []string{encodeBody(retrieval(q, otherKey()).Marshal())}
		}, []error{ErrNoValidEnsembles, otr4.ErrProfileKey}, nil},
		{"for another instance tag", func(q *prekey.EnsembleQuery) []string {
			m := retrieval(q, bob.ensemble(t))
			m.ReceiverTag++
			return []string{encodeBody(m.Marshal())}
		}, []error{ErrServerUnavailable, ErrBadReply}, nil},
		{"for another identity", func(q *prekey.EnsembleQuery) []string {
			m := retrieval(q, mallory.ensemble(t))
			m.Identity = "mallory@example.org"
			return []string{encodeBody(m.Marshal())}
		}, []error{ErrServerUnavailable, ErrBadReply}, nil},
		{"unexpected message", func(q *prekey.EnsembleQuery) []string {
			return []string{encodeBody((&prekey.Success{ReceiverTag: q.SenderTag}).Marshal())}
		}, []error{ErrServerUnavailable, ErrBadReply}, nil},
		{"one expired among valid", func(q *prekey.EnsembleQuery) []string {
			return []string{encodeBody(retrieval(q, expired(), bob2.ensemble(t)).Marshal())}
		}, nil, otr4.ErrProfileExpired},
		{"duplicated prekey message", func(q *prekey.EnsembleQuery) []string {
			e := bob.ensemble(t)
			return []string{encodeBody(retrieval(q, e, e).Marshal())}
		}, nil, ErrDuplicateEnsemble},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &fakeServer{jid: jid.MustParse(testServer)}
			srv.respond = func(b []byte) []string {
				q, err := prekey.ParseEnsembleQuery(b)
				if err != nil {
					t.Fatal(err)
				}
				return tc.respond(q)
			}
			c := newTestClient(t, alice, srv, 200*time.Millisecond)
			start := time.Now()
			got, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org"))
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				found := false
				for _, w := range got.Warnings {
					found = found || errors.Is(w, tc.warn)
				}
				if !found || len(got.ByTag) != 1 {
					t.Fatalf("%d ensembles, warnings %v; want a warning %v", len(got.ByTag), got.Warnings, tc.warn)
				}
				return
			}
			if err == nil {
				t.Fatalf("retrieval succeeded: %+v", got)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v; want errors.Is %v", err, w)
				}
			}
		})
	}
}

// TestRetrieveReusedPrekey: a server that hands out the same prekey
// message twice (in two answers) is caught.
func TestRetrieveReusedPrekey(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	bob := newDevice(t, "bob@example.org/phone")
	e := bob.ensemble(t)
	srv := retrievalServer(t, func(q *prekey.EnsembleQuery) prekey.Message {
		return &prekey.EnsembleRetrieval{ReceiverTag: q.SenderTag, Identity: q.Identity, Ensembles: []*otr4.PrekeyEnsemble{e}}
	})
	c := newTestClient(t, alice, srv, time.Second)
	if _, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org"))
	if !errors.Is(err, ErrNoValidEnsembles) || !errors.Is(err, ErrReusedPrekey) {
		t.Fatalf("second retrieval: err = %v", err)
	}
}

func TestRetrieveBounce(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	srv := &fakeServer{jid: jid.MustParse(testServer)}
	c := newTestClient(t, alice, srv, 5*time.Second)
	srv.respond = func([]byte) []string {
		c.HandleError(srv.jid, errors.New("service-unavailable"))
		return nil
	}
	start := time.Now()
	_, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org"))
	if !errors.Is(err, ErrServerUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("a bounce took %v to report", el)
	}
}

func TestHandleMessageRouting(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	c := newTestClient(t, alice, &fakeServer{jid: jid.MustParse(testServer)}, time.Second)
	if c.HandleMessage(jid.MustParse("bob@example.org/x"), "AAQT.") {
		t.Error("a message from bob was taken")
	}
	if !c.HandleMessage(jid.MustParse(testServer+"/res"), "x") {
		t.Error("a message from the server was not taken")
	}
}
