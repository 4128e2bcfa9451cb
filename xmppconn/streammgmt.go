package xmppconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/xmppconn/internal/sm"
)

// XEP-0198 Stream Management, in mellium's idiom: the STARTTLS feature is
// wrapped so that the connection under mellium's decoder and encoder is an
// smConn, which counts the stanzas of both directions with a byte scanner
// (mellium routes IQ results to their callers before any handler sees them,
// so a handler alone cannot count); the resource binding feature is wrapped
// to resume a previous stream instead of binding, or to enable stream
// management after binding; and the session's handler answers the server's
// <r/> and applies its <a/>. See the package documentation for the
// guarantees.

// StreamMgmt says whether and how XEP-0198 Stream Management runs on the
// current connection.
type StreamMgmt uint8

// Stream management states.
const (
	// SMOff: the server does not offer stream management (or
	// Config.DisableStreamManagement is set); messages written but not
	// confirmed when a connection dies are sent again after a ping showed
	// what the server had received (see the package documentation).
	SMOff StreamMgmt = iota
	// SMEnabled: enabled on a new stream.
	SMEnabled
	// SMResumed: a previous stream was resumed: presence and roster were
	// not redone.
	SMResumed
)

func (s StreamMgmt) String() string {
	switch s {
	case SMOff:
		return "off"
	case SMEnabled:
		return "enabled"
	case SMResumed:
		return "resumed"
	}
	return "sm(?)"
}

// Stream management tuning.
const (
	// smAckEvery: an ack is requested once this many stanzas are
	// unacknowledged, even while the queue is still being written.
	smAckEvery = 32
	// smAckInterval: unacknowledged stanzas are asked about at least this
	// often.
	smAckInterval = 2 * time.Second
	// smMaxResume is the resumption time asked for, in seconds.
	smMaxResume = 300
)

// errAckTimeout ends a connection whose server does not answer <r/>.
var errAckTimeout = errors.New("xmppconn: the server did not acknowledge within the request timeout")

// smConn is the TLS connection under a mellium session. It counts the
// stanzas the session reads (as far as mellium's decoder has consumed
// them: smConn is an io.ByteReader, so encoding/xml does not read ahead)
// and records the top-level elements the session writes.
type smConn struct {
	net.Conn
	c  *Client
	br *bufio.Reader
	rd sm.Scanner // reader goroutine only
	wr sm.Scanner // under mellium's write lock

	mu       sync.Mutex
	count    uint32   // stanzas read since the stream header
	base     uint32   // count at <enabled/> or <resumed/>
	hBase    uint32   // our h at that point
	counting bool     // after <enabled/> or <resumed/>
	rMarks   []uint32 // h at each <r/> not yet answered

	lastRead atomic.Int64 // unix nanoseconds of the last read from the server
}

// timedReader records when the server last sent anything.
type timedReader struct {
	r    io.Reader
	last *atomic.Int64
}

