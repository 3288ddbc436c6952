package decode

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowgate/flowgate/sensor/capture"
)

var be = binary.BigEndian

// Reason is why a frame could not be decoded. It is an error; the caller
// counts frames per Reason (an index into a fixed array, NumReasons long).
type Reason uint8

const (
	ReasonNone        Reason = iota
	ReasonTruncated          // a header is cut short by the capture length
	ReasonBadLength          // a length field is impossible (IPv4 total length < header ...)
	ReasonUnknownLink        // the link type is not one the decoder reads
	ReasonBadVersion         // IP version nibble is neither 4 nor 6
	ReasonBadHeader          // a header field is invalid (IPv4 IHL < 5, TCP offset < 5 ...)
	ReasonTooDeep            // more nested encapsulations than the decoder follows
	NumReasons
)

var reasonNames = [NumReasons]string{"none", "truncated", "bad length", "unknown link type", "bad IP version", "bad header", "too many encapsulations"}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown reason"
}

func (r Reason) Error() string { return "decode: " + r.String() }

// Decoder decodes frames. The zero value follows tunnels (GRE, VXLAN,
// Geneve, IP-in-IP) to the innermost flow, as argus does by default.
type Decoder struct {
	// NoTunnels stops at the outermost IP header (ARGUS_TUNNEL_PARSING=no).
	NoTunnels bool
}

const maxDepth = 8

// Ethernet types.
const (
	etIPv4   = 0x0800
	etARP    = 0x0806
	etRARP   = 0x8035
	etVLAN   = 0x8100
	etQinQ   = 0x88a8
	etQinQ2  = 0x9100
	etIPv6   = 0x86dd
	etMPLS   = 0x8847
	etMPLSm  = 0x8848
	etPPPoE  = 0x8864
	etPPPoED = 0x8863 // PPPoE discovery
	etTEB    = 0x6558 // transparent Ethernet bridging (GRE, Geneve)
	etERSPAN = 0x88be // Cisco ERSPAN type II (GRE)
	portVXLN = 4789
	portGENV = 6081
)

// Decode fills p from f. It never allocates and never panics; on error p
// holds what was decoded before the failure.
func (d *Decoder) Decode(f *capture.Frame, p *Packet) error {
	*p = Packet{TS: f.TS, WireLen: f.Len, CapLen: len(f.Data)}
	if p.WireLen < p.CapLen {
		p.WireLen = p.CapLen
	}
	b := f.Data
	switch f.LinkType {
	case capture.LinkEthernet:
		return d.ether(p, b, 0, 0)
	case capture.LinkRaw, 12, 14:
		return d.rawIP(p, b, 0, 0)
	case capture.LinkRawIPv4:
		return d.ipv4(p, b, 0, 0)
	case capture.LinkRawIPv6:
		return d.ipv6(p, b, 0, 0)
	case capture.LinkNull, capture.LinkLoop:
		if len(b) < 4 {
			return ReasonTruncated
		}
		// argus counts a loopback frame's bytes without the family word.
		p.WireLen = max(p.WireLen-4, 0)
		fam := binary.LittleEndian.Uint32(b)
		if f.LinkType == capture.LinkLoop || fam > 0xFFFF {
			fam = be.Uint32(b)
		}
		switch fam {
		case 2:
			return d.ipv4(p, b[4:], 4, 0)
		case 10, 24, 28, 30:
			return d.ipv6(p, b[4:], 4, 0)
		}
		return d.rawIP(p, b[4:], 4, 0)
	case linkPPP, linkPPPHDLC:
		return d.ppp(p, b)
	case capture.LinkSLL:
		if len(b) < 16 {
			return ReasonTruncated
		}
		p.Encaps |= EncSLL
		if be.Uint16(b[4:]) == 6 { // link-layer address length
			copy(p.SrcMAC[:], b[6:12])
			p.HasMAC = true
		}
		return d.etherType(p, b[16:], 16, be.Uint16(b[14:]), 0)
	case capture.LinkSLL2:
		if len(b) < 20 {
			return ReasonTruncated
		}
		p.Encaps |= EncSLL
		if b[11] == 6 {
			copy(p.SrcMAC[:], b[12:18])
			p.HasMAC = true
		}
		return d.etherType(p, b[20:], 20, be.Uint16(b[0:]), 0)
	}
	return ReasonUnknownLink
}

