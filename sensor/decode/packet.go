// Package decode parses captured frames into Packet values without
// allocating: link layer (Ethernet, 802.3/LLC, 802.1Q, QinQ, MPLS, PPPoE,
// Linux SLL/SLL2, null/loop, PPP, raw IP), IPv4/IPv6, TCP, UDP, ICMP/ICMPv6,
// ARP, and the tunnels GRE, VXLAN, Geneve and IP-in-IP, through to the
// innermost flow. The encapsulations crossed are recorded as Argus encaps
// mask bits (argus-format.md §7.6).
package decode

import "net/netip"

// Argus encapsulation mask bits (argus-format.md §7.6).
const (
	EncMPLS   uint32 = 0x1
	EncEther  uint32 = 0x2
	Enc8021Q  uint32 = 0x4
	EncLLC    uint32 = 0x8
	EncPPP    uint32 = 0x10
	EncGRE    uint32 = 0x40
	EncIP     uint32 = 0x100 // IP-in-IP (an outer IP header was crossed)
	EncIPv6   uint32 = 0x200 // IPv6 tunnel
	EncSLL    uint32 = 0x2000
	EncVXLAN  uint32 = 0x4000000 // 3.0.8.2 names this bit ERSPAN II; 5.x VXLAN
	EncERSPAN uint32 = 0x4000000 // Cisco ERSPAN II (argus 3.0.8.2 ARGUS_ENCAPS_ERSPAN_II)
	EncGeneve uint32 = 0x10000000
)

// Argus IP option bits (IPATTR options word, argus-format.md §7.8).
const (
	IPOptRR       uint32 = 0x01
	IPOptTS       uint32 = 0x02
	IPOptSecurity uint32 = 0x04
	IPOptLSRR     uint32 = 0x08
	IPOptSATID    uint32 = 0x10
	IPOptSSRR     uint32 = 0x20
	IPOptRtrAlert uint32 = 0x40
)

// Argus TCP option bits (TCP options word, argus-format.md §7.7).
const (
	TCPOptMSS       uint32 = 0x00100000
	TCPOptWScale    uint32 = 0x00200000
	TCPOptSACKOK    uint32 = 0x00400000
	TCPOptSACK      uint32 = 0x00800000
	TCPOptEcho      uint32 = 0x01000000
	TCPOptEchoReply uint32 = 0x02000000
	TCPOptTS        uint32 = 0x04000000
	TCPOptCC        uint32 = 0x08000000
	TCPOptCCNew     uint32 = 0x10000000
	TCPOptCCEcho    uint32 = 0x20000000
)

// TCP header flags.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// Network says what the innermost network layer of a packet is.
type Network uint8

const (
	NetNone Network = iota // no network layer understood: a layer-2 flow
	NetIPv4
	NetIPv6
	NetARP // ARP or RARP (EtherType says which)
)

// Packet is one decoded frame. Decode overwrites every field; Payload and
// UserData alias the frame's Data.
type Packet struct {
	TS      int64 // capture time, Unix ns
	WireLen int   // original frame length (what argus counts as bytes)
	CapLen  int   // captured length

	// Link layer (of the outermost Ethernet header, if any).
	HasMAC         bool
	SrcMAC, DstMAC [6]byte
	EtherType      uint16 // EtherType of the MAC header (after VLAN tags; for a payload not decoded, the last Ethernet header's type), 0 for 802.3 LLC
	DSAP, SSAP     uint8  // 802.2 LLC SAPs when EtherType is 0
	NVLAN          uint8  // tags seen (802.1Q and QinQ)
	VLAN           uint16 // TCI of the innermost 802.1Q tag
	NMPLS          uint8  // label stack entries seen
	MPLS           uint32 // first (outermost) MPLS label stack entry
	Encaps         uint32 // Argus encapsulation mask bits crossed
	L2Len          int    // bytes of the frame before the innermost network header

	// Network layer.
	Net      Network
	Src, Dst netip.Addr // innermost IP addresses (ARP: sender/target protocol addresses)
	Proto    uint8      // IP protocol (IPv6: after extension headers)
	TTL      uint8      // IPv4 TTL / IPv6 hop limit
	TOS      uint8      // IPv4 TOS / IPv6 traffic class
	IPID     uint32     // IPv4 id; IPv6 fragment identification
	FlowLbl  uint32     // IPv6 flow label
	IPOpts   uint32     // Argus IP option bits
	IPHdrLen int        // IPv4 header / IPv6 header plus extension headers
	IPLen    int        // IP total length from the header (IPv6: 40 + payload length)

	// Fragments.
	Frag      bool   // part of a fragmented datagram
	FragOff   uint32 // fragment offset in bytes
	MoreFrags bool
	FirstFrag bool // Frag and FragOff == 0 (carries the transport header)

	// Transport layer. HasL4 says the transport header was parsed (false
	// for non-first fragments and truncated headers).
	HasL4            bool
	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	Win              uint16
	TCPOpts          uint32 // Argus TCP option bits
	MSS              uint16
	WScale           uint8 // valid when TCPOpts has TCPOptWScale
	TSVal, TSEcr     uint32
	L4HdrLen         int
	AppLen           int    // transport payload length, from the IP length
	Payload          []byte // captured transport payload (aliases the frame)
	// UserData, when not nil, is where argus's -U user data starts if not
	// at Payload: the ICMP message from its header, the bytes after an
	// ARP body, the payload of a layer-2 frame (aliases the frame).
	UserData []byte

	// ICMP / ICMPv6.
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16
	// For ICMP errors: the quoted packet (HasQuote).
	HasQuote           bool
	QSrc, QDst         netip.Addr
	QProto             uint8
	QSrcPort, QDstPort uint16
	QIPID              uint16

	// ARP (Net == NetARP).
	ARPHrd, ARPPro uint16
	ARPHln, ARPPln uint8
	ARPOp          uint16
	ARPSha, ARPTha [6]byte

	// Tunnels crossed (outer values of the innermost tunnel).
	TunnelVNI uint32 // VXLAN/Geneve VNI
	GREProto  uint16
}
