package otr4

import "testing"

func runSMP(t *testing.T, question string, secretA, secretB string) (evA, evB []Event) {
	t.Helper()
	a, b := encryptedPair(t, newClock())
	start, err := a.conv.StartSMP(question, []byte(secretA))
	if err != nil {
		t.Fatal(err)
	}
	out := recv(t, b, start.ToSend[0])
	evB = append(evB, out.Events...)
	var got *Event
	for i := range out.Events {
		if out.Events[i].Kind == EventSMPSecretNeeded {
			got = &out.Events[i]
		}
	}
	if got == nil || got.Question != question {
		t.Fatalf("bob was not asked %q: %+v", question, out.Events)
	}
	ans, err := b.conv.AnswerSMP([]byte(secretB))
	if err != nil {
		t.Fatal(err)
	}
	_, _, events := deliverAll(t, b, a, ans.ToSend)
	return append(evA, events[a]...), append(evB, events[b]...)
}

func TestSMPThroughConversation(t *testing.T) {
	evA, evB := runSMP(t, "where did we meet?", "the library", "the library")
	if !hasEvent(evA, EventSMPSucceeded) || !hasEvent(evB, EventSMPSucceeded) {
		t.Fatalf("equal secrets: %v / %v", evA, evB)
	}
	evA, evB = runSMP(t, "", "the library", "the park")
	if !hasEvent(evA, EventSMPFailed) || !hasEvent(evB, EventSMPFailed) {
		t.Fatalf("different secrets: %v / %v", evA, evB)
	}
}

func TestSMPAbortThroughConversation(t *testing.T) {
	a, b := encryptedPair(t, newClock())
	start, _ := a.conv.StartSMP("q", []byte("s"))
	recv(t, b, start.ToSend[0])
	abort, err := b.conv.AbortSMP()
	if err != nil {
		t.Fatal(err)
	}
	out := recv(t, a, abort.ToSend[0])
	if !hasEvent(out.Events, EventSMPAborted) {
		t.Fatalf("%+v", out.Events)
	}
}
