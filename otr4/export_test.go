package otr4

import "github.com/otrchat/otrchat/otr4/internal/ratchet"

type ratchetDataMessage = ratchet.DataMessage

func parseDataForTest(b []byte) (*ratchet.DataMessage, error) { return ratchet.ParseDataMessage(b) }

func ratchetAuthenticate(k []byte, m *ratchet.DataMessage) []byte { return ratchet.Authenticate(k, m) }
