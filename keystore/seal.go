package keystore

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	envelopeVersion = 1
	keySize         = chacha20poly1305.KeySize
	nameSize        = 16 // bytes of HMAC-SHA-256 kept for hashed bucket names and keys
	envelopeOver    = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// keys are the store's data keys, unwrapped from the meta bucket with the passphrase.
type keys struct {
	record []byte // XChaCha20-Poly1305 key sealing every record
	name   []byte // HMAC-SHA-256 key hashing JIDs into bucket names and keys
	aead   cipher.AEAD
}

func newKeys(record, name []byte) (*keys, error) {
	aead, err := chacha20poly1305.NewX(record)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return &keys{record: record, name: name, aead: aead}, nil
}

// wipe erases the data keys and the AEAD's own copy of the record key. The
// keys must not be used afterwards. What Go leaves behind regardless is
// listed in docs/keystore.md ("Secrets in memory").
func (k *keys) wipe() {
	clear(k.record)
	clear(k.name)
	wipeAEAD(k.aead)
	k.aead = nil
}

// recordAD binds a sealed value to its slot: every bucket name on its path and its key.
func recordAD(path [][]byte, key []byte) []byte {
	ad := []byte("otrchat keystore record\x00")
	for _, p := range path {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(p)))
		ad = append(ad, p...)
	}
	ad = append(ad, 0xff) // separates the path from the key
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(key)))
	return append(ad, key...)
}

// sealValue returns envelopeVersion || nonce || XChaCha20-Poly1305(plain, ad).
func sealValue(aead cipher.AEAD, rand io.Reader, plain, ad []byte) ([]byte, error) {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, envelopeOver+len(plain))
	out[0] = envelopeVersion
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return nil, fmt.Errorf("keystore: reading randomness: %w", err)
	}
	return aead.Seal(out, out[1:], plain, ad), nil
}

// openValue reverses sealValue. Any failure is reported as ErrCorrupt: keys were already
// checked against the passphrase, so a value that does not open was altered.
func openValue(aead cipher.AEAD, v, ad []byte) ([]byte, error) {
	if len(v) < envelopeOver {
		return nil, corrupt("sealed value too short")
	}
	if v[0] != envelopeVersion {
		return nil, corrupt(fmt.Sprintf("unknown envelope version %d", v[0]))
	}
	nonce := v[1 : 1+chacha20poly1305.NonceSizeX]
	plain, err := aead.Open(nil, nonce, v[1+chacha20poly1305.NonceSizeX:], ad)
	if err != nil {
		return nil, corrupt("a sealed value fails authentication")
	}
	return plain, nil
}

func (k *keys) seal(rand io.Reader, path [][]byte, key []byte, r record) ([]byte, error) {
	plain := encodeRecord(r)
	defer clear(plain)
	return sealValue(k.aead, rand, plain, recordAD(path, key))
}

func (k *keys) open(path [][]byte, key, v []byte) (record, error) {
	plain, err := openValue(k.aead, v, recordAD(path, key))
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return decodeRecord(plain)
}

// hashName derives the bucket name or key for JID-bearing slots, so that no JID is stored in
// the clear: HMAC-SHA-256(nameKey, label || parts, each length-prefixed), truncated.
func (k *keys) hashName(label string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k.name)
	m.Write([]byte(label))
	for _, p := range parts {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		m.Write(l[:])
		m.Write(p)
	}
	return m.Sum(nil)[:nameSize]
}

func (k *keys) accountName(jid string) []byte { return k.hashName("account", []byte(jid)) }
func (k *keys) serverKey(jid string) []byte   { return k.hashName("server", []byte(jid)) }
func (k *keys) contactKey(jid string) []byte  { return k.hashName("contact", []byte(jid)) }
func (k *keys) seenKey(d [32]byte) []byte     { return k.hashName("seen-prekey", d[:]) }
func (k *keys) trustKey(contact string, fp []byte) []byte {
	return k.hashName("trust", []byte(contact), fp)
}
func (k *keys) conversationKey(contact string, tag uint32) []byte {
	return k.hashName("conversation", []byte(contact), binary.BigEndian.AppendUint32(nil, tag))
}
