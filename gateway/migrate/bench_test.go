package migrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/klauspost/compress/gzip"
)

// benchTree writes files gzip'd 3.x files of records records each, the
// corpus's 3.x records over and over, and returns the records in all.
func benchTree(b *testing.B, dir string, files, records int) int64 {
	b.Helper()
	var recs []flow.Record
	for _, f := range corpusArgus(b, "v3full") {
		in, err := os.Open(f)
		if err != nil {
			b.Fatal(err)
		}
		rd, err := argus.NewReader(in)
		if err != nil {
			b.Fatal(err)
		}
		for {
			var r flow.Record
			if rd.Decode(&r) != nil {
				break
			}
			if r.Type&0x80 == 0 {
				r.Detach()
				recs = append(recs, r)
			}
		}
		in.Close()
	}
	var total int64
	for i := range files {
		var raw bytes.Buffer
		w, _ := argus.NewWriter(&raw, 3)
		for k := range records {
			if err := w.Encode(&recs[(i*records+k)%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
		w.Close()
		total += int64(w.Report().Records)
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(raw.Bytes())
		zw.Close()
		name := filepath.Join(dir, fmt.Sprintf("argus.2026.01.01.%02d.00.00.out.gz", i))
		if err := os.WriteFile(name, z.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return total
}

// BenchmarkMigrate migrates a tree of gzip'd 3.x files (8 × 25,000
// records) to 5.x, verified, the default way, and reports records/s.
// Its "gzip-only" part does only the compression work of the same
// migration (inflate the input, deflate the 5.x stream, inflate it
// again to read it back), on as many goroutines: the floor under it.
func BenchmarkMigrate(b *testing.B) {
	const files, records = 8, 25000
	src := b.TempDir()
	total := benchTree(b, src, files, records)
	for _, level := range []int{0, 2} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst := filepath.Join(b.TempDir(), "dst")
				s, err := Run(context.Background(), src, dst, Options{Level: level})
				if err != nil || s.Migrated != files {
					b.Fatalf("%+v %v", s, err)
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(fmt.Sprintf("level=%d/gzip-only", level), func(b *testing.B) {
			dst := filepath.Join(b.TempDir(), "dst")
			if _, err := Run(context.Background(), src, dst, Options{}); err != nil {
				b.Fatal(err)
			}
			names, _ := filepath.Glob(filepath.Join(src, "*.gz"))
			ins := make([][]byte, len(names))
			outs := make([][]byte, len(names))
			for i, n := range names {
				ins[i], _ = os.ReadFile(n)
				o, _ := os.ReadFile(filepath.Join(dst, filepath.Base(n)))
				z, _ := gzip.NewReader(bytes.NewReader(o))
				outs[i], _ = io.ReadAll(z)
			}
			b.ReportAllocs()
			for b.Loop() {
				done := make(chan struct{})
				work := make(chan int)
				for range 2 {
					go func() {
						var buf bytes.Buffer
						for i := range work {
							z, _ := gzip.NewReader(bytes.NewReader(ins[i]))
							io.Copy(io.Discard, z)
							buf.Reset()
							zw, _ := compressor(&buf, Gzip, level)
							zw.Write(outs[i])
							zw.Close()
							z, _ = gzip.NewReader(&buf)
							io.Copy(io.Discard, z)
						}
						done <- struct{}{}
					}()
				}
				for i := range ins {
					work <- i
				}
				close(work)
				<-done
				<-done
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
