package decode

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/sensor/capture"
)

// Frames built by hand, layer by layer (no opaque hex blobs).

func ethHdr(et uint16) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0, 0}
	binary.BigEndian.PutUint16(b[12:], et)
	return b
}

func ipv4Hdr(proto byte, payload int, opts []byte, frag uint16) []byte {
	hl := 20 + len(opts)
	b := make([]byte, hl)
	b[0] = 0x40 | byte(hl/4)
	b[1] = 0x10
	binary.BigEndian.PutUint16(b[2:], uint16(hl+payload))
	binary.BigEndian.PutUint16(b[4:], 0x1234)
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8], b[9] = 64, proto
	copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	copy(b[20:], opts)
	return b
}

func ipv6Hdr(nh byte, payload int) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(payload))
	b[6], b[7] = nh, 57
	b[8], b[9], b[23] = 0x20, 0x01, 1
	b[24], b[25], b[39] = 0x20, 0x01, 2
	return b
}

func tcpHdr(flags byte, opts []byte) []byte {
	b := make([]byte, 20+len(opts))
	binary.BigEndian.PutUint16(b[0:], 40000)
	binary.BigEndian.PutUint16(b[2:], 80)
	binary.BigEndian.PutUint32(b[4:], 1000)
	b[12] = byte((20+len(opts))/4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 8192)
	copy(b[20:], opts)
	return b
}

func udpHdr(sport, dport uint16, payload int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+payload))
	return b
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

var synOpts = []byte{2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}

func seedFrames() []capture.Frame {
	tcp := tcpHdr(TCPSyn, synOpts)
	icmpUnreach := cat([]byte{3, 3, 0, 0, 0, 0, 0, 0}, ipv4Hdr(17, 8, nil, 0), udpHdr(50000, 9999, 0))
	vxInner := cat(ethHdr(0x0800), ipv4Hdr(17, 8, nil, 0), udpHdr(1, 2, 0))
	vx := cat(udpHdr(1234, 4789, 8+len(vxInner)), []byte{8, 0, 0, 0, 0, 0, 0x2a, 0}, vxInner)
	gre := cat([]byte{0, 0, 0x08, 0}, ipv4Hdr(6, 20, nil, 0), tcpHdr(TCPAck, nil))
	frames := [][]byte{
		cat(ethHdr(0x0800), ipv4Hdr(6, len(tcp), []byte{148, 4, 0, 0}, 0), tcp),
		cat(ethHdr(0x8100), []byte{0x60, 0x64, 0x08, 0x00}, ipv4Hdr(17, 12, nil, 0), udpHdr(53001, 53, 4), []byte{0x10, 0, 1, 0}),
		cat(ethHdr(0x88a8), []byte{0, 10, 0x81, 0}, []byte{0, 20, 0x86, 0xdd}, ipv6Hdr(6, 20), tcpHdr(TCPAck, nil)),
		cat(ethHdr(0x8847), []byte{0x00, 0x3e, 0x81, 0x40}, ipv4Hdr(1, 8, nil, 0), []byte{8, 0, 0, 0, 0x42, 0x42, 0, 1}),
		cat(ethHdr(0x0800), ipv4Hdr(1, len(icmpUnreach), nil, 0), icmpUnreach),
		cat(ethHdr(0x0800), ipv4Hdr(17, 8, nil, 0x2000), udpHdr(1, 2, 0)),
		cat(ethHdr(0x0800), ipv4Hdr(17, 8, nil, 0x0002), udpHdr(1, 2, 0)),
		cat(ethHdr(0x0806), []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2}),
		cat(ethHdr(0x0800), ipv4Hdr(17, len(vx), nil, 0), vx),
		cat(ethHdr(0x0800), ipv4Hdr(47, len(gre), nil, 0), gre),
		cat(ethHdr(0x8864), []byte{0x11, 0, 0, 1, 0, 30, 0, 0x21}, ipv4Hdr(17, 8, nil, 0), udpHdr(5, 6, 0)),
		cat(ethHdr(0x86dd), ipv6Hdr(44, 16), []byte{17, 0, 0, 1, 0, 0, 0, 9}, udpHdr(7, 8, 0)),
		cat(ethHdr(0x0026), []byte{0x42, 0x42, 0x03}, make([]byte, 35)),
	}
	var out []capture.Frame
	for i, b := range frames {
		out = append(out, capture.Frame{TS: int64(i), Data: b, Len: len(b), LinkType: capture.LinkEthernet})
	}
	raw := cat(ipv4Hdr(4, 28, nil, 0), ipv4Hdr(17, 8, nil, 0), udpHdr(9, 10, 0))
	out = append(out, capture.Frame{Data: raw, Len: len(raw), LinkType: capture.LinkRaw})
	sll := cat([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}, ipv4Hdr(17, 8, nil, 0), udpHdr(9, 10, 0))
	out = append(out, capture.Frame{Data: sll, Len: len(sll), LinkType: capture.LinkSLL})
	null := cat([]byte{2, 0, 0, 0}, ipv4Hdr(17, 8, nil, 0), udpHdr(9, 10, 0))
	out = append(out, capture.Frame{Data: null, Len: len(null), LinkType: capture.LinkNull})
	return out
}

