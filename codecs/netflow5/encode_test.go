package netflow5

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// datagrams collects one Write per datagram.
type datagrams [][]byte

func (d *datagrams) Write(b []byte) (int, error) {
	*d = append(*d, append([]byte(nil), b...))
	return len(b), nil
}

const t0 = int64(1700000000_123_000_000)

// sample returns varied IPv4 records: TCP with flags, a UDP biflow with
// AS numbers, masks, interfaces, next hop, TOS and sampling, an ICMP echo
// biflow.
func sample() []flow.Record {
	base := func(src, dst string, proto uint8, sp, dp uint16) flow.Record {
		var r flow.Record
		r.Type = flow.TypeFlow
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.MustParseAddr(src),
			Dst: netip.MustParseAddr(dst), Proto: proto, SrcPort: sp, DstPort: dp}
		return r
	}
	tcp := base("10.0.0.1", "10.0.0.2", 6, 40000, 443)
	tcp.Start, tcp.Last = t0, t0+2_500_000_000
	tcp.Pkts[0], tcp.Bytes[0] = 12, 4096
	tcp.Has |= flow.HasTCP
	tcp.TCP.Side[0].Flags = 0x1b

	udp := base("192.168.1.10", "8.8.8.8", 17, 53000, 53)
	udp.Start, udp.Last = t0-60_000_000_000, t0-59_000_000_000
	udp.Pkts, udp.Bytes = [2]uint64{1, 1}, [2]uint64{70, 230}
	udp.Has |= flow.HasASN | flow.HasIfaces | flow.HasNextHop | flow.HasIPAttr | flow.HasSampling | flow.HasExporter
	udp.ASN = flow.ASN{Src: 64512, Dst: 15169, Present: 3}
	udp.Key.SrcMask, udp.Key.DstMask, udp.Key.MaskLen = 24, 8, true
	udp.InIf, udp.OutIf = 3, 7
	udp.NextHop = netip.MustParseAddr("192.168.1.1")
	udp.IPAttr = flow.IPAttr{Present: 3, TOS: [2]uint8{0x10, 0xb8}}
	udp.SamplingRate = 100
	udp.ObsDomain = 0x0102

	icmp := base("10.1.1.1", "10.2.2.2", 1, 0, 0)
	icmp.Has |= flow.HasICMPKey
	icmp.Key.ICMPType = 8
	icmp.Start, icmp.Last = t0+1_000_000, t0+3_001_000_000
	icmp.Pkts, icmp.Bytes = [2]uint64{3, 3}, [2]uint64{252, 252}
	return []flow.Record{tcp, udp, icmp}
}

// v5 flows the sample must become, in order (src, dst, sport, dport,
// pkts, bytes, start, last, flags, tos, sas, das, smask, dmask, in, out,
// nexthop, engine, sampling).
type want5 struct {
	src, dst           string
	sp, dp             uint16
	pkts, bytes        uint64
	start, last        int64
	flags, tos         uint64
	sas, das           uint64
	smask, dmask       uint64
	in, out            uint64
	nh                 string
	engine, samplerate uint64
}

func sampleWant() []want5 {
	return []want5{
		{"10.0.0.1", "10.0.0.2", 40000, 443, 12, 4096, t0, t0 + 2_500_000_000, 0x1b, 0, 0, 0, 0, 0, 0, 0, "0.0.0.0", 0, 0},
		{"192.168.1.10", "8.8.8.8", 53000, 53, 1, 70, t0 - 60e9, t0 - 59e9, 0, 0x10, 64512, 15169, 24, 8, 3, 7, "192.168.1.1", 0x0102, 100},
		{"8.8.8.8", "192.168.1.10", 53, 53000, 1, 230, t0 - 60e9, t0 - 59e9, 0, 0xb8, 15169, 64512, 8, 24, 7, 3, "0.0.0.0", 0x0102, 100},
		{"10.1.1.1", "10.2.2.2", 0, 8 << 8, 3, 252, t0 + 1e6, t0 + 3_001_000_000, 0, 0, 0, 0, 0, 0, 0, 0, "0.0.0.0", 0, 0},
		{"10.2.2.2", "10.1.1.1", 0, 0, 3, 252, t0 + 1e6, t0 + 3_001_000_000, 0, 0, 0, 0, 0, 0, 0, 0, "0.0.0.0", 0, 0},
	}
}

