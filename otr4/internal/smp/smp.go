package smp

import (
	"errors"
	"fmt"
	"io"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// TLV is an SMP TLV record: Type is one of TLVMessage1..TLVAbort and Value
// its value, without the 4-byte type and length header.
type TLV struct {
	Type  uint16
	Value []byte
}

// Outcome is what Receive asks of the conversation: send Reply (in order,
// inside one data message) and report Result to the user.
type Outcome struct {
	Result   Result
	Reply    []TLV
	Question string // the peer's question, with Result == SecretNeeded
}

// SMP runs the Socialist Millionaires Protocol for one conversation. Its zero
// value is not usable; create it with New. It is not safe for concurrent use.
type SMP struct {
	rand  io.Reader
	state State

	// Kept by the responder in WaitingForSecret.
	pending *message1

	// Initiator's values (Expect2, then Expect4).
	x, a2, a3 *curve.Scalar
	g3b       *curve.Point
	paPb      *curve.Point // Pa - Pb
	qaQb      *curve.Point // Qa - Qb

	// Responder's values (Expect3): G2 = G2a*b2 and G3 = G3a*b3 are kept
	// as their factors (see generator).
	b2, b3           *curve.Scalar
	g2a, g3a, pb, qb *curve.Point
}

// New returns an SMP in SMPSTATE_EXPECT1 that draws its random values from
// rand (crypto/rand.Reader outside tests).
func New(rand io.Reader) *SMP {
	return &SMP{rand: rand}
}

// State returns the current SMP state.
func (s *SMP) State() State { return s.state }

// abortTLV is the SMP abort TLV (type 6, empty value).
func abortTLV() TLV { return TLV{Type: TLVAbort} }

// Reset wipes all values and returns to SMPSTATE_EXPECT1 without telling the
// peer; the conversation calls it when it leaves ENCRYPTED_MESSAGES ("The SMP
// State Machine": "the SMP must abandon its state").
func (s *SMP) Reset() {
	for _, k := range []*curve.Scalar{s.x, s.a2, s.a3, s.b2, s.b3} {
		if k != nil {
			k.Wipe()
		}
	}
	*s = SMP{rand: s.rand}
}

// Abort is "User requests to abort SMP": it resets and returns the abort TLV
// to send, in every state.
func (s *SMP) Abort() TLV {
	s.Reset()
	return abortTLV()
}

// Start is "User requests to begin SMP": it returns SMP message 1 (TLV type 2)
// carrying question (may be empty) and moves to SMPSTATE_EXPECT2. If an
// exchange is already under way (or a peer's request awaits an answer), it is
// restarted: the returned TLVs are an abort followed by the new message 1.
// secret is the user's secret, UTF-8; it is not kept and the caller may wipe
// it. On error the state is unchanged.
func (s *SMP) Start(b Binding, question string, secret []byte) ([]TLV, error) {
	if len(question) > MaxQuestion {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrQuestionTooLong, len(question), MaxQuestion)
	}
	a2, a3, r2, r3, err := randomScalars4(s.rand)
	if err != nil {
		return nil, err
	}
	defer wipe(r2, r3)

	m := &message1{question: []byte(question)}
	m.g2a = curve.NewIdentityPoint().ScalarBaseMult(a2)
	m.g3a = curve.NewIdentityPoint().ScalarBaseMult(a3)
	m.c2 = hashToScalar(hashMsg1G2, curve.NewIdentityPoint().ScalarBaseMult(r2))
	m.d2 = proofResponse(r2, a2, m.c2)
	m.c3 = hashToScalar(hashMsg1G3, curve.NewIdentityPoint().ScalarBaseMult(r3))
	m.d3 = proofResponse(r3, a3, m.c3)

	var out []TLV
	if s.state != Expect1 {
		out = append(out, abortTLV())
	}
	s.Reset()
	s.x = secretScalar(&b, true, secret)
	s.a2, s.a3 = a2, a3
	s.state = Expect2
	return append(out, TLV{Type: TLVMessage1, Value: m.marshal()}), nil
}