func (t timedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// quietFor returns how long the server has sent nothing.
func (s *smConn) quietFor() time.Duration {
	return time.Since(time.Unix(0, s.lastRead.Load()))
}

func newSMConn(c *Client, conn net.Conn) *smConn {
	s := &smConn{Conn: conn, c: c}
	s.lastRead.Store(time.Now().UnixNano())
	s.br = bufio.NewReaderSize(timedReader{r: conn, last: &s.lastRead}, 16<<10)
	s.rd.Header = func() {
		s.mu.Lock()
		s.count, s.rMarks = 0, nil
		s.mu.Unlock()
	}
	s.rd.End = func(e sm.Element) {
		if e.Stanza {
			s.mu.Lock()
			s.count++
			s.mu.Unlock()
		}
	}
	s.rd.Start = func(name string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch name {
		case "enabled":
			s.base, s.hBase, s.counting = s.count, 0, true
		case "resumed":
			c.smMu.Lock()
			s.base, s.hBase, s.counting = s.count, c.smInH, true
			c.smMu.Unlock()
		case "r":
			s.rMarks = append(s.rMarks, s.hBase+s.count-s.base)
		}
	}
	s.wr.KeepRaw = true
	s.wr.Start = func(name string) {
		if name == "enable" {
			c.smMu.Lock()
			c.smOut.Enable()
			c.smMu.Unlock()
		}
	}
	s.wr.End = func(e sm.Element) {
		if e.Stanza {
			c.smMu.Lock()
			c.smOut.Sent(e)
			c.smMu.Unlock()
		}
	}
	return s
}

// ConnectionState lets mellium see the TLS state through the wrapper.
func (s *smConn) ConnectionState() tls.ConnectionState {
	if tc, ok := s.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// ReadByte makes smConn an io.ByteReader, so that the XML decoder reads
// exactly what it decodes and the count matches what was handled.
func (s *smConn) ReadByte() (byte, error) {
	b, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	if err := s.rd.WriteByte(b); err != nil {
		return 0, err
	}
	return b, nil
}

func (s *smConn) Read(p []byte) (int, error) {
	n, err := s.br.Read(p)
	if n > 0 {
		if _, serr := s.rd.Write(p[:n]); serr != nil {
			return n, serr
		}
	}
	return n, err
}

func (s *smConn) Write(p []byte) (int, error) {
	if _, err := s.wr.Write(p); err != nil {
		return 0, err
	}
	return s.Conn.Write(p)
}

// handled returns our h: the stanzas handled since stream management was
// enabled on the stream (resumed streams go on counting).
func (s *smConn) handled() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hBase + s.count - s.base, s.counting
}

// popR returns the h to answer the oldest unanswered <r/> with.
func (s *smConn) popR() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rMarks) == 0 {
		return s.hBase + s.count - s.base
	}
	h := s.rMarks[0]
	s.rMarks = s.rMarks[1:]
	return h
}

// smFeatures wraps the STARTTLS and bind features for one connection.
// After negotiation, *resumed tells whether the previous stream was resumed
// and *sc is the counting connection (nil with stream management disabled).
func (c *Client) smFeatures(startTLS, bind xmpp.StreamFeature, sc **smConn, resumed *bool) (xmpp.StreamFeature, xmpp.StreamFeature) {
	tlsNeg := startTLS.Negotiate
	startTLS.Negotiate = func(ctx context.Context, s *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		mask, rw, err := tlsNeg(ctx, s, data)
		if err != nil || rw == nil || c.cfg.DisableStreamManagement {
			return mask, rw, err
		}
		nc, ok := rw.(net.Conn)
		if !ok {
			return mask, rw, err
		}
		*sc = newSMConn(c, nc)
		return mask, *sc, nil
	}
	bindNeg := bind.Negotiate
	bind.Negotiate = func(ctx context.Context, s *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		_, offered := s.Feature(sm.NS)
		if *sc == nil || !offered {
			c.smLost()
			c.smSetStatus(SMOff)
			return bindNeg(ctx, s, data)
		}
		c.smMu.Lock()
		prev, addr, h := c.smID, c.smAddr, c.smInH
		c.smReqAt, c.smLastReq = time.Time{}, time.Time{} // an <r/> of the old connection is moot
		c.smMu.Unlock()
		if prev != "" {
			ok, err := c.smResume(ctx, s, *sc, prev, h)
			if err != nil {
				return 0, nil, err
			}
			if ok {
				s.UpdateAddr(addr)
				*resumed = true
				c.smSetStatus(SMResumed)
				return xmpp.Ready, nil, nil
			}
		}
		c.smLost()
		mask, rw, err := bindNeg(ctx, s, data)
		if err != nil {
			return mask, rw, err
		}
		if err := c.smEnable(ctx, s); err != nil {
			return mask, rw, err
		}
		return mask, rw, nil
	}
	return startTLS, bind
}

// readSM reads the next top-level element during negotiation and parses
// it as a stream management element.
func readSM(s *xmpp.Session) (any, error) {
	r := s.TokenReader()
	defer r.Close()
	for {
		tok, err := r.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			continue
		case xml.StartElement:
			b, err := readElement(r, &t)
			if err != nil {
				return nil, err
			}
			return sm.Parse(b)
		default:
			return nil, fmt.Errorf("%w: unexpected %T during stream management negotiation", ErrMalformed, tok)
		}
	}
}

