package keystore

import (
	"bytes"
	"encoding/binary"
)

// checkSlot verifies that a decoded record sits where its content says it belongs:
//
//	accounts/<H(account)>/account                         accountRecord
//	accounts/<H(account)>/password                        passwordRecord
//	accounts/<H(account)>/devices/<tag>/identity          Identity with that tag
//	accounts/<H(account)>/devices/<tag>/client-profile    ClientProfile
//	accounts/<H(account)>/devices/<tag>/prekey-profile    PrekeyProfile
//	accounts/<H(account)>/devices/<tag>/prekeys/<id>      PrekeySecret with that id
//	accounts/<H(account)>/devices/<tag>/used-prekeys/<id> used prekey marker with that id
//	accounts/<H(account)>/devices/<tag>/conversations/<H(contact, their tag)>
//	accounts/<H(account)>/servers/<H(server)>             PinnedServer
//	accounts/<H(account)>/trust/<H(contact, fingerprint)> TrustDecision
//	accounts/<H(account)>/contacts/<H(contact)>           contactRecord
//	accounts/<H(account)>/seen-prekeys/<H(digest)>        seenPrekeyRecord
//
// H is the keyed name hash of seal.go. The AEAD's additional data already stops records from
// being moved; this check catches a store written with inconsistent names.
func checkSlot(k *keys, path [][]byte, key []byte, rec record) error {
	if ok, mine := checkSlotOTR3(k, path, key, rec); mine { // otr3.go
		if !ok {
			return corrupt("record does not belong in its slot")
		}
		return nil
	}
	ok := false
	n := len(path)
	switch {
	case n == 2:
		switch r := rec.(type) {
		case *accountRecord:
			ok = bytes.Equal(key, keyAccount) && bytes.Equal(path[1], k.accountName(r.JID))
		case *passwordRecord:
			ok = bytes.Equal(key, keyPassword)
		}
	case n == 3 && bytes.Equal(path[2], bucketServers):
		r, is := rec.(*PinnedServer)
		ok = is && bytes.Equal(key, k.serverKey(r.ServerJID))
	case n == 3 && bytes.Equal(path[2], bucketTrust):
		r, is := rec.(*TrustDecision)
		ok = is && bytes.Equal(key, k.trustKey(r.Contact, r.Fingerprint))
	case n == 3 && bytes.Equal(path[2], bucketSeen):
		r, is := rec.(*seenPrekeyRecord)
		ok = is && bytes.Equal(key, k.seenKey(r.Digest))
	case n == 3 && bytes.Equal(path[2], bucketContacts):
		r, is := rec.(*contactRecord)
		ok = is && len(r.Devices) > 0 && bytes.Equal(key, k.contactKey(r.Contact))
	case n == 4 && bytes.Equal(path[2], bucketDevices) && len(path[3]) == 4:
		tag := binary.BigEndian.Uint32(path[3])
		switch r := rec.(type) {
		case *Identity:
			ok = bytes.Equal(key, keyIdentity) && r.InstanceTag == tag
		case *ClientProfile:
			ok = bytes.Equal(key, keyClientProfile)
		case *PrekeyProfile:
			ok = bytes.Equal(key, keyPrekeyProfile)
		}
	case n == 5 && bytes.Equal(path[2], bucketDevices) && len(path[3]) == 4:
		switch r := rec.(type) {
		case *PrekeySecret:
			ok = bytes.Equal(path[4], bucketPrekeys) && bytes.Equal(key, tagKey(r.ID))
		case *usedPrekeyRecord:
			ok = bytes.Equal(path[4], bucketUsed) && bytes.Equal(key, tagKey(r.ID))
		case *conversationRecord:
			ok = bytes.Equal(path[4], bucketConvs) && bytes.Equal(key, k.conversationKey(r.Contact, r.InstanceTag))
		}
	}
	if !ok {
		return corrupt("record does not belong in its slot")
	}
	return nil
}
