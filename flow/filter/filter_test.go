package filter

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

const t0 = int64(1700000000) * 1e9

// testRecords returns a set of hand-built records covering the groups the
// filter language reads. Each is described by its name.
func testRecords() map[string]*flow.Record {
	a := netip.MustParseAddr
	m := map[string]*flow.Record{}

	// A complete TCP connection 10.0.0.1:40000 -> 10.0.0.2:80, 5/4 packets.
	tcp := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart, Seq: 7,
		Has: flow.HasSrcID | flow.HasSeq | flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP | flow.HasIPAttr | flow.HasMAC}
	tcp.SrcID = flow.SrcID{Type: flow.SrcIDIPv4, ID: [16]byte{192, 168, 7, 9}}
	tcp.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: a("10.0.0.1"), Dst: a("10.0.0.2"), SrcPort: 40000, DstPort: 80, Proto: 6}
	tcp.Start, tcp.Last = t0, t0+500e6
	tcp.Pkts = [2]uint64{5, 4}
	tcp.Bytes = [2]uint64{600, 3000}
	tcp.AppBytes = [2]uint64{100, 2500}
	tcp.TCP = flow.TCP{Object: flow.TCPPerf, Status: stSawSyn | stSynSent | stEstab | stFin | stNormal | stSrcRetrans,
		SynAck: 10000, AckDat: 10000, HasDst: true}
	tcp.TCP.Side[0] = flow.TCPSide{Flags: 0x1b, SeqBase: 1000, MSS: 1460, Retrans: 1}
	tcp.TCP.Side[1] = flow.TCPSide{Flags: 0x1b, SeqBase: 5000, MSS: 1400, Bytes: 2500, Seq: 5000 + 2500 + 101} // 100 bytes missing
	tcp.TCP.Options = 0x00100000 | 0x00200000 | 0x00400000 | 0x04000000                                        // MSS, wscale, SACK-OK, timestamp
	tcp.Has |= flow.HasCountry | flow.HasASN | flow.HasBehavior
	tcp.Country = [2][2]byte{{'U', 'S'}, {'D', 'E'}}
	tcp.ASN = flow.ASN{Src: 64500, Dst: 15169, Present: 3}
	tcp.Behavior = [2]uint32{12, 0}
	tcp.IPAttr = flow.IPAttr{Present: 3, TTL: [2]uint8{64, 57}, TOS: [2]uint8{0, 0x28}, IPID: [2]uint16{8, 9}}
	tcp.MAC = flow.MAC{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}, EtherType: 0x0800}
	// inter-packet times (ns): src active mean 125 ms, stdev 1.5 ms; dst
	// active mean 2.5 ms, stdev 0.25 ms; a src idle series the filter
	// does not read
	tcp.Has |= flow.HasJitter
	tcp.Jitter.Present = 0x01 | 0x02 | 0x04
	tcp.Jitter.Act = [2]flow.Stat{{N: 4, Min: 100e6, Mean: 125e6, StdDev: 1.5e6, Max: 150e6}, {N: 3, Min: 2e6, Mean: 2.5e6, StdDev: 0.25e6, Max: 3e6}}
	tcp.Jitter.Idle[0] = flow.Stat{N: 1, Mean: 900e6, StdDev: 400e6}
	m["tcp"] = tcp

	// A lone SYN that was reset: 10.0.0.3:40001 -> 10.0.0.2:22.
	rst := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP}
	rst.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: a("10.0.0.3"), Dst: a("10.0.0.2"), SrcPort: 40001, DstPort: 22, Proto: 6}
	rst.Start, rst.Last = t0, t0+1e6
	rst.Pkts = [2]uint64{1, 1}
	rst.Bytes = [2]uint64{60, 54}
	rst.TCP = flow.TCP{Object: flow.TCPPerf, Status: stSawSyn | 0x2000, HasDst: true}
	rst.TCP.Side[0].Flags = 0x02
	rst.TCP.Side[1].Flags = 0x14
	m["rst"] = rst

	// DNS query and answer 10.0.0.1:5353 -> 10.0.0.53:53, VLAN 100 prio 3.
	dns := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasIPAttr | flow.HasVLAN}
	dns.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: a("10.0.0.1"), Dst: a("10.0.0.53"), SrcPort: 5353, DstPort: 53, Proto: 17}
	dns.Start, dns.Last = t0, t0+2e6
	dns.Pkts = [2]uint64{1, 1}
	dns.Bytes = [2]uint64{80, 120}
	dns.IPAttr = flow.IPAttr{Present: 3, TTL: [2]uint8{64, 64}}
	dns.VLAN = flow.VLAN{TCI: [2]uint16{3<<13 | 100, 3<<13 | 100}, Present: 3}
	// a stray TCP object on a UDP flow: option keywords must not match it
	dns.Has |= flow.HasTCP
	dns.TCP.Options = 0xfff00000
	m["dns"] = dns

	// One-way UDP to a multicast group, with an MPLS label.
	mc := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStatus,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasMPLS | flow.HasIPAttr}
	mc.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: a("192.168.1.5"), Dst: a("224.0.0.251"), SrcPort: 5353, DstPort: 5353, Proto: 17}
	mc.Start, mc.Last = t0, t0+3e9
	mc.Pkts = [2]uint64{10, 0}
	mc.Bytes = [2]uint64{1000, 0}
	mc.MPLS = flow.MPLS{Label: [2]uint32{1000<<12 | 0x140, 0}, Count: [2]uint8{1, 0}}
	mc.IPAttr = flow.IPAttr{Present: 0x11, TTL: [2]uint8{1, 0}}
	mc.Has |= flow.HasCountry
	mc.Country[0] = [2]byte{'f', 'r'} // lower case, src only
	m["mcast"] = mc

	// ICMP echo request/reply.
	echo := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasICMPKey | flow.HasICMP}
	echo.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: a("10.0.0.1"), Dst: a("10.0.0.2"), Proto: 1, ICMPType: 8, ICMPID: 0x1234, ICMPSeq: 1}
	echo.ICMP = flow.ICMPInfo{Type: 8}
	echo.Start, echo.Last = t0, t0+1e6
	echo.Pkts = [2]uint64{1, 1}
	echo.Bytes = [2]uint64{98, 98}
	m["echo"] = echo

	// UDP flow that drew a port unreachable (ICMP mapped).
	unr := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasICMPMap}
	unr.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: a("10.0.0.1"), Dst: a("10.0.0.2"), SrcPort: 50000, DstPort: 9999, Proto: 17}
	unr.ICMPMap = flow.ICMPInfo{Qual: 1, Type: 3, Code: 3, OSrc: a("10.0.0.2"), ODst: a("10.0.0.1")}
	unr.Start, unr.Last = t0, t0
	unr.Pkts = [2]uint64{1, 0}
	unr.Bytes = [2]uint64{60, 0}
	unr.Has |= flow.HasASN
	unr.ASN = flow.ASN{Inode: 3320, Present: 4}
	m["unr"] = unr

	// IPv6 TCP, UUID source id with an interface name.
	v6 := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasSrcID | flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP}
	v6.SrcID = flow.SrcID{Type: flow.SrcIDUUID, HasInf: true, Inf: [4]byte{'e', 't', 'h', '0'},
		ID: [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}
	v6.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv6, Src: a("2001:db8::1"), Dst: a("2001:db8::2"), SrcPort: 1234, DstPort: 443, Proto: 6}
	v6.Start, v6.Last = t0, t0+2e9
	v6.Pkts = [2]uint64{20, 30}
	v6.Bytes = [2]uint64{2000, 30000}
	// a TCP status object (no counters) with a dst gap, aggregated from 4 records
	v6.TCP = flow.TCP{Object: flow.TCPStatus, Status: stSawSyn | stSynSent | stEstab | stSrcOOO<<1 | stSrcGap<<1,
		Options: 0x00800000 | 0x04000000 | 0x80000000} // SACK, timestamp, dst ECN
	v6.Has |= flow.HasAgr
	v6.Agr.Count = 4
	v6.TCP.Side[0].Flags = 0x1a
	v6.TCP.Side[1].Flags = 0x12
	m["v6"] = v6

	// ARP request/response with a broadcast destination MAC.
	arp := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasMAC}
	arp.Key = flow.Key{Kind: flow.KindARP, AddrType: flow.AddrARP, Src: a("10.0.0.1"), Dst: a("10.0.0.2")}
	arp.MAC = flow.MAC{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Flags: 2}
	arp.Pkts = [2]uint64{1, 1}
	m["arp"] = arp

	// LLDP layer-2 flow.
	lldp := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart, Has: flow.HasKey | flow.HasMetrics}
	lldp.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrEther, SrcMAC: [6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55},
		DstMAC: [6]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, EtherType: 0x88cc}
	lldp.Pkts = [2]uint64{3, 0}
	m["lldp"] = lldp

	// A management record.
	mar := &flow.Record{Type: flow.TypeMgmt, Cause: flow.CauseStart, Has: flow.HasMgmt}
	m["mar"] = mar
	return m
}

