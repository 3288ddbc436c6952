// Package capture reads link-layer frames from capture files (pcap and
// pcapng, several files in order, stdin) and live interfaces.
package capture

// Frame is one captured frame. Data aliases the source's memory (a buffer,
// a mapped file, a kernel ring) until the next ReadFrame, ReadFrames or
// Close call; it may be read-only memory, so never write into it.
type Frame struct {
	TS       int64  // capture time, Unix nanoseconds
	Data     []byte // captured bytes
	Len      int    // original length on the wire
	LinkType uint16 // pcap LINKTYPE_* of the interface the frame came from
	IfIndex  int    // pcapng interface index (0 for pcap)
}

// Source yields frames. ReadFrame returns io.EOF at the end.
type Source interface {
	ReadFrame(f *Frame) error
	Close() error
}

// Link types the decoder understands (pcap LINKTYPE_* values).
const (
	LinkNull     uint16 = 0   // BSD loopback: 4-byte host-order family
	LinkEthernet uint16 = 1   // Ethernet II / 802.3
	LinkRaw      uint16 = 101 // raw IPv4/IPv6
	LinkLoop     uint16 = 108 // OpenBSD loopback: 4-byte network-order family
	LinkSLL      uint16 = 113 // Linux cooked v1
	LinkRawIPv4  uint16 = 228
	LinkRawIPv6  uint16 = 229
	LinkSLL2     uint16 = 276 // Linux cooked v2
)
