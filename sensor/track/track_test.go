package track

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/decode"
)

func tcpPkt(ts int64, fwd bool, flags uint8, seq, ack uint32, app int) decode.Packet {
	p := decode.Packet{TS: ts, WireLen: 54 + app, Net: decode.NetIPv4, Proto: 6, TTL: 64, HasL4: true,
		Src: netip.MustParseAddr("10.0.0.9"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 80,
		TCPFlags: flags, Seq: seq, Ack: ack, Win: 8192, AppLen: app, Encaps: decode.EncEther}
	if !fwd {
		p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	}
	return p
}

func TestTCPHandshakeAndStatus(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
	ms := int64(time.Millisecond)
	t0 := int64(1700000000) * int64(time.Second)
	pk := []decode.Packet{
		tcpPkt(t0, true, decode.TCPSyn, 1000, 0, 0),
		tcpPkt(t0+1*ms, false, decode.TCPSyn|decode.TCPAck, 5000, 1001, 0),
		tcpPkt(t0+2*ms, true, decode.TCPAck, 1001, 5001, 0),
		tcpPkt(t0+3*ms, true, decode.TCPAck|decode.TCPPsh, 1001, 5001, 100),
		tcpPkt(t0+6000*ms, false, decode.TCPAck|decode.TCPPsh, 5001, 1101, 50), // next interval
		tcpPkt(t0+6001*ms, true, decode.TCPAck|decode.TCPFin, 1101, 5051, 0),
	}
	for i := range pk {
		tr.Packet(&pk[i])
	}
	tr.Flush()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	r := recs[0]
	if r.Cause != flow.CauseStart || r.Pkts != [2]uint64{3, 1} || r.Key.Src != netip.MustParseAddr("10.0.0.9") || !r.Key.RevBit {
		t.Errorf("first record: cause %x pkts %v key %+v", r.Cause, r.Pkts, r.Key)
	}
	if r.TCP.Status&0x7 != 0x7 || r.TCP.SynAck != 1000 || r.TCP.AckDat != 1000 {
		t.Errorf("tcp %+v", r.TCP)
	}
	r = recs[1]
	if r.Cause != flow.CauseStatus || r.Pkts != [2]uint64{1, 1} || r.TCP.Status&0x8 == 0 || r.TCP.Side[0].SeqBase != 1101 {
		t.Errorf("second record: cause %x pkts %v tcp %+v", r.Cause, r.Pkts, r.TCP)
	}
}

func TestIdleTimeout(t *testing.T) {
	n := 0
	tr := New(Options{}, func(r *flow.Record) { n++ })
	p := decode.Packet{TS: 1e18, WireLen: 60, Net: decode.NetIPv4, Proto: 17, HasL4: true,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2}
	tr.Packet(&p)
	tr.Advance(1e18 + int64(2*time.Second))
	// argus 3.0.8.2 reports the interval at the first scan after 5 s and
	// deletes the flow 30 s (UDP) after that scan, without another record.
	tr.Advance(1e18 + int64(31*time.Second))
	tr.Advance(1e18 + int64(33*time.Second))
	if n != 1 || tr.Active() != 1 {
		t.Fatalf("records %d active %d, want 1 record, flow kept 30 s after it", n, tr.Active())
	}
	tr.Advance(1e18 + int64(61*time.Second))
	if n != 1 || tr.Active() != 0 {
		t.Fatalf("records %d active %d, want 1 record, flow gone", n, tr.Active())
	}
}

// TestNoAllocSteadyState: a packet of an existing flow costs no allocation.
func TestNoAllocSteadyState(t *testing.T) {
	tr := New(Options{MAC: true, AppBytes: true, Jitter: true, PktSize: true}, func(r *flow.Record) {})
	ts := int64(1700000000) * int64(time.Second)
	p := tcpPkt(ts, true, decode.TCPSyn, 1000, 0, 0)
	tr.Packet(&p)
	seq := uint32(1001)
	allocs := testing.AllocsPerRun(1000, func() {
		ts += int64(time.Millisecond)
		q := tcpPkt(ts, true, decode.TCPAck, seq, 1, 100)
		seq += 100
		tr.Packet(&q)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}

func BenchmarkTrack(b *testing.B) {
	tr := New(Options{}, func(r *flow.Record) {})
	ts := int64(1700000000) * int64(time.Second)
	pk := make([]decode.Packet, 1024)
	for i := range pk {
		pk[i] = tcpPkt(ts, i%2 == 0, decode.TCPAck, uint32(i*100), 1, 100)
		pk[i].SrcPort = uint16(1000 + i/2)
		if i%2 == 1 {
			pk[i].DstPort = uint16(1000 + i/2)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &pk[i&1023]
		ts += 1000
		p.TS = ts
		tr.Packet(p)
	}
}

func udpPkt(ts int64, i int) decode.Packet {
	return decode.Packet{TS: ts, WireLen: 80, Net: decode.NetIPv4, Proto: 17, TTL: 64, HasL4: true,
		Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("192.0.2.1"),
		SrcPort: 40000, DstPort: 9999, AppLen: 38, Encaps: decode.EncEther}
}

// TestBytesPerFlow measures the heap held per active flow (default options).
func TestBytesPerFlow(t *testing.T) {
	const n = 200000
	pk := make([]decode.Packet, n)
	t0 := int64(1700000000) * int64(time.Second)
	for i := range pk {
		pk[i] = udpPkt(t0+int64(i), i)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	tr := New(Options{}, func(*flow.Record) {})
	for i := range pk {
		tr.Packet(&pk[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if tr.Active() != n {
		t.Fatalf("%d flows, want %d", tr.Active(), n)
	}
	per := float64(int64(m1.HeapAlloc-m0.HeapAlloc)+tr.mem.inUse()) / n
	t.Logf("%.0f bytes per active flow (Go heap and mapped; entry %d bytes), MemBytes %.0f per flow", per, unsafe.Sizeof(entry{}), float64(tr.MemBytes())/n)
	if per > 256 {
		t.Errorf("%.0f bytes per flow", per)
	}
	runtime.KeepAlive(tr)
	runtime.KeepAlive(pk)
}

// mixPkt returns the packets of flow i of the benchmark capture's mix
// (conformance/tools/genpcap): 30% TCP with a handshake, 55% DNS, 15% ICMP
// echo, one flow in five over IPv6. n says how many there are.
func mixPkt(ts int64, i int, j int) (p decode.Packet, n int) {
	var src, dst netip.Addr
	if i%5 == 0 {
		src = netip.AddrFrom16([16]byte{0xfd, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
		dst = netip.MustParseAddr("2001:db8::53")
	} else {
		src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		dst = netip.MustParseAddr("198.51.100.6")
	}
	switch x := i * 7919 % 100; {
	case x < 30:
		n = 3
		p = tcpPkt(ts, true, []uint8{decode.TCPSyn, decode.TCPSyn | decode.TCPAck, decode.TCPAck}[j], uint32(i), uint32(i), 0)
		p.SrcPort = 20000 + uint16(i)
		if j == 1 {
			p.SrcPort, p.DstPort = p.DstPort, p.SrcPort
		}
	case x < 85:
		n = 2
		p = udpPkt(ts, i)
		p.DstPort, p.Payload = 53, []byte{byte(i >> 8), byte(i)}
		if j == 1 {
			p.SrcPort, p.DstPort = p.DstPort, p.SrcPort
		}
	default:
		n = 2
		p = decode.Packet{TS: ts, WireLen: 98, Net: decode.NetIPv4, Proto: 1, TTL: 64, HasL4: true,
			ICMPType: 8, ICMPID: uint16(i), ICMPSeq: 1, Encaps: decode.EncEther}
		if src.Is6() {
			p.Proto, p.ICMPType = 58, 128
		}
		if j == 1 {
			p.ICMPType = 0
			if src.Is6() {
				p.ICMPType = 129
			}
		}
	}
	if src.Is6() {
		p.Net = decode.NetIPv6
	}
	p.Src, p.Dst = src, dst
	if j == 1 {
		p.Src, p.Dst = dst, src
	}
	return p, n
}

// TestBytesPerFlowMix: with default options a table of the benchmark
// capture's mix holds at most 256 bytes per active flow (issue 3), both
// as the Go heap measures it and as MemBytes reports it.
func TestBytesPerFlowMix(t *testing.T) {
	for _, n := range []int{100000, 200000} {
		t0 := int64(1700000000) * int64(time.Second)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		tr := New(Options{}, func(*flow.Record) {})
		ts := t0
		for i := range n {
			for j, k := 0, 1; j < k; j++ {
				var p decode.Packet
				p, k = mixPkt(ts, i, j)
				tr.Packet(&p)
				ts += 10000 // 100 k packets/s: no flow idles out
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		if tr.Active() != n || tr.Records != 0 {
			t.Fatalf("%d flows, %d records; want %d, 0", tr.Active(), tr.Records, n)
		}
		heap := float64(int64(m1.HeapAlloc-m0.HeapAlloc)+tr.mem.inUse()) / float64(n)
		mem := float64(tr.MemBytes()) / float64(n)
		t.Logf("%d flows: %.0f heap and mapped bytes, %.0f MemBytes per active flow (%d mapped)", n, heap, mem, tr.mem.inUse())
		if heap > 256 || mem > 256 {
			t.Errorf("%d flows: %.0f heap bytes, %.0f MemBytes per flow; want at most 256", n, heap, mem)
		}
		runtime.KeepAlive(tr)
	}
}

// TestNoAllocCreateExpire: with the free list warm, creating flows and
// expiring them allocates nothing.
func TestNoAllocCreateExpire(t *testing.T) {
	tr := New(Options{}, func(*flow.Record) {})
	t0 := int64(1700000000) * int64(time.Second)
	ts := t0
	i := 0
	step := func() {
		for range 64 { // 64 new flows per 100 ms; each idles out after 30 s
			ts += int64(100*time.Millisecond) / 64
			p := udpPkt(ts, i%1000000)
			i++
			tr.Packet(&p)
		}
	}
	for range 2000 { // warm: 200 s of packet time, table at steady state
		step()
	}
	n := testing.AllocsPerRun(200, step)
	if n != 0 {
		t.Fatalf("%v allocations per 64 flows created and expired", n)
	}
	if tr.Created-uint64(tr.Active()) < 100000 {
		t.Fatalf("created %d active %d: flows did not expire", tr.Created, tr.Active())
	}
}

func init() { checkKeys = true }

// TestFlushReuse: after Flush the table is empty and takes the same flows again.
func TestFlushReuse(t *testing.T) {
	var n int
	tr := New(Options{}, func(*flow.Record) { n++ })
	t0 := int64(1700000000) * int64(time.Second)
	for round := range 3 {
		for i := range 1000 {
			p := udpPkt(t0+int64(round*1000+i), i)
			tr.Packet(&p)
		}
		if tr.Active() != 1000 {
			t.Fatalf("round %d: %d active", round, tr.Active())
		}
		tr.Flush()
		if tr.Active() != 0 || n != 1000*(round+1) {
			t.Fatalf("round %d: %d active, %d records", round, tr.Active(), n)
		}
	}
}

// TestIdleExpiry: flows time out at the first scan at least their idle
// timeout after their last packet (30 s UDP, at most 10 s for a closed TCP
// flow), activity pushes that out, and a long gap expires everything.
func TestIdleExpiry(t *testing.T) {
	s := int64(time.Second)
	t0 := int64(1700000000) * s
	tr := New(Options{}, func(*flow.Record) {})
	udp := func(ts int64, port uint16) {
		p := udpPkt(ts, 1)
		p.SrcPort = port
		tr.Packet(&p)
	}
	// argus 3.0.8.2 deletes a flow its timeout after the scan that reported
	// its last interval (scans here about every 1.2 s, the first report
	// at +5.8 s).
	udp(t0, 1)              // idle from t0: reported at +5.8 s, expires at +35.8 s
	udp(t0, 2)              // active until ~+19.9 s: reported at ~+21.4 s, expires at ~+51.4 s
	udp(t0+s/2, 3)          // a packet every 0.3 s: scans at least every 1.3 s
	tcp := []decode.Packet{ // closed at t0: reported at +5.8 s, expires at +16.6 s
		tcpPkt(t0, true, decode.TCPSyn, 1000, 0, 0),
		tcpPkt(t0+1, false, decode.TCPSyn|decode.TCPAck, 5000, 1001, 0),
		tcpPkt(t0+2, true, decode.TCPAck|decode.TCPFin, 1001, 5001, 0),
		tcpPkt(t0+3, false, decode.TCPAck|decode.TCPFin, 5001, 1002, 0),
		tcpPkt(t0+4, true, decode.TCPAck, 1002, 5002, 0),
	}
	for i := range tcp {
		tr.Packet(&tcp[i])
	}
	want := map[int64]int{ // tenths of a second after t0 -> active flows
		150: 4, 172: 3, 345: 3, 372: 2, 500: 2, 528: 1,
	}
	for ts := t0 + s; ts < t0+60*s; ts += 3 * s / 10 {
		if ts < t0+20*s {
			udp(ts, 2)
		}
		udp(ts, 3)
		for d, n := range want {
			if ts >= t0+d*s/10 {
				if tr.Active() != n {
					t.Errorf("t0%+.1fs: %d active flows, want %d", float64(ts-t0)/1e9, tr.Active(), n)
				}
				delete(want, d)
			}
		}
	}
	// Ten years on: the scan reports flow 3's last interval and keeps it
	// (its timeout counts from this scan), beside the new flow.
	udp(t0+10*365*24*3600*s, 4)
	if tr.Active() != 2 {
		t.Fatalf("after a long gap: %d active flows, want 2", tr.Active())
	}
}

// TestScanInvariant: after every scan no flow in the table is past its idle
// timeout or owes a status record (what a full scan of the table gives),
// with random flows, TCP closes and out-of-order timestamps.
func TestScanInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tr := New(Options{TCPTimeout: 20 * time.Second, ICMPTimeout: 2 * time.Second}, func(*flow.Record) {})
	ts := int64(1700000000) * int64(time.Second)
	scans := 0
	for i := range 300000 {
		ts += int64(r.IntN(int(2 * time.Millisecond)))
		if r.IntN(5000) == 0 {
			ts += int64(r.IntN(int(40 * time.Second))) // quiet spell
		}
		pts := ts
		if r.IntN(50) == 0 {
			pts -= int64(r.IntN(int(3 * time.Second))) // from the past
		}
		f := r.IntN(3000)
		var p decode.Packet
		if f%2 == 0 {
			flags := []uint8{decode.TCPSyn, decode.TCPAck, decode.TCPAck | decode.TCPFin, decode.TCPRst}[r.IntN(4)]
			p = tcpPkt(pts, r.IntN(2) == 0, flags, uint32(i), uint32(i), r.IntN(100))
			p.SrcPort += uint16(f)
		} else {
			p = udpPkt(pts, f)
		}
		before := tr.nextScn
		tr.Packet(&p)
		if tr.nextScn == before {
			continue
		}
		scans++
		now := tr.now
		for j := range tr.ents.s[0].used + tr.ents.s[1].used {
			i := uint32(j)
			if j >= tr.ents.s[0].used {
				i = uint32(j-tr.ents.s[0].used) | tcpBit
			}
			e := tr.ents.at(i)
			if e.fl&fLive == 0 {
				continue
			}
			if e.seq == tr.seq && e.lastPkt == pts {
				continue // created by this packet, after the scan
			}
			// A reported flow's start is the report's scan time (repT).
			if e.fl&fDirty == 0 && now-e.start >= tr.timeout(e) && e.lastPkt != pts {
				t.Fatalf("packet %d: flow %d idle %v since its report (timeout %v) after a scan", i, e.seq,
					time.Duration(now-e.start), time.Duration(tr.timeout(e)))
			}
			if e.fl&fDirty != 0 && now-e.start >= tr.status && e.start != pts {
				t.Fatalf("packet %d: flow %d owes a status record (interval from %v ago)", i, e.seq, time.Duration(now-e.start))
			}
		}
	}
	if scans < 100 {
		t.Fatalf("%d scans", scans)
	}
}

// TestMaxMemory: under a small cap the table stays under it, flows the cap
// ends early are counted in Forced and still report every packet.
func TestMaxMemory(t *testing.T) {
	const maxMem = 1 << 20
	for _, opt := range []Options{{MaxMemory: maxMem}, {MaxMemory: maxMem, MAC: true, Jitter: true, PktSize: true, UserData: 16}} {
		var pkts uint64
		tr := New(opt, func(r *flow.Record) { pkts += r.Pkts[0] + r.Pkts[1] })
		ts := int64(1700000000) * int64(time.Second)
		fed := uint64(0)
		const n = 50000
		for i := range n {
			for j, k := 0, 1; j < k; j++ {
				var p decode.Packet
				p, k = mixPkt(ts, i, j)
				tr.Packet(&p)
				fed++
				ts += 10000 // 1.5 s in all: nothing idles out
				if m := tr.MemBytes(); m > maxMem {
					t.Fatalf("flow %d: MemBytes %d over the cap %d: %s", i, m, maxMem, tr.memBreakdown())
				}
			}
		}
		active := tr.Active()
		if tr.Forced == 0 || tr.Created != n || tr.Created-uint64(tr.Active()) != tr.Forced {
			t.Fatalf("created %d, active %d, forced %d: want every flow that left forced", tr.Created, tr.Active(), tr.Forced)
		}
		tr.Flush()
		if pkts != fed {
			t.Fatalf("records hold %d packets, fed %d", pkts, fed)
		}
		t.Logf("%d flows, %d forced, %d active at the end", n, tr.Forced, active)
	}
}

// memBreakdown says where MemBytes goes.
func (t *Tracker) memBreakdown() string {
	w := 0
	for _, x := range t.wheel {
		w += cap(x) * 4
	}
	return fmt.Sprintf("ents %d+%d icmps %d rares %d idx %d wheel %d pend %d out %d n %d used %d", t.ents.s[0].bytes(), t.ents.s[1].bytes(), t.icmps.bytes(), t.rares.bytes(), len(t.idx.slots)*8, w, cap(t.pend)*4, cap(t.out)*8, t.idx.n, t.ents.s[0].used+t.ents.s[1].used)
}

// TestPacketsSameAsPacket: Packets gives the records Packet gives, one
// packet at a time, on random traffic (the mix, TCP closes and restarts,
// ICMP errors quoting flows, packets from the past, quiet spells).
func TestPacketsSameAsPacket(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ts := int64(1700000000) * int64(time.Second)
	var pk []decode.Packet
	for i := range 60000 {
		ts += int64(r.IntN(int(time.Millisecond)))
		if r.IntN(20000) == 0 {
			ts += int64(r.IntN(int(40 * time.Second)))
		}
		pts := ts
		if r.IntN(50) == 0 {
			pts -= int64(r.IntN(int(3 * time.Second)))
		}
		f := r.IntN(5000)
		switch r.IntN(4) {
		case 0:
			flags := []uint8{decode.TCPSyn, decode.TCPAck, decode.TCPAck | decode.TCPFin, decode.TCPRst}[r.IntN(4)]
			p := tcpPkt(pts, r.IntN(2) == 0, flags, uint32(i), uint32(i), r.IntN(100))
			p.SrcPort += uint16(f)
			pk = append(pk, p)
		case 1:
			p := udpPkt(pts, f)
			q := p // port unreachable from the destination, quoting p
			q.Proto, q.Src, q.Dst, q.ICMPType, q.ICMPCode = 1, p.Dst, p.Src, 3, 3
			q.HasQuote, q.QSrc, q.QDst, q.QProto, q.QSrcPort, q.QDstPort = true, p.Src, p.Dst, 17, p.SrcPort, p.DstPort
			pk = append(pk, p, q)
		default:
			p, _ := mixPkt(pts, f, r.IntN(2))
			pk = append(pk, p)
		}
	}
	var want, got []flow.Record
	keep := func(rs *[]flow.Record) func(*flow.Record) {
		return func(r *flow.Record) {
			c := *r
			c.Detach()
			for j := range c.Jitter.Act {
				if st := &c.Jitter.Act[j]; math.IsNaN(st.StdDev) {
					st.StdDev = -1 // NaN != NaN
				}
			}
			*rs = append(*rs, c)
		}
	}
	a, b := New(Options{Jitter: true, MAC: true}, keep(&want)), New(Options{Jitter: true, MAC: true}, keep(&got))
	for i := range pk {
		a.Packet(&pk[i])
	}
	for ps := pk; len(ps) > 0; {
		n := min(len(ps), 1+r.IntN(100))
		b.Packets(ps[:n])
		ps = ps[n:]
	}
	a.Flush()
	b.Flush()
	if len(want) < 10000 || len(got) != len(want) {
		t.Fatalf("%d records by Packets, %d by Packet", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestPacketsNoAlloc: Packets on warm flows allocates nothing.
func TestPacketsNoAlloc(t *testing.T) {
	tr := New(Options{}, func(*flow.Record) {})
	ts := int64(1700000000) * int64(time.Second)
	pk := make([]decode.Packet, 64)
	for i := range pk {
		pk[i], _ = mixPkt(ts, i, 0)
	}
	tr.Packets(pk)
	n := testing.AllocsPerRun(100, func() {
		for i := range pk {
			ts += 1000
			pk[i].TS = ts
		}
		tr.Packets(pk)
	})
	if n != 0 {
		t.Fatalf("%v allocations per batch", n)
	}
}

// TestRefusedSynContinues: argus 3.0.8.2 on zeek pop3.pcap (192.168.0.4:
// 26242 -> 212.227.15.188:110, SYN then RST-ACK acking it, three times)
// writes one record of 3+3 packets, state RST, flag s (SYN retransmitted);
// a RST that does not acknowledge the SYN lets the next SYN start anew.
func TestRefusedSynContinues(t *testing.T) {
	ms := int64(time.Millisecond)
	t0 := int64(1377201633) * int64(time.Second)
	for _, c := range []struct {
		ack  uint32
		recs int
	}{{3145310915, 1}, {77, 3}} {
		var recs []flow.Record
		tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
		for i := range 3 {
			ts := t0 + int64(i)*500*ms
			pk := []decode.Packet{
				tcpPkt(ts, true, decode.TCPSyn, 3145310914, 0, 0),
				tcpPkt(ts+50*ms, false, decode.TCPRst|decode.TCPAck, 0, c.ack, 0),
			}
			for j := range pk {
				tr.Packet(&pk[j])
			}
		}
		tr.Flush()
		if len(recs) != c.recs {
			t.Fatalf("RST ack %d: %d records, want %d", c.ack, len(recs), c.recs)
		}
		if r := recs[0]; c.recs == 1 && (r.Pkts != [2]uint64{3, 3} || r.TCP.Status&0x100 == 0) {
			t.Errorf("refused SYN: pkts %v status %#x, want 3/3 with source retransmission", r.Pkts, r.TCP.Status)
		}
	}
}

// TestSynAckFromLastSyn: argus 3.0.8.2 on zeek pop3.pcap 26284 (SYN at
// .627010, SYN again at 79.622852, SYN-ACK at 79.672783) prints synack
// 0.049931: timed from the retransmitted SYN.
func TestSynAckFromLastSyn(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
	us := int64(time.Microsecond)
	t0 := int64(1377201676) * int64(time.Second)
	pk := []decode.Packet{
		tcpPkt(t0+627010*us, true, decode.TCPSyn, 3198861406, 0, 0),
		tcpPkt(t0+3622852*us, true, decode.TCPSyn, 3198861406, 0, 0),
		tcpPkt(t0+3672783*us, false, decode.TCPSyn|decode.TCPAck, 2878246233, 3198861407, 0),
	}
	for i := range pk {
		tr.Packet(&pk[i])
	}
	tr.Flush()
	if len(recs) != 1 || recs[0].TCP.SynAck != 49931 {
		t.Fatalf("records %d synack %d us, want 1 record, 49931", len(recs), recs[0].TCP.SynAck)
	}
}

// TestStartSecondsOnly: argus 3.0.8.2 on zeek tcp/miss_end_data.pcap: the
// second record of 192.168.122.230:60648->77.238.160.184:80 starts at
// 1331764481.712243, the client's ACK, though the server's FIN came first
// at .712014 in the same second (argus compares start times by second);
// a destination packet in an earlier second stays the start.
func TestStartSecondsOnly(t *testing.T) {
	us := int64(time.Microsecond)
	for _, c := range []struct{ fin, want int64 }{
		{1331764481712014, 1331764481712243},
		{1331764480999000, 1331764480999000},
	} {
		var recs []flow.Record
		tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
		pk := []decode.Packet{
			tcpPkt(1331764471664131*us, true, decode.TCPSyn, 3810936567, 0, 0),
			tcpPkt(1331764471669683*us, false, decode.TCPSyn|decode.TCPAck, 1268090424, 3810936568, 0),
			tcpPkt(c.fin*us, false, decode.TCPAck|decode.TCPFin, 1268093327, 3810937106, 0),
			tcpPkt(1331764481712243*us, true, decode.TCPAck, 3810937106, 1268093328, 0),
		}
		for i := range pk {
			tr.Packet(&pk[i])
		}
		tr.Flush()
		if len(recs) != 2 || recs[1].Start != c.want*us {
			t.Fatalf("FIN at %d: %d records, second starts %d, want %d", c.fin, len(recs), recs[len(recs)-1].Start/us, c.want)
		}
	}
}

// TestResetClosing: argus 3.0.8.2 on zeek tunnels/Teredo.pcap (192.168.
// 2.16:1578 -> 75.126.203.78:80): the client's RST (seq 943496510, its
// ack 4057007861) leaves the flow CLOSING with the TCP timeout, so the
// server's RST 18 s later is a second record of the same flow (0+1 pkts),
// not a new flow; a RST whose seq is in the window above its sender's own
// ack - 1 closes it (10 s).
func TestResetClosing(t *testing.T) {
	us := int64(time.Microsecond)
	for _, c := range []struct {
		seq  uint32
		want [2]uint64 // second record's packets
	}{{943496510, [2]uint64{0, 1}}, {4057007860, [2]uint64{1, 0}}} {
		var recs []flow.Record
		tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
		pk := []decode.Packet{
			tcpPkt(1210953057834454*us, true, decode.TCPSyn, 943495719, 0, 0),
			tcpPkt(1210953057914475*us, false, decode.TCPSyn|decode.TCPAck, 4057007689, 943495720, 0),
			tcpPkt(1210953058142847*us, true, decode.TCPAck, 943496510, 4057007861, 0),
			tcpPkt(1210953058242362*us, true, decode.TCPAck|decode.TCPRst, c.seq, 4057007861, 0),
			udpPkt(1210953063000000*us, 1), // a scan: the TCP flow's report, its timeout starts
			udpPkt(1210953074000000*us, 1), // a scan 11 s later: a closed flow (10 s) is gone
			tcpPkt(1210953076058333*us, false, decode.TCPAck|decode.TCPRst, 4057007861, 943496510, 0),
		}
		for i := range pk {
			tr.Packet(&pk[i])
		}
		tr.Flush()
		var tcp []flow.Record
		for _, r := range recs {
			if r.Key.Proto == 6 {
				tcp = append(tcp, r)
			}
		}
		if len(tcp) != 2 || tcp[1].Pkts != c.want {
			t.Errorf("RST seq %d: %d TCP records, want 2 records, last %v", c.seq, len(tcp), c.want)
		}
	}
}

// TestIPv6TOS: argus 3.0.8.2 on zeek ftp/ipv6.pcap prints dtos 206 for
// 2001:470:4867:99::21, whose packets carry traffic class 0 and flow label
// 0x01cef: it reads the TOS from the label's bits 4-11.
func TestIPv6TOS(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
	p := tcpPkt(1329327777822004000, true, decode.TCPSyn, 1, 0, 0)
	p.Net, p.Src, p.Dst = decode.NetIPv6, netip.MustParseAddr("2001:470:4867:99::21"), netip.MustParseAddr("2001:470:1f11:81f::1")
	p.TOS, p.FlowLbl = 0, 0x01cef
	tr.Packet(&p)
	tr.Flush()
	if len(recs) != 1 || recs[0].IPAttr.TOS[0] != 206 {
		t.Fatalf("%d records, tos %d, want 206", len(recs), recs[0].IPAttr.TOS[0])
	}
}

// TestICMPMapsDNS: argus 3.0.8.2 on zeek tunnels/gre-sample.pcap maps the
// port unreachable quoting 66.59.111.190:37675 -> 172.28.2.3:53 to that
// DNS flow (flag U, last time the error's); the quoted DNS transaction id
// is part of the flow's key.
func TestICMPMapsDNS(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
	src, dst := netip.MustParseAddr("66.59.111.190"), netip.MustParseAddr("172.28.2.3")
	dns := []byte{0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	u := decode.Packet{TS: 1055289987055189000, WireLen: 99, Net: decode.NetIPv4, Proto: 17, TTL: 64, HasL4: true,
		Src: src, Dst: dst, SrcPort: 37675, DstPort: 53, AppLen: len(dns), Payload: dns}
	quote := append([]byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 66, 59, 111, 190, 172, 28, 2, 3,
		0x93, 0x2b, 0, 53, 0, 20, 0, 0}, dns...)
	ic := decode.Packet{TS: 1055289987106744000, WireLen: 127, Net: decode.NetIPv4, Proto: 1, TTL: 63, HasL4: true,
		Src: dst, Dst: src, ICMPType: 3, ICMPCode: 3, Payload: quote, HasQuote: true,
		QSrc: src, QDst: dst, QProto: 17, QSrcPort: 37675, QDstPort: 53}
	tr.Packet(&u)
	tr.Packet(&ic)
	tr.Flush()
	for _, r := range recs {
		if r.Key.Proto == 17 && (r.Has&flow.HasICMPMap == 0 || r.Last != ic.TS) {
			t.Fatalf("DNS flow: mapped %v, last %d, want the ICMP error mapped at %d", r.Has&flow.HasICMPMap != 0, r.Last, ic.TS)
		}
	}
}

// TestICMPAppBytes: argus 3.0.8.2 -A on zeek communityid/icmp.pcap counts
// 40 application bytes per 74-byte echo (the 8-byte header and 32 data).
func TestICMPAppBytes(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{AppBytes: true}, func(r *flow.Record) { recs = append(recs, *r) })
	p := decode.Packet{TS: 1e18, WireLen: 74, Net: decode.NetIPv4, Proto: 1, TTL: 64, HasL4: true,
		Src: netip.MustParseAddr("192.168.0.89"), Dst: netip.MustParseAddr("192.168.0.1"),
		ICMPType: 8, L4HdrLen: 8, AppLen: 32}
	tr.Packet(&p)
	tr.Flush()
	if len(recs) != 1 || recs[0].AppBytes[0] != 40 {
		t.Fatalf("%d records, app bytes %v, want 40", len(recs), recs[0].AppBytes)
	}
}

// TestArgusSeqFlags: argus 3.0.8.2's TCP sequence tracking decides the
// retransmission, out-of-order and window-shut flags, per record. On the
// benchmark capture (.bench/gen-1000000.pcap, 10.1.1.146:20000 ->
// 198.51.100.45:443) argus -X prints flgs 'e r' (destination out of order):
// the server's data segments carry random IP ids, and one 1105 below the
// previous one (as argus stores them, unswapped) counts as out of order.
// Its next record, a lone keep-alive behind the acknowledged sequence,
// is a source retransmission only ('e s' in smb3_multichannel.pcap).
func TestArgusSeqFlags(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
	us := int64(time.Microsecond)
	t0 := int64(1700000000) * int64(time.Second)
	type seg struct {
		us       int64
		fwd      bool
		flags    uint8
		seq, ack uint32
		n        int
		ipid     uint32
		win      uint16
	}
	const A, P, S, F = decode.TCPAck, decode.TCPPsh, decode.TCPSyn, decode.TCPFin
	for _, s := range []seg{
		{502, true, S, 3039953444, 0, 0, 0x868d, 64240},
		{21687, false, S | A, 873677123, 3039953445, 0, 0x1e63, 65160},
		{69077, true, A, 3039953445, 873677124, 0, 0xaa36, 64240},
		{91746, true, A | P, 3039953445, 873677124, 85, 0x53af, 64240},
		{105320, false, A, 873677124, 3039953530, 1448, 0xc993, 65160},
		{164587, false, A, 873678572, 3039953530, 1448, 0x10cc, 65160},
		{347540, false, A, 873680020, 3039953530, 1448, 0xd176, 65160},
		{580275, false, A, 873681468, 3039953530, 1448, 0x8072, 65160},
		{728218, false, A | P, 873682916, 3039953530, 404, 0x5cd7, 65160},
		{893301, true, A, 3039953530, 873683320, 0, 0xb37c, 64240},
		// next record: a keep-alive one byte behind, acknowledged
		{7000000, true, A, 3039953529, 873683320, 1, 0xb37d, 64240},
		{7000100, false, A, 873683320, 3039953530, 0, 0x5cd8, 65160},
	} {
		p := tcpPkt(t0+s.us*us, s.fwd, s.flags, s.seq, s.ack, s.n)
		p.IPID, p.Win = s.ipid, s.win
		tr.Packet(&p)
	}
	tr.Flush()
	const srcRetrans, dstRetrans, dstOOO, ooo = 0x100, 0x200, 0x20000, 0x30000
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if st := recs[0].TCP.Status; st&ooo != dstOOO || st&(srcRetrans|dstRetrans) != 0 {
		t.Errorf("first record status %#x, want destination out of order only", st)
	}
	if st := recs[1].TCP.Status; st&ooo != 0 || st&(srcRetrans|dstRetrans) != srcRetrans {
		t.Errorf("second record status %#x, want source retransmission only", st)
	}
}

// TestSynRetransAckDat: argus 3.0.8.2 on zeek ssh/ssh.pcap
// (192.168.1.31:51489 -> 192.168.1.32:22: SYN, SYN-ACK three times, then
// the ACK) prints flgs '*' (a SYN sent again in SYN_RECEIVED is a source
// retransmission, a SYN-ACK sent again a destination one) and ackdat
// 0.000995, timed from the last SYN-ACK; on tcp/missing-syn.pcap, whose
// flow begins with the SYN-ACK, ackdat 0.
func TestSynRetransAckDat(t *testing.T) {
	us := int64(time.Microsecond)
	t0 := int64(1421006072) * int64(time.Second)
	const A, S = decode.TCPAck, decode.TCPSyn
	run := func(pk []decode.Packet) flow.Record {
		var recs []flow.Record
		tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
		for i := range pk {
			tr.Packet(&pk[i])
		}
		tr.Flush()
		if len(recs) != 1 {
			t.Fatalf("%d records, want 1", len(recs))
		}
		return recs[0]
	}
	var pk []decode.Packet
	for _, o := range []int64{1012, 113515, 214712} {
		pk = append(pk, tcpPkt(t0+o*us, true, S, 1131424221, 0, 0), tcpPkt(t0+(o+45)*us, false, S|A, 3695444945, 1131424222, 0))
	}
	pk = append(pk, tcpPkt(t0+215749*us, true, A, 1131424222, 3695444946, 0))
	if r := run(pk); r.TCP.Status&0x300 != 0x300 || r.TCP.AckDat != 215749-214757 {
		t.Errorf("ssh 51489: status %#x ackdat %d us, want both retransmissions, %d", r.TCP.Status, r.TCP.AckDat, 215749-214757)
	}
	r := run([]decode.Packet{
		tcpPkt(t0, false, S|A, 2697137987, 1512382794, 0),
		tcpPkt(t0+649*us, true, A, 1512382794, 2697137988, 0),
	})
	if r.TCP.AckDat != 0 {
		t.Errorf("flow from the SYN-ACK: ackdat %d us, want 0", r.TCP.AckDat)
	}
}

// TestECN: argus 3.0.8.2 on zeek tunnels/gre-sample.pcap (66.59.111.190:
// 40264 -> 172.28.2.3:22: SYN with ECE and CWR, SYN-ACK with ECE) writes
// TCP status 0x801d (destination congested, no SAW_SYN_SENT), options
// with SRC_ECN (0x40000000), synack and ackdat 0.
func TestECN(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{}, func(r *flow.Record) { recs = append(recs, *r) })
	us := int64(time.Microsecond)
	t0 := int64(1055289978) * int64(time.Second)
	const A, S, E, C = decode.TCPAck, decode.TCPSyn, decode.TCPEce, decode.TCPCwr
	pk := []decode.Packet{
		tcpPkt(t0+756932*us, true, S|E|C, 813658343, 0, 0),
		tcpPkt(t0+802836*us, false, S|A|E, 4183186840, 813658344, 0),
		tcpPkt(t0+802908*us, true, A, 813658344, 4183186841, 0),
	}
	for i := range pk {
		tr.Packet(&pk[i])
	}
	tr.Flush()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	tc := recs[0].TCP
	if tc.Status&0xc002 != 0x8000 || tc.Options&0xc0000000 != 0x40000000 || tc.SynAck != 0 || tc.AckDat != 0 {
		t.Errorf("status %#x options %#x synack %d ackdat %d, want dst congested without SAW_SYN_SENT, SRC_ECN, 0, 0",
			tc.Status, tc.Options, tc.SynAck, tc.AckDat)
	}
}

// TestOptionBytes: argus 3.0.8.2 -A -Z -U 32 counts application bytes of
// an ARP packet as its frame length less the 28-byte ARP body (zeek
// communityid/arp.pcap: 14 for 42 bytes), of a layer-2 frame as its length
// (tcpdump LLDP_and_CDP.pcap: 388), of another IP protocol as its whole
// payload (pim-packet-assortment.pcap: 14 for a 48-byte PIM hello); a
// datagram's non-first fragments add to none of appbytes, packet sizes and
// user data (generated ipv4_frag.pcap: sminsz 1514, sappbytes 1480), and
// user data restart every record.
func TestOptionBytes(t *testing.T) {
	var recs []flow.Record
	tr := New(Options{AppBytes: true, PktSize: true, UserData: 32}, func(r *flow.Record) { recs = append(recs, *r) })
	t0 := int64(1700000000) * int64(time.Second)
	arp := decode.Packet{TS: t0, WireLen: 42, Net: decode.NetARP, ARPOp: 1, ARPHrd: 1, ARPPro: 0x800, ARPHln: 6, ARPPln: 4,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}
	l2 := decode.Packet{TS: t0, WireLen: 388, HasMAC: true, SrcMAC: [6]byte{2, 0, 0, 0, 0, 1}, DstMAC: [6]byte{1, 0, 0x0c, 0xcc, 0xcc, 0xcc}, DSAP: 0xaa, SSAP: 0xaa}
	pim := decode.Packet{TS: t0, WireLen: 48, Net: decode.NetIPv4, Proto: 103, AppLen: 14, Payload: make([]byte, 14),
		Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("224.0.0.13")}
	frag := func(ts int64, off uint32, wire int) decode.Packet {
		p := decode.Packet{TS: ts, WireLen: wire, Net: decode.NetIPv4, Proto: 1, IPID: 0x3333, Frag: true, FragOff: off, FirstFrag: off == 0,
			IPHdrLen: 20, IPLen: wire - 14, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.9")}
		if off == 0 {
			p.HasL4, p.ICMPType, p.ICMPID, p.L4HdrLen, p.AppLen = true, 8, 9, 8, 1472
		}
		return p
	}
	pk := []decode.Packet{arp, l2, pim, frag(t0, 0, 1514), frag(t0+1, 1480, 1514), frag(t0+2, 2960, 82)}
	p2 := pim
	p2.TS = t0 + 6*int64(time.Second) // next record
	pk = append(pk, p2)
	for i := range pk {
		tr.Packet(&pk[i])
	}
	tr.Flush()
	want := map[uint8][]uint64{0: {14, 388}, 103: {14, 14}, 1: {1480}}
	got := map[uint8][]uint64{}
	for _, r := range recs {
		p := r.Key.Proto
		if r.Key.Kind == flow.KindARP {
			p = 0
		}
		got[p] = append(got[p], r.AppBytes[0])
		if p == 1 && (r.PktSize.Min[0] != 1514 || r.Pkts[0] != 3) {
			t.Errorf("fragmented echo: %d pkts, min size %d, want 3, 1514", r.Pkts[0], r.PktSize.Min[0])
		}
		if p == 103 && len(r.SrcUser.Data) != 14 {
			t.Errorf("PIM record user data %d bytes, want 14 (restarted)", len(r.SrcUser.Data))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sappbytes by protocol %v, want %v", got, want)
	}
}
