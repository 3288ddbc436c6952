package argus

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// benchData is the upstream 5.x sample when the corpus is available, else
// a generated stream of §12.1 and §12.4 records.
func benchData(tb testing.TB) []byte {
	if root := os.Getenv("FLOWGATE_CORPUS"); root != "" {
		if d, err := os.ReadFile(filepath.Join(root, "argus/openargus-clients/baseline.2024.01.25.out")); err == nil {
			return d
		}
	}
	d := spec124(tb)
	rec := d[128:]
	for len(d) < 1<<20 {
		d = append(d, rec...)
	}
	return d
}

func BenchmarkDecode(b *testing.B) {
	data := benchData(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var rec flow.Record
	recs := 0
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if err := r.Decode(&rec); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			recs++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(recs), "ns/record")
}

func BenchmarkEncode(b *testing.B) {
	data := benchData(b)
	recs, _ := readAll(b, data)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		w, _ := NewWriter(io.Discard, 5)
		for i := range recs {
			if err := w.Encode(&recs[i]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		w.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}

// TestDecodeAllocs guards the hot path: Decode allocates nothing per
// record once its buffers are warm.
func TestDecodeAllocs(t *testing.T) {
	one := spec124(t)
	data := append([]byte(nil), one...)
	for range 200 {
		data = append(data, one[128:]...)
	}
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var rec flow.Record
	r.Decode(&rec)
	r.Decode(&rec)
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.Decode(&rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %.1f times per record", allocs)
	}
	w, _ := NewWriter(io.Discard, 5)
	w.Encode(&rec)
	if a := testing.AllocsPerRun(100, func() { w.Encode(&rec) }); a != 0 {
		t.Fatalf("Encode allocates %.1f times per record", a)
	}
}
