// Command genpcap writes a deterministic synthetic Ethernet capture for
// benchmarks and sensor tests: interleaved TCP sessions (handshake, request,
// response segments, FIN or RST close, some refused connections), DNS over
// UDP, and ICMP echo, one flow in five over IPv6. About 200k flows per
// million packets; timestamps start at 1700000000 (2023-11-14 22:13:20 UTC)
// and advance 10-90 µs per packet. The same flags always give the same bytes.
//
//	go run ./conformance/tools/genpcap -n 1000000 -o gen.pcap
//
// It streams: memory stays constant whatever -n is.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const startTime = int64(1700000000) * 1e9

type kind uint8

const (
	kindTCP kind = iota
	kindDNS
	kindICMP
)

// tcpEnd is how a TCP session ends.
type tcpEnd uint8

const (
	endFIN     tcpEnd = iota // FIN/ACK both ways, final ACK
	endRST                   // client resets after the response
	endRefused               // SYN answered by RST/ACK
)

type flowState struct {
	kind             kind
	v6               bool
	cli, srv         net.IP
	cmac, smac       net.HardwareAddr
	cport, sport     uint16
	step             int
	cseq, sseq       uint32
	reqLen           int
	respSegs, segLen int
	lastLen          int
	end              tcpEnd
	echoes           int // ICMP echo requests to send
	unanswered       bool
	icmpID           uint16
	dnsID            uint16
	dnsName          int
	dnsAAAA          bool
}

type gen struct {
	rng   *rand.Rand
	w     *pcapWriter
	buf   gopacket.SerializeBuffer
	opts  gopacket.SerializeOptions
	now   int64
	nflow uint64

	eth   layers.Ethernet
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	echo6 layers.ICMPv6Echo
	dns   layers.DNS

	payload  []byte
	servers4 []net.IP
	servers6 []net.IP
	dns4     net.IP
	dns6     net.IP
	macs     []net.HardwareAddr
	gwMAC    net.HardwareAddr
	names    [][]byte
	mssOpt   []layers.TCPOption
}

var tcpPorts = []uint16{80, 443, 443, 443, 22, 8080, 25, 993}

func newGen(w *pcapWriter, seed uint64) *gen {
	g := &gen{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		w:       w,
		buf:     gopacket.NewSerializeBuffer(),
		opts:    gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		now:     startTime,
		payload: make([]byte, 1500),
		dns4:    net.IP{10, 0, 0, 53},
		dns6:    net.ParseIP("2001:db8::53"),
		gwMAC:   net.HardwareAddr{0x00, 0x1b, 0x21, 0x00, 0x00, 0x01},
	}
	for i := range g.payload {
		g.payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789 \r\n"[i%39]
	}
	for i := range 200 {
		if i < 100 {
			g.servers4 = append(g.servers4, net.IP{192, 0, 2, byte(1 + i)})
		} else {
			g.servers4 = append(g.servers4, net.IP{198, 51, 100, byte(1 + i - 100)})
		}
		g.servers6 = append(g.servers6, net.ParseIP(fmt.Sprintf("2001:db8:%x::%x", 1+i/100, 1+i%100)))
	}
	for i := range 64 {
		g.macs = append(g.macs, net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, byte(i >> 8), byte(i)})
	}
	for _, n := range []string{"example.com", "example.net", "example.org", "www.example.com",
		"mail.example.com", "api.example.net", "cdn.example.org", "ntp.example.com",
		"login.example.net", "static.example.org", "a.root-servers.net", "ftp.example.com"} {
		g.names = append(g.names, []byte(n))
	}
	g.mssOpt = []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}
	g.eth.EthernetType = layers.EthernetTypeIPv4
	g.ip4 = layers.IPv4{Version: 4, IHL: 5, TTL: 64, Flags: layers.IPv4DontFragment}
	g.ip6 = layers.IPv6{Version: 6, HopLimit: 64}
	return g
}