func TestDecodeSeeds(t *testing.T) {
	var d Decoder
	var p Packet
	fr := seedFrames()
	a1, a2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	check := func(i int, want func(p *Packet) bool) {
		t.Helper()
		if err := d.Decode(&fr[i], &p); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !want(&p) {
			t.Errorf("frame %d: %+v", i, p)
		}
	}
	check(0, func(p *Packet) bool {
		return p.Net == NetIPv4 && p.Src == a1 && p.Dst == a2 && p.Proto == 6 && p.TCPFlags == TCPSyn && p.MSS == 1460 && p.WScale == 7 &&
			p.TCPOpts == TCPOptMSS|TCPOptWScale|TCPOptSACKOK|TCPOptTS && p.IPOpts == IPOptRtrAlert && p.TOS == 0x10 && p.Encaps == EncEther
	})
	check(1, func(p *Packet) bool {
		return p.VLAN == 0x6064 && p.NVLAN == 1 && p.DstPort == 53 && p.AppLen == 4 && p.Payload[0] == 0x10 && p.Encaps == EncEther|Enc8021Q
	})
	check(2, func(p *Packet) bool {
		return p.NVLAN == 2 && p.VLAN == 20 && p.Net == NetIPv6 && p.Proto == 6 && p.TTL == 57
	})
	check(3, func(p *Packet) bool {
		return p.NMPLS == 1 && p.MPLS == 0x003e8140 && p.ICMPType == 8 && p.ICMPID == 0x4242 && p.ICMPSeq == 1 && p.Encaps == EncEther|EncMPLS
	})
	check(4, func(p *Packet) bool {
		return p.HasQuote && p.QSrc == a1 && p.QDst == a2 && p.QProto == 17 && p.QDstPort == 9999 && p.ICMPCode == 3
	})
	check(5, func(p *Packet) bool { return p.Frag && p.FirstFrag && p.MoreFrags && p.HasL4 })
	check(6, func(p *Packet) bool { return p.Frag && !p.FirstFrag && p.FragOff == 16 && !p.HasL4 })
	check(7, func(p *Packet) bool { return p.Net == NetARP && p.ARPOp == 1 && p.Src == a1 && p.Dst == a2 })
	check(8, func(p *Packet) bool {
		return p.Encaps&EncVXLAN != 0 && p.TunnelVNI == 42 && p.SrcPort == 1 && p.DstPort == 2
	})
	check(9, func(p *Packet) bool { return p.Encaps&EncGRE != 0 && p.Proto == 6 && p.TCPFlags == TCPAck })
	check(10, func(p *Packet) bool { return p.Encaps&EncPPP != 0 && p.SrcPort == 5 })
	check(11, func(p *Packet) bool {
		return p.Frag && p.FirstFrag && p.IPID == 9 && p.Proto == 17 && p.SrcPort == 7
	})
	check(12, func(p *Packet) bool { return p.Net == NetNone && p.DSAP == 0x42 && p.Encaps == EncEther|EncLLC })
	check(13, func(p *Packet) bool { return p.Encaps == EncIP && p.SrcPort == 9 })
	check(14, func(p *Packet) bool { return p.Encaps == EncSLL && p.SrcPort == 9 && p.HasMAC })
	check(15, func(p *Packet) bool { return p.Net == NetIPv4 && p.SrcPort == 9 })
}

