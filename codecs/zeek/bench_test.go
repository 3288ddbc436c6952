package zeek

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// sampleRecords makes n varied records as a TCP/UDP mix of a sensor.
func sampleRecords(n int) []flow.Record {
	recs := make([]flow.Record, n)
	uid := []byte("CHhAvVGS1DHFjwGM9")
	for i := range recs {
		r := &recs[i]
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasAppBytes | flow.HasZeek
		r.Key.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		r.Key.Dst = netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})
		r.Key.SrcPort, r.Key.DstPort = uint16(1024+i), 443
		r.Key.Proto = 6
		if i%3 == 0 {
			r.Key.Proto, r.Key.DstPort = 17, 53
		}
		r.Start = 1601998366785668000 + int64(i)*1e6
		r.Last = r.Start + int64(i%1000)*1234000
		r.Pkts = [2]uint64{uint64(i % 50), uint64(i % 40)}
		r.Bytes = [2]uint64{uint64(i%50) * 80, uint64(i%40) * 1200}
		r.AppBytes = [2]uint64{uint64(i%50) * 40, uint64(i%40) * 1160}
		r.Zeek.UID = uid
		r.Zeek.Service = []byte("ssl")
		r.Zeek.State = []byte("SF")
		r.Zeek.History = []byte("ShADadFf")
	}
	return recs
}

func sampleLog(tb testing.TB, n int, f Format) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, WithFormat(f))
	w.Now = func() time.Time { return time.Unix(1601998366, 0) }
	recs := sampleRecords(n)
	for i := range recs {
		if err := w.Encode(&recs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func benchRead(b *testing.B, f Format) {
	const n = 10000
	data := sampleLog(b, n, f)
	var rec flow.Record
	b.SetBytes(int64(len(data) / n))
	b.ReportAllocs()
	b.ResetTimer()
	rd := NewReader(bytes.NewReader(data))
	for i := 0; i < b.N; i++ {
		err := rd.Decode(&rec)
		if errors.Is(err, io.EOF) {
			b.StopTimer()
			rd = NewReader(bytes.NewReader(data))
			b.StartTimer()
			err = rd.Decode(&rec)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchWrite(b *testing.B, f Format) {
	recs := sampleRecords(1000)
	w := NewWriter(io.Discard, WithFormat(f))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.Encode(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadTSV(b *testing.B)   { benchRead(b, FormatTSV) }
func BenchmarkReadJSON(b *testing.B)  { benchRead(b, FormatJSON) }
func BenchmarkWriteTSV(b *testing.B)  { benchWrite(b, FormatTSV) }
func BenchmarkWriteJSON(b *testing.B) { benchWrite(b, FormatJSON) }

// TestAllocs: no allocation per record once the reader and writer are
// warm, in both forms.
func TestAllocs(t *testing.T) {
	for _, f := range []Format{FormatTSV, FormatJSON} {
		data := sampleLog(t, 2000, f)
		rd := NewReader(bytes.NewReader(data))
		var rec flow.Record
		for i := 0; i < 10; i++ {
			if err := rd.Decode(&rec); err != nil {
				t.Fatal(err)
			}
		}
		w := NewWriter(io.Discard, WithFormat(f))
		w.Encode(&rec)
		a := testing.AllocsPerRun(1000, func() {
			if err := rd.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Encode(&rec); err != nil {
				t.Fatal(err)
			}
		})
		if a != 0 {
			t.Errorf("format %d: %.1f allocations per record", f, a)
		}
	}
}