// Respond answers the peer's SMP message 1 (after Receive reported
// SecretNeeded) with SMP message 2 (TLV type 3) built from the user's secret,
// and moves to SMPSTATE_EXPECT3. secret is not kept. Without a pending
// request it returns ErrNoRequest; on any error the state is unchanged.
func (s *SMP) Respond(b Binding, secret []byte) ([]TLV, error) {
	if s.state != WaitingForSecret || s.pending == nil {
		return nil, ErrNoRequest
	}
	m1 := s.pending

	var k [7]*curve.Scalar // b2, b3, r2, r3, r4, r5, r6
	for i := range k {
		v, err := randomScalar(s.rand)
		if err != nil {
			wipe(k[:i]...)
			return nil, err
		}
		k[i] = v
	}
	b2, b3, r2, r3, r4, r5, r6 := k[0], k[1], k[2], k[3], k[4], k[5], k[6]
	defer wipe(r2, r3, r4, r5, r6)

	y := secretScalar(&b, false, secret)
	defer wipe(y)

	g := func(e *curve.Scalar) *curve.Point { return curve.NewIdentityPoint().ScalarBaseMult(e) }
	m := &message2{}
	m.g2b = g(b2)
	m.g3b = g(b3)
	m.c2 = hashToScalar(hashMsg2G2, g(r2))
	m.d2 = proofResponse(r2, b2, m.c2)
	m.c3 = hashToScalar(hashMsg2G3, g(r3))
	m.d3 = proofResponse(r3, b3, m.c3)

	g2, err := newGenerator(m1.g2a, b2)
	if err != nil {
		wipe(b2, b3)
		return nil, err
	}
	g3, err := newGenerator(m1.g3a, b3)
	if err != nil {
		wipe(b2, b3)
		return nil, err
	}
	m.pb = g3.mul(r4)
	m.qb = curve.NewIdentityPoint().Add(g(r4), g2.mul(y))
	m.cp = hashToScalar(hashMsg2P, g3.mul(r5), curve.NewIdentityPoint().Add(g(r5), g2.mul(r6)))
	m.d5 = proofResponse(r5, r4, m.cp)
	m.d6 = proofResponse(r6, y, m.cp)

	s.pending = nil
	s.b2, s.b3 = b2, b3
	s.g2a, s.g3a, s.pb, s.qb = m1.g2a, m1.g3a, m.pb, m.qb
	s.state = Expect3
	return []TLV{{Type: TLVMessage2, Value: m.marshal()}}, nil
}

// Receive handles one SMP TLV from the peer as "The SMP State Machine" says
// and returns what to send and what to tell the user. The Outcome is valid
// even when err is not nil: a malformed or out-of-order message resets the
// state and the Outcome carries the abort TLV the spec requires to be sent
// (Result Cheated with an error wrapping ErrInvalidMessage, or Result Error
// with ErrUnexpectedMessage). A TLV type outside 2..6 returns ErrNotSMP and
// changes nothing.
func (s *SMP) Receive(t TLV) (Outcome, error) {
	switch t.Type {
	case TLVAbort:
		inProgress := s.state != Expect1
		s.Reset()
		if inProgress {
			return Outcome{Result: Aborted}, nil
		}
		return Outcome{Result: None}, nil
	case TLVMessage1:
		if s.state != Expect1 && s.state != WaitingForSecret {
			return s.unexpected(1)
		}
		return s.receive1(t.Value)
	case TLVMessage2:
		if s.state != Expect2 {
			return s.unexpected(2)
		}
		return s.receive2(t.Value)
	case TLVMessage3:
		if s.state != Expect3 {
			return s.unexpected(3)
		}
		return s.receive3(t.Value)
	case TLVMessage4:
		if s.state != Expect4 {
			return s.unexpected(4)
		}
		return s.receive4(t.Value)
	}
	return Outcome{}, fmt.Errorf("%w: type %d", ErrNotSMP, t.Type)
}

// unexpected handles an SMP message in the wrong state: reset and abort.
func (s *SMP) unexpected(msg int) (Outcome, error) {
	st := s.state
	s.Reset()
	return Outcome{Result: Error, Reply: []TLV{abortTLV()}},
		fmt.Errorf("%w: message %d in state %v", ErrUnexpectedMessage, msg, st)
}

// fail resets and aborts after an invalid message or a local failure.
func (s *SMP) fail(err error) (Outcome, error) {
	s.Reset()
	r := Cheated
	if !errors.Is(err, ErrInvalidMessage) {
		r = Error
	}
	return Outcome{Result: r, Reply: []TLV{abortTLV()}}, err
}

func (s *SMP) receive1(v []byte) (Outcome, error) {
	m, err := parseMessage1(v)
	if err != nil {
		return s.fail(err)
	}
	if !verifyKnowledge(hashMsg1G2, m.c2, m.d2, m.g2a) {
		return s.fail(badProof(1, "G2a"))
	}
	if !verifyKnowledge(hashMsg1G3, m.c3, m.d3, m.g3a) {
		return s.fail(badProof(1, "G3a"))
	}
	s.Reset()
	s.pending = m
	s.state = WaitingForSecret
	return Outcome{Result: SecretNeeded, Question: string(m.question)}, nil
}