func TestDecodeBad(t *testing.T) {
	var d Decoder
	var p Packet
	cases := []struct {
		f    capture.Frame
		want Reason
	}{
		{capture.Frame{Data: []byte{1, 2}, LinkType: capture.LinkEthernet}, ReasonTruncated},
		{capture.Frame{Data: []byte{0x45}, LinkType: 999}, ReasonUnknownLink},
		{capture.Frame{Data: cat(ipv4Hdr(6, 0, nil, 0)[:19]), LinkType: capture.LinkRaw}, ReasonTruncated},
		{capture.Frame{Data: []byte{0x75, 0, 0, 0}, LinkType: capture.LinkRaw}, ReasonBadVersion},
	}
	bad := ipv4Hdr(6, 0, nil, 0)
	bad[0] = 0x44
	cases = append(cases, struct {
		f    capture.Frame
		want Reason
	}{capture.Frame{Data: bad, LinkType: capture.LinkRaw}, ReasonBadHeader})
	bl := ipv4Hdr(6, 0, nil, 0)
	bl[3] = 10
	cases = append(cases, struct {
		f    capture.Frame
		want Reason
	}{capture.Frame{Data: bl, LinkType: capture.LinkRaw}, ReasonBadLength})
	for i, c := range cases {
		err := d.Decode(&c.f, &p)
		var r Reason
		if !errors.As(err, &r) || r != c.want {
			t.Errorf("case %d: got %v, want %v", i, err, c.want)
		}
	}
}

func TestDecodeNoAlloc(t *testing.T) {
	var d Decoder
	var p Packet
	fr := seedFrames()
	n := testing.AllocsPerRun(100, func() {
		for i := range fr {
			d.Decode(&fr[i], &p)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func FuzzDecode(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr.LinkType, fr.Data)
	}
	f.Fuzz(func(t *testing.T, lt uint16, b []byte) {
		var d Decoder
		var p Packet
		fr := capture.Frame{Data: b, Len: len(b), LinkType: lt}
		d.Decode(&fr, &p)
	})
}

func BenchmarkDecode(b *testing.B) {
	var d Decoder
	var p Packet
	fr := seedFrames()
	b.ReportAllocs()
	b.SetBytes(int64(len(fr[0].Data)))
	for b.Loop() {
		d.Decode(&fr[0], &p)
	}
}

func TestPPPAndLoopbackLengths(t *testing.T) {
	var d Decoder
	var p Packet
	udp := udpHdr(1000, 33435, 0)
	ip := append(ipv4Hdr(17, len(udp), nil, 0), udp...)
	// PPP in HDLC framing, MPLS unicast, one label (bottom of stack), IPv4.
	fr := append([]byte{0xff, 0x03, 0x02, 0x81, 0x18, 0x96, 0x01, 0x01}, ip...)
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: 9}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Net != NetIPv4 || p.Proto != 17 || p.DstPort != 33435 || p.NMPLS != 1 || p.Encaps&(EncPPP|EncMPLS) != EncPPP|EncMPLS {
		t.Errorf("PPP/MPLS: %+v", p)
	}
	if p.WireLen != len(fr)-4 {
		t.Errorf("PPP WireLen %d, want %d (argus counts without the PPP header)", p.WireLen, len(fr)-4)
	}
	// BSD null: family 2 little-endian; argus does not count the family word.
	fr = append([]byte{2, 0, 0, 0}, ip...)
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: capture.LinkNull}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Net != NetIPv4 || p.WireLen != len(ip) {
		t.Errorf("null: net %v WireLen %d, want %d", p.Net, p.WireLen, len(ip))
	}
}

