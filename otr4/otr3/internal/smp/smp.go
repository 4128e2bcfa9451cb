// Package smp implements the Socialist Millionaires' Protocol of OTR
// version 3 (otrv3-protocol.txt, "Socialist Millionaires' Protocol (SMP)"):
// the four messages in the 1536-bit group with their zero-knowledge
// proofs, TLV types 2 to 7, and the SMP state machine. Every exponentiation
// and reduction with a secret exponent runs in constant time (ctmod);
// checks of the peer's proofs use public values only.
//
// As libotr does, and as the OTRv3 text says, the responder always sends
// SMP message 4, even when the secrets differ: the initiator learns the
// failure from it (an abort instead would read as "aborted" in libotr).
package smp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/ctmod"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// TLV types of the SMP.
const (
	TLVMessage1  uint16 = 2
	TLVMessage2  uint16 = 3
	TLVMessage3  uint16 = 4
	TLVMessage4  uint16 = 5
	TLVAbort     uint16 = 6
	TLVMessage1Q uint16 = 7

	// Version is the SMP version byte of the secret.
	Version byte = 1
	// ExponentSize is the size of random exponents (1536 bits).
	ExponentSize = 192
	// MaxQuestion bounds a question.
	MaxQuestion = 4096
	// FingerprintSize is the size of an OTRv3 fingerprint.
	FingerprintSize = 20
)

// IsSMPType reports whether t is an SMP TLV type (2 to 7).
func IsSMPType(t uint16) bool { return t >= TLVMessage1 && t <= TLVMessage1Q }

// Group parameters: the 1536-bit MODP group of RFC 3526, g1 = 2, and the
// order q = (p-1)/2 of the subgroup the proofs work in.
var (
	P, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
		"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
		"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
		"670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF", 16)
	G = big.NewInt(2)
	Q = new(big.Int).Rsh(P, 1)

	pMinus2 = new(big.Int).Sub(P, big.NewInt(2))
	pm      = ctmod.New(P)
	qm      = ctmod.New(Q)
)

// State is the SMP state (smpstate).
type State int

// The states. WaitingForSecret is SMPSTATE_EXPECT1 with a received message
// 1 waiting for the user's secret.
const (
	Expect1 State = iota
	Expect2
	Expect3
	Expect4
	WaitingForSecret
)