func writeSM(s *xmpp.Session, v any) error {
	start, err := sm.StartElement(v)
	if err != nil {
		return err
	}
	w := s.TokenWriter()
	defer w.Close()
	if err := w.EncodeToken(start); err != nil {
		return err
	}
	if err := w.EncodeToken(start.End()); err != nil {
		return err
	}
	return w.Flush()
}

// smResume asks to resume stream prev; ok is false when the server
// refused (and the caller goes on to bind a new session).
func (c *Client) smResume(ctx context.Context, s *xmpp.Session, sc *smConn, prev string, h uint32) (bool, error) {
	if err := writeSM(s, sm.Resume{PrevID: prev, H: h}); err != nil {
		return false, err
	}
	v, err := readSM(s)
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case sm.Resumed:
		if v.PrevID != prev {
			return false, fmt.Errorf("%w: resumed %q, asked for %q", ErrMalformed, truncate(v.PrevID), truncate(prev))
		}
		c.smMu.Lock()
		acked, resend, err := c.smOut.Resumed(v.H)
		c.smMu.Unlock()
		if err != nil {
			return false, err
		}
		c.reportAcked(acked)
		// Everything the server never handled goes again, in order, before
		// anything new; it is counted anew as it is written.
		for _, e := range resend {
			if _, err := sc.Write(e.Raw); err != nil {
				return false, err
			}
		}
		c.mu.Lock()
		c.stats.Resumes++
		c.stats.Resent += uint64(len(resend))
		c.mu.Unlock()
		c.log.Info("xmppconn: stream resumed", "acked", len(acked), "resent", len(resend))
		return true, nil
	case sm.Failed:
		c.log.Info("xmppconn: stream resumption refused", "condition", v.Condition)
		if v.HasH {
			c.smMu.Lock()
			acked, err := c.smOut.Ack(v.H)
			c.smMu.Unlock()
			if err == nil {
				c.reportAcked(acked)
			}
		}
		c.mu.Lock()
		c.stats.ResumeFailures++
		c.mu.Unlock()
		return false, nil
	}
	return false, fmt.Errorf("%w: unexpected answer %T to <resume/>", ErrMalformed, v)
}

// smEnable enables stream management after binding. A refusal leaves it
// off; only I/O or protocol errors are returned.
func (c *Client) smEnable(ctx context.Context, s *xmpp.Session) error {
	if err := writeSM(s, sm.Enable{Resume: true, Max: smMaxResume}); err != nil {
		return err
	}
	v, err := readSM(s)
	if err != nil {
		return err
	}
	switch v := v.(type) {
	case sm.Enabled:
		c.smMu.Lock()
		if v.Resume {
			c.smID, c.smAddr = v.ID, s.LocalAddr()
		}
		c.smMu.Unlock()
		c.smSetStatus(SMEnabled)
		return nil
	case sm.Failed:
		c.log.Warn("xmppconn: the server refused stream management", "condition", v.Condition)
		c.smMu.Lock()
		c.smOut.Disable()
		c.smMu.Unlock()
		c.smSetStatus(SMOff)
		return nil
	}
	return fmt.Errorf("%w: unexpected answer %T to <enable/>", ErrMalformed, v)
}

func (c *Client) smSetStatus(s StreamMgmt) {
	c.mu.Lock()
	c.smStatus = s
	c.mu.Unlock()
}

// StreamManagement reports whether XEP-0198 runs on the current (or last)
// connection, and whether it was resumed.
func (c *Client) StreamManagement() StreamMgmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.smStatus
}

// smLost is called when a new session starts that does not resume the
// previous one: every message written before and not acknowledged goes
// back to the front of the queue, in order; presence seen on the old
// session is forgotten.
func (c *Client) smLost() {
	c.smMu.Lock()
	c.smOut.Disable()
	msgs := c.inflight
	c.inflight = nil
	c.smID = ""
	c.smMu.Unlock()
	if n := c.queue.requeue(msgs); n > 0 {
		c.mu.Lock()
		c.stats.Resent += uint64(n)
		c.mu.Unlock()
		c.log.Info("xmppconn: sending again messages the server did not acknowledge", "n", n)
	}
	c.clearPresences()
}