// newFlow starts flow number g.nflow. Client addresses and ports are derived
// from the flow number, so no two flows share a key.
func (g *gen) newFlow(f *flowState) {
	n := g.nflow
	g.nflow++
	r := g.rng
	*f = flowState{v6: r.IntN(5) == 0}
	h := n % 1000
	f.cport = uint16(20000 + (n/1000)%40000)
	if f.v6 {
		f.cli = net.IP{0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, byte(h >> 8), byte(h)}
	} else {
		f.cli = net.IP{10, 1, byte(h >> 8), byte(h)}
	}
	f.cmac = g.macs[h%uint64(len(g.macs))]
	f.smac = g.gwMAC
	switch x := r.IntN(100); {
	case x < 30:
		f.kind = kindTCP
		f.sport = tcpPorts[r.IntN(len(tcpPorts))]
		f.srv = g.server(f.v6)
		f.cseq = r.Uint32()
		f.sseq = r.Uint32()
		f.reqLen = 60 + r.IntN(540)
		f.respSegs = 1 + r.IntN(6)
		f.segLen = 1448
		f.lastLen = 1 + r.IntN(1448)
		switch y := r.IntN(100); {
		case y < 8:
			f.end = endRefused
		case y < 20:
			f.end = endRST
		default:
			f.end = endFIN
		}
	case x < 85:
		f.kind = kindDNS
		f.sport = 53
		if f.v6 {
			f.srv = g.dns6
		} else {
			f.srv = g.dns4
		}
		f.dnsID = uint16(r.Uint32())
		f.dnsName = r.IntN(len(g.names))
		f.dnsAAAA = r.IntN(3) == 0
	default:
		f.kind = kindICMP
		f.srv = g.server(f.v6)
		f.echoes = 1 + r.IntN(2)
		f.unanswered = r.IntN(10) == 0
		f.icmpID = uint16(n)
	}
}

func (g *gen) server(v6 bool) net.IP {
	if v6 {
		return g.servers6[g.rng.IntN(len(g.servers6))]
	}
	return g.servers4[g.rng.IntN(len(g.servers4))]
}

// ip fills the network layer for one packet and returns it.
func (g *gen) ip(f *flowState, fromClient bool, proto layers.IPProtocol) gopacket.SerializableLayer {
	src, dst := f.cli, f.srv
	g.eth.SrcMAC, g.eth.DstMAC = f.cmac, f.smac
	ttl := uint8(64)
	if !fromClient {
		src, dst = dst, src
		g.eth.SrcMAC, g.eth.DstMAC = f.smac, f.cmac
		ttl = 57
	}
	if f.v6 {
		g.eth.EthernetType = layers.EthernetTypeIPv6
		g.ip6.SrcIP, g.ip6.DstIP = src, dst
		g.ip6.NextHeader = proto
		g.ip6.HopLimit = ttl
		return &g.ip6
	}
	g.eth.EthernetType = layers.EthernetTypeIPv4
	g.ip4.SrcIP, g.ip4.DstIP = src, dst
	g.ip4.Protocol = proto
	g.ip4.TTL = ttl
	g.ip4.Id = uint16(g.rng.Uint32())
	return &g.ip4
}

func (g *gen) write(ls ...gopacket.SerializableLayer) error {
	if err := gopacket.SerializeLayers(g.buf, g.opts, ls...); err != nil {
		return err
	}
	t := g.now
	g.now += int64(10_000 + g.rng.IntN(80_000))
	return g.w.writePacket(t, g.buf.Bytes())
}