func (s State) String() string {
	switch s {
	case Expect1:
		return "SMPSTATE_EXPECT1"
	case Expect2:
		return "SMPSTATE_EXPECT2"
	case Expect3:
		return "SMPSTATE_EXPECT3"
	case Expect4:
		return "SMPSTATE_EXPECT4"
	case WaitingForSecret:
		return "SMPSTATE_EXPECT1 (secret needed)"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Result is what a received TLV means for the user.
type Result int

// The results of Receive.
const (
	None Result = iota
	InProgress
	SecretNeeded
	Succeeded
	Failed
	Aborted
	Cheated
	Error
)

var resultNames = [...]string{"none", "in progress", "secret needed", "succeeded", "failed", "aborted", "cheated", "error"}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Errors.
var (
	ErrInvalidMessage    = errors.New("otr3/smp: invalid message")
	ErrUnexpectedMessage = errors.New("otr3/smp: unexpected message")
	ErrNoRequest         = errors.New("otr3/smp: no SMP request to respond to")
	ErrNotSMP            = errors.New("otr3/smp: not an SMP TLV")
	ErrQuestionTooLong   = errors.New("otr3/smp: question too long")
)

// TLV is an SMP TLV.
type TLV struct {
	Type  uint16
	Value []byte
}

// Outcome is what Receive asks of the conversation: send Reply and report
// Result.
type Outcome struct {
	Result   Result
	Reply    []TLV
	Question string
}

// Binding is the conversation data mixed into the secret.
type Binding struct {
	OurFingerprint, TheirFingerprint [FingerprintSize]byte
	SSID                             [8]byte
}

// SMP runs the protocol for one conversation.
type SMP struct {
	rand  io.Reader
	state State

	pending  []*big.Int // message 1 waiting for the secret
	question string

	x      []byte // our secret (32 bytes)
	a2, a3 []byte // initiator's exponents (b2 unused after message 2)
	b3     []byte // responder's exponent
	g2, g3 *big.Int
	g3o    *big.Int // the peer's g3a or g3b
	pb, qb *big.Int // responder's Pb, Qb
	paPb   *big.Int // Pa / Pb
	qaQb   *big.Int // Qa / Qb
}

// New returns an SMP in SMPSTATE_EXPECT1 drawing randomness from rand.
func New(rand io.Reader) *SMP { return &SMP{rand: rand} }

// State returns the state.
func (s *SMP) State() State { return s.state }

// Reset wipes the secrets and returns to SMPSTATE_EXPECT1.
func (s *SMP) Reset() {
	for _, b := range [][]byte{s.x, s.a2, s.a3, s.b3} {
		clear(b)
	}
	*s = SMP{rand: s.rand}
}

// Abort resets and returns the abort TLV.
func (s *SMP) Abort() TLV {
	s.Reset()
	return TLV{Type: TLVAbort}
}

func secretOf(initiator, responder [FingerprintSize]byte, ssid [8]byte, secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte{Version})
	h.Write(initiator[:])
	h.Write(responder[:])
	h.Write(ssid[:])
	h.Write(secret)
	return h.Sum(nil)
}

func hashOf(version byte, a, b *big.Int) *big.Int {
	buf := []byte{version}
	buf = wire.AppendMPI(buf, a)
	if b != nil {
		buf = wire.AppendMPI(buf, b)
	}
	sum := sha256.Sum256(buf)
	return new(big.Int).SetBytes(sum[:])
}

func (s *SMP) randomExponents(n int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, ExponentSize)
		if _, err := io.ReadFull(s.rand, out[i]); err != nil {
			return nil, fmt.Errorf("otr3/smp: reading randomness: %w", err)
		}
	}
	return out, nil
}

func wipeAll(bs [][]byte) {
	for _, b := range bs {
		clear(b)
	}
}

// exp returns base^e mod p for a secret exponent.
func exp(base *big.Int, e []byte) *big.Int { return pm.Public(pm.ExpInt(base, e)) }

// mulP returns a*b mod p (public values).
func mulP(a, b *big.Int) *big.Int {
	r := new(big.Int).Mul(a, b)
	return r.Mod(r, P)
}

// divP returns a/b mod p (public values).
func divP(a, b *big.Int) *big.Int {
	inv := new(big.Int).ModInverse(b, P)
	return mulP(a, inv)
}

func pubExp(base, e *big.Int) *big.Int { return new(big.Int).Exp(base, e, P) }

// response returns D = r - k*c mod q for secret r and k, public c.
func response(r, k []byte, c *big.Int) *big.Int {
	return qm.Public(qm.Sub(qm.Reduce(r), qm.Mul(qm.Reduce(k), qm.FromInt(c))))
}

func inGroup(x *big.Int) bool { return x != nil && x.Cmp(big.NewInt(2)) >= 0 && x.Cmp(pMinus2) <= 0 }
func inExpon(x *big.Int) bool { return x != nil && x.Sign() > 0 && x.Cmp(Q) < 0 }
func inHash(x *big.Int) bool  { return x != nil && x.BitLen() <= 256 }
func zeroIfNil(x *big.Int) *big.Int {
	if x == nil {
		return new(big.Int)
	}
	return x
}

func marshalMPIs(vs ...*big.Int) []byte {
	b := wire.AppendInt(nil, uint32(len(vs)))
	for _, v := range vs {
		if v.Sign() == 0 {
			b = wire.AppendInt(b, 0)
			continue
		}
		b = wire.AppendMPI(b, v)
	}
	return b
}