// PPP link types (pcap LINKTYPE_PPP, LINKTYPE_PPP_HDLC) and protocols.
const (
	linkPPP     = 9
	linkPPPHDLC = 50
	pppIPv4     = 0x0021
	pppIPv6     = 0x0057
	pppMPLS     = 0x0281
	pppMPLSm    = 0x0283
)

// ppp decodes a PPP frame: optional HDLC address/control (ff 03), then a
// one- or two-byte protocol. argus counts the frame's bytes without the PPP
// header.
func (d *Decoder) ppp(p *Packet, b []byte) error {
	hl := 0
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0x03 {
		hl = 2
	}
	if len(b) < hl+1 {
		return ReasonTruncated
	}
	proto := uint16(b[hl])
	if proto&1 == 0 { // two-byte protocol field
		if len(b) < hl+2 {
			return ReasonTruncated
		}
		proto = be.Uint16(b[hl:])
		hl += 2
	} else {
		hl++
	}
	p.WireLen = max(p.WireLen-hl, 0)
	p.Encaps |= EncPPP
	switch proto {
	case pppIPv4:
		return d.ipv4(p, b[hl:], hl, 0)
	case pppIPv6:
		return d.ipv6(p, b[hl:], hl, 0)
	case pppMPLS, pppMPLSm:
		return d.etherType(p, b[hl:], hl, etMPLS, 0)
	}
	p.L2Len = hl
	return nil
}

func (d *Decoder) rawIP(p *Packet, b []byte, off, depth int) error {
	if len(b) < 1 {
		return ReasonTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(p, b, off, depth)
	case 6:
		return d.ipv6(p, b, off, depth)
	}
	return ReasonBadVersion
}

// ether decodes an Ethernet header at b (off bytes into the frame).
func (d *Decoder) ether(p *Packet, b []byte, off, depth int) error {
	if depth > maxDepth {
		return ReasonTooDeep
	}
	if len(b) < 14 {
		return ReasonTruncated
	}
	if !p.HasMAC {
		copy(p.DstMAC[:], b[0:6])
		copy(p.SrcMAC[:], b[6:12])
		p.HasMAC = true
	}
	p.Encaps |= EncEther
	et := be.Uint16(b[12:])
	if et <= 1500 { // 802.3 length: LLC follows
		b = b[14:]
		if len(b) < 3 {
			p.EtherType = 0
			return ReasonTruncated
		}
		p.Encaps |= EncLLC
		p.DSAP, p.SSAP = b[0], b[1]
		if b[0] == 0xAA && b[1] == 0xAA && b[2] == 0x03 && len(b) >= 8 { // SNAP
			// argus follows SNAP only to IP and ARP; other SNAP
			// payloads (CDP, STP ...) stay LLC flows keyed by the
			// SAPs (0xaa/0xaa).
			switch et := be.Uint16(b[6:]); et {
			case etIPv4, etIPv6, etARP, etRARP:
				p.DSAP, p.SSAP = 0, 0
				return d.etherType(p, b[8:], off+22, et, depth)
			}
			p.UserData = b[8:] // argus's user data: after LLC and SNAP (CDP: its version byte)
		} else {
			p.UserData = b[3:]
		}
		p.L2Len = off + 14
		return nil
	}
	return d.etherType(p, b[14:], off+14, et, depth)
}