// smResumable reports whether the last stream may still be resumed.
func (c *Client) smResumable() bool {
	c.smMu.Lock()
	defer c.smMu.Unlock()
	return c.smID != ""
}

// handleSM handles a stream management element read while serving.
func (c *Client) handleSM(t xmlstream.TokenReadEncoder, start *xml.StartElement, sc *smConn) error {
	b, err := readElement(t, start)
	if err != nil {
		c.countMalformed()
		return nil
	}
	v, err := sm.Parse(b)
	if err != nil {
		c.log.Warn("xmppconn: bad stream management element", "err", err)
		c.countMalformed()
		return nil
	}
	switch v := v.(type) {
	case sm.Request:
		if sc == nil {
			return nil
		}
		h := sc.popR()
		a, err := sm.StartElement(sm.Ack{H: h})
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.stats.AckRequestsReceived++
		c.stats.AcksSent++
		c.mu.Unlock()
		if err := t.EncodeToken(a); err != nil {
			return err
		}
		return t.EncodeToken(a.End())
	case sm.Ack:
		c.mu.Lock()
		c.stats.AcksReceived++
		c.mu.Unlock()
		c.smMu.Lock()
		acked, err := c.smOut.Ack(v.H)
		c.smReqAt, c.smLastReq = time.Time{}, time.Time{}
		more := c.smOut.Len() > 0
		c.smMu.Unlock()
		if err != nil {
			// XEP-0198 §4: the stream cannot go on.
			return err
		}
		c.reportAcked(acked)
		if more {
			// Written meanwhile: ask again at once rather than at the
			// next tick.
			c.kickAcks()
		}
	}
	return nil
}

// reportAcked removes acknowledged messages from the in-flight list and
// reports them.
func (c *Client) reportAcked(entries []sm.Entry) {
	if len(entries) == 0 {
		return
	}
	var done []*outMessage
	c.smMu.Lock()
	for _, e := range entries {
		if e.Name != "message" || e.ID == "" {
			continue
		}
		for i, m := range c.inflight {
			if m.ID == e.ID {
				done = append(done, m)
				c.inflight = append(c.inflight[:i:i], c.inflight[i+1:]...)
				break
			}
		}
	}
	c.smMu.Unlock()
	c.signalAcks()
	for _, m := range done {
		c.emitDelivery(m, DeliveryAcked, nil)
	}
}

// confirmInflight reports the first n in-flight messages as received by
// the server (after a ping round trip, without stream management).
func (c *Client) confirmInflight(msgs []*outMessage) {
	if len(msgs) == 0 {
		return
	}
	var done []*outMessage
	c.smMu.Lock()
	for _, m := range msgs {
		for i, x := range c.inflight {
			if x == m {
				done = append(done, m)
				c.inflight = append(c.inflight[:i:i], c.inflight[i+1:]...)
				break
			}
		}
	}
	c.smMu.Unlock()
	c.signalAcks()
	for _, m := range done {
		c.emitDelivery(m, DeliveryAcked, nil)
	}
}

func (c *Client) signalAcks() {
	select {
	case c.ackSignal <- struct{}{}:
	default:
	}
}

// unconfirmed returns the number of messages written and not yet
// acknowledged, and of stanzas kept for stream management.
func (c *Client) unconfirmed() (msgs, stanzas int) {
	c.smMu.Lock()
	defer c.smMu.Unlock()
	return len(c.inflight), c.smOut.Len()
}

// kickAcks asks the acker for an ack request soon.
func (c *Client) kickAcks() {
	select {
	case c.ackKick <- struct{}{}:
	default:
	}
}

// requestAck writes <r/> unless one is outstanding (one unanswered for
// smAckInterval is asked again; force asks anyway).
func (c *Client) requestAck(ctx context.Context, sess *xmpp.Session, force bool) error {
	c.smMu.Lock()
	now := time.Now()
	if c.smOut.Len() == 0 || (!force && !c.smLastReq.IsZero() && now.Sub(c.smLastReq) < smAckInterval) {
		c.smMu.Unlock()
		return nil
	}
	if c.smReqAt.IsZero() {
		c.smReqAt = now
	}
	c.smLastReq = now
	c.smMu.Unlock()
	start, _ := sm.StartElement(sm.Request{})
	c.mu.Lock()
	c.stats.AckRequestsSent++
	c.mu.Unlock()
	return sess.Send(writeCtx(ctx, c.cfg.RequestTimeout), xmlstream.Wrap(nil, start))
}