// ParseMPIs decodes an SMP TLV value: an MPI count and exactly that many
// MPIs. It is exported for fuzzing.
func ParseMPIs(v []byte, want int) ([]*big.Int, error) {
	r := wire.NewReader(v)
	n := r.Int()
	if r.Err() == nil && int64(n) != int64(want) {
		return nil, fmt.Errorf("%w: %d MPIs, want %d", ErrInvalidMessage, n, want)
	}
	out := make([]*big.Int, want)
	for i := range out {
		out[i] = zeroIfNil(r.MPI())
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	return out, nil
}

// Start begins SMP with an optional question (TLV 7 if non-empty, else
// TLV 2). If an exchange was under way, an abort TLV comes first.
func (s *SMP) Start(b Binding, question string, secret []byte) ([]TLV, error) {
	if len(question) > MaxQuestion {
		return nil, ErrQuestionTooLong
	}
	ex, err := s.randomExponents(4) // a2, a3, r2, r3
	if err != nil {
		return nil, err
	}
	defer wipeAll(ex[2:])
	a2, a3, r2, r3 := ex[0], ex[1], ex[2], ex[3]
	g2a := exp(G, a2)
	g3a := exp(G, a3)
	c2 := hashOf(1, exp(G, r2), nil)
	d2 := response(r2, a2, c2)
	c3 := hashOf(2, exp(G, r3), nil)
	d3 := response(r3, a3, c3)

	var out []TLV
	if s.state != Expect1 {
		out = append(out, TLV{Type: TLVAbort})
	}
	s.Reset()
	s.x = secretOf(b.OurFingerprint, b.TheirFingerprint, b.SSID, secret)
	s.a2, s.a3 = a2, a3
	s.state = Expect2
	v := marshalMPIs(g2a, c2, d2, g3a, c3, d3)
	if question != "" {
		return append(out, TLV{Type: TLVMessage1Q, Value: append(append([]byte(question), 0), v...)}), nil
	}
	return append(out, TLV{Type: TLVMessage1, Value: v}), nil
}

// Respond answers a pending message 1 with message 2.
func (s *SMP) Respond(b Binding, secret []byte) ([]TLV, error) {
	if s.state != WaitingForSecret || s.pending == nil {
		return nil, ErrNoRequest
	}
	g2a, g3a := s.pending[0], s.pending[3]
	ex, err := s.randomExponents(7) // b2, b3, r2, r3, r4, r5, r6
	if err != nil {
		return nil, err
	}
	b2, b3, r2, r3, r4, r5, r6 := ex[0], ex[1], ex[2], ex[3], ex[4], ex[5], ex[6]
	defer wipeAll([][]byte{b2, r2, r3, r4, r5, r6})
	y := secretOf(b.TheirFingerprint, b.OurFingerprint, b.SSID, secret)
	defer clear(y)

	g2b := exp(G, b2)
	g3b := exp(G, b3)
	c2 := hashOf(3, exp(G, r2), nil)
	d2 := response(r2, b2, c2)
	c3 := hashOf(4, exp(G, r3), nil)
	d3 := response(r3, b3, c3)
	g2 := exp(g2a, b2)
	g3 := exp(g3a, b3)
	pb := exp(g3, r4)
	qb := mulP(exp(G, r4), exp(g2, y))
	cp := hashOf(5, exp(g3, r5), mulP(exp(G, r5), exp(g2, r6)))
	d5 := response(r5, r4, cp)
	d6 := response(r6, y, cp)

	s.Reset()
	s.b3 = b3
	s.g2, s.g3, s.g3o, s.pb, s.qb = g2, g3, g3a, pb, qb
	s.state = Expect3
	return []TLV{{Type: TLVMessage2, Value: marshalMPIs(g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6)}}, nil
}

// Receive handles a received SMP TLV.
func (s *SMP) Receive(t TLV) (Outcome, error) {
	switch t.Type {
	case TLVMessage1, TLVMessage1Q:
		return s.receive1(t)
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
	case TLVAbort:
		was := s.state
		s.Reset()
		if was == Expect1 {
			return Outcome{Result: None}, nil
		}
		return Outcome{Result: Aborted}, nil
	}
	return Outcome{}, fmt.Errorf("%w: type %d", ErrNotSMP, t.Type)
}

func (s *SMP) unexpected(n int) (Outcome, error) {
	st := s.state
	s.Reset()
	return Outcome{Result: Error, Reply: []TLV{{Type: TLVAbort}}},
		fmt.Errorf("%w: message %d in %v", ErrUnexpectedMessage, n, st)
}

func (s *SMP) cheated(n int, what string) (Outcome, error) {
	s.Reset()
	return Outcome{Result: Cheated, Reply: []TLV{{Type: TLVAbort}}},
		fmt.Errorf("%w: message %d: %s", ErrInvalidMessage, n, what)
}

func (s *SMP) receive1(t TLV) (Outcome, error) {
	// WaitingForSecret is SMPSTATE_EXPECT1 too: a new request replaces the
	// one waiting for the user's answer, as in libotr.
	if s.state != Expect1 && s.state != WaitingForSecret {
		return s.unexpected(1)
	}
	v := t.Value
	question := ""
	if t.Type == TLVMessage1Q {
		i := 0
		for i < len(v) && v[i] != 0 {
			i++
		}
		if i == len(v) {
			return s.cheated(1, "question not NUL-terminated")
		}
		question, v = string(v[:i]), v[i+1:]
	}
	m, err := ParseMPIs(v, 6)
	if err != nil {
		return s.cheated(1, err.Error())
	}
	g2a, c2, d2, g3a, c3, d3 := m[0], m[1], m[2], m[3], m[4], m[5]
	if !inGroup(g2a) || !inGroup(g3a) || !inExpon(d2) || !inExpon(d3) || !inHash(c2) || !inHash(c3) {
		return s.cheated(1, "value out of range")
	}
	if hashOf(1, mulP(pubExp(G, d2), pubExp(g2a, c2)), nil).Cmp(c2) != 0 ||
		hashOf(2, mulP(pubExp(G, d3), pubExp(g3a, c3)), nil).Cmp(c3) != 0 {
		return s.cheated(1, "proof of g2a or g3a failed")
	}
	s.pending, s.question = m, question
	s.state = WaitingForSecret
	return Outcome{Result: SecretNeeded, Question: question}, nil
}

func (s *SMP) receive2(v []byte) (Outcome, error) {
	m, err := ParseMPIs(v, 11)
	if err != nil {
		return s.cheated(2, err.Error())
	}
	g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6 := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10]
	if !inGroup(g2b) || !inGroup(g3b) || !inGroup(pb) || !inGroup(qb) ||
		!inExpon(d2) || !inExpon(d3) || !inExpon(d5) || !inExpon(d6) || !inHash(c2) || !inHash(c3) || !inHash(cp) {
		return s.cheated(2, "value out of range")
	}
	if hashOf(3, mulP(pubExp(G, d2), pubExp(g2b, c2)), nil).Cmp(c2) != 0 ||
		hashOf(4, mulP(pubExp(G, d3), pubExp(g3b, c3)), nil).Cmp(c3) != 0 {
		return s.cheated(2, "proof of g2b or g3b failed")
	}
	g2 := exp(g2b, s.a2)
	g3 := exp(g3b, s.a3)
	if hashOf(5, mulP(pubExp(g3, d5), pubExp(pb, cp)), mulP(mulP(pubExp(G, d5), pubExp(g2, d6)), pubExp(qb, cp))).Cmp(cp) != 0 {
		return s.cheated(2, "proof of Pb and Qb failed")
	}
	ex, err := s.randomExponents(4) // r4, r5, r6, r7
	if err != nil {
		s.Reset()
		return Outcome{Result: Error, Reply: []TLV{{Type: TLVAbort}}}, err
	}
	defer wipeAll(ex)
	r4, r5, r6, r7 := ex[0], ex[1], ex[2], ex[3]
	pa := exp(g3, r4)
	qa := mulP(exp(G, r4), exp(g2, s.x))
	cp3 := hashOf(6, exp(g3, r5), mulP(exp(G, r5), exp(g2, r6)))
	d5a := response(r5, r4, cp3)
	d6a := response(r6, s.x, cp3)
	qaQb := divP(qa, qb)
	ra := exp(qaQb, s.a3)
	cr := hashOf(7, exp(G, r7), exp(qaQb, r7))
	d7 := response(r7, s.a3, cr)

	s.g3o, s.paPb, s.qaQb = g3b, divP(pa, pb), qaQb
	clear(s.a2)
	s.a2 = nil
	s.state = Expect4
	return Outcome{Result: InProgress, Reply: []TLV{{Type: TLVMessage3, Value: marshalMPIs(pa, qa, cp3, d5a, d6a, ra, cr, d7)}}}, nil
}