// TestEncodeTshark: tshark decodes our datagrams with no expert info to
// the values of the records we sent; flow_sequence counts flows.
func TestEncodeTshark(t *testing.T) {
	var out datagrams
	e := NewEncoder(&out, nil)
	for _, r := range sample() {
		if err := e.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The sampled, engine 1/2 biflow needs a datagram of its own.
	if len(out) != 3 {
		t.Fatalf("%d datagrams, want 3", len(out))
	}
	tp := runTshark(t, out)
	var pdus []map[string]string
	var hdrs []map[string]string
	var seqs []string
	for i, p := range tp {
		if len(p.Expert) != 0 {
			t.Errorf("datagram %d: tshark expert info %v", i, p.Expert)
		}
		for _, pdu := range p.PDUs {
			pdus = append(pdus, pdu)
			hdrs = append(hdrs, p.Hdr)
		}
		seqs = append(seqs, p.Hdr["cflow.sequence"])
	}
	// Per engine: engine 0 sends 1 then 2 flows, engine 1/2 its first 2.
	if fmt.Sprint(seqs) != "[0 0 1]" {
		t.Errorf("sequences %v, want [0 0 1]", seqs)
	}
	want := sampleWant()
	if len(pdus) != len(want) {
		t.Fatalf("tshark %d flows, want %d", len(pdus), len(want))
	}
	for i, w := range want {
		p, h := pdus[i], hdrs[i]
		up := ms(t, h["cflow.sysuptime"])
		export := int64(num(t, h["cflow.unix_secs"]))*1e9 + int64(num(t, h["cflow.unix_nsecs"]))
		start := export - (up-ms(t, p["cflow.timestart"]))*1e6
		last := export - (up-ms(t, p["cflow.timeend"]))*1e6
		got := fmt.Sprint(p["cflow.srcaddr"], p["cflow.dstaddr"], num(t, p["cflow.srcport"]), num(t, p["cflow.dstport"]),
			num(t, p["cflow.packets"]), num(t, p["cflow.octets"]), start, last, num(t, p["cflow.tcpflags"]), num(t, p["cflow.tos"]),
			num(t, p["cflow.srcas"]), num(t, p["cflow.dstas"]), num(t, p["cflow.srcmask"]), num(t, p["cflow.dstmask"]),
			num(t, p["cflow.inputint"]), num(t, p["cflow.outputint"]), p["cflow.nexthop"],
			num(t, h["cflow.engine_type"])<<8|num(t, h["cflow.engine_id"]), num(t, h["cflow.samplerate"]))
		exp := fmt.Sprint(w.src, w.dst, w.sp, w.dp, w.pkts, w.bytes, w.start, w.last, w.flags, w.tos, w.sas, w.das,
			w.smask, w.dmask, w.in, w.out, w.nh, w.engine, w.samplerate)
		if got != exp {
			t.Errorf("flow %d:\ntshark %s\nwant   %s", i, got, exp)
		}
		if w.samplerate != 0 && h["cflow.samplingmode"] != "1" {
			t.Errorf("flow %d: sampling mode %q, want 1", i, h["cflow.samplingmode"])
		}
	}
	if s := e.Stats(); s.Records != 3 || s.Flows != 5 || s.Datagrams != 3 || s.Refused != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestNotRepresentable(t *testing.T) {
	ok := sample()[0]
	mut := func(f func(r *flow.Record)) flow.Record {
		r := ok
		f(&r)
		return r
	}
	for _, c := range []struct {
		field string
		r     flow.Record
	}{
		{"saddr", mut(func(r *flow.Record) {
			r.Key.Src, r.Key.Dst, r.Key.AddrType = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), flow.AddrIPv6
		})},
		{"saddr", mut(func(r *flow.Record) { r.Key.Kind = flow.KindARP })},
		{"spkts", mut(func(r *flow.Record) { r.Pkts[0] = 1 << 32 })},
		{"sbytes", mut(func(r *flow.Record) { r.Bytes[0] = 1 << 32 })},
		{"dbytes", mut(func(r *flow.Record) { r.Pkts[1], r.Bytes[1] = 1, 5e9 })},
		{"sas", mut(func(r *flow.Record) { r.Has |= flow.HasASN; r.ASN.Src = 65536 })},
		{"inif", mut(func(r *flow.Record) { r.Has |= flow.HasIfaces; r.OutIf = 70000 })},
		{"obsdomain", mut(func(r *flow.Record) { r.Has |= flow.HasExporter; r.ObsDomain = 1 << 16 })},
		{"sampling", mut(func(r *flow.Record) { r.Has |= flow.HasSampling; r.SamplingRate = 1 << 14 })},
		{"nexthop", mut(func(r *flow.Record) { r.Has |= flow.HasNextHop; r.NextHop = netip.MustParseAddr("2001:db8::1") })},
		{"dur", mut(func(r *flow.Record) { r.Last = r.Start + 30*24*3600*1e9 })},
	} {
		var out datagrams
		e := NewEncoder(&out, nil)
		err := e.Encode(&c.r)
		var nr *codecs.NotRepresentableError
		if !errors.As(err, &nr) || !errors.Is(err, codecs.ErrNotRepresentable) || nr.Field != c.field || nr.Format != "netflow5" {
			t.Errorf("%s: got %v", c.field, err)
		}
		e.Flush()
		if len(out) != 0 || e.Stats().Refused != 1 {
			t.Errorf("%s: %d datagrams, stats %+v", c.field, len(out), e.Stats())
		}
	}
}

// TestAppendPacket: 40 flows become a datagram of 30 then one of 10 with
// flow_sequence 0 and 30; a refused record is reported at its index with
// the datagram of those before it.
func TestAppendPacket(t *testing.T) {
	recs := make([]flow.Record, 40)
	for i := range recs {
		recs[i] = sample()[0]
		recs[i].Key.SrcPort = uint16(i)
	}
	e := NewEncoder(nil, nil)
	b, n, err := e.AppendPacket(nil, recs)
	if err != nil || n != 30 || len(b) != MaxPacket {
		t.Fatalf("n %d err %v len %d", n, err, len(b))
	}
	b2, n2, err := e.AppendPacket(nil, recs[n:])
	if err != nil || n2 != 10 || be.Uint32(b2[16:]) != 30 {
		t.Fatalf("n %d err %v seq %d", n2, err, be.Uint32(b2[16:]))
	}
	recs[5].Pkts[0] = 1 << 40
	b3, n3, err := e.AppendPacket(nil, recs)
	if !errors.Is(err, codecs.ErrNotRepresentable) || n3 != 5 || be.Uint16(b3[2:]) != 5 || be.Uint32(b3[16:]) != 40 {
		t.Fatalf("n %d err %v", n3, err)
	}
	d := NewDecoder(0)
	got, err := d.DecodePacket(b, testFrom, nil)
	if err != nil || len(got) != 30 || got[29].Key.SrcPort != 29 {
		t.Fatalf("decode: %v", err)
	}
}

// TestMappedAddresses: IPv4-mapped IPv6 addresses go out as IPv4.
func TestMappedAddresses(t *testing.T) {
	r := sample()[0]
	r.Key.Src, r.Key.Dst = netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.2")
	b, n, err := NewEncoder(nil, nil).AppendPacket(nil, []flow.Record{r})
	if err != nil || n != 1 {
		t.Fatal(err)
	}
	got, err := NewDecoder(0).DecodePacket(b, testFrom, nil)
	if err != nil || got[0].Key.Src != netip.MustParseAddr("10.0.0.1") || got[0].Key.Dst != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("%v %v", err, got[0].Key)
	}
}

