package netflow9

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore"
	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
	"github.com/flowgate/flowgate/flow"
)

// encDatagrams collects one Write per message.
type encDatagrams [][]byte

func (d *encDatagrams) Write(b []byte) (int, error) {
	*d = append(*d, append([]byte(nil), b...))
	return len(b), nil
}

const encT0 = int64(1700000000_123_000_000)

var encClock = func() time.Time { return time.Unix(1700000100, 0) }

// encSample returns varied records: an IPv4 TCP flow with every context
// group, an IPv6 UDP biflow, an ICMP echo, a record with an enterprise
// and a variable-length element in Extra.
func encSample() []flow.Record {
	base := func(src, dst string, proto uint8, sp, dp uint16) flow.Record {
		var r flow.Record
		r.Type = flow.TypeFlow
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
		s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
		at := flow.AddrIPv4
		if s.Is6() {
			at = flow.AddrIPv6
		}
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: at, Src: s, Dst: d, Proto: proto, SrcPort: sp, DstPort: dp}
		r.Start, r.Last = encT0, encT0+2_500_000_000
		r.Pkts[0], r.Bytes[0] = 10, 1000
		return r
	}
	tcp := base("10.0.0.1", "10.0.0.2", 6, 40000, 443)
	tcp.Has |= flow.HasTCP | flow.HasIPAttr | flow.HasIfaces | flow.HasNextHop | flow.HasASN | flow.HasSampling | flow.HasExporter
	tcp.TCP.Side[0].Flags = 0x1b
	tcp.IPAttr = flow.IPAttr{Present: 1, TOS: [2]uint8{0x28}}
	tcp.InIf, tcp.OutIf = 3, 70000
	tcp.NextHop = netip.MustParseAddr("10.0.0.254")
	tcp.ASN = flow.ASN{Src: 64512, Dst: 4200000000, Present: 3}
	tcp.Key.SrcMask, tcp.Key.DstMask, tcp.Key.MaskLen = 24, 16, true
	tcp.SamplingRate = 100
	tcp.Pkts[0], tcp.Bytes[0] = 5_000_000_000, 1<<40 // needs 64-bit counters

	udp := base("2001:db8::1", "2001:db8:ffff::53", 17, 53000, 53)
	udp.Pkts, udp.Bytes = [2]uint64{1, 2}, [2]uint64{80, 400}
	udp.Has |= flow.HasIPAttr
	udp.IPAttr = flow.IPAttr{Present: 3, TOS: [2]uint8{0x10, 0xb8}}

	icmp := base("10.1.1.1", "10.2.2.2", 1, 0, 0)
	icmp.Has |= flow.HasICMPKey
	icmp.Key.ICMPType, icmp.Key.ICMPCode = 8, 0

	ent := base("10.3.3.3", "10.4.4.4", 17, 1000, 2000)
	ent.Extra = []flow.Field{
		{Source: flow.SourceNetFlow9, ID: 40000, Offset: 4, Value: []byte{1, 2, 3, 4}}, // a vendor type
		{Source: flow.SourceIPFIX, ID: 94, Offset: 0xFFFF, Value: []byte("flowgate")},  // fixed length in v9
	}
	return []flow.Record{tcp, udp, icmp, ent}
}

// encTshark is tshark's decode of our messages (nftest.Tshark).
func encTshark(t testing.TB, payloads [][]byte) []nftest.TsMsg {
	return nftest.Tshark(t, payloads, 2055, "0")
}

var tsTime = nftest.TsTime

