package prekeyclient

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// encode turns a binary prekey-server message into the bodies to send:
// base-64 followed by "." ("Encoded Messages"), split into "?OTRP|"
// fragments ("Transmitting Fragments") when longer than MaxMessageSize.
func (c *Client) encode(msg []byte) ([]string, error) {
	enc := prekey.Encode(msg)
	if len(enc) <= c.cfg.MaxMessageSize {
		return []string{enc}, nil
	}
	frags, err := prekey.Fragment(c.rand(), enc, c.cfg.MaxMessageSize, c.cfg.InstanceTag, 0)
	if err != nil {
		return nil, fmt.Errorf("prekeyclient: fragmenting a %d-byte message: %w", len(enc), err)
	}
	return frags, nil
}

// reassembler turns the bodies received from the server into binary
// messages, putting fragments back together ("Receiving Fragments").
type reassembler struct {
	mu sync.Mutex
	a  *prekey.Assembler
}

func newReassembler(tag otr4.InstanceTag) *reassembler {
	return &reassembler{a: prekey.NewAssembler(tag, maxBodyLength)}
}

// add takes one received body. It returns the decoded message once one is
// complete; a fragment that does not complete a message gives
// complete == false and no error.
func (r *reassembler) add(body string, now time.Time) (msg []byte, complete bool, err error) {
	body = strings.TrimSpace(body)
	if prekey.IsFragment(body) {
		r.mu.Lock()
		enc, done, err := r.a.Add(body, now)
		r.mu.Unlock()
		if err != nil || !done {
			return nil, false, err
		}
		body = enc
	}
	msg, err = prekey.Decode(body)
	if err != nil {
		return nil, false, err
	}
	if len(msg) == 0 {
		return nil, false, errors.New("prekeyclient: empty message")
	}
	return msg, true, nil
}