// etherType decodes the payload b of type et.
func (d *Decoder) etherType(p *Packet, b []byte, off int, et uint16, depth int) error {
	first := et
	for {
		if depth > maxDepth {
			return ReasonTooDeep
		}
		depth++
		p.EtherType = et
		switch et {
		case etVLAN, etQinQ, etQinQ2:
			if len(b) < 4 {
				return ReasonTruncated
			}
			p.Encaps |= Enc8021Q
			p.VLAN = be.Uint16(b)
			p.NVLAN++
			et = be.Uint16(b[2:])
			b, off = b[4:], off+4
			continue
		case etMPLS, etMPLSm:
			p.Encaps |= EncMPLS
			for {
				if len(b) < 4 {
					return ReasonTruncated
				}
				e := be.Uint32(b)
				if p.NMPLS == 0 {
					p.MPLS = e
				}
				p.NMPLS++
				b, off = b[4:], off+4
				if e&0x100 != 0 {
					break
				}
				if p.NMPLS > 16 {
					return ReasonTooDeep
				}
			}
			p.L2Len = off
			if len(b) == 0 {
				return nil
			}
			switch b[0] >> 4 {
			case 4:
				return d.ipv4(p, b, off, depth)
			case 6:
				return d.ipv6(p, b, off, depth)
			}
			return nil
		case etPPPoE:
			if len(b) < 8 {
				return ReasonTruncated
			}
			p.Encaps |= EncPPP
			switch be.Uint16(b[6:]) {
			case 0x0021:
				return d.ipv4(p, b[8:], off+8, depth)
			case 0x0057:
				return d.ipv6(p, b[8:], off+8, depth)
			}
			p.UserData = b[8:] // argus's user data: after the PPPoE header and PPP protocol (LCP, IPCP ...)
			p.L2Len = off
			return nil
		case etIPv4:
			return d.ipv4(p, b, off, depth)
		case etIPv6:
			return d.ipv6(p, b, off, depth)
		case etARP, etRARP:
			return d.arp(p, b, off)
		}
		if et == etPPPoED {
			// argus 3.0.8.2 (ArgusProcessPPPoEHdr) marks the PPP
			// encapsulation on PPPoE discovery frames as on session
			// ones, and keys them as a layer-2 flow (zeek pppoe.pcap:
			// PADI cc:05:0e:88:00:00 -> Broadcast, flgs '*').
			p.Encaps |= EncPPP
		}
		// argus 3.0.8.2 keys a payload it does not decode by the type
		// in its last Ethernet header (ArgusCreateFlow: ep->ether_type),
		// so behind VLAN tags the flow's type is 0x8100, not the inner one.
		if p.NVLAN > 0 {
			p.EtherType = first
		}
		p.L2Len = off
		p.UserData = b // argus's user data: after the Ethernet header (and tags)
		return nil
	}
}

func (d *Decoder) arp(p *Packet, b []byte, off int) error {
	p.L2Len = off
	if len(b) < 8 {
		return ReasonTruncated
	}
	p.ARPHrd, p.ARPPro = be.Uint16(b), be.Uint16(b[2:])
	p.ARPHln, p.ARPPln, p.ARPOp = b[4], b[5], be.Uint16(b[6:])
	hl, pl := int(p.ARPHln), int(p.ARPPln)
	if len(b) < 8+2*hl+2*pl {
		return ReasonTruncated
	}
	p.Net = NetARP
	b = b[8:]
	copy(p.ARPSha[:], b[:min(hl, 6)])
	if pl == 4 {
		p.Src = netip.AddrFrom4([4]byte(b[hl : hl+4]))
		p.Dst = netip.AddrFrom4([4]byte(b[2*hl+4 : 2*hl+8]))
	}
	copy(p.ARPTha[:], b[hl+pl:hl+pl+min(hl, 6)])
	// argus's user data follow its 28-byte ether_arp, which it places
	// right after the Ethernet header: behind a VLAN tag that is 4 bytes
	// before the end of the real body (zeek q-in-q/wikipedia: the target
	// address shows in the user data).
	u := 2*hl + 2*pl
	if p.Encaps&EncEther != 0 && off >= 14 {
		u = max(28-(off-14), 0) - 8
	}
	u = min(max(u, 0), len(b))
	p.UserData = b[u:min(u+max(len(b)-2*hl-2*pl, 0), len(b))] // as many bytes as follow the real body
	return nil
}

// Argus IP option bits by option type.
func ipOptBit(t byte) uint32 {
	switch t {
	case 7:
		return IPOptRR
	case 68:
		return IPOptTS
	case 130, 133:
		return IPOptSecurity
	case 131:
		return IPOptLSRR
	case 136:
		return IPOptSATID
	case 137:
		return IPOptSSRR
	case 148:
		return IPOptRtrAlert
	}
	return 0
}

// enterTunnel resets the network and transport fields before an inner IP
// header is decoded; the link fields and the encaps mask stay.
func enterTunnel(p *Packet) {
	p.Net, p.Src, p.Dst = NetNone, netip.Addr{}, netip.Addr{}
	p.Proto, p.TTL, p.TOS, p.IPID, p.FlowLbl, p.IPOpts = 0, 0, 0, 0, 0, 0
	p.Frag, p.FragOff, p.MoreFrags, p.FirstFrag = false, 0, false, false
	p.HasL4, p.SrcPort, p.DstPort = false, 0, 0
	p.UserData = nil
}

