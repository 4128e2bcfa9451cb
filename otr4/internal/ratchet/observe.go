package ratchet

// Observation is a copy of a State's keys and counters, taken for the test
// vectors (testdata/vectors, docs/vectors.md): it changes nothing in the
// state. Nil or zero fields are not set in the state.
type Observation struct {
	Root, SendChain, RecvChain [64]byte
	Brace                      [32]byte
	SendValid, RecvValid       bool
	SendN, RecvN, SendID, PN   uint32
	// NextECDHSeed and NextDHSecret are the key pairs Prepare made for
	// the next sending ratchet (nil when there are none).
	NextECDHSeed, NextDHSecret []byte
	// NeedRatchet tells that the next Seal starts sending ratchet
	// NextSendID; TheirECDH and TheirDH are the peer's current public keys
	// (TheirDH nil if none).
	NeedRatchet bool
	NextSendID  uint32
	TheirECDH   []byte
	TheirDH     []byte
}

// Observe returns a copy of the state's keys. It is meant for tests and
// the vector generator only: the copy holds secrets the caller must not
// keep.
func (s *State) Observe() Observation {
	o := Observation{
		Root: s.root, SendChain: s.send.key, RecvChain: s.recv.key, Brace: s.brace,
		SendValid: s.send.valid, RecvValid: s.recv.valid,
		SendN: s.send.n, RecvN: s.recv.n, SendID: s.sendID, PN: s.pn,
	}
	o.NeedRatchet, o.NextSendID = s.needRatchet, s.nextSendID
	if s.theirECDH != nil {
		o.TheirECDH = s.theirECDH.Bytes()
	}
	if s.theirDH != nil {
		o.TheirDH = s.theirDH.Bytes()
	}
	if s.nextECDH != nil {
		o.NextECDHSeed = s.nextECDH.Seed()
	}
	if s.nextDH != nil {
		o.NextDHSecret = s.nextDH.Secret()
	}
	return o
}

// SealObservation is what an observer set with SetObserver learns from
// one Seal: the state before it, whether it started a new sending ratchet
// (with which new key pairs), and the keys the message was sealed with.
type SealObservation struct {
	Before    Observation
	Ratchet   bool
	RatchetID uint32
	// OurECDHSeed and OurDHSecret are the new ratchet's key pairs
	// (OurDHSecret only when the ratchet brings a new DH key).
	OurECDHSeed, OurDHSecret []byte
	Root                     [64]byte
	Brace                    [32]byte
	ChainKey                 [64]byte
	MessageID                uint32
}

// SetObserver makes every later Seal report its keys to f (nil stops it).
// It is meant for tests and the vector generator only.
func (s *State) SetObserver(f func(SealObservation)) { s.observer = f }

func (s *State) observeSeal(before Observation) {
	o := SealObservation{
		Before: before, Ratchet: before.NeedRatchet, RatchetID: s.sendID,
		Root: s.root, Brace: s.brace, ChainKey: s.send.key, MessageID: s.send.n,
	}
	if o.Ratchet {
		o.OurECDHSeed = s.ourECDH.Seed()
		if s.sendDH != nil {
			o.OurDHSecret = s.ourDH.Secret()
		}
	}
	s.observer(o)
}
