package prekey

import (
	"errors"
	"testing"
)

func TestPublishDAKE(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	req := d.publishRequest(t, 5)
	c, sess, d3 := runDAKE(t, d, s, req)
	got, err := sess.HandleDAKE3(d3)
	if err != nil {
		t.Fatal(err)
	}
	if got.InstanceTag != d.tag || got.Publication == nil || len(got.Publication.PrekeyMessages) != 5 {
		t.Fatalf("request %+v", got)
	}
	for i, m := range got.Publication.PrekeyMessages {
		if string(m.Marshal()) != string(req.PrekeyMessages[i].Marshal()) {
			t.Fatalf("prekey message %d differs", i)
		}
	}
	_, res, err := c.Receive(sess.Success())
	if err != nil || res.Kind != ResultSuccess || !c.Done() {
		t.Fatalf("success: %v %v", res, err)
	}
}

func TestStorageDAKE(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	c, sess, d3 := runDAKE(t, d, s, StorageRequest{})
	got, err := sess.HandleDAKE3(d3)
	if err != nil || got.Publication != nil {
		t.Fatal(got, err)
	}
	_, res, err := c.Receive(sess.StorageStatus(42))
	if err != nil || res.Kind != ResultStorageStatus || res.Stored != 42 {
		t.Fatalf("status: %v %v", res, err)
	}
}

func TestFailureReply(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	c, sess, d3 := runDAKE(t, d, s, StorageRequest{})
	if _, err := sess.HandleDAKE3(d3); err != nil {
		t.Fatal(err)
	}
	_, res, err := c.Receive(sess.Failure())
	if !errors.Is(err, ErrFailure) || res.Kind != ResultFailure {
		t.Fatalf("failure: %v %v", res, err)
	}
}
