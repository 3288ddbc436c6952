package argus

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs/zeek"
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

// zeekArgus is every corpus conn.log's records (uid, service, history,
// state, columns, unset masks in the label) written as one Argus 5
// stream; nil without the corpus.
func zeekArgus(tb testing.TB) (data []byte, n int) {
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		tb.Skip("FLOWGATE_CORPUS not set")
	}
	var out bytes.Buffer
	w, _ := NewWriter(&out, 5)
	filepath.Walk(filepath.Join(root, "zeek"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasPrefix(info.Name(), "conn.log") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		zr := zeek.NewReader(f)
		var rec flow.Record
		for zr.Decode(&rec) == nil {
			if err := w.Encode(&rec); err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			n++
		}
		return nil
	})
	w.Flush()
	return out.Bytes(), n
}

// BenchmarkDecodeZeekLabels reads records whose labels carry Zeek
// columns (the corpus conn.logs' 1852 records).
func BenchmarkDecodeZeekLabels(b *testing.B) {
	data, n := zeekArgus(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var rec flow.Record
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(data))
		for r.Decode(&rec) == nil {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/record")
}

// BenchmarkEncodeZeekLabels writes them back.
func BenchmarkEncodeZeekLabels(b *testing.B) {
	data, _ := zeekArgus(b)
	recs, _ := readAll(b, data)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w, _ := NewWriter(io.Discard, 5)
		for i := range recs {
			if err := w.Encode(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
		w.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(recs)*b.N), "ns/record")
}

// TestZeekLabelAllocs: reading and writing the corpus conn.logs' records
// through Argus labels allocates nothing per record once warm.
func TestZeekLabelAllocs(t *testing.T) {
	data, n := zeekArgus(t)
	if n < 1000 {
		t.Fatalf("%d records", n)
	}
	r, _ := NewReader(bytes.NewReader(data))
	w, _ := NewWriter(io.Discard, 5)
	var rec flow.Record
	for range 200 { // warm: buffers, Extra capacity, the column name cache
		r.Decode(&rec)
		w.Encode(&rec)
	}
	if a := testing.AllocsPerRun(1000, func() {
		if err := r.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Encode(&rec); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("%.2f allocations per record", a)
	}
}