func (d *Decoder) ipv4(p *Packet, b []byte, off, depth int) error {
	if p.Net != NetNone {
		enterTunnel(p)
	}
	p.L2Len = off
	if len(b) < 20 {
		return ReasonTruncated
	}
	if b[0]>>4 != 4 {
		return ReasonBadVersion
	}
	hl := int(b[0]&0x0F) * 4
	if hl < 20 {
		return ReasonBadHeader
	}
	if len(b) < hl {
		return ReasonTruncated
	}
	tl := int(be.Uint16(b[2:]))
	if tl < hl {
		if tl != 0 { // 0: TSO, take the captured length
			return ReasonBadLength
		}
		tl = len(b)
	}
	p.Net = NetIPv4
	p.TOS, p.TTL, p.Proto = b[1], b[8], b[9]
	p.IPID = uint32(be.Uint16(b[4:]))
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.IPHdrLen, p.IPLen = hl, tl
	for o := b[20:hl]; len(o) > 0; {
		t := o[0]
		if t == 0 {
			break
		}
		if t == 1 {
			o = o[1:]
			continue
		}
		bit := ipOptBit(t)
		if bit == 0 {
			bit = 0x80 // unknown option
		}
		p.IPOpts |= bit
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			break
		}
		o = o[o[1]:]
	}
	fo := be.Uint16(b[6:])
	p.MoreFrags = fo&0x2000 != 0
	p.FragOff = uint32(fo&0x1FFF) * 8
	if p.MoreFrags || p.FragOff != 0 {
		p.Frag = true
		p.FirstFrag = p.FragOff == 0
		if !p.FirstFrag {
			p.UserData = b[min(hl, len(b)):min(tl, len(b))] // a fragment flow's user data: its payload
			return nil
		}
	}
	end := min(tl, len(b))
	return d.l4(p, b[hl:end], tl-hl, off+hl, depth)
}

func (d *Decoder) ipv6(p *Packet, b []byte, off, depth int) error {
	if p.Net != NetNone {
		enterTunnel(p)
	}
	p.L2Len = off
	if len(b) < 40 {
		return ReasonTruncated
	}
	if b[0]>>4 != 6 {
		return ReasonBadVersion
	}
	w := be.Uint32(b)
	p.Net = NetIPv6
	p.TOS = byte(w >> 20)
	p.FlowLbl = w & 0xFFFFF
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	pl := int(be.Uint16(b[4:]))
	if pl == 0 { // jumbogram or TSO: take the captured length
		pl = len(b) - 40
	}
	p.IPLen = 40 + pl
	nh := b[6]
	hl := 40
	end := min(p.IPLen, len(b))
	for i := 0; ; i++ {
		if i > 8 {
			return ReasonTooDeep
		}
		switch nh {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
			if end < hl+8 {
				p.Proto, p.IPHdrLen = nh, hl
				return ReasonTruncated
			}
			n := (int(b[hl+1]) + 1) * 8
			nh = b[hl]
			hl += n
			continue
		case 51: // AH
			if end < hl+8 {
				p.Proto, p.IPHdrLen = nh, hl
				return ReasonTruncated
			}
			n := (int(b[hl+1]) + 2) * 4
			nh = b[hl]
			hl += n
			continue
		case 44: // fragment
			if end < hl+8 {
				p.Proto, p.IPHdrLen = nh, hl
				return ReasonTruncated
			}
			fo := be.Uint16(b[hl+2:])
			p.Frag = true
			p.FragOff = uint32(fo>>3) * 8
			p.MoreFrags = fo&1 != 0
			p.FirstFrag = p.FragOff == 0
			// The identification as sent; the byte order argus
			// stores it in is the Argus codec's business.
			p.IPID = be.Uint32(b[hl+4:])
			nh = b[hl]
			hl += 8
			if !p.FirstFrag {
				p.Proto, p.IPHdrLen = nh, hl
				p.UserData = b[min(hl, len(b)):] // a fragment flow's user data: its payload
				return nil
			}
			continue
		}
		break
	}
	p.Proto, p.IPHdrLen = nh, hl
	if hl > p.IPLen {
		return ReasonBadLength
	}
	if hl > end {
		return ReasonTruncated
	}
	return d.l4(p, b[hl:end], p.IPLen-hl, off+hl, depth)
}

