package jsonl

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// benchRecords is a mix of corpus flows (IPv4, IPv6, TCP, UDP, ICMP).
func benchRecords(tb testing.TB) []flow.Record {
	files, _ := filepath.Glob(filepath.Join(corpus(tb), "argus/oracle/*/v5.argus"))
	var recs []flow.Record
	for _, f := range files {
		recs = append(recs, argusFlows(tb, f)...)
	}
	if len(recs) == 0 {
		tb.Skip("no corpus records")
	}
	return recs
}

// loopReader replays one buffer forever, so that reading measures the
// decoder and not the source.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.b) {
		l.off = 0
	}
	n := copy(p, l.b[l.off:])
	l.off += n
	return n, nil
}

func TestAllocs(t *testing.T) {
	recs := benchRecords(t)
	for _, d := range Dialects {
		w, err := NewWriter(io.Discard, d)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		allocs := testing.AllocsPerRun(5000, func() {
			if err := w.Encode(&recs[i%len(recs)]); err != nil && !oneWayLoss(w, &recs[i%len(recs)], err) {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: Encode: %.2f allocations per record, want 0", d, allocs)
		}

		rd, err := NewReader(&loopReader{b: write(t, d, recs)}, d)
		if err != nil {
			t.Fatal(err)
		}
		var r flow.Record
		allocs = testing.AllocsPerRun(5000, func() {
			if err := rd.Decode(&r); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Decode: %.2f allocations per record, want 0", d, allocs)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	recs := benchRecords(b)
	for _, d := range Dialects {
		b.Run(d, func(b *testing.B) {
			w, err := NewWriter(io.Discard, d)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// goflow2 refuses biflows (an error after the line is
				// written, as convert --lossy takes it): TestAllocs checks
				// which errors these are, at no cost here.
				if err := w.Encode(&recs[i%len(recs)]); err != nil && !w.plan.OneWay() {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	recs := benchRecords(b)
	for _, d := range Dialects {
		b.Run(d, func(b *testing.B) {
			data := write(b, d, recs)
			rd, err := NewReader(&loopReader{b: data}, d)
			if err != nil {
				b.Fatal(err)
			}
			var r flow.Record
			b.ReportAllocs()
			b.SetBytes(int64(len(data) / len(recs)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := rd.Decode(&r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