// TestEncodeTshark: tshark 4.0 decodes our packets with no expert info
// to the values of the records we sent; the biflow is two records, the
// second reversed with the reverse counters and TOS; the header counts
// template and data records; the vendor type 40000 goes out as is.
func TestEncodeTshark(t *testing.T) {
	var out encDatagrams
	e := NewEncoder(&out, WithEncoderClock(encClock))
	recs := encSample()
	for i := range recs {
		if err := e.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ms := encTshark(t, out)
	if len(ms) != 1 {
		t.Fatalf("%d packets, want 1", len(ms))
	}
	m := ms[0]
	if len(m.Expert) != 0 {
		t.Errorf("tshark expert info: %v", m.Expert)
	}
	for k, v := range map[string]string{"cflow.version": "9", "cflow.count": "9", "cflow.sequence": "0",
		"cflow.source_id": "0", "cflow.unix_secs": "1700000100"} {
		if got := strings.Join(m.Hdr[k], " "); got != v {
			t.Errorf("header %s: tshark %q, want %q", k, got, v)
		}
	}
	want := []map[string]string{
		{"cflow.srcaddr": "10.0.0.1", "cflow.dstaddr": "10.0.0.2", "cflow.srcport": "40000", "cflow.dstport": "443",
			"cflow.protocol": "6", "cflow.octets": "1099511627776", "cflow.packets": "5000000000", "cflow.tcpflags": "0x1b",
			"cflow.tos": "0x28", "cflow.inputint": "3", "cflow.outputint": "70000", "cflow.nexthop": "10.0.0.254",
			"cflow.srcas": "64512", "cflow.dstas": "4200000000", "cflow.srcmask": "24", "cflow.dstmask": "16", "cflow.sampling_interval": "100"},
		{"cflow.srcaddrv6": "2001:db8::1", "cflow.dstaddrv6": "2001:db8:ffff::53", "cflow.srcport": "53000", "cflow.dstport": "53",
			"cflow.protocol": "17", "cflow.octets": "80", "cflow.packets": "1", "cflow.tos": "0x10"},
		{"cflow.srcaddrv6": "2001:db8:ffff::53", "cflow.dstaddrv6": "2001:db8::1", "cflow.srcport": "53", "cflow.dstport": "53000",
			"cflow.protocol": "17", "cflow.octets": "400", "cflow.packets": "2", "cflow.tos": "0xb8"},
		{"cflow.srcaddr": "10.1.1.1", "cflow.dstaddr": "10.2.2.2", "cflow.protocol": "1", "cflow.icmp_type_code_ipv4": "0x0800",
			"cflow.octets": "1000", "cflow.packets": "10"},
		{"cflow.srcaddr": "10.3.3.3", "cflow.dstaddr": "10.4.4.4", "cflow.appl_desc": "flowgate", "cflow.octets": "1000", "cflow.packets": "10"},
	}
	if len(m.Flows) != len(want) {
		t.Fatalf("tshark %d flows, want %d", len(m.Flows), len(want))
	}
	for i, w := range want {
		f := m.Flows[i]
		for k, v := range w {
			if got := strings.Join(f[k], " "); got != v {
				t.Errorf("flow %d %s: tshark %q, want %q", i, k, got, v)
			}
		}
		if len(f["cflow.abstimestart"]) != 1 || tsTime(t, f["cflow.abstimestart"][0]) != encT0 ||
			tsTime(t, f["cflow.abstimeend"][0]) != encT0+2_500_000_000 {
			t.Errorf("flow %d times: tshark %v %v", i, f["cflow.abstimestart"], f["cflow.abstimeend"])
		}
	}
	if _, ok := m.Flows[4]["cflow.aaa_username"]; !ok { // tshark's name for type 40000
		t.Errorf("vendor type 40000 not in the packet: %v", m.Flows[4])
	}
	if strings.Join(m.Sets, " ") != "0:256 256 0:257 257 0:258 258 0:259 259" {
		t.Errorf("flowsets %v", m.Sets)
	}
}

// TestUptimeTimes: with WithUptimeTimes flow times go as
// FIRST/LAST_SWITCHED; tshark's uptimes and the header's give the times
// sent, and A's decoder reads them back exactly.
func TestUptimeTimes(t *testing.T) {
	boot := time.Unix(1699990000, 250_000_000)
	var out encDatagrams
	e := NewEncoder(&out, WithEncoderClock(encClock), WithUptimeTimes(), WithBoot(boot))
	recs := encSample()[:1]
	if err := e.Encode(&recs[0]); err != nil {
		t.Fatal(err)
	}
	e.Close()
	m := encTshark(t, out)[0]
	if len(m.Expert) != 0 {
		t.Errorf("expert info %v", m.Expert)
	}
	msOf := func(s string) int64 {
		i, f, _ := strings.Cut(s, ".")
		a, _ := strconv.ParseInt(i, 10, 64)
		b, _ := strconv.ParseInt((f + "000")[:3], 10, 64)
		return a*1000 + b
	}
	up := msOf(m.Hdr["cflow.sysuptime"][0])
	export, _ := strconv.ParseInt(m.Hdr["cflow.unix_secs"][0], 10, 64)
	if up != (1700000100-1699990000)*1000-250 {
		t.Errorf("sysuptime %d ms", up)
	}
	f := m.Flows[0]
	start := export*1e9 - (up-msOf(f["cflow.timestart"][0]))*1e6
	end := export*1e9 - (up-msOf(f["cflow.timeend"][0]))*1e6
	if start != recs[0].Start || end != recs[0].Last {
		t.Errorf("tshark times %d %d, want %d %d", start, end, recs[0].Start, recs[0].Last)
	}
	back, err := NewDecoder().DecodePacket(out[0], netip.MustParseAddrPort("192.0.2.1:5000"), nil)
	if err != nil || len(back) != 1 || back[0].Start != recs[0].Start || back[0].Last != recs[0].Last {
		t.Errorf("decoded %v: %+v", err, back)
	}
	// Before the boot: not representable.
	r := recs[0]
	r.Start = boot.UnixNano() - 1e9
	var nr *codecs.NotRepresentableError
	e = NewEncoder(io.Discard, WithUptimeTimes(), WithBoot(boot))
	if err := e.Encode(&r); !errors.As(err, &nr) || nr.Field != "stime" {
		t.Errorf("before boot: %v", err)
	}
}

// manyRecords returns n IPv4 UDP flows, every seventh IPv6.
func manyRecords(n int) []flow.Record {
	recs := make([]flow.Record, n)
	for i := range recs {
		r := &recs[i]
		r.Type = flow.TypeFlow
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17, SrcPort: uint16(i), DstPort: 53,
			Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("10.9.9.9")}
		if i%7 == 6 {
			r.Key.AddrType, r.Key.Src, r.Key.Dst = flow.AddrIPv6, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		}
		r.Start, r.Last = encT0+int64(i)*1e6, encT0+int64(i)*1e6+5e8
		r.Pkts[0], r.Bytes[0] = uint64(i+1), uint64(100*(i+1))
	}
	return recs
}