// l4 decodes the transport header at b (captured bytes of the IP payload);
// n is the IP payload length from the IP header.
func (d *Decoder) l4(p *Packet, b []byte, n, off, depth int) error {
	switch p.Proto {
	case 6:
		if len(b) < 20 {
			return ReasonTruncated
		}
		hl := int(b[12]>>4) * 4
		if hl < 20 {
			return ReasonBadHeader
		}
		p.SrcPort, p.DstPort = be.Uint16(b), be.Uint16(b[2:])
		p.Seq, p.Ack = be.Uint32(b[4:]), be.Uint32(b[8:])
		p.TCPFlags = b[13]
		p.Win = be.Uint16(b[14:])
		p.HasL4 = true
		p.L4HdrLen = hl
		if len(b) < hl {
			hl = len(b)
		}
		tcpOptions(p, b[20:hl])
		p.AppLen = max(n-p.L4HdrLen, 0)
		p.Payload = b[hl:]
		return nil
	case 17:
		if len(b) < 8 {
			return ReasonTruncated
		}
		p.SrcPort, p.DstPort = be.Uint16(b), be.Uint16(b[2:])
		p.HasL4 = true
		p.L4HdrLen = 8
		p.AppLen = max(n-8, 0)
		p.Payload = b[8:]
		if d.NoTunnels || p.Frag {
			return nil
		}
		switch {
		case p.DstPort == portVXLN && len(b) >= 16 && b[8]&0x08 != 0:
			if depth > maxDepth {
				return ReasonTooDeep
			}
			p.Encaps |= EncVXLAN
			p.TunnelVNI = be.Uint32(b[12:]) >> 8
			p.HasMAC = false
			enterTunnel(p)
			return d.ether(p, b[16:], off+16, depth+1)
		case p.DstPort == portGENV && len(b) >= 16 && b[8]>>6 == 0:
			ol := int(b[8]&0x3F) * 4
			if len(b) < 16+ol {
				return nil
			}
			if depth > maxDepth {
				return ReasonTooDeep
			}
			p.Encaps |= EncGeneve
			p.TunnelVNI = be.Uint32(b[12:]) >> 8
			pt := be.Uint16(b[10:])
			enterTunnel(p)
			if pt == etTEB {
				p.HasMAC = false
				return d.ether(p, b[16+ol:], off+16+ol, depth+1)
			}
			return d.etherType(p, b[16+ol:], off+16+ol, pt, depth+1)
		}
		return nil
	case 1, 58:
		return d.icmp(p, b, n)
	case 4, 41: // IP-in-IP
		if d.NoTunnels {
			return nil
		}
		if depth > maxDepth {
			return ReasonTooDeep
		}
		if p.Net == NetIPv6 {
			p.Encaps |= EncIPv6
		} else {
			p.Encaps |= EncIP
		}
		if p.Proto == 4 {
			return d.ipv4(p, b, off, depth+1)
		}
		return d.ipv6(p, b, off, depth+1)
	case 47:
		if d.NoTunnels || len(b) < 4 {
			return nil
		}
		fl := be.Uint16(b)
		if fl&7 != 0 { // version 1 (PPTP) and others: not followed
			return nil
		}
		hl := 4
		if fl&0x8000 != 0 {
			hl += 4
		}
		if fl&0x2000 != 0 {
			hl += 4
		}
		if fl&0x1000 != 0 {
			hl += 4
		}
		if len(b) < hl {
			return ReasonTruncated
		}
		if depth > maxDepth {
			return ReasonTooDeep
		}
		pt := be.Uint16(b[2:])
		switch pt {
		case etIPv4, etIPv6, etTEB, etMPLS:
		case etERSPAN:
			// ERSPAN II: an 8-byte header of version 1, then the
			// mirrored Ethernet frame (argus 3.0.8.2
			// ArgusProcessErspanIIHdr).
			if len(b) <= hl+8 || b[hl]>>4 != 1 {
				return nil
			}
			p.Encaps |= EncGRE | EncERSPAN
			p.GREProto = pt
			enterTunnel(p)
			p.HasMAC = false
			return d.ether(p, b[hl+8:], off+hl+8, depth+1)
		default:
			return nil
		}
		p.Encaps |= EncGRE
		p.GREProto = pt
		enterTunnel(p)
		if pt == etTEB {
			p.HasMAC = false
			return d.ether(p, b[hl:], off+hl, depth+1)
		}
		return d.etherType(p, b[hl:], off+hl, pt, depth+1)
	}
	p.AppLen = n
	p.Payload = b
	return nil
}

