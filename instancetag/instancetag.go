// Package instancetag chooses which of a contact's devices (OTR instances)
// receive an outgoing message, following the instance-tag policies of
// shared/spec/otrv4-over-xmpp.md ("OTR (version 3)" and "Proposal for OTR
// version 4"):
//
//   - Best: the instance with the best conversation state (encrypted, then
//     finished, then plaintext), then the best fingerprint trust (verified,
//     then trusted on first use or blindly, then unknown), then the most
//     recently active one, compared at a one-second resolution; remaining
//     ties go to the lowest instance tag so that the choice is stable.
//   - Recent: the most recently active instance (received from or sent to).
//   - RecentReceived: the instance we most recently received from.
//   - RecentSent: the instance we most recently sent to.
//   - Multicasting: every instance (at most MaxDevices).
//
// Select is a pure function of its inputs: the session layer keeps the
// per-instance facts and asks it on every send. Warnings tell the user when
// the chosen instance is not the most recently active one, as the spec
// advises ("you may want your application to warn when a user has selected
// an instance that is not the most recent").
package instancetag

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxDevices is the most devices one account may have (otrv4-over-xmpp.md,
// "A maximum of 8 devices are allowed").
const MaxDevices = 8

// Policy is an instance-tag policy.
type Policy string

// The policies; the string values are those of the configuration file.
const (
	Best           Policy = "BEST"
	Recent         Policy = "RECENT"
	RecentReceived Policy = "RECENT_RECEIVED"
	RecentSent     Policy = "RECENT_SENT"
	Multicasting   Policy = "MULTICASTING"
)

// Default is the policy in force when neither the user nor the
// configuration chose one.
const Default = Best

// Policies lists every policy, in the order the spec lists them.
var Policies = []Policy{Best, Recent, RecentReceived, RecentSent, Multicasting}

// ErrUnknownPolicy is returned by Parse for a name that is not a policy.
var ErrUnknownPolicy = errors.New("instancetag: unknown policy")

// Parse reads a policy name as users type it: "best", "recent",
// "recent-received", "recent_sent", "multicast", "MULTICASTING", ...
func Parse(s string) (Policy, error) {
	n := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	switch n {
	case "BEST":
		return Best, nil
	case "RECENT":
		return Recent, nil
	case "RECENT_RECEIVED", "RECEIVED":
		return RecentReceived, nil
	case "RECENT_SENT", "SENT":
		return RecentSent, nil
	case "MULTICASTING", "MULTICAST", "ALL", "SYNCHRONIZE":
		return Multicasting, nil
	}
	return "", fmt.Errorf("%w %q (want best, recent, recent-received, recent-sent or multicast)", ErrUnknownPolicy, s)
}

// Short is the policy's name as the user types it.
func (p Policy) Short() string {
	switch p {
	case Multicasting:
		return "multicast"
	case "":
		return "best"
	}
	return strings.ReplaceAll(strings.ToLower(string(p)), "_", "-")
}

// ConvState is an instance's conversation state, ordered from worst to
// best for the Best policy.
type ConvState int

// Conversation states, worst first.
const (
	Plaintext ConvState = iota // no OTR conversation, or one being set up
	Finished                   // the peer ended it; the user must act
	Encrypted                  // an OTR conversation is up
)

// Trust is how far the instance's fingerprint is trusted, worst first.
type Trust int

// Trust levels, worst first.
const (
	Unknown  Trust = iota // never seen or explicitly distrusted
	Assumed               // trusted on first use or blindly, not verified
	Verified              // verified by SMP or manual comparison
)

// Instance is what the policies know about one device of the contact.
type Instance struct {
	Tag          uint32
	State        ConvState
	Trust        Trust
	LastReceived time.Time // zero: never
	LastSent     time.Time // zero: never
}

func (in Instance) lastActive() time.Time {
	if in.LastReceived.After(in.LastSent) {
		return in.LastReceived
	}
	return in.LastSent
}

// Selection is the outcome of Select.
type Selection struct {
	// Tags are the chosen instance tags: one, or all for Multicasting.
	Tags []uint32
	// NotMostRecent is set when a single chosen instance is not the most
	// recently active one; MostRecent is that one.
	NotMostRecent bool
	MostRecent    uint32
}

// ErrNoInstance is returned when the contact has no instance to choose.
var ErrNoInstance = errors.New("instancetag: the contact has no known device")

// Select applies policy p to the contact's instances. An unknown policy is
// treated as Best. Instances are not modified.
func Select(p Policy, instances []Instance) (Selection, error) {
	if len(instances) == 0 {
		return Selection{}, ErrNoInstance
	}
	ins := slices.Clone(instances)
	// A stable base order: lowest tag first.
	slices.SortFunc(ins, func(a, b Instance) int { return cmpTag(a.Tag, b.Tag) })
	if p == Multicasting {
		n := min(len(ins), MaxDevices)
		// Beyond the limit, prefer the best instances.
		if len(ins) > MaxDevices {
			slices.SortStableFunc(ins, compareBest)
		}
		tags := make([]uint32, n)
		for i := range n {
			tags[i] = ins[i].Tag
		}
		slices.Sort(tags)
		return Selection{Tags: tags}, nil
	}
	var chosen Instance
	switch p {
	case Recent:
		chosen = mostBy(ins, Instance.lastActive)
	case RecentReceived:
		chosen = mostBy(ins, func(in Instance) time.Time { return in.LastReceived })
	case RecentSent:
		chosen = mostBy(ins, func(in Instance) time.Time { return in.LastSent })
	default:
		slices.SortStableFunc(ins, compareBest)
		chosen = ins[0]
	}
	recent := mostBy(ins, Instance.lastActive)
	sel := Selection{Tags: []uint32{chosen.Tag}, MostRecent: recent.Tag}
	if recent.Tag != chosen.Tag && recent.lastActive().After(chosen.lastActive()) {
		sel.NotMostRecent = true
	}
	return sel, nil
}

// compareBest orders instances best first: state, then trust, then recency
// at one-second resolution.
func compareBest(a, b Instance) int {
	if a.State != b.State {
		return int(b.State) - int(a.State)
	}
	if a.Trust != b.Trust {
		return int(b.Trust) - int(a.Trust)
	}
	ra, rb := a.lastActive().Unix(), b.lastActive().Unix()
	if a.lastActive().IsZero() {
		ra = 0
	}
	if b.lastActive().IsZero() {
		rb = 0
	}
	switch {
	case ra > rb:
		return -1
	case ra < rb:
		return 1
	}
	return 0
}

// mostBy returns the instance with the latest time by f; ties (and all
// zero) keep the first in ins' order, the lowest tag.
func mostBy(ins []Instance, f func(Instance) time.Time) Instance {
	best := ins[0]
	for _, in := range ins[1:] {
		if f(in).After(f(best)) {
			best = in
		}
	}
	return best
}

func cmpTag(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