// tcpPacket sends one TCP segment.
func (g *gen) tcpPacket(f *flowState, fromClient bool, flags uint8, n int) error {
	ipl := g.ip(f, fromClient, layers.IPProtocolTCP)
	t := &g.tcp
	*t = layers.TCP{Window: 64240, DataOffset: 5}
	if fromClient {
		t.SrcPort, t.DstPort = layers.TCPPort(f.cport), layers.TCPPort(f.sport)
		t.Seq, t.Ack = f.cseq, f.sseq
	} else {
		t.SrcPort, t.DstPort = layers.TCPPort(f.sport), layers.TCPPort(f.cport)
		t.Seq, t.Ack = f.sseq, f.cseq
		t.Window = 65160
	}
	t.SYN = flags&0x02 != 0
	t.FIN = flags&0x01 != 0
	t.RST = flags&0x04 != 0
	t.PSH = flags&0x08 != 0
	t.ACK = flags&0x10 != 0
	if t.SYN {
		t.Options = g.mssOpt
	}
	if !t.ACK {
		t.Ack = 0
	}
	_ = t.SetNetworkLayerForChecksum(ipl.(gopacket.NetworkLayer))
	adv := uint32(n)
	if t.SYN || t.FIN {
		adv++
	}
	if fromClient {
		f.cseq += adv
	} else {
		f.sseq += adv
	}
	return g.write(&g.eth, ipl, t, gopacket.Payload(g.payload[:n]))
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// next emits the next packet of f and reports whether f is finished.
func (g *gen) next(f *flowState) (bool, error) {
	s := f.step
	f.step++
	switch f.kind {
	case kindTCP:
		return g.nextTCP(f, s)
	case kindDNS:
		return s == 1, g.dnsPacket(f, s == 0)
	default:
		last := 2*f.echoes - 1
		if f.unanswered {
			last = f.echoes - 1
			return s == last, g.icmpPacket(f, true, uint16(s+1))
		}
		return s == last, g.icmpPacket(f, s%2 == 0, uint16(s/2+1))
	}
}

func (g *gen) nextTCP(f *flowState, s int) (bool, error) {
	switch {
	case s == 0:
		return false, g.tcpPacket(f, true, fSYN, 0)
	case s == 1 && f.end == endRefused:
		f.sseq = 0
		return true, g.tcpPacket(f, false, fRST|fACK, 0)
	case s == 1:
		return false, g.tcpPacket(f, false, fSYN|fACK, 0)
	case s == 2:
		return false, g.tcpPacket(f, true, fACK, 0)
	case s == 3:
		return false, g.tcpPacket(f, true, fPSH|fACK, f.reqLen)
	case s < 4+f.respSegs:
		if s == 3+f.respSegs {
			return false, g.tcpPacket(f, false, fPSH|fACK, f.lastLen)
		}
		return false, g.tcpPacket(f, false, fACK, f.segLen)
	}
	s -= 4 + f.respSegs
	if f.end == endRST {
		return true, g.tcpPacket(f, true, fRST|fACK, 0)
	}
	switch s {
	case 0:
		return false, g.tcpPacket(f, true, fACK, 0)
	case 1:
		return false, g.tcpPacket(f, true, fFIN|fACK, 0)
	case 2:
		return false, g.tcpPacket(f, false, fFIN|fACK, 0)
	default:
		return true, g.tcpPacket(f, true, fACK, 0)
	}
}

func (g *gen) dnsPacket(f *flowState, query bool) error {
	ipl := g.ip(f, query, layers.IPProtocolUDP)
	u := &g.udp
	if query {
		u.SrcPort, u.DstPort = layers.UDPPort(f.cport), 53
	} else {
		u.SrcPort, u.DstPort = 53, layers.UDPPort(f.cport)
	}
	_ = u.SetNetworkLayerForChecksum(ipl.(gopacket.NetworkLayer))
	d := &g.dns
	qt := layers.DNSTypeA
	if f.dnsAAAA {
		qt = layers.DNSTypeAAAA
	}
	*d = layers.DNS{
		ID: f.dnsID, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: append(d.Questions[:0], layers.DNSQuestion{Name: g.names[f.dnsName], Type: qt, Class: layers.DNSClassIN}),
		Answers:   d.Answers[:0],
	}
	if !query {
		d.QR, d.RA = true, true
		a := layers.DNSResourceRecord{Name: g.names[f.dnsName], Type: qt, Class: layers.DNSClassIN, TTL: 300}
		if f.dnsAAAA {
			a.IP = g.servers6[f.dnsName]
		} else {
			a.IP = g.servers4[f.dnsName]
		}
		d.Answers = append(d.Answers, a)
	}
	return g.write(&g.eth, ipl, u, d)
}

func (g *gen) icmpPacket(f *flowState, request bool, seq uint16) error {
	data := gopacket.Payload(g.payload[:56])
	if f.v6 {
		ipl := g.ip(f, request, layers.IPProtocolICMPv6)
		t := uint8(layers.ICMPv6TypeEchoReply)
		if request {
			t = layers.ICMPv6TypeEchoRequest
		}
		g.icmp6 = layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(t, 0)}
		_ = g.icmp6.SetNetworkLayerForChecksum(ipl.(gopacket.NetworkLayer))
		g.echo6 = layers.ICMPv6Echo{Identifier: f.icmpID, SeqNumber: seq}
		return g.write(&g.eth, ipl, &g.icmp6, &g.echo6, data)
	}
	ipl := g.ip(f, request, layers.IPProtocolICMPv4)
	t := uint8(layers.ICMPv4TypeEchoReply)
	if request {
		t = layers.ICMPv4TypeEchoRequest
	}
	g.icmp4 = layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(t, 0), Id: f.icmpID, Seq: seq}
	return g.write(&g.eth, ipl, &g.icmp4, data)
}

