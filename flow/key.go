package flow

import (
	"encoding/binary"
	"hash/maphash"
)

// Reverse returns the key seen from the other end of the flow.
func (k Key) Reverse() Key {
	k.Src, k.Dst = k.Dst, k.Src
	k.SrcPort, k.DstPort = k.DstPort, k.SrcPort
	k.SrcMask, k.DstMask = k.DstMask, k.SrcMask
	k.SrcMAC, k.DstMAC = k.DstMAC, k.SrcMAC
	k.DSAP, k.SSAP = k.SSAP, k.DSAP
	return k
}

var hashSeed = maphash.MakeSeed()

// Hash returns a fast, process-local hash of the key; equal keys hash equal.
func (k Key) Hash() uint64 {
	var b [96]byte
	s := k.Src.As16()
	d := k.Dst.As16()
	copy(b[0:], s[:])
	copy(b[16:], d[:])
	binary.LittleEndian.PutUint16(b[32:], k.SrcPort)
	binary.LittleEndian.PutUint16(b[34:], k.DstPort)
	b[36] = k.Proto
	b[37] = byte(k.Kind)
	b[38] = byte(k.AddrType)
	b[39] = k.ICMPType
	b[40] = k.ICMPCode
	binary.LittleEndian.PutUint16(b[41:], k.ICMPID)
	binary.LittleEndian.PutUint16(b[43:], k.ICMPSeq)
	binary.LittleEndian.PutUint32(b[45:], k.FragID)
	binary.LittleEndian.PutUint32(b[49:], k.SPI)
	copy(b[53:], k.SrcMAC[:])
	copy(b[59:], k.DstMAC[:])
	binary.LittleEndian.PutUint16(b[65:], k.EtherType)
	b[67] = k.SrcMask
	b[68] = k.DstMask
	binary.LittleEndian.PutUint32(b[69:], k.FlowLabel)
	if k.Src.Is4() {
		b[73] = 4
	}
	if k.Dst.Is4() {
		b[74] = 4
	}
	return maphash.Bytes(hashSeed, b[:75])
}