func tcpOptions(p *Packet, o []byte) {
	for len(o) > 0 {
		k := o[0]
		if k == 0 {
			return
		}
		if k == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return
		}
		v := o[2:o[1]]
		switch k {
		case 2:
			p.TCPOpts |= TCPOptMSS
			if len(v) >= 2 {
				p.MSS = be.Uint16(v)
			}
		case 3:
			p.TCPOpts |= TCPOptWScale
			if len(v) >= 1 {
				p.WScale = v[0]
			}
		case 4:
			p.TCPOpts |= TCPOptSACKOK
		case 5:
			p.TCPOpts |= TCPOptSACK
		case 6:
			p.TCPOpts |= TCPOptEcho
		case 7:
			p.TCPOpts |= TCPOptEchoReply
		case 8:
			p.TCPOpts |= TCPOptTS
			if len(v) >= 8 {
				p.TSVal, p.TSEcr = be.Uint32(v), be.Uint32(v[4:])
			}
		case 11:
			p.TCPOpts |= TCPOptCC
		case 12:
			p.TCPOpts |= TCPOptCCNew
		case 13:
			p.TCPOpts |= TCPOptCCEcho
		}
		o = o[o[1]:]
	}
}

// IsICMPEcho reports whether an ICMP type (v4 or v6 by proto) is an
// identifier/sequence request or reply.
func IsICMPEcho(proto, t uint8) bool {
	if proto == 58 {
		return t == 128 || t == 129
	}
	switch t {
	case 0, 8, 13, 14, 15, 16, 17, 18:
		return true
	}
	return false
}

// IsICMPError reports whether an ICMP type quotes the packet it answers.
func IsICMPError(proto, t uint8) bool {
	if proto == 58 {
		return t >= 1 && t <= 4
	}
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

func (d *Decoder) icmp(p *Packet, b []byte, n int) error {
	if len(b) < 4 {
		return ReasonTruncated
	}
	p.ICMPType, p.ICMPCode = b[0], b[1]
	p.HasL4 = true
	p.UserData = b // argus's user data starts at the ICMP header
	p.L4HdrLen = 8
	p.AppLen = max(n-8, 0)
	if len(b) >= 8 {
		p.ICMPID, p.ICMPSeq = be.Uint16(b[4:]), be.Uint16(b[6:])
		p.Payload = b[8:]
	}
	if !IsICMPError(p.Proto, p.ICMPType) || len(b) < 8 {
		return nil
	}
	q := b[8:]
	if p.Proto == 1 {
		if len(q) < 20 || q[0]>>4 != 4 {
			return nil
		}
		hl := int(q[0]&0x0F) * 4
		p.HasQuote = true
		p.QSrc = netip.AddrFrom4([4]byte(q[12:16]))
		p.QDst = netip.AddrFrom4([4]byte(q[16:20]))
		p.QProto = q[9]
		p.QIPID = be.Uint16(q[4:])
		if hl >= 20 && len(q) >= hl+4 && be.Uint16(q[6:])&0x1FFF == 0 {
			switch p.QProto {
			case 6, 17, 132:
				p.QSrcPort, p.QDstPort = be.Uint16(q[hl:]), be.Uint16(q[hl+2:])
			}
		}
		return nil
	}
	if len(q) < 40 || q[0]>>4 != 6 {
		return nil
	}
	p.HasQuote = true
	p.QSrc = netip.AddrFrom16([16]byte(q[8:24]))
	p.QDst = netip.AddrFrom16([16]byte(q[24:40]))
	p.QProto = q[6]
	if len(q) >= 44 {
		switch p.QProto {
		case 6, 17, 132:
			p.QSrcPort, p.QDstPort = be.Uint16(q[40:]), be.Uint16(q[42:])
		}
	}
	return nil
}