func (s *SMP) receive3(v []byte) (Outcome, error) {
	m, err := ParseMPIs(v, 8)
	if err != nil {
		return s.cheated(3, err.Error())
	}
	pa, qa, cp, d5, d6, ra, cr, d7 := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]
	if !inGroup(pa) || !inGroup(qa) || !inGroup(ra) || !inExpon(d5) || !inExpon(d6) || !inExpon(d7) || !inHash(cp) || !inHash(cr) {
		return s.cheated(3, "value out of range")
	}
	if hashOf(6, mulP(pubExp(s.g3, d5), pubExp(pa, cp)), mulP(mulP(pubExp(G, d5), pubExp(s.g2, d6)), pubExp(qa, cp))).Cmp(cp) != 0 {
		return s.cheated(3, "proof of Pa and Qa failed")
	}
	qaQb := divP(qa, s.qb)
	if hashOf(7, mulP(pubExp(G, d7), pubExp(s.g3o, cr)), mulP(pubExp(qaQb, d7), pubExp(ra, cr))).Cmp(cr) != 0 {
		return s.cheated(3, "proof of Ra failed")
	}
	ex, err := s.randomExponents(1)
	if err != nil {
		s.Reset()
		return Outcome{Result: Error, Reply: []TLV{{Type: TLVAbort}}}, err
	}
	r7 := ex[0]
	defer clear(r7)
	rb := exp(qaQb, s.b3)
	cr4 := hashOf(8, exp(G, r7), exp(qaQb, r7))
	d74 := response(r7, s.b3, cr4)
	rab := exp(ra, s.b3)
	same := rab.Cmp(divP(pa, s.pb)) == 0
	s.Reset()
	res := Failed
	if same {
		res = Succeeded
	}
	// Message 4 goes out whatever the result.
	return Outcome{Result: res, Reply: []TLV{{Type: TLVMessage4, Value: marshalMPIs(rb, cr4, d74)}}}, nil
}

func (s *SMP) receive4(v []byte) (Outcome, error) {
	m, err := ParseMPIs(v, 3)
	if err != nil {
		return s.cheated(4, err.Error())
	}
	rb, cr, d7 := m[0], m[1], m[2]
	if !inGroup(rb) || !inExpon(d7) || !inHash(cr) {
		return s.cheated(4, "value out of range")
	}
	if hashOf(8, mulP(pubExp(G, d7), pubExp(s.g3o, cr)), mulP(pubExp(s.qaQb, d7), pubExp(rb, cr))).Cmp(cr) != 0 {
		return s.cheated(4, "proof of Rb failed")
	}
	rab := exp(rb, s.a3)
	same := rab.Cmp(s.paPb) == 0
	s.Reset()
	if same {
		return Outcome{Result: Succeeded}, nil
	}
	return Outcome{Result: Failed}, nil
}