func (s *SMP) receive2(v []byte) (Outcome, error) {
	m, err := parseMessage2(v)
	if err != nil {
		return s.fail(err)
	}
	if !verifyKnowledge(hashMsg2G2, m.c2, m.d2, m.g2b) {
		return s.fail(badProof(2, "G2b"))
	}
	if !verifyKnowledge(hashMsg2G3, m.c3, m.d3, m.g3b) {
		return s.fail(badProof(2, "G3b"))
	}
	g2, err := newGenerator(m.g2b, s.a2)
	if err != nil {
		return s.fail(err)
	}
	g3, err := newGenerator(m.g3b, s.a3)
	if err != nil {
		return s.fail(err)
	}
	if !verifyPQ(hashMsg2P, m.cp, m.d5, m.d6, m.pb, m.qb, g2, g3) {
		return s.fail(badProof(2, "Pb and Qb"))
	}

	var k [4]*curve.Scalar // r4, r5, r6, r7
	for i := range k {
		v, err := randomScalar(s.rand)
		if err != nil {
			wipe(k[:i]...)
			return s.fail(err)
		}
		k[i] = v
	}
	r4, r5, r6, r7 := k[0], k[1], k[2], k[3]
	defer wipe(r4, r5, r6, r7)

	g := func(e *curve.Scalar) *curve.Point { return curve.NewIdentityPoint().ScalarBaseMult(e) }
	m3 := &message3{}
	m3.pa = g3.mul(r4)
	m3.qa = curve.NewIdentityPoint().Add(g(r4), g2.mul(s.x))
	m3.cp = hashToScalar(hashMsg3P, g3.mul(r5), curve.NewIdentityPoint().Add(g(r5), g2.mul(r6)))
	m3.d5 = proofResponse(r5, r4, m3.cp)
	m3.d6 = proofResponse(r6, s.x, m3.cp)
	qaQb := curve.NewIdentityPoint().Subtract(m3.qa, m.qb)
	paPb := curve.NewIdentityPoint().Subtract(m3.pa, m.pb)
	if qaQb.IsIdentity() || paPb.IsIdentity() {
		return s.fail(fmt.Errorf("%w: message 2: Qa - Qb or Pa - Pb degenerates", ErrInvalidMessage))
	}
	m3.ra = curve.NewIdentityPoint().ScalarMult(s.a3, qaQb)
	m3.cr = hashToScalar(hashMsg3R, g(r7), curve.NewIdentityPoint().ScalarMult(r7, qaQb))
	m3.d7 = proofResponse(r7, s.a3, m3.cr)

	// Keep G3b, Pa - Pb, Qa - Qb and a3; x and a2 are no longer needed.
	wipe(s.x, s.a2)
	s.x, s.a2 = nil, nil
	s.g3b, s.paPb, s.qaQb = m.g3b, paPb, qaQb
	s.state = Expect4
	return Outcome{Result: InProgress, Reply: []TLV{{Type: TLVMessage3, Value: m3.marshal()}}}, nil
}

func (s *SMP) receive3(v []byte) (Outcome, error) {
	m, err := parseMessage3(v)
	if err != nil {
		return s.fail(err)
	}
	g2 := generator{base: s.g2a, k: s.b2}
	g3 := generator{base: s.g3a, k: s.b3}
	if !verifyPQ(hashMsg3P, m.cp, m.d5, m.d6, m.pa, m.qa, g2, g3) {
		return s.fail(badProof(3, "Pa and Qa"))
	}
	qaQb := curve.NewIdentityPoint().Subtract(m.qa, s.qb)
	paPb := curve.NewIdentityPoint().Subtract(m.pa, s.pb)
	if qaQb.IsIdentity() || paPb.IsIdentity() {
		return s.fail(fmt.Errorf("%w: message 3: Qa - Qb or Pa - Pb degenerates", ErrInvalidMessage))
	}
	if !verifyR(hashMsg3R, m.cr, m.d7, s.g3a, qaQb, m.ra) {
		return s.fail(badProof(3, "Ra"))
	}
	r7, err := randomScalar(s.rand)
	if err != nil {
		return s.fail(err)
	}
	defer wipe(r7)

	m4 := &message4{}
	m4.rb = curve.NewIdentityPoint().ScalarMult(s.b3, qaQb)
	m4.cr = hashToScalar(hashMsg4R,
		curve.NewIdentityPoint().ScalarBaseMult(r7),
		curve.NewIdentityPoint().ScalarMult(r7, qaQb))
	m4.d7 = proofResponse(r7, s.b3, m4.cr)

	rab := curve.NewIdentityPoint().ScalarMult(s.b3, m.ra)
	equal := rab.Equal(paPb) == 1
	s.Reset()
	out := Outcome{Result: Failed, Reply: []TLV{{Type: TLVMessage4, Value: m4.marshal()}}}
	if equal {
		out.Result = Succeeded
	}
	return out, nil
}

