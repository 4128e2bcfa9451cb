package prekeyclient

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"otrchat/otr4"
)

// fragmentPrefix starts every fragment of a prekey-server message.
const fragmentPrefix = "?OTRP|"

// encode turns a binary prekey-server message into the bodies to send:
// base-64 followed by "." ("Encoded Messages"), split into fragments when
// longer than the client's MaxMessageSize.
func (c *Client) encode(msg []byte) ([]string, error) {
	enc := base64.StdEncoding.EncodeToString(msg) + "."
	if len(enc) <= c.cfg.MaxMessageSize {
		return []string{enc}, nil
	}
	return nil, errors.New("prekeyclient: fragmenting not available yet")
}

// DecodeMessage decodes the body of an unfragmented prekey-server message:
// standard base-64 ending in ".". It bounds its input by maxBodyLength.
func DecodeMessage(body string) ([]byte, error) {
	body = strings.TrimSpace(body)
	if len(body) > maxBodyLength {
		return nil, fmt.Errorf("prekeyclient: message of %d bytes is too long", len(body))
	}
	enc, ok := strings.CutSuffix(body, ".")
	if !ok {
		return nil, errors.New("prekeyclient: encoded message does not end with \".\"")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("prekeyclient: encoded message is not base-64: %v", err)
	}
	if len(b) == 0 {
		return nil, errors.New("prekeyclient: empty message")
	}
	return b, nil
}

// reassembler puts fragments back together ("Receiving Fragments").
type reassembler struct {
	mu  sync.Mutex
	tag otr4.InstanceTag
}

func newReassembler(tag otr4.InstanceTag) *reassembler { return &reassembler{tag: tag} }

// add takes one received body and returns the decoded message once it is
// complete.
func (r *reassembler) add(body string, now time.Time) (msg []byte, complete bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.HasPrefix(body, fragmentPrefix) {
		return nil, false, errors.New("prekeyclient: fragments not supported yet")
	}
	msg, err = DecodeMessage(body)
	return msg, err == nil, err
}