// TestEncodeMessages: packets fill up to the MTU; the sequence number
// counts packets (RFC 3954 §5.1) and the header count records of every
// kind; templates go before their first use and again every N packets;
// tshark decodes every packet with no expert info; A's decoder gets every
// record back.
func TestEncodeMessages(t *testing.T) {
	recs := manyRecords(500)
	var out encDatagrams
	e := NewEncoder(&out, WithEncoderClock(encClock), WithMTU(512), WithTemplateRefresh(0, 5))
	for i := range recs {
		if err := e.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	ms := encTshark(t, out)
	seen := 0
	lastTpl := map[string]int{}
	for i, m := range ms {
		if len(m.Expert) != 0 {
			t.Errorf("packet %d: expert info %v", i, m.Expert)
		}
		if got := strings.Join(m.Hdr["cflow.sequence"], ""); got != strconv.Itoa(i) {
			t.Errorf("packet %d: sequence %s", i, got)
		}
		ntpl := 0
		for _, set := range m.Sets {
			if id, ok := strings.CutPrefix(set, "0:"); ok {
				ntpl++
				if j, ok := lastTpl[id]; ok && i-j < 5 {
					t.Errorf("packet %d: template %s re-sent after %d packets", i, id, i-j)
				}
				lastTpl[id] = i
				continue
			}
			if j, ok := lastTpl[set]; !ok || i-j >= 5 {
				t.Errorf("packet %d: flowset %s without a template in the last 5 packets (%v)", i, set, m.Sets)
			}
		}
		if got := strings.Join(m.Hdr["cflow.count"], ""); got != strconv.Itoa(ntpl+len(m.Flows)) {
			t.Errorf("packet %d: count %s, want %d templates + %d records", i, got, ntpl, len(m.Flows))
		}
		if l := len(out[i]); l > 512 || l%4 != 0 {
			t.Errorf("packet %d: %d bytes (MTU 512, flowsets padded to 32 bits)", i, l)
		}
		if i < len(ms)-1 && len(out[i]) < 512-60 {
			t.Errorf("packet %d: only %d bytes", i, len(out[i]))
		}
		seen += len(m.Flows)
	}
	if seen != len(recs) {
		t.Errorf("tshark saw %d records, sent %d", seen, len(recs))
	}
	d := NewDecoder()
	var back []flow.Record
	for _, p := range out {
		var err error
		back, err = d.DecodePacket(p, netip.MustParseAddrPort("192.0.2.1:5000"), back)
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(back) != len(recs) {
		t.Fatalf("decoded %d, want %d", len(back), len(recs))
	}
	for i := range recs {
		if a, b := encCanon(&recs[i]), encCanon(&back[i]); a != b {
			t.Errorf("record %d:\nsent %s\nback %s", i, a, b)
		}
	}
}

// splitAll is what a v9 exporter sends for recs: biflows as two records.
func splitAll(recs []flow.Record) []flow.Record {
	var out []flow.Record
	for i := range recs {
		a := recs[i]
		var b flow.Record
		if nfcore.SplitBiflow(&a, &b) {
			out = append(out, a, b)
			continue
		}
		out = append(out, a)
	}
	return out
}

// canonInExtra says whether r keeps in Extra an element the registry
// maps to a canonical field (a second occurrence, an odd length): which
// occurrence a decoder takes is its rule, so such records are only
// checked to decode, not value by value.
func canonInExtra(r *flow.Record) bool {
	for _, x := range r.Extra {
		if x.Source != flow.SourceIPFIX && x.Source != flow.SourceNetFlow9 || x.ID > 0xFFFF {
			continue
		}
		if e, _ := nfcore.Lookup(x.Enterprise, uint16(x.ID)); e != nil && e.Op != nfcore.OpExtra {
			return true
		}
	}
	return false
}

// fuzzCanon is encCanon without sampling: the decoder derives a rate
// from the sampling elements of a record (the last one wins, a zero one
// is dropped), so a mutated record with conflicting ones can decode to
// another rate once re-sent; that is the decoder's rule, checked in its
// own tests, and the deterministic tests here check the rate.
func fuzzCanon(r *flow.Record) string {
	c := *r
	c.Has &^= flow.HasSampling
	c.Extra = nil
	for _, x := range r.Extra {
		if x.Enterprise == 0 && (x.ID == 34 || x.ID == 35 || x.ID == 48 || x.ID == 49 || x.ID == 50 || x.ID >= 302 && x.ID <= 306) {
			continue
		}
		c.Extra = append(c.Extra, x)
	}
	return encCanon(&c)
}

// canonAddr prints an address; a missing one goes out as zeros.
func canonAddr(a netip.Addr) string {
	if !a.IsValid() || a.IsUnspecified() {
		return "unspecified"
	}
	return a.Unmap().String()
}

// encCanon prints the values a v9 encoder writes and a decoder reads back.
func encCanon(r *flow.Record) string {
	k := &r.Key
	var b strings.Builder
	key := r.Has&flow.HasKey != 0 // without it nfcore writes no key element
	if key {
		fmt.Fprintf(&b, "%s %s %d %d %d", canonAddr(k.Src), canonAddr(k.Dst), k.SrcPort, k.DstPort, k.Proto)
	}
	if k.MaskLen && key {
		fmt.Fprintf(&b, " mask %d/%d", k.SrcMask, k.DstMask)
	}
	if r.Has&flow.HasICMPKey != 0 && key {
		fmt.Fprintf(&b, " icmp %d/%d", k.ICMPType, k.ICMPCode)
	}
	fmt.Fprintf(&b, " t %d-%d pk %v by %v", r.Start/1e6, r.Last/1e6, r.Pkts, r.Bytes)
	// v9 has no reverse values: a biflow is split, a uniflow's are dropped.
	if r.Has&flow.HasTCP != 0 && k.Proto == 6 && key {
		fmt.Fprintf(&b, " fl %#x", r.TCP.Side[0].Flags)
	}
	if r.Has&flow.HasIPAttr != 0 && r.IPAttr.Present&1 != 0 {
		fmt.Fprintf(&b, " tos %d ttl %d", r.IPAttr.TOS[0], r.IPAttr.TTL[0])
	}
	if r.Has&flow.HasIfaces != 0 {
		fmt.Fprintf(&b, " if %d/%d", r.InIf, r.OutIf)
	}
	if r.Has&flow.HasNextHop != 0 {
		fmt.Fprintf(&b, " nh %v %v", r.NextHop, r.BGPNextHop)
	}
	if r.Has&flow.HasASN != 0 {
		fmt.Fprintf(&b, " as %d/%d", r.ASN.Src, r.ASN.Dst)
	}
	if r.Has&flow.HasVLAN != 0 && r.VLAN.Present&1 != 0 {
		fmt.Fprintf(&b, " vlan %d", r.VLAN.TCI[0]&0xfff)
	}
	if r.Has&flow.HasMAC != 0 {
		fmt.Fprintf(&b, " mac %x/%x", r.MAC.Src, r.MAC.Dst)
	}
	if r.Has&flow.HasSampling != 0 {
		fmt.Fprintf(&b, " rate %d", r.SamplingRate)
	}
	for _, x := range r.Extra {
		if x.Source == flow.SourceIPFIX || x.Source == flow.SourceNetFlow9 {
			fmt.Fprintf(&b, " x%d/%d=%x", x.Enterprise, x.ID, x.Value)
		}
	}
	return b.String()
}

// TestEncodeDecodeSample: A's decoder reads our sample back (the biflow
// as its two halves).
func TestEncodeDecodeSample(t *testing.T) {
	recs := encSample()
	e := NewEncoder(nil, WithEncoderClock(encClock))
	b, n, err := e.AppendPacket(nil, recs)
	if err != nil || n != len(recs) {
		t.Fatalf("%d taken: %v", n, err)
	}
	back, err := NewDecoder().DecodePacket(b, netip.MustParseAddrPort("192.0.2.1:5000"), nil)
	want := splitAll(recs)
	if err != nil || len(back) != len(want) {
		t.Fatalf("%d back: %v", len(back), err)
	}
	for i := range want {
		if a, b := encCanon(&want[i]), encCanon(&back[i]); a != b {
			t.Errorf("record %d:\nsent %s\nback %s", i, a, b)
		}
	}
}

// flowbeatTests reads dat_tests.yaml: test name -> payload files in order.
func flowbeatTests(t testing.TB, dir string) (names []string, files map[string][]string) {
	b, err := os.ReadFile(filepath.Join(dir, "dat_tests.yaml"))
	if err != nil {
		t.Skip(err)
	}
	files = map[string][]string{}
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		tl := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(tl, "- "):
			files[cur] = append(files[cur], strings.TrimSpace(tl[2:]))
		case strings.HasPrefix(l, "  ") && strings.HasSuffix(tl, ":"):
			cur = strings.TrimSuffix(tl, ":")
			names = append(names, cur)
		}
	}
	return names, files
}