var semanticCases = []struct {
	expr string
	want string // space-separated names of the matching records
}{
	{"", "tcp rst dns mcast echo unr v6 arp lldp mar"},
	{"tcp", "tcp rst v6"},
	{"udp", "dns mcast unr"},
	{"icmp", "echo"},
	{"ip", "tcp rst dns mcast echo unr v6"},
	{"ipv4", "tcp rst dns mcast echo unr"},
	{"ipv6", "v6"},
	{"arp", "arp"},
	{"not ip and not arp", "lldp mar"},
	{"man", "mar"},
	{"far", "tcp rst dns mcast echo unr v6 arp lldp"},
	{"start", "tcp rst dns echo unr v6 arp lldp mar"},
	{"status", "mcast"},
	{"host 10.0.0.2", "tcp rst echo unr arp"},
	{"src host 10.0.0.2", ""},
	{"dst host 10.0.0.2", "tcp rst echo unr arp"},
	{"src 10.0.0.1", "tcp dns echo unr arp"},
	{"src and dst net 10.0.0.0/24", "tcp rst dns echo unr arp"},
	{"net 10.0.0.0 mask 255.255.255.0", "tcp rst dns echo unr arp"},
	{"net 2001:db8::/32", "v6"},
	{"host 2001:db8::2", "v6"},
	{"not host 10.0.0.1 and 10.0.0.2", "rst"},
	{"host 10.0.0.3 or 10.0.0.53", "rst dns"},
	{"host 10.0.0.1 and (10.0.0.53 or 224.0.0.251)", "dns"},
	{"tcp and dst port 80", "tcp"},
	{"port 53-80", "tcp dns"},
	{"port 80 or 22", "tcp rst"},
	{"port domain", "dns"},
	{"tcp port domain", ""},
	{"udp dst port domain or 5353", "dns mcast"},
	{"tcp dst port ftp or ftp-data or ssh", "rst"},
	{"dst port gt 1000", "mcast unr"},
	{"src port gte 5353 and lt 40000", "dns mcast"},
	{"(tcp or udp) and not port 53", "tcp rst mcast unr v6"},
	{"tcp or udp and port 53", "dns"},
	{"tcp or (udp and port 53)", "tcp rst dns v6"},
	{"tcp && port 80 || icmp", "tcp echo"},
	{"!tcp && ip", "dns mcast echo unr"},
	{"ip proto 17", "dns mcast unr"},
	{"proto 6", "tcp rst v6"},
	{"ipv6 proto tcp", "v6"},
	{"ether proto 0x88cc", "lldp"},
	{"ether proto arp", "arp"},
	{"ether proto 0x0800", "tcp rst dns mcast echo unr"},
	{"ether host 02:00:00:00:00:01", "tcp arp"},
	{"ether dst 2:0:0:0:0:2", "tcp"},
	{"ether src 00:11:22:33:44:55", "lldp"},
	{"pkts gt 4", "tcp mcast v6"},
	{"pkts gt 5", "mcast v6"},
	{"src pkts gt 5", "mcast v6"},
	{"dst pkts gt 5", "v6"},
	{"src and dst pkts gt 3", "tcp v6"},
	{"pkts eq 0", "mcast unr lldp"},
	{"pkts 1", "rst dns echo unr arp"},
	{"pkts != 1", "tcp mcast unr v6 lldp"},
	{"bytes gt 2999", "tcp v6"},
	{"dst bytes lte 0", "mcast unr arp lldp"},
	{"appbytes gt 0", "tcp"},
	{"data gt 2000", "tcp"},
	{"ttl eq 64", "tcp dns"},
	{"src ttl lt 2", "mcast"},
	{"dst ttl lt 2", ""},
	{"tos gt 0", "tcp"},
	{"dsb 10", "tcp"},
	{"ipid 9", "tcp"},
	{"vid 100", "dns"},
	{"vpri 3", "dns"},
	{"vid gt 100", ""},
	{"mid 1000", "mcast"},
	{"tcpb 5000", "tcp"},
	{"src tcpb 5000", ""},
	{"maxseg gt 1450", "tcp"},
	{"loss gt 0", "tcp"},
	{"seq 7", "tcp"},
	{"seq gt 7", ""},
	{"trans 1", "tcp rst dns mcast echo unr arp lldp mar"},
	{"trans 4", "v6"},
	{"count gt 1", "v6"},
	{"avgdur gt 0.4", "tcp mcast v6"},
	{"avgdur gt 0.6", "mcast"},
	{"dur gt 1.5 and avgdur lt 1", "v6"},
	{"avgdur eq 0", "unr arp"},
	{"tcpopt", "tcp v6"},
	{"mss", "tcp"},
	{"wscale and selackok", "tcp"},
	{"selack", "v6"},
	{"tcptimestamp", "tcp v6"},
	{"decn", "v6"},
	{"secn", ""},
	{"tcpecho or tcpechoreply or tcpcc or tcpccnew or tcpccecho", ""},
	{"tcp and not tcpopt", "rst"},
	{"udp and tcpopt", ""},
	{"gap gt 0", "tcp"},
	{"dst gap 100", "tcp"},
	{"src gap gt 0", ""},
	{"gap eq 0", "tcp rst v6"},
	{"src and dst gap eq 0", "rst"},
	{"co us", "tcp"},
	{"co FR", "mcast"},
	{"dst co de", "tcp"},
	{"src co de", ""},
	{"co neq us", "tcp mcast"},
	{"co us or fr", "tcp mcast"},
	{"cocode", "tcp mcast"},
	{"dst cocode", "tcp"},
	{"cocode de", "tcp"},
	{"ip and not cocode", "rst dns echo unr v6"},
	{"as 64500", "tcp"},
	{"dst asn gt 15000", "tcp"},
	{"src and dst as gt 0", "tcp"},
	{"asn eq 0", "unr"},
	{"inode as 3320", "unr"},
	{"inode asn gt 0 and udp", "unr"},
	{"nstroke gt 10", "tcp"},
	{"dst nstrokes gt 0", ""},
	{"src nstroke 12", "tcp"},
	{"dur gt 0.3", "tcp mcast v6"},
	{"dur gt 2", "mcast"},
	{"dur lt .001", "unr arp"},
	{"rate gt 5", "tcp v6"},
	{"dst rate gt 10", "v6"},
	{"load gt 100000", "v6"},
	{"tcprtt gt 0.01", "tcp"},
	{"intpkt gt 100", "tcp"},
	{"src intpkt lt 200", "tcp"},
	{"dst intpkt gt 2", "tcp"},
	{"dst intpkt gt 3", ""},
	{"intpkt gt 500", ""},
	{"jitter gt 1", "tcp"},
	{"src jitter lt 1.6", "tcp"},
	{"dst jitter gt 1", ""},
	{"dst jit lt 0.3", "tcp"},
	{"tcprtt gte 0.02", "tcp"},
	{"syn", "tcp rst v6"},
	{"src syn", "tcp rst v6"},
	{"dst syn", "tcp v6"},
	{"src and dst syn", "tcp v6"},
	{"fin", "tcp"},
	{"rst", "rst"},
	{"src reset", ""},
	{"dst rst", "rst"},
	{"push", "tcp v6"},
	{"dst push", "tcp"},
	{"urg or ece or cwr", ""},
	{"ack", "tcp rst v6"},
	{"synack", "tcp v6"},
	{"finack", ""},
	{"normal", "tcp"},
	{"wait", ""},
	{"est", "tcp dns echo v6"},
	{"con and udp", "dns"},
	{"retrans", "tcp"},
	{"dst retrans", ""},
	{"ooo", "v6"},
	{"src ooo", ""},
	{"dst ooo", "v6"},
	{"multipath", "arp"},
	{"src multipath", ""},
	{"frag", "mcast"},
	{"dst frag", ""},
	{"echo", "echo"},
	{"unreach", "unr"},
	{"unrport", "unr"},
	{"unrhost", ""},
	{"icmpmap", "unr"},
	{"redirect or timexed", ""},
	{"inode 10.0.0.2", "unr"},
	{"inode host 10.0.0.2", "unr"},
	{"inode net 10.0.0.0/24", "unr"},
	{"inode 10.0.0.0 mask 255.0.0.0", "unr"},
	{"inode 10.0.0.9 or 10.0.0.2", "unr"},
	{"inode net 192.168.0.0/16", ""},
	{"inode 10.0.0.1", ""},
	{"ip inode 10.0.0.2", "unr"},
	{"not inode 10.0.0.2", "tcp rst dns mcast echo v6 arp lldp mar"},
	{"vlan", "dns"},
	{"mpls", "mcast"},
	{"vlan or mpls", "dns mcast"},
	{"gre or vxlan or geneve", ""},
	{"multicast", "mcast"},
	{"ether multicast", "arp lldp"},
	{"ether broadcast", "arp"},
	{"broadcast", "arp"},
	{"ip broadcast", ""},
	{"srcid 192.168.7.9", "tcp"},
	{"srcid 3232237321", "tcp"},
	{"srcid 00112233-4455-6677-8899-aabbccddeeff", "v6"},
	{"srcid 00112233-4455-6677-8899-aabbccddeeff/eth0", "v6"},
	{"srcid 00112233-4455-6677-8899-aabbccddeeff/eth1", ""},
	{"inf eth0", "v6"},
	{"src host 10.0.0.1 and dst port 80 or dst port 53", "tcp dns"},
	{"not not tcp", "tcp rst v6"},
	{"not (tcp or udp or icmp)", "arp lldp mar"},
	{"tcp and not (syn and fin)", "rst v6"},
	{"port (80 or 443)", "tcp v6"},
	{"host 10.0.0.1 and not 10.0.0.2", "dns"},
	{"src or dst port 22", "rst"},
	{"src and dst port gt 20", "tcp rst dns mcast unr v6"},
	{"dst or src host 10.0.0.3", "rst"},
	{"tcp pkts gt 4", "tcp v6"},
	{"ip host 10.0.0.53", "dns"},
	{"arp host 10.0.0.1", "arp"},
	{`\tcp or tcp`, "tcp rst v6"},
}

