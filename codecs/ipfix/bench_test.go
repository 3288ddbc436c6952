package ipfix

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

var bbe = binary.BigEndian

// benchMessages returns an IPFIX template message and a data message of
// n records in the layout softflowd and most routers use (IPv4 5-tuple,
// counters, ms times, flags, TOS, interfaces, next hop, AS numbers).
func benchMessages(n int) (tpl, data []byte) {
	fields := [][2]uint16{{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {5, 1}, {1, 8}, {2, 8},
		{152, 8}, {153, 8}, {10, 4}, {14, 4}, {15, 4}, {16, 4}, {17, 4}}
	var t []byte
	t = bbe.AppendUint16(t, 256)
	t = bbe.AppendUint16(t, uint16(len(fields)))
	for _, f := range fields {
		t = bbe.AppendUint16(t, f[0])
		t = bbe.AppendUint16(t, f[1])
	}
	tpl = benchMsg(benchSet(2, t))
	var d []byte
	for i := range n {
		d = append(d, 10, 0, byte(i>>8), byte(i), 192, 168, 1, byte(i))
		d = bbe.AppendUint16(d, uint16(1024+i))
		d = bbe.AppendUint16(d, 443)
		d = append(d, 6, 0x1b, 0)
		d = bbe.AppendUint64(d, uint64(1500*i+40))
		d = bbe.AppendUint64(d, uint64(i+1))
		d = bbe.AppendUint64(d, 1700000000000+uint64(i))
		d = bbe.AppendUint64(d, 1700000001000+uint64(i))
		d = bbe.AppendUint32(d, 1)
		d = bbe.AppendUint32(d, 2)
		d = append(d, 10, 0, 0, 254)
		d = bbe.AppendUint32(d, 64512)
		d = bbe.AppendUint32(d, 15169)
	}
	data = benchMsg(benchSet(256, d))
	return tpl, data
}

func benchSet(id uint16, body []byte) []byte {
	b := bbe.AppendUint16(nil, id)
	b = bbe.AppendUint16(b, uint16(4+len(body)))
	return append(b, body...)
}

func benchMsg(sets []byte) []byte {
	b := bbe.AppendUint16(nil, 10)
	b = bbe.AppendUint16(b, uint16(16+len(sets)))
	b = bbe.AppendUint32(b, 1700000002)
	b = bbe.AppendUint32(b, 0)
	b = bbe.AppendUint32(b, 1)
	return append(b, sets...)
}

var benchFrom = netip.MustParseAddrPort("192.0.2.1:4739")

// BenchmarkDecode decodes 28-record data messages into reused records.
// SetBytes is the message size; ns/record = ns/op / 28.
func BenchmarkDecode(b *testing.B) {
	const n = 28
	tpl, data := benchMessages(n)
	d := NewDecoder()
	recs, _ := d.DecodePacket(tpl, benchFrom, nil)
	recs = make([]flow.Record, 0, n)
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

// TestDecodeAllocs: decoding data records into reused records allocates
// nothing.
func TestDecodeAllocs(t *testing.T) {
	tpl, data := benchMessages(28)
	d := NewDecoder()
	d.DecodePacket(tpl, benchFrom, nil)
	recs := make([]flow.Record, 0, 28)
	a := testing.AllocsPerRun(100, func() {
		recs, _ = d.DecodePacket(data, benchFrom, recs[:0])
	})
	if a != 0 || len(recs) != 28 {
		t.Errorf("%v allocations per message (%d records)", a, len(recs))
	}
}

// BenchmarkDecodeToArgus decodes 28-record messages and writes each
// record as Argus 5 (issue 4 point 5: at most 0.4 µs a record, no
// allocation).
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
