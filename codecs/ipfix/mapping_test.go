package ipfix

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// ciscoAVC maps the connection elements of Cisco's AVC export (PEN 9:
// connection client/server IPv4 address, server transport port), which
// carries no IANA addresses: without a mapping the flows have no key and
// the values sit in Extra.
const ciscoAVC = `version: 1
schema: ipfix
fields:
  - {external: 9/12236, canonical: src_addr, convert: {family: ipv4}, note: connection client ipv4 address}
  - {external: 9/12237, canonical: dst_addr, convert: {family: ipv4}, note: connection server ipv4 address}
  - {external: 9/12241, canonical: dst_port, note: connection server transport port}
`

func loadMapping(t testing.TB, yaml string) *Mapping {
	t.Helper()
	f, err := mappings.Load("user.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapping(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func payloads(t testing.TB, pcap string) [][]byte {
	dgs, err := nftest.ReadPcapUDP(pcap)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range dgs {
		out = append(out, d.Payload)
	}
	return out
}

// tsharkFlows is every flow tshark decodes from msgs, in order.
func tsharkFlows(t testing.TB, msgs [][]byte) []map[string][]string {
	var out []map[string][]string
	for _, m := range nftest.Tshark(t, msgs, 4739, "2") {
		out = append(out, m.Flows...)
	}
	return out
}

func extraOf(r *flow.Record, pen, id uint32) []byte {
	for _, e := range r.Extra {
		if e.Enterprise == pen && e.ID == id {
			return e.Value
		}
	}
	return nil
}

// TestMappingCiscoAVC: a Cisco IOS AVC export of the corpus (flowbeat's
// ipfix_cisco.pcap) carries the connection's client and server address
// and the server port only in Cisco enterprise elements. With a user
// mapping they decode into the flow key, equal to tshark 4.0.17's decode
// of the same elements (cflow.pie.cisco.connection_*); the encoder writes
// them back as the same elements, and tshark decodes our export to the
// same values.
func TestMappingCiscoAVC(t *testing.T) {
	pcap := filepath.Join(nftest.Corpus(t), "netflow-exports/flowbeat/pcap/ipfix_cisco.pcap")
	msgs := payloads(t, pcap)
	m := loadMapping(t, ciscoAVC)
	plain := nftest.DecodeCapture(t, NewDecoder(), pcap)
	recs := nftest.DecodeCapture(t, NewDecoder(WithMapping(m)), pcap)
	want := tsharkFlows(t, msgs)
	if len(recs) != len(want) || len(recs) != len(plain) || len(recs) < 20 {
		t.Fatalf("%d records (%d plain), tshark %d flows", len(recs), len(plain), len(want))
	}
	check := func(what string, recs []flow.Record, want []map[string][]string) {
		t.Helper()
		n := 0
		for i := range recs {
			r, w := &recs[i], want[i]
			cli, srv, port := w["cflow.pie.cisco.connection_client_ipv4_address"], w["cflow.pie.cisco.connection_server_ipv4_address"], w["cflow.pie.cisco.connection_server_transport_port"]
			if len(cli) != 1 || len(srv) != 1 || len(port) != 1 {
				t.Fatalf("%s flow %d: tshark has no connection elements: %v", what, i, w)
			}
			if r.Key.Src.String() != cli[0] || r.Key.Dst.String() != srv[0] || strconv.Itoa(int(r.Key.DstPort)) != port[0] {
				t.Errorf("%s flow %d: %s -> %s:%d, tshark %s -> %s:%s", what, i, r.Key.Src, r.Key.Dst, r.Key.DstPort, cli[0], srv[0], port[0])
			}
			if r.Has&flow.HasKey == 0 || r.Key.AddrType != flow.AddrIPv4 {
				t.Errorf("%s flow %d: no IPv4 key", what, i)
			}
			if extraOf(r, 9, 12236) != nil || extraOf(r, 9, 12237) != nil || extraOf(r, 9, 12241) != nil {
				t.Errorf("%s flow %d: a mapped element is also in Extra", what, i)
			}
			n++
		}
		t.Logf("%s: %d flows' client, server and port agree with tshark", what, n)
	}
	check("decode", recs, want)
	for i := range plain {
		p, r := &plain[i], &recs[i]
		if p.Key.Src.IsValid() || extraOf(p, 9, 12236) == nil {
			t.Fatalf("plain flow %d: key %v, Extra 9/12236 %v", i, p.Key.Src, extraOf(p, 9, 12236))
		}
		if p.Bytes != r.Bytes || p.Pkts != r.Pkts || p.Start != r.Start || p.Last != r.Last || p.Key.Proto != r.Key.Proto {
			t.Fatalf("flow %d: the mapping changed more than the key", i)
		}
		if a := netip.AddrFrom4([4]byte(extraOf(p, 9, 12236))); a != r.Key.Src {
			t.Fatalf("flow %d: Extra holds %s, the key %s", i, a, r.Key.Src)
		}
	}

	// Encode with the mapping: the elements go back on the wire.
	var out [][]byte
	enc := NewEncoder(nil, WithEncoderMapping(m))
	var buf []byte
	for len(recs) > 0 {
		b, n, err := enc.AppendPacket(buf[:0], recs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(b))
		recs = recs[n:]
	}
	back := tsharkFlows(t, out)
	again := nftest.DecodeCapture(t, NewDecoder(WithMapping(m)), writeTemp(t, out))
	if len(back) != len(want) || len(again) != len(want) {
		t.Fatalf("re-encoded: tshark %d flows, we %d, want %d", len(back), len(again), len(want))
	}
	check("our export, tshark", again, back)
	check("our export, original tshark", again, want)
	if st := enc.Stats(); st.Unmapped != 0 {
		t.Errorf("encoder: %+v", st)
	}
}

func writeTemp(t testing.TB, msgs [][]byte) string {
	p := filepath.Join(t.TempDir(), "out.pcap")
	nftest.WritePcap(t, p, msgs, 4739)
	return p
}

// TestMappingSwapScale: softflowd's RFC 5103 biflow exports of the
// corpus decoded with a user mapping that says the exporter reports from
// the other end (swap) and counts octets in kilobytes (scale) give the
// plain decode's counters swapped and multiplied; dropping an element
// puts its value in Extra.
func TestMappingSwapScale(t *testing.T) {
	pcaps, _ := filepath.Glob(filepath.Join(nftest.Corpus(t), "generated/exports/ipfix_bi/pcap/*.pcap"))
	if len(pcaps) == 0 {
		t.Skip("no ipfix_bi captures")
	}
	m := loadMapping(t, `version: 1
schema: ipfix
fields:
  - {external: octetDeltaCount, canonical: src_bytes, convert: {swap: true}}
  - {external: reverseOctetDeltaCount, canonical: dst_bytes, convert: {swap: true}}
  - {external: packetDeltaCount, canonical: src_pkts, convert: {swap: true}}
  - {external: reversePacketDeltaCount, canonical: dst_pkts, convert: {swap: true}}
  - {external: protocolIdentifier, drop: true}
`)
	k := loadMapping(t, "version: 1\nschema: ipfix\nfields:\n  - {external: octetDeltaCount, canonical: src_bytes, convert: {scale: {multiply: 1024}}}\n")
	n, bi := 0, 0
	for _, pc := range pcaps {
		plain := nftest.DecodeCapture(t, NewDecoder(), pc)
		sw := nftest.DecodeCapture(t, NewDecoder(WithMapping(m)), pc)
		kb := nftest.DecodeCapture(t, NewDecoder(WithMapping(k)), pc)
		for i := range plain {
			p, s, q := &plain[i], &sw[i], &kb[i]
			if s.Bytes != [2]uint64{p.Bytes[1], p.Bytes[0]} || s.Pkts != [2]uint64{p.Pkts[1], p.Pkts[0]} {
				t.Fatalf("%s flow %d: swapped %v %v, plain %v %v", pc, i, s.Bytes, s.Pkts, p.Bytes, p.Pkts)
			}
			if s.Key.Proto != 0 || len(extraOf(s, 0, 4)) != 1 || extraOf(s, 0, 4)[0] != p.Key.Proto {
				t.Fatalf("flow %d: dropped protocol %d, Extra %v; plain %d", i, s.Key.Proto, extraOf(s, 0, 4), p.Key.Proto)
			}
			if q.Bytes[0] != p.Bytes[0]*1024 || q.Bytes[1] != p.Bytes[1] || q.Pkts != p.Pkts {
				t.Fatalf("flow %d: kilobytes %v, plain %v", i, q.Bytes, p.Bytes)
			}
			if p.Bytes[1] != 0 {
				bi++
			}
			n++
		}
	}
	if bi == 0 {
		t.Fatal("no biflow to swap")
	}
	t.Logf("%d flows (%d with reverse counts)", n, bi)
}

// TestMappingAllocs: decoding and encoding with a user mapping allocates
// nothing per record.
func TestMappingAllocs(t *testing.T) {
	pcap := filepath.Join(nftest.Corpus(t), "netflow-exports/flowbeat/pcap/ipfix_cisco.pcap")
	msgs := payloads(t, pcap)
	m := loadMapping(t, ciscoAVC+"  - {external: octetDeltaCount, canonical: src_bytes, convert: {scale: {multiply: 1024}}}\n")
	dec := NewDecoder(WithMapping(m))
	from := netip.MustParseAddrPort("192.0.2.1:4739")
	recs := make([]flow.Record, 0, 256)
	for _, b := range msgs {
		recs, _ = dec.DecodePacket(b, from, recs[:0])
	}
	enc := NewEncoder(nil, WithEncoderMapping(m))
	buf := make([]byte, 0, 65536)
	a := testing.AllocsPerRun(50, func() {
		for _, b := range msgs[1:] {
			recs, _ = dec.DecodePacket(b, from, recs[:0])
			rs := recs
			for len(rs) > 0 {
				var n int
				buf, n, _ = enc.AppendPacket(buf[:0], rs)
				rs = rs[n:]
			}
		}
	})
	if a != 0 {
		t.Errorf("%.1f allocations per run", a)
	}
}

// benchAVC decodes (and, with enc, re-encodes) the Cisco AVC capture's
// messages, with or without the user mapping of its connection elements.
func benchAVC(b *testing.B, mapped, enc bool) {
	pcap := filepath.Join(nftest.Corpus(b), "netflow-exports/flowbeat/pcap/ipfix_cisco.pcap")
	msgs := payloads(b, pcap)
	var m *Mapping
	if mapped {
		m = loadMapping(b, ciscoAVC)
	}
	dec := NewDecoder(WithMapping(m))
	from := netip.MustParseAddrPort("192.0.2.1:4739")
	recs := make([]flow.Record, 0, 256)
	n := 0 // records of the messages after the first (the template's)
	for i, x := range msgs {
		recs, _ = dec.DecodePacket(x, from, recs[:0])
		if i > 0 {
			n += len(recs)
		}
	}
	e := NewEncoder(nil, WithEncoderMapping(m))
	buf := make([]byte, 0, 65536)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, x := range msgs[1:] {
			recs, _ = dec.DecodePacket(x, from, recs[:0])
			for rs := recs; enc && len(rs) > 0; {
				var k int
				buf, k, _ = e.AppendPacket(buf[:0], rs)
				rs = rs[k:]
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

func BenchmarkAVCDecode(b *testing.B)             { benchAVC(b, false, false) }
func BenchmarkAVCDecodeMapped(b *testing.B)       { benchAVC(b, true, false) }
func BenchmarkAVCDecodeEncode(b *testing.B)       { benchAVC(b, false, true) }
func BenchmarkAVCDecodeEncodeMapped(b *testing.B) { benchAVC(b, true, true) }

// fuzzMapping has a rule of every kind the codec resolves: uint with
// scale and enum, addresses, a MAC, text (variable length), times and a
// duration, a swap and a drop.
const fuzzMapping = `version: 1
schema: ipfix
fields:
  - {external: octetDeltaCount, canonical: src_bytes, convert: {scale: {multiply: 1024}}}
  - {external: packetDeltaCount, canonical: src_pkts, convert: {swap: true}}
  - {external: protocolIdentifier, canonical: protocol, convert: {enum: {values: {"6": "6", "17": "17"}}}}
  - {external: sourceIPv4Address, canonical: dst_addr, convert: {family: ipv4}}
  - {external: destinationTransportPort, drop: true}
  - {external: 9/12236, canonical: src_addr, convert: {family: ipv4}}
  - {external: 4711/1, canonical: label}
  - {external: 4711/2, canonical: start_time, convert: {time: {unit: ms}}}
  - {external: 4711/3, canonical: duration, convert: {time: {unit: us}}}
  - {external: 4711/4, canonical: src_mac}
  - {external: 4711/5, canonical: next_hop, convert: {family: ipv6}}
`

// FuzzDecodeMapped: with a user mapping, any input decodes without panic
// and every record it gives re-encodes with the same mapping.
func FuzzDecodeMapped(f *testing.F) {
	tpl, data := benchMessages(3)
	f.Add(tpl)
	f.Add(data)
	if dir := os.Getenv("FLOWGATE_CORPUS"); dir != "" {
		for _, p := range payloads(f, filepath.Join(dir, "netflow-exports/flowbeat/pcap/ipfix_cisco.pcap")) {
			f.Add(p)
		}
	}
	m := loadMapping(f, fuzzMapping)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(WithMapping(m), WithTemplateLimit(64, 64<<10), WithPendingLimit(4096, 0))
		e := NewEncoder(nil, WithEncoderMapping(m), WithLossyEncode())
		var recs []flow.Record
		for range 2 {
			recs, _ = d.DecodePacket(b, benchFrom, recs[:0])
			for rs := recs; len(rs) > 0; {
				_, n, _ := e.AppendPacket(nil, rs)
				rs = rs[max(n, 1):]
			}
		}
	})
}