// acker requests acknowledgements after writes, when many stanzas are
// unacknowledged, and on a timer. An <r/> unanswered within RequestTimeout
// while the server has sent nothing at all for as long ends the connection
// (a busy server working through a backlog is slow to answer, not gone).
func (c *Client) acker(ctx context.Context, sess *xmpp.Session, sc *smConn, fail chan<- error) {
	t := time.NewTicker(smAckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.ackKick:
		case <-t.C:
		}
		c.smMu.Lock()
		since := c.smReqAt
		c.smMu.Unlock()
		if !since.IsZero() && time.Since(since) > c.cfg.RequestTimeout && sc.quietFor() > c.cfg.RequestTimeout {
			if ctx.Err() == nil {
				fail <- errAckTimeout
			}
			return
		}
		wctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		err := c.requestAck(wctx, sess, false)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				fail <- fmt.Errorf("xmppconn: ack request: %w", err)
			}
			return
		}
	}
}

// drainOnStop waits, until deadline, for the server to acknowledge every
// message written (with stream management), or for a ping round trip
// (without), before a clean stop closes the stream.
func (c *Client) drainOnStop(sess *xmpp.Session, smOn bool, deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if !smOn {
		c.smMu.Lock()
		msgs := append([]*outMessage(nil), c.inflight...)
		c.smMu.Unlock()
		if len(msgs) == 0 {
			return
		}
		if err := c.ping(ctx, sess); err == nil {
			c.confirmInflight(msgs)
		} else {
			c.log.Warn("xmppconn: stopping without the server's confirmation", "messages", len(msgs), "err", err)
		}
		return
	}
	for {
		msgs, stanzas := c.unconfirmed()
		if msgs == 0 && stanzas == 0 {
			return
		}
		if err := c.requestAck(ctx, sess, true); err != nil {
			c.log.Warn("xmppconn: stopping without the server's acknowledgement", "messages", msgs, "err", err)
			return
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			c.log.Warn("xmppconn: stopping without the server's acknowledgement", "messages", msgs, "stanzas", stanzas)
			return
		case <-c.ackSignal:
		case <-t.C:
		}
		t.Stop()
	}
}

// DeliveryStatus is the state of one message handed to SendChat.
type DeliveryStatus uint8

// Delivery states, in the order a message goes through them.
const (
	// DeliveryQueued: accepted by SendChat, waiting to be written.
	DeliveryQueued DeliveryStatus = iota + 1
	// DeliverySent: written to the stream, not yet acknowledged. A message
	// may be Sent more than once (after a connection loss).
	DeliverySent
	// DeliveryAcked: the server acknowledged it (XEP-0198 <a/>, or without
	// stream management a ping round trip after it). It is not sent again.
	DeliveryAcked
	// DeliveryFailed: the server returned an error for it (Err says
	// which); it is not sent again.
	DeliveryFailed
)

func (s DeliveryStatus) String() string {
	switch s {
	case DeliveryQueued:
		return "queued"
	case DeliverySent:
		return "sent"
	case DeliveryAcked:
		return "acked"
	case DeliveryFailed:
		return "failed"
	}
	return "delivery(?)"
}

// DeliveryEvent reports the progress of one message sent with SendChat,
// identified by the id SendChat returned.
type DeliveryEvent struct {
	ID     string
	To     jid.JID
	Status DeliveryStatus
	// Err is the server's error for DeliveryFailed.
	Err error
}

func (*DeliveryEvent) isEvent() {}

func (c *Client) emitDelivery(m *outMessage, s DeliveryStatus, err error) {
	to, _ := jid.Parse(m.To)
	c.emit(&DeliveryEvent{ID: m.ID, To: to, Status: s, Err: err})
}
