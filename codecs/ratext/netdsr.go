package ratext

import (
	"encoding/binary"

	"github.com/flowgate/flowgate/flow"
)

// Argus network DSR subtypes that flow.Record keeps opaque (the decoder
// keeps their bodies in the Argus layout) but ra prints from.
const (
	netRTCP = 0x09
	netRTP  = 0x0A
	netUDT  = 0x0D
	netFrag = 0x45

	udtPktsDrop = 0x00000300 // ARGUS_PKTS_DROP (src|dst)
)

// netQual is the qualifier byte of the record's Argus network DSR.
func netQual(r *flow.Record) uint8 {
	L := &r.Argus
	for i := 0; i < int(L.N) && i < flow.MaxArgusDSRs; i++ {
		if L.Hdr[i][0] == 0x30 {
			return L.Hdr[i][2]
		}
	}
	return 0
}

// rtpDrops returns the sdrop and ddrop counters of an RTP object.
func rtpDrops(r *flow.Record) (uint16, uint16) {
	b := dsrBody(r, 0x30)
	if len(b) < 32 {
		return 0, 0
	}
	return binary.BigEndian.Uint16(b[28:]), binary.BigEndian.Uint16(b[30:])
}

// netSubtype is the subtype of the record's Argus network DSR, or -1.
// Like ra (ArgusGenerateRecordStruct), it ignores an RTP object unless
// the flow is UDP with at least 5 packets in one direction.
func netSubtype(r *flow.Record) int {
	L := &r.Argus
	for i := 0; i < int(L.N) && i < flow.MaxArgusDSRs; i++ {
		if L.Hdr[i][0] == 0x30 {
			st := int(L.Hdr[i][1])
			if st == netRTP && (r.Key.Proto != 17 || (r.Pkts[0] < 5 && r.Pkts[1] < 5)) {
				return -1
			}
			return st
		}
	}
	return -1
}

// dsrBody returns the body bytes of the record's first DSR of type typ
// when the decoder kept them in the Argus layout (nil otherwise).
func dsrBody(r *flow.Record, typ byte) []byte {
	L := &r.Argus
	for i := 0; i < int(L.N) && i < flow.MaxArgusDSRs; i++ {
		if L.Hdr[i][0] != typ {
			continue
		}
		if L.Aux[i] == 0 {
			return nil
		}
		off, n := int(L.Aux[i])-1, int(L.AuxLen[i])
		if off < 0 || off+n > len(L.Residue) {
			return nil
		}
		b := L.Residue[off : off+n]
		if L.Verbatim&(1<<i) != 0 && len(b) >= 4 {
			b = b[4:]
		}
		return b
	}
	return nil
}

// udtStatus is the status word of a UDT network object (its second word).
func udtStatus(r *flow.Record) uint32 {
	b := dsrBody(r, 0x30)
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint32(b[4:])
}

// udtDrops is the src drops counter of a UDT object (client layout:
// state, status, 28-byte handshake, then the src metrics).
func udtDrops(r *flow.Record) uint32 {
	b := dsrBody(r, 0x30)
	if len(b) < 96 {
		return 0
	}
	return binary.BigEndian.Uint32(b[92:])
}