// TestFlowbeatV9ToV9: every NetFlow v9 vendor test of flowbeat decoded by
// A's decoder, encoded by ours and decoded again gives the same values,
// vendor fields (Extra) included byte for byte; tshark decodes all our
// packets with no expert info.
func TestFlowbeatV9ToV9(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	dir = filepath.Join(dir, "netflow-exports/flowbeat")
	names, files := flowbeatTests(t, dir)
	from := netip.MustParseAddrPort("192.0.2.1:2055")
	total, extras, refused := 0, 0, 0
	for _, name := range names {
		if !strings.HasPrefix(strings.ToLower(name), "netflow 9") && !strings.HasPrefix(strings.ToLower(name), "netflow9") {
			continue
		}
		d := NewDecoder()
		var recs []flow.Record
		var orig [][]byte
		for _, f := range files[name] {
			b, err := os.ReadFile(filepath.Join(dir, "dat", f))
			if err != nil {
				t.Fatal(err)
			}
			orig = append(orig, b)
			recs, _ = d.DecodePacket(b, from, recs) // vendor quirks are A's tests' business
		}
		for i := range recs {
			recs[i].Detach()
		}
		var out encDatagrams
		e := NewEncoder(&out, WithEncoderClock(encClock))
		var sent []flow.Record
		for i := range recs {
			if err := e.Encode(&recs[i]); err != nil {
				var nr *codecs.NotRepresentableError
				if !errors.As(err, &nr) || !strings.HasPrefix(nr.Field, "element ") {
					t.Errorf("%s record %d: %v", name, i, err)
				}
				refused++ // an empty (0-length) field: v9 cannot send it
				continue
			}
			sent = append(sent, recs[i])
		}
		e.Close()
		d2 := NewDecoder()
		var back []flow.Record
		for _, p := range out {
			var err error
			back, err = d2.DecodePacket(p, from, back)
			if err != nil {
				t.Fatalf("%s: decoding ours: %v", name, err)
			}
		}
		want := splitAll(sent)
		if len(back) != len(want) {
			t.Fatalf("%s: %d records back, sent %d", name, len(back), len(want))
		}
		for i := range want {
			if a, b := encCanon(&want[i]), encCanon(&back[i]); a != b {
				t.Errorf("%s record %d:\nsent %s\nback %s", name, i, a, b)
			}
			extras += len(want[i].Extra)
		}
		total += len(want)
		// An element the vendor sent with a length tshark does not
		// expect (H3C: a 2-byte field of a type tshark reads as an IPv4
		// address) goes out as it came: tshark flags it in the vendor's
		// capture as in ours, and nothing else.
		var vendor map[string]bool
		for i, m := range encTshark(t, out) {
			if len(m.Expert) != 0 && vendor == nil {
				vendor = map[string]bool{}
				for _, m := range encTshark(t, orig) {
					for _, x := range m.Expert {
						vendor[x] = true
					}
				}
			}
			for _, x := range m.Expert {
				if !vendor[x] {
					t.Errorf("%s packet %d: tshark expert info %q (not in the vendor's capture)", name, i, x)
				}
			}
		}
	}
	t.Logf("%d records (%d Extra elements) through v9 and back; %d refused", total, extras, refused)
}