func TestSNAPNonIPStaysLLC(t *testing.T) {
	var d Decoder
	var p Packet
	// 802.3 length, LLC AA AA 03, SNAP OUI 00000c, type 0x2000 (CDP).
	fr := append([]byte{1, 0, 0x0c, 0xcc, 0xcc, 0xcc, 2, 0, 0, 0, 0, 1, 0, 30},
		0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, 0x02, 0xb4)
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: capture.LinkEthernet}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Net != NetNone || p.EtherType != 0 || p.DSAP != 0xaa || p.SSAP != 0xaa || p.Encaps&EncLLC == 0 {
		t.Errorf("CDP over SNAP: net %v ethertype %#x saps %#x/%#x", p.Net, p.EtherType, p.DSAP, p.SSAP)
	}
}

// TestERSPANAndVLANPayloadType: argus 3.0.8.2 follows GRE ERSPAN II to the
// mirrored frame (zeek erspanII.pcap: ICMP 23.0.0.2->23.0.0.3), and keys a
// payload it does not decode behind a VLAN tag by the Ethernet header's
// type 0x8100 (zeek pbb.pcap: ra prints proto 33024 for 802.1ah frames).
func TestERSPANAndVLANPayloadType(t *testing.T) {
	var d Decoder
	var p Packet
	icmp := []byte{8, 0, 0, 0, 0, 0x16, 0, 0}
	inner := append(ipv4Hdr(1, len(icmp), nil, 0), icmp...)
	copy(inner[12:], []byte{23, 0, 0, 2, 23, 0, 0, 3})
	gre := []byte{0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 4} // S bit, ERSPAN, sequence
	erspan := []byte{0x10, 0x17, 0x08, 0x64, 0, 0, 0, 0}
	pl := cat(gre, erspan, ethHdr(0x0800), inner)
	fr := cat(ethHdr(0x0800), ipv4Hdr(47, len(pl), nil, 0), pl)
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: capture.LinkEthernet}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Proto != 1 || p.Src != netip.MustParseAddr("23.0.0.2") || p.Encaps&EncERSPAN == 0 || p.WireLen != len(fr) {
		t.Errorf("ERSPAN II: proto %d src %v encaps %#x wirelen %d", p.Proto, p.Src, p.Encaps, p.WireLen)
	}
	erspan[0] = 0x20 // version 2: not followed, the GRE flow stays
	fr = cat(ethHdr(0x0800), ipv4Hdr(47, len(pl), nil, 0), gre, erspan, ethHdr(0x0800), inner)
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: capture.LinkEthernet}, &p); err != nil || p.Proto != 47 {
		t.Errorf("ERSPAN version 2: proto %d err %v, want GRE", p.Proto, err)
	}
	fr = cat(ethHdr(0x8100), []byte{0xef, 0xd3, 0x88, 0xe7}, make([]byte, 60))
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: capture.LinkEthernet}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Net != NetNone || p.EtherType != 0x8100 || p.VLAN != 0xefd3 {
		t.Errorf("PBB behind VLAN: net %v ethertype %#x vlan %#x", p.Net, p.EtherType, p.VLAN)
	}
}

// TestPPPoEDiscoveryEncaps: argus 3.0.8.2 on zeek pppoe.pcap prints the
// PADI cc:05:0e:88:00:00 -> Broadcast (0x8863) as a layer-2 flow with flgs
// '*': Ethernet and PPP encapsulation (ArgusProcessPPPoEHdr marks PPP on
// discovery frames too).
func TestPPPoEDiscoveryEncaps(t *testing.T) {
	var d Decoder
	var p Packet
	// PPPoE header: version/type 0x11, code 0x09 (PADI), session 0, length 4,
	// then a Service-Name tag of length 0.
	fr := cat(ethHdr(0x8863), []byte{0x11, 0x09, 0, 0, 0, 4, 0x01, 0x01, 0, 0})
	if err := d.Decode(&capture.Frame{Data: fr, Len: len(fr), LinkType: capture.LinkEthernet}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Net != NetNone || p.EtherType != 0x8863 || p.Encaps != EncEther|EncPPP {
		t.Errorf("PADI: net %v type %#x encaps %#x, want layer 2, 0x8863, Ethernet|PPP", p.Net, p.EtherType, p.Encaps)
	}
}