func (s *SMP) receive4(v []byte) (Outcome, error) {
	m, err := parseMessage4(v)
	if err != nil {
		return s.fail(err)
	}
	if !verifyR(hashMsg4R, m.cr, m.d7, s.g3b, s.qaQb, m.rb) {
		return s.fail(badProof(4, "Rb"))
	}
	rab := curve.NewIdentityPoint().ScalarMult(s.a3, m.rb)
	equal := rab.Equal(s.paPb) == 1
	s.Reset()
	if equal {
		return Outcome{Result: Succeeded}, nil
	}
	return Outcome{Result: Failed}, nil
}

func badProof(msg int, what string) error {
	return fmt.Errorf("%w: message %d: proof for %s: %w", ErrInvalidMessage, msg, what, ErrBadProof)
}

// generator is one of the shared generators G2 and G3 of "SMP Overview",
// kept as its two factors: the peer's validated point (G2a, G3a, G2b or G3b)
// and our non-zero exponent (b2, b3, a2 or a3). G2*e is then computed as
// G2a*(b2*e), one scalar multiplication instead of two (G2 = G2a*b2 first,
// then G2*e): the same point as the spec's, at less cost. Because the group
// has prime order and the point is not the identity, G2 is the identity
// exactly when the exponent is zero: that is the spec's check that G2 and G3
// do not degenerate.
type generator struct {
	base *curve.Point
	k    *curve.Scalar
}

func newGenerator(base *curve.Point, k *curve.Scalar) (generator, error) {
	if k.IsZero() {
		return generator{}, fmt.Errorf("%w: G2 or G3 degenerates", ErrInvalidMessage)
	}
	return generator{base: base, k: k}, nil
}

// mul returns G*e for this generator G, in time independent of e and of the
// exponent.
func (g generator) mul(e *curve.Scalar) *curve.Point {
	t := curve.NewScalar().Multiply(g.k, e)
	p := curve.NewIdentityPoint().ScalarMult(t, g.base)
	t.Wipe()
	return p
}

// proofResponse returns r - k*c mod q, the response of a Schnorr-style proof.
func proofResponse(r, k, c *curve.Scalar) *curve.Scalar {
	t := curve.NewScalar().Multiply(k, c)
	d := curve.NewScalar().Subtract(r, t)
	t.Wipe()
	return d
}

// verifyKnowledge checks c == HashToScalar(i || G*d + A*c), the proof of
// knowledge of log_G(A). All inputs are public: variable time is fine.
func verifyKnowledge(i byte, c, d *curve.Scalar, a *curve.Point) bool {
	p := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(c, a, d)
	return hashToScalar(i, p).Equal(c) == 1
}

// verifyPQ checks cp == HashToScalar(i || G3*d5 + P*cp || G*d5 + G2*d6 + Q*cp).
func verifyPQ(i byte, cp, d5, d6 *curve.Scalar, p, q *curve.Point, g2, g3 generator) bool {
	left := curve.NewIdentityPoint().Add(g3.mul(d5), curve.NewIdentityPoint().ScalarMult(cp, p))
	right := curve.NewIdentityPoint().Add(
		curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(cp, q, d5),
		g2.mul(d6))
	return hashToScalar(i, left, right).Equal(cp) == 1
}

// verifyR checks cr == HashToScalar(i || G*d7 + G3x*cr || (Qa - Qb)*d7 + R*cr).
func verifyR(i byte, cr, d7 *curve.Scalar, g3x, qaQb, r *curve.Point) bool {
	left := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(cr, g3x, d7)
	right := curve.NewIdentityPoint().Add(
		curve.NewIdentityPoint().ScalarMult(d7, qaQb),
		curve.NewIdentityPoint().ScalarMult(cr, r))
	return hashToScalar(i, left, right).Equal(cr) == 1
}

func randomScalar(rand io.Reader) (*curve.Scalar, error) {
	if rand == nil {
		return nil, fmt.Errorf("%w: no random source (use New)", ErrRandom)
	}
	k, err := curve.RandomScalar(rand)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRandom, err)
	}
	return k, nil
}

func randomScalars4(rand io.Reader) (a, b, c, d *curve.Scalar, err error) {
	var k [4]*curve.Scalar
	for i := range k {
		if k[i], err = randomScalar(rand); err != nil {
			wipe(k[:i]...)
			return nil, nil, nil, nil, err
		}
	}
	return k[0], k[1], k[2], k[3], nil
}

func wipe(ks ...*curve.Scalar) {
	for _, k := range ks {
		if k != nil {
			k.Wipe()
		}
	}
}