// run writes n packets, interleaving up to active concurrent flows.
func (g *gen) run(n, active int) error {
	pool := make([]flowState, active)
	for i := range pool {
		g.newFlow(&pool[i])
	}
	for range n {
		i := g.rng.IntN(len(pool))
		done, err := g.next(&pool[i])
		if err != nil {
			return err
		}
		if done {
			g.newFlow(&pool[i])
		}
	}
	return nil
}

func main() {
	n := flag.Int("n", 1_000_000, "number of packets")
	out := flag.String("o", "gen.pcap", "output file (- for stdout)")
	seed := flag.Uint64("seed", 1, "random seed")
	active := flag.Int("active", 2000, "concurrent flows")
	flag.Parse()
	if err := generate(*out, *n, *active, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genpcap:", err)
		os.Exit(1)
	}
}

func generate(out string, n, active int, seed uint64) (err error) {
	var w io.Writer = os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := &pcapWriter{w: bw}
	if err := pw.writeHeader(65535, uint32(layers.LinkTypeEthernet)); err != nil {
		return err
	}
	g := newGen(pw, seed)
	if active < 1 {
		active = 1
	}
	if err := g.run(n, active); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genpcap: %d packets, %d flows started, %s\n", n, g.nflow, out)
	return nil
}

// pcapWriter writes the classic libpcap format (microsecond timestamps,
// little-endian). It is written here rather than taken from pcapgo so that
// the generator needs nothing beyond gopacket/layers.
type pcapWriter struct {
	w   io.Writer
	hdr [16]byte
}

func (p *pcapWriter) writeHeader(snaplen, linktype uint32) error {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snaplen)
	binary.LittleEndian.PutUint32(h[20:], linktype)
	_, err := p.w.Write(h[:])
	return err
}

func (p *pcapWriter) writePacket(ns int64, b []byte) error {
	binary.LittleEndian.PutUint32(p.hdr[0:], uint32(ns/1e9))
	binary.LittleEndian.PutUint32(p.hdr[4:], uint32(ns%1e9/1e3))
	binary.LittleEndian.PutUint32(p.hdr[8:], uint32(len(b)))
	binary.LittleEndian.PutUint32(p.hdr[12:], uint32(len(b)))
	if _, err := p.w.Write(p.hdr[:]); err != nil {
		return err
	}
	_, err := p.w.Write(b)
	return err
}
