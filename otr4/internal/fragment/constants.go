package fragment

// Constants of otrv4.md "Fragmentation", otrv3-protocol.txt "Fragmentation"
// and otrv4-prekey-server.md "Fragmentation of some Messages", named as in
// the specs.
const (
	// PrefixV4 starts an OTRv4 fragment:
	// "?OTR|%x|%x|%x,%hu,%hu,%s," identifier, sender_instance,
	// receiver_instance, index, total, piece[index].
	PrefixV4 = "?OTR|"
	// PrefixV3 starts an OTR version 3 fragment:
	// "?OTR|%x|%x,%hu,%hu,%s," sender_instance, receiver_instance, k, n,
	// piece[k]. It is the same as PrefixV4; the number of '|' fields tells
	// them apart.
	PrefixV3 = "?OTR|"
	// PrefixV2 starts an OTR version 2 fragment: "?OTR,%hu,%hu,%s," k, n,
	// piece[k].
	PrefixV2 = "?OTR,"
	// PrefixPrekey starts an OTRv4-prekey-server fragment:
	// "?OTRP|%x|%x|%x,%hu,%hu,%s,".
	PrefixPrekey = "?OTRP|"

	// Terminator ends every fragment: "The message should ... end with ','".
	Terminator = ","

	// MaxTotal is the largest index and total: "unsigned short int (2
	// bytes), and each has a maximum value of 65535".
	MaxTotal = 65535

	// MinInstanceTag is the smallest valid instance tag (otrv3-protocol.txt
	// "Instance Tags"; otrv4.md "Instance Tags").
	MinInstanceTag = 0x00000100
)

// Lengths of the canonical headers written by Split: hexadecimal fields are
// written with 8 digits ("%08x") and index and total with 5 ("%05d"), as in
// the specs' examples, so that the header length does not depend on the
// number of pieces.
const (
	hexWidth = 8
	decWidth = 5

	// "?OTR|" id "|" sender "|" receiver "," index "," total "," ... ","
	overheadV4 = len(PrefixV4) + 3*hexWidth + 2 + 1 + 2*decWidth + 2 + len(Terminator)
	// "?OTR|" sender "|" receiver "," index "," total "," ... ","
	overheadV3 = len(PrefixV3) + 2*hexWidth + 1 + 1 + 2*decWidth + 2 + len(Terminator)
	// "?OTR," index "," total "," ... ","
	overheadV2 = len(PrefixV2) + 2*decWidth + 2 + len(Terminator)
	// "?OTRP|" id "|" sender "|" receiver "," index "," total "," ... ","
	overheadPrekey = len(PrefixPrekey) + 3*hexWidth + 2 + 1 + 2*decWidth + 2 + len(Terminator)
)
