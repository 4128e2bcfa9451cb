package otr3

import (
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/query"
)

func TestChoose(t *testing.T) {
	v4only := Policy{AllowV4: true}
	v3only := Policy{AllowV3: true}
	a, b := newPair(t)
	_ = b
	commit := startCommit(t, a)
	for _, tc := range []struct {
		p    Policy
		msg  string
		want Version
	}{
		{compatible, "?OTRv34?", Version4},
		{compatible, "?OTRv43?", Version4},
		{compatible, "?OTRv3?", Version3},
		{compatible, "?OTRv23? Bob wants OTR", Version3},
		{compatible, "?OTRv2?", VersionNone},
		{v3only, "?OTRv34?", Version3},
		{v4only, "?OTRv3?", VersionNone},
		{compatible, query.AppendWhitespaceTag("hi", query.NewVersions(3, 4)), Version4},
		{compatible, query.AppendWhitespaceTag("hi", query.NewVersions(3)), Version3},
		{v4only, query.AppendWhitespaceTag("hi", query.NewVersions(3)), VersionNone},
		{compatible, commit, Version3},
		{v4only, commit, VersionNone},
		{compatible, "?OTR:AAQD.", Version4},
		{compatible, "hello", VersionNone},
		{compatible, "?OTR Error: boom", VersionNone},
		{compatible, "?OTR|00000100|00000000,00001,00002,?OTR:AAMC,", Version3},
		{compatible, "?OTR|00000001|00000100|00000000,00001,00002,?OTR:AAQ,", Version4},
	} {
		if got := tc.p.Choose(tc.msg); got != tc.want {
			t.Errorf("%+v.Choose(%.30q) = %v, want %v", tc.p, tc.msg, got, tc.want)
		}
	}
	s, r, ok := InstanceTags(commit)
	if !ok || s != 0x1000 || r != 0 {
		t.Fatalf("InstanceTags = %#x %#x %v", s, r, ok)
	}
	if _, _, ok := InstanceTags("?OTR:AAQD."); ok {
		t.Fatal("v4 message has v3 tags")
	}
}

// startCommit starts an AKE from a and returns the D-H Commit.
func startCommit(t *testing.T, a *Conversation) string {
	out, err := a.StartAKE()
	if err != nil || len(out.ToSend) != 1 {
		t.Fatal(out, err)
	}
	return out.ToSend[0]
}