// TestTimeSpan: records of any age come out exact (the export time is the
// datagram's latest flow time); records more than 24.8 days apart go into
// separate datagrams.
func TestTimeSpan(t *testing.T) {
	recs := sample()[:1]
	old := recs[0]
	old.Start, old.Last = 946684800_000_000_000, 946684801_000_000_000 // year 2000
	recs = append(recs, old)
	var out datagrams
	e := NewEncoder(&out, nil)
	for i := range recs {
		if err := e.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	e.Flush()
	if len(out) != 2 {
		t.Fatalf("%d datagrams, want 2", len(out))
	}
	d := NewDecoder(0)
	for i, p := range out {
		got, err := d.DecodePacket(p, testFrom, nil)
		if err != nil || got[0].Start != recs[i].Start || got[0].Last != recs[i].Last {
			t.Errorf("datagram %d: %v %d %d", i, err, got[0].Start, got[0].Last)
		}
	}
}

// checkRoundTrip re-encodes decoded records and decodes them again: the
// same records but for what v5 encoding chooses itself (ExportSeq, times
// below the ms, a Last before its Start).
func checkRoundTrip(t *testing.T, orig []byte, recs []flow.Record) {
	t.Helper()
	e := NewEncoder(nil, func() time.Time { return time.Unix(1700000000, 0) })
	// A time before 1970 has no unix_secs, and v5 decodes a First and a
	// Last up to 2^32 ms apart that the encoder will not send (24.8 days
	// at most, so that no time wraps): such records are left out.
	var keep []flow.Record
	for i := range recs {
		var two [2]v5rec
		if _, _, _, err := conv(&recs[i], &two); err != nil {
			var nr *codecs.NotRepresentableError
			if !errors.As(err, &nr) || nr.Field != "ltime" && nr.Field != "dur" {
				t.Fatalf("re-encode: %v", err)
			}
			continue
		}
		keep = append(keep, recs[i])
	}
	recs = keep
	var again []flow.Record
	d := NewDecoder(0)
	for rest := recs; len(rest) > 0; {
		b, n, err := e.AppendPacket(nil, rest)
		if err != nil || n == 0 {
			t.Fatalf("re-encode: %d taken, %v", n, err)
		}
		again, err = d.DecodePacket(b, testFrom, again)
		if err != nil {
			t.Fatalf("decode of ours: %v", err)
		}
		rest = rest[n:]
	}
	if len(again) != len(recs) {
		t.Fatalf("%d records back, want %d", len(again), len(recs))
	}
	for i := range recs {
		w := recs[i]
		w.ExportSeq, w.Exporter = again[i].ExportSeq, again[i].Exporter
		w.Start = floorMs(w.Start) * 1e6
		w.Last = max(floorMs(w.Last)*1e6, w.Start)
		if !w.Key.MaskLen { // raw mask bytes are not exported
			w.Key.SrcMask, w.Key.DstMask, w.Key.MaskLen = 0, 0, true
		}
		if fmt.Sprint(w) != fmt.Sprint(again[i]) {
			t.Errorf("record %d:\nin  %+v\nout %+v", i, w, again[i])
		}
	}
}

func TestRoundTripCorpus(t *testing.T) {
	b := packet(30, 1000, 1700000000, 0, 0)
	recs, err := NewDecoder(0).DecodePacket(b, testFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, b, recs)
}

// TestEncodeAllocs: encoding allocates nothing per record.
func TestEncodeAllocs(t *testing.T) {
	recs := sample()
	e := NewEncoder(discard{}, nil)
	buf := make([]byte, 0, MaxPacket)
	n := testing.AllocsPerRun(200, func() {
		for i := range recs {
			if err := e.Encode(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		buf, _, _ = e.AppendPacket(buf[:0], recs)
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func BenchmarkEncode(b *testing.B) {
	r := sample()[0]
	e := NewEncoder(discard{}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Encode(&r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}