func TestEncodeNotRepresentable(t *testing.T) {
	ok := encSample()[0]
	for _, c := range []struct {
		field string
		mut   func(r *flow.Record)
	}{
		{"saddr", func(r *flow.Record) { r.Key.Kind = flow.KindARP }},
		{"saddr", func(r *flow.Record) { r.Key.Dst = netip.MustParseAddr("2001:db8::1") }},
		{"stime", func(r *flow.Record) { r.Start = -1 }},
		{"element 6871/12", func(r *flow.Record) {
			r.Extra = []flow.Field{{Source: flow.SourceIPFIX, Enterprise: 6871, ID: 12, Offset: 4, Value: []byte{1, 2, 3, 4}}}
		}},
		{"element 0/94", func(r *flow.Record) {
			r.Extra = []flow.Field{{Source: flow.SourceIPFIX, ID: 94, Offset: 0xFFFF, Value: nil}}
		}},
		{"record", func(r *flow.Record) {
			r.Extra = []flow.Field{{Source: flow.SourceIPFIX, ID: 94, Offset: 0xFFFF, Value: make([]byte, 1500)}}
		}},
	} {
		r := ok
		c.mut(&r)
		var out encDatagrams
		e := NewEncoder(&out)
		err := e.Encode(&r)
		var nr *codecs.NotRepresentableError
		if !errors.As(err, &nr) || !errors.Is(err, codecs.ErrNotRepresentable) || nr.Field != c.field || nr.Format != "netflow9" {
			t.Errorf("%s: got %v", c.field, err)
		}
		e.Close()
		if len(out) != 0 || e.Stats().Refused != 1 {
			t.Errorf("%s: %d packets, stats %+v", c.field, len(out), e.Stats())
		}
	}
	r := ok
	r.Extra = []flow.Field{{Source: flow.SourceIPFIX, Enterprise: 6871, ID: 12, Offset: 4, Value: []byte{1, 2, 3, 4}}}
	e := NewEncoder(io.Discard, WithLossyEncode())
	if err := e.Encode(&r); err != nil || e.Stats().Dropped != 1 {
		t.Errorf("lossy: %v %+v", err, e.Stats())
	}
}