func TestSemantics(t *testing.T) {
	recs := testRecords()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range recs {
			if !yield(k) {
				return
			}
		}
	})
	resolve := WithResolver(func(name string) ([]netip.Addr, error) {
		if name == "tcp" {
			return []netip.Addr{netip.MustParseAddr("10.9.9.9")}, nil
		}
		return nil, errors.New("no such host")
	})
	for _, c := range semanticCases {
		f, err := Compile(c.expr, resolve)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		want := map[string]bool{}
		for _, w := range strings.Fields(c.want) {
			want[w] = true
		}
		for _, n := range names {
			if got := f.Match(recs[n]); got != want[n] {
				t.Errorf("%q on %s: got %v, want %v", c.expr, n, got, want[n])
			}
		}
	}
}

// TestPrecedence checks that and/or have equal precedence and associate
// left to right, and that not binds tightest, by comparing expressions on
// every test record.
func TestPrecedence(t *testing.T) {
	recs := testRecords()
	cases := []struct{ a, b string }{
		{"tcp or udp and port 53", "(tcp or udp) and port 53"},
		{"udp and port 53 or tcp", "(udp and port 53) or tcp"},
		{"icmp or tcp and syn or udp", "((icmp or tcp) and syn) or udp"},
		{"not tcp and ip", "(not tcp) and ip"},
		{"not tcp or udp", "(not tcp) or udp"},
		{"! tcp || udp && port 53", "((not tcp) or udp) and port 53"},
		{"tcp dst port 80 or 22", "tcp dst port 80 or tcp dst port 22"},
		{"not host 10.0.0.1 and 10.0.0.2", "(not host 10.0.0.1) and host 10.0.0.2"},
		{"host 10.0.0.1 and not 10.0.0.2", "host 10.0.0.1 and not host 10.0.0.2"},
		{"src pkts gt 1 and lt 6", "src pkts gt 1 and src pkts lt 6"},
		{"port 53 or 80 and tcp", "(port 53 or port 80) and tcp"},
		{"src or dst pkts gt 4", "pkts gt 4"},
		{"src and dst pkts gt 3", "src pkts gt 3 and dst pkts gt 3"},
		{"pkts gt 4", "src pkts gt 4 or dst pkts gt 4"},
		{"port 53-80", "port gte 53 and port lte 80 and (src port gte 53 and src port lte 80 or dst port gte 53 and dst port lte 80)"},
	}
	for _, c := range cases {
		fa, err := Compile(c.a)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.a, err)
		}
		fb, err := Compile(c.b)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.b, err)
		}
		for n, r := range recs {
			if fa.Match(r) != fb.Match(r) {
				t.Errorf("%q and %q differ on %s", c.a, c.b, n)
			}
		}
	}
	// and the C-precedence reading must differ somewhere
	fa := MustCompile("tcp or udp and port 53")
	fb := MustCompile("tcp or (udp and port 53)")
	if fa.Match(recs["tcp"]) == fb.Match(recs["tcp"]) {
		t.Errorf("left-to-right and C precedence agree on tcp record")
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		expr   string
		offset int
		token  string
		msg    string
		is     error
	}{
		{"tcp and", 7, "", "unexpected end of expression", nil},
		{"tcp and and", 8, "and", `unexpected "and"`, nil},
		{"host 10.0.0.1 and and tcp", 18, "and", `unexpected "and"`, nil},
		{"tcp udp", 4, "udp", `unexpected "udp"`, nil},
		{"(tcp", 4, "", "unexpected end of expression", nil},
		{"tcp)", 3, ")", `unexpected ")"`, nil},
		{"port foo", 5, "foo", `unknown service "foo"`, ErrUnknownName},
		{"host gw.example", 5, "gw.example", `unknown host "gw.example"`, ErrUnknownName},
		{"dport gt 1000", 0, "dport", `unknown host "dport"`, ErrUnknownName},
		{"pkts gt x", 8, "x", `"x" is not an integer`, nil},
		{"dur gt fast", 7, "fast", `"fast" is not a number`, nil},
		{"proto nosuch", 6, "nosuch", `unknown protocol "nosuch"`, ErrUnknownName},
		{"src proto 6", 4, "proto", `direction applied to "proto"`, nil},
		{"tcp # x", 4, "#", `illegal character "#"`, nil},
		{"len > 5", 0, "len", `"len" is not supported: arithmetic (len, proto[x:y]) is not supported`, ErrUnsupported},
		{"ip proto[9:1] = 6", 8, "[", `unsupported operator "[" (arithmetic is not supported)`, ErrUnsupported},
		{"gateway 10.0.0.1", 0, "gateway", `"gateway" is not supported: gateway needs the gateway's hardware address from an ethers database, which flowgate does not read`, ErrUnsupported},
		{"lcl", 0, "lcl", `"lcl" is not supported: locality needs ra's RA_LOCAL configuration, which flowgate does not have`, ErrUnsupported},
		{"tcp and outbound", 8, "outbound", `"outbound" is not supported: direction of traffic needs ra's RA_LOCAL configuration, which flowgate does not have`, ErrUnsupported},
		{"src inode 10.0.0.2", 4, "inode", `direction applied to "inode"`, nil},
		{"inode 02:00:00:00:00:01", 6, "02:00:00:00:00:01", `inode needs an IP address, not "02:00:00:00:00:01"`, nil},
		{"co usa", 3, "usa", `"usa" is not a two-letter country code`, nil},
		{"co gt us", 6, "us", "a country code compares with eq or neq only", nil},
		{"as gt x", 6, "x", `"x" is not an integer`, nil},
		{"pkts gt 1 & 2", 10, "&", `unsupported operator "&" (arithmetic is not supported)`, ErrUnsupported},
		{"net 10.0.0.0/33", 13, "33", `bad prefix length "33"`, nil},
		{"gt 5", 0, "gt", `"gt" needs an attribute (e.g. "pkts gt 10")`, nil},
		{"tcp and 80", 8, "80", `"80" is not an address`, nil},
		{`srcid "abc`, 6, `"abc`, "unterminated string", nil},
		{"udp port 22-", 9, "22-", `unknown service "22-"`, ErrUnknownName},
	}
	for _, c := range cases {
		_, err := Compile(c.expr)
		if err == nil {
			t.Errorf("Compile(%q) succeeded", c.expr)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q): %T is not a *SyntaxError", c.expr, err)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Compile(%q): error does not match ErrSyntax", c.expr)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("Compile(%q): error does not match %v", c.expr, c.is)
		}
		if se.Offset != c.offset || se.Token != c.token || se.Msg != c.msg {
			t.Errorf("Compile(%q) = offset %d token %q msg %q; want %d %q %q", c.expr, se.Offset, se.Token, se.Msg, c.offset, c.token, c.msg)
		}
		if want := "filter: offset "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Compile(%q): %q lacks %q", c.expr, err, want)
		}
	}
}

