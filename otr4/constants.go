package otr4

// The spec's numbers, named as in otrv4.md.
const (
	protocolVersion uint16 = 0x0004

	msgTypeData               byte = 0x03
	msgTypeIdentity           byte = 0x35
	msgTypeAuthR              byte = 0x36
	msgTypeAuthI              byte = 0x37
	msgTypeNonInteractiveAuth byte = 0x0D
	msgTypePrekey             byte = 0x0F

	// flagIgnoreUnreadable is the data message flag IGNORE_UNREADABLE.
	flagIgnoreUnreadable byte = 0x01

	pubKeyTypeEd448        uint16 = 0x0010
	sharedPrekeyTypeEd448  uint16 = 0x0011
	forgingKeyTypeEd448    uint16 = 0x0012
	clientProfileFieldTag  uint16 = 0x0001
	clientProfileFieldKey  uint16 = 0x0002
	clientProfileFieldForg uint16 = 0x0003
	clientProfileFieldVers uint16 = 0x0004
	clientProfileFieldExp  uint16 = 0x0005
	clientProfileFieldDSA  uint16 = 0x0006
	clientProfileFieldTSig uint16 = 0x0007

	// MinInstanceTag is the smallest valid instance tag.
	MinInstanceTag InstanceTag = 0x00000100

	fingerprintSize = 56
	signatureSize   = 114
	ssidSize        = 8
)

// TLV types (otrv4.md, "TLV Record Types").
const (
	TLVPadding           uint16 = 0
	TLVDisconnected      uint16 = 1
	TLVSMP1              uint16 = 2
	TLVSMP2              uint16 = 3
	TLVSMP3              uint16 = 4
	TLVSMP4              uint16 = 5
	TLVSMPAbort          uint16 = 6
	TLVExtraSymmetricKey uint16 = 7
)