// TestAppendPacketBiflow: a biflow goes whole into a packet or waits.
func TestAppendPacketBiflow(t *testing.T) {
	recs := manyRecords(40)
	for i := range recs {
		recs[i].Pkts[1], recs[i].Bytes[1] = 1, 60
	}
	e := NewEncoder(nil, WithMTU(300))
	d := NewDecoder()
	got := 0
	for rest := recs; len(rest) > 0; {
		b, n, err := e.AppendPacket(nil, rest)
		if err != nil || n == 0 || len(b) > 300 {
			t.Fatalf("n %d err %v len %d", n, err, len(b))
		}
		back, err := d.DecodePacket(b, netip.MustParseAddrPort("192.0.2.1:5000"), nil)
		if err != nil || len(back) != 2*n {
			t.Fatalf("%d records for %d biflows: %v", len(back), n, err)
		}
		got += n
		rest = rest[n:]
	}
	if got != len(recs) {
		t.Errorf("%d taken", got)
	}
}

// TestEncodeAllocs: encoding allocates nothing per record once the
// templates exist (biflows included).
func TestEncodeAllocs(t *testing.T) {
	recs := append(encSample(), manyRecords(50)...)
	e := NewEncoder(io.Discard)
	buf := make([]byte, 0, DefaultMTU)
	for i := range recs {
		e.Encode(&recs[i])
	}
	n := testing.AllocsPerRun(100, func() {
		for i := range recs {
			if err := e.Encode(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		e.Flush()
		buf, _, _ = e.AppendPacket(buf[:0], recs)
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

// BenchmarkEncode: IPv4 and IPv6 records into 1400-byte packets.
func BenchmarkEncode(b *testing.B) {
	recs := manyRecords(64)
	e := NewEncoder(io.Discard)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.Encode(&recs[i&63]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// FuzzEncodeRoundTrip: whatever A's decoder makes of a packet sequence
// (packets separated by "NF9|"), our encoder either refuses a record with
// a NotRepresentableError or sends it (a biflow as two records) so that
// the decoder reads the same values back; nothing panics.
func FuzzEncodeRoundTrip(f *testing.F) {
	sep := []byte("NF9|")
	if dir := os.Getenv("FLOWGATE_CORPUS"); dir != "" {
		dir = filepath.Join(dir, "netflow-exports/flowbeat")
		if names, files := flowbeatTests(f, dir); names != nil {
			for _, n := range names {
				if !strings.HasPrefix(strings.ToLower(n), "netflow 9") {
					continue
				}
				var seed [][]byte
				for _, fn := range files[n] {
					b, _ := os.ReadFile(filepath.Join(dir, "dat", fn))
					seed = append(seed, b)
				}
				f.Add(bytes.Join(seed, sep))
			}
		}
	}
	e := NewEncoder(nil, WithEncoderClock(encClock))
	b, _, _ := e.AppendPacket(nil, encSample())
	f.Add(b)
	from := netip.MustParseAddrPort("192.0.2.1:2055")
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder()
		var recs []flow.Record
		for _, p := range bytes.Split(in, sep) {
			recs, _ = d.DecodePacket(p, from, recs)
		}
		var sent []flow.Record
		var out encDatagrams
		e := NewEncoder(&out, WithEncoderClock(encClock))
		for i := range recs {
			recs[i].Detach()
			if err := e.Encode(&recs[i]); err != nil {
				if !errors.Is(err, codecs.ErrNotRepresentable) {
					t.Fatalf("record %d: %v", i, err)
				}
				continue
			}
			sent = append(sent, recs[i])
		}
		e.Close()
		d2 := NewDecoder()
		var back []flow.Record
		for _, p := range out {
			var err error
			if back, err = d2.DecodePacket(p, from, back); err != nil {
				t.Fatalf("decoding ours: %v", err)
			}
		}
		want := splitAll(sent)
		if len(back) != len(want) {
			t.Fatalf("%d back, sent %d", len(back), len(want))
		}
		for i := range want {
			if canonInExtra(&want[i]) {
				continue
			}
			if a, b := fuzzCanon(&want[i]), fuzzCanon(&back[i]); a != b {
				t.Fatalf("record %d:\nsent %s\nback %s", i, a, b)
			}
		}
	})
}

// flowsetIDs lists the FlowSet ids of a v9 packet (RFC 3954 §5).
func flowsetIDs(m []byte) []uint16 {
	var ids []uint16
	for b := m[headerLen:]; len(b) >= 4; {
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			break
		}
		ids = append(ids, binary.BigEndian.Uint16(b))
		b = b[n:]
	}
	return ids
}

// TestTemplateRefreshTime: a template goes again once the refresh time
// has passed since it was last sent for the source id, and for each
// source id of its own.
func TestTemplateRefreshTime(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	var out encDatagrams
	e := NewEncoder(&out, WithEncoderClock(clock), WithTemplateRefresh(time.Minute, 0))
	r := manyRecords(1)[0]
	send := func(dom uint32) {
		r.Has |= flow.HasExporter
		r.ObsDomain = dom
		if err := e.Encode(&r); err != nil {
			t.Fatal(err)
		}
		e.Flush()
	}
	send(1)
	now = now.Add(30 * time.Second)
	send(1)
	send(2)
	now = now.Add(31 * time.Second)
	send(1)
	send(2)
	var got []string
	for _, m := range out {
		got = append(got, fmt.Sprint(binary.BigEndian.Uint32(m[16:]), binary.BigEndian.Uint32(m[12:]), flowsetIDs(m)))
	}
	// source id, sequence (packets of that source id), flowsets
	if want := "[1 0 [0 256] 1 1 [256] 2 0 [0 256] 1 2 [0 256] 2 1 [256]]"; fmt.Sprint(got) != want {
		t.Errorf("packets %v, want %s", got, want)
	}
}

// TestTemplateLimit: with room for 2 templates, 3 record shapes in turn
// redefine the least recently used id; the decoder follows (a template
// received again with another definition replaces the old one) and gets
// every record back. tshark 4.0 is not asked: it keeps the first
// definition of an id in a conversation and misreads later data.
func TestTemplateLimit(t *testing.T) {
	recs := manyRecords(30)
	for i := range recs {
		switch i % 3 {
		case 1:
			recs[i].Key.AddrType, recs[i].Key.Src, recs[i].Key.Dst = flow.AddrIPv6, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		case 2:
			recs[i].Has |= flow.HasIPAttr
			recs[i].IPAttr = flow.IPAttr{Present: 1, TOS: [2]uint8{0x20}}
		}
	}
	var out encDatagrams
	e := NewEncoder(&out, WithEncoderClock(encClock), WithEncoderTemplateLimit(2), WithMTU(300))
	for i := range recs {
		if err := e.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	if s := e.Stats(); s.Redefined < 10 || s.Templates != 2+s.Redefined {
		t.Errorf("stats %+v: want the 2 ids redefined over and over", s)
	}
	d := NewDecoder()
	var back []flow.Record
	for _, p := range out {
		var err error
		if back, err = d.DecodePacket(p, netip.MustParseAddrPort("192.0.2.1:5000"), back); err != nil {
			t.Fatal(err)
		}
	}
	if len(back) != len(recs) {
		t.Fatalf("%d back, want %d", len(back), len(recs))
	}
	for i := range recs {
		if a, b := encCanon(&recs[i]), encCanon(&back[i]); a != b {
			t.Errorf("record %d:\nsent %s\nback %s", i, a, b)
		}
	}
}

// exportPayloads returns the UDP payloads of a capture of export packets.
func exportPayloads(t testing.TB, path string) [][]byte {
	t.Helper()
	dgs, err := nftest.ReadPcapUDP(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(dgs))
	for i := range dgs {
		out[i] = dgs[i].Payload
	}
	return out
}

// TestGeneratedV9ToV9: every softflowd and pmacct v9 export of the corpus
// decoded by A's decoder, encoded (also with FIRST/LAST_SWITCHED) and
// decoded again keeps its values; tshark reads our packets with no
// expert info.
func TestGeneratedV9ToV9(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	from := netip.MustParseAddrPort("127.0.0.1:2055")
	total := 0
	for _, uptime := range []bool{false, true} {
		for _, variant := range []string{"v9", "pmacct_v9"} {
			pcaps, _ := filepath.Glob(filepath.Join(dir, "generated/exports", variant, "pcap", "*.pcap"))
			var all [][]byte
			for _, pc := range pcaps {
				d := NewDecoder()
				var recs []flow.Record
				for _, p := range exportPayloads(t, pc) {
					recs, _ = d.DecodePacket(p, from, recs)
				}
				opts := []EncoderOption{WithEncoderClock(encClock)}
				if uptime {
					opts = append(opts, WithUptimeTimes(), WithBoot(time.Unix(1699990000, 0)))
				}
				var out encDatagrams
				e := NewEncoder(&out, opts...)
				for i := range recs {
					recs[i].Detach()
					if err := e.Encode(&recs[i]); err != nil {
						t.Fatalf("%s: %v", pc, err)
					}
				}
				e.Close()
				d2 := NewDecoder()
				var back []flow.Record
				for _, p := range out {
					var err error
					if back, err = d2.DecodePacket(p, from, back); err != nil {
						t.Fatalf("%s: decoding ours: %v", pc, err)
					}
				}
				want := splitAll(recs)
				if len(back) != len(want) {
					t.Fatalf("%s: %d back, sent %d", pc, len(back), len(want))
				}
				for i := range want {
					if a, b := encCanon(&want[i]), encCanon(&back[i]); a != b {
						t.Errorf("%s record %d (uptime %v):\nsent %s\nback %s", pc, i, uptime, a, b)
					}
				}
				total += len(want)
				// Each stream its own source id for tshark.
				for i := range out {
					binary.BigEndian.PutUint32(out[i][16:], uint32(len(all)))
				}
				all = append(all, out...)
			}
			for i, m := range encTshark(t, all) {
				if len(m.Expert) != 0 {
					t.Errorf("%s message %d: tshark expert info %v", variant, i, m.Expert)
				}
			}
		}
	}
	if total < 100 {
		t.Errorf("%d records: the corpus is not there", total)
	}
	t.Logf("%d records through v9 and back", total)
}
