package netflow9

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

var bbe = binary.BigEndian

// benchMessages returns a v9 template packet and a data packet of n
// records in the classic Cisco layout (IPv4 5-tuple, 4-byte counters,
// FIRST/LAST_SWITCHED, flags, TOS, interfaces, next hop, AS, masks).
func benchMessages(n int) (tpl, data []byte) {
	fields := [][2]uint16{{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {5, 1}, {1, 4}, {2, 4},
		{22, 4}, {21, 4}, {10, 2}, {14, 2}, {15, 4}, {16, 2}, {17, 2}, {9, 1}, {13, 1}}
	var t []byte
	t = bbe.AppendUint16(t, 256)
	t = bbe.AppendUint16(t, uint16(len(fields)))
	for _, f := range fields {
		t = bbe.AppendUint16(t, f[0])
		t = bbe.AppendUint16(t, f[1])
	}
	tpl = benchPkt(benchSet(0, t))
	var d []byte
	for i := range n {
		d = append(d, 10, 0, byte(i>>8), byte(i), 192, 168, 1, byte(i))
		d = bbe.AppendUint16(d, uint16(1024+i))
		d = bbe.AppendUint16(d, 443)
		d = append(d, 6, 0x1b, 0)
		d = bbe.AppendUint32(d, uint32(1500*i+40))
		d = bbe.AppendUint32(d, uint32(i+1))
		d = bbe.AppendUint32(d, 3_600_000+uint32(i))
		d = bbe.AppendUint32(d, 3_601_000+uint32(i))
		d = bbe.AppendUint16(d, 1)
		d = bbe.AppendUint16(d, 2)
		d = append(d, 10, 0, 0, 254)
		d = bbe.AppendUint16(d, 64512)
		d = bbe.AppendUint16(d, 15169)
		d = append(d, 24, 16)
	}
	for len(d)%4 != 0 {
		d = append(d, 0)
	}
	data = benchPkt(benchSet(256, d))
	return tpl, data
}

func benchSet(id uint16, body []byte) []byte {
	b := bbe.AppendUint16(nil, id)
	b = bbe.AppendUint16(b, uint16(4+len(body)))
	return append(b, body...)
}

func benchPkt(sets []byte) []byte {
	b := bbe.AppendUint16(nil, 9)
	b = bbe.AppendUint16(b, 1)
	b = bbe.AppendUint32(b, 3_602_000) // sysUpTime
	b = bbe.AppendUint32(b, 1700000002)
	b = bbe.AppendUint32(b, 0)
	b = bbe.AppendUint32(b, 1)
	return append(b, sets...)
}

var benchFrom = netip.MustParseAddrPort("192.0.2.1:2055")

// BenchmarkDecode decodes 28-record data packets into reused records.
func BenchmarkDecode(b *testing.B) {
	const n = 28
	tpl, data := benchMessages(n)
	d := NewDecoder()
	d.DecodePacket(tpl, benchFrom, nil)
	recs := make([]flow.Record, 0, n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		recs, _ = d.DecodePacket(data, benchFrom, recs[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	if len(recs) != n {
		b.Fatal(len(recs))
	}
}

// BenchmarkDecodeToArgus: decoding v9 data records and writing them as
// Argus 5, the collector's path (issue budget: 400 ns a record).
func BenchmarkDecodeToArgus(b *testing.B) {
	const n = 28
	tpl, data := benchMessages(n)
	d := NewDecoder()
	d.DecodePacket(tpl, benchFrom, nil)
	w, err := argus.NewWriter(io.Discard, 5, argus.WithLossy(func(string, string) {}))
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]flow.Record, 0, n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		recs, _ = d.DecodePacket(data, benchFrom, recs[:0])
		for i := range recs {
			if err := w.Encode(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// TestDecodeAllocs: decoding data records into reused records allocates
// nothing, and the benchmark's records decode as laid out.
func TestDecodeAllocs(t *testing.T) {
	tpl, data := benchMessages(28)
	d := NewDecoder()
	d.DecodePacket(tpl, benchFrom, nil)
	recs := make([]flow.Record, 0, 28)
	a := testing.AllocsPerRun(100, func() {
		recs, _ = d.DecodePacket(data, benchFrom, recs[:0])
	})
	if a != 0 || len(recs) != 28 {
		t.Fatalf("%v allocations per packet (%d records)", a, len(recs))
	}
	r := &recs[5]
	// Export at unix 1700000002 with sysUpTime 3602000 ms: boot at
	// 1699996400; FIRST_SWITCHED 3600005 ms is 1699999999.995... + 1 s.
	if r.Key.Src.String() != "10.0.0.5" || r.Key.DstPort != 443 || r.Bytes[0] != 7540 || r.Pkts[0] != 6 ||
		r.Start != 1700000000005e6 || r.Last != 1700000001005e6 || r.Key.SrcMask != 24 || r.ASN.Dst != 15169 || r.InIf != 1 {
		t.Errorf("record 5: %+v start %d last %d", r.Key, r.Start, r.Last)
	}
}
