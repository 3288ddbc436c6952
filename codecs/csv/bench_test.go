package csv

import (
	"io"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// loopReader replays one buffer forever (without its header after the
// first pass), so that reading measures the decoder and not the source.
type loopReader struct {
	b    []byte
	body int // where the records start
	off  int
}

func newLoop(b []byte) *loopReader {
	l := &loopReader{b: b}
	for i, c := range b {
		if c == '\n' {
			l.body = i + 1
			break
		}
	}
	return l
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.b) {
		l.off = l.body
	}
	n := copy(p, l.b[l.off:])
	l.off += n
	return n, nil
}

// TestAllocs: no allocation per record, reading or writing, in any dialect.
func TestAllocs(t *testing.T) {
	recs := corpusFlows(t)
	for _, d := range Dialects {
		w, err := NewWriter(io.Discard, d)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		allocs := testing.AllocsPerRun(5000, func() {
			if err := w.Encode(&recs[i%len(recs)]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: Encode: %.2f allocations per record, want 0", d, allocs)
		}
		rd, err := NewReader(newLoop(write(t, d, recs)), d)
		if err != nil {
			t.Fatal(err)
		}
		var r flow.Record
		for range len(recs) { // grow the buffers first
			if err := rd.Decode(&r); err != nil {
				t.Fatal(err)
			}
		}
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
	recs := corpusFlows(b)
	for _, d := range Dialects {
		b.Run(d, func(b *testing.B) {
			w, err := NewWriter(io.Discard, d)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.Encode(&recs[i%len(recs)])
			}
			w.Flush()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	recs := corpusFlows(b)
	for _, d := range Dialects {
		b.Run(d, func(b *testing.B) {
			rd, err := NewReader(newLoop(write(b, d, recs)), d)
			if err != nil {
				b.Fatal(err)
			}
			var r flow.Record
			b.ReportAllocs()
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