func TestEmpty(t *testing.T) {
	for _, e := range []string{"", "  \t"} {
		f, err := Compile(e)
		if err != nil || !f.Match(&flow.Record{}) {
			t.Errorf("Compile(%q) = %v, %v; want match-all", e, f, err)
		}
	}
	var nilf *Filter
	if !nilf.Match(&flow.Record{}) {
		t.Errorf("nil filter does not match")
	}
	if s := MustCompile("tcp and port 80").String(); s != "tcp and port 80" {
		t.Errorf("String = %q", s)
	}
}

func TestMatchAllocs(t *testing.T) {
	recs := testRecords()
	for _, c := range semanticCases {
		f, err := Compile(c.expr)
		if err != nil {
			continue
		}
		for n, r := range recs {
			if a := testing.AllocsPerRun(50, func() { f.Match(r) }); a != 0 {
				t.Errorf("%q on %s: %v allocations per Match", c.expr, n, a)
			}
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, c := range semanticCases {
		f.Add(c.expr)
	}
	for _, e := range oracleExprs {
		f.Add(e)
	}
	f.Add("srcid \"ab\" or inf eth0 and (1.2.3.4 or not ::1)")
	f.Add("port (80 or (443 and not 22))")
	recs := testRecords()
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Compile(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(expr) {
				t.Fatalf("Compile(%q): bad error %v", expr, err)
			}
			return
		}
		for _, r := range recs {
			flt.Match(r)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	recs := testRecords()
	rs := make([]*flow.Record, 0, len(recs))
	for _, r := range recs {
		rs = append(rs, r)
	}
	for _, expr := range []string{
		"tcp",
		"tcp and dst port 80",
		"(tcp or udp) and not port 53 and pkts gt 4 and not host 10.0.0.3",
		"net 10.0.0.0/8 and (syn or rst) and dur gt 0.3",
	} {
		f := MustCompile(expr)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(1)
			n := 0
			for i := 0; b.Loop(); i++ {
				if f.Match(rs[i%len(rs)]) {
					n++
				}
			}
			_ = n
		})
	}
}
