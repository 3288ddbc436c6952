package conformance

// Issue 5 point 7: Zeek TSV to Argus v5 and Argus v5 to JSON lines at 1 M
// records/s per core or better, with no allocation per record in the
// codecs. The benchmarks run the same per-record work as `flowgate
// convert` (decode, detach the record's bytes into the batch arena, encode)
// on real records: every corpus conn.log written as one Zeek TSV log, and
// every corpus Argus v5 oracle file. scripts/bench-convert.sh times the
// command itself on large files.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// corpusConnLog writes every record of every corpus conn.log (TSV and
// JSON) into one TSV log of Zeek's current columns, as Zeek would write
// them, and returns it with its record count.
func corpusConnLog(tb testing.TB) ([]byte, int) {
	tb.Helper()
	dir := corpusDir(tb, "zeek")
	var logs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "conn") && strings.Contains(d.Name(), ".log") {
			logs = append(logs, p)
		}
		return nil
	})
	var out bytes.Buffer
	w := zeek.NewWriter(&out)
	w.Now = func() time.Time { return time.Unix(1700000000, 0) }
	w.CommunityIDColumn()
	n := 0
	var rec flow.Record
	for _, p := range logs {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		rd := zeek.NewReader(f, zeek.WithFileName(p))
		for {
			err := rd.Decode(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			if err := w.Encode(&rec); err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			n++
		}
		f.Close()
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if n == 0 {
		tb.Skip("no conn.log in the corpus")
	}
	return out.Bytes(), n
}

// corpusArgus5 returns every corpus Argus v5 oracle file's records as one
// Argus v5 stream written by our writer, and the record count.
func corpusArgus5(tb testing.TB) ([]byte, int) {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(corpusDir(tb, "argus"), "oracle/*/v5.argus"))
	var out bytes.Buffer
	w, err := argus.NewWriter(&out, 5)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	var rec flow.Record
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		rd, err := argus.NewReader(f, argus.WithFileName(p))
		if err != nil {
			tb.Fatal(err)
		}
		for {
			err := rd.Decode(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			if rec.Type == flow.TypeMgmt {
				continue
			}
			if err := w.Encode(&rec); err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			n++
		}
		f.Close()
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if n == 0 {
		tb.Skip("no Argus v5 file in the corpus")
	}
	return out.Bytes(), n
}

// decoder is what both readers are.
type decoder interface{ Decode(*flow.Record) error }

// pipe runs one record through decode, detach and encode, reopening the
// input at its end (outside the timer when b is not nil).
type pipe struct {
	open  func() decoder
	dec   decoder
	enc   func(*flow.Record) error
	rec   flow.Record
	arena []byte
}

func (p *pipe) step(b *testing.B) error {
	err := p.dec.Decode(&p.rec)
	if errors.Is(err, io.EOF) {
		if b != nil {
			b.StopTimer()
		}
		p.dec = p.open()
		if b != nil {
			b.StartTimer()
		}
		err = p.dec.Decode(&p.rec)
	}
	if err != nil {
		return err
	}
	if len(p.arena) > 1<<20 {
		p.arena = p.arena[:0] // convert resets it per batch of 256
	}
	p.arena = p.rec.DetachInto(p.arena)
	if p.rec.Type == flow.TypeMgmt {
		return nil
	}
	return p.enc(&p.rec)
}

func zeekToArgusPipe(tb testing.TB) (*pipe, int) {
	data, n := corpusConnLog(tb)
	w, err := argus.NewWriter(io.Discard, 5)
	if err != nil {
		tb.Fatal(err)
	}
	p := &pipe{open: func() decoder { return zeek.NewReader(bytes.NewReader(data)) }, enc: w.Encode}
	p.dec = p.open()
	return p, n
}

func argusToJSONPipe(tb testing.TB, dialect string) (*pipe, int) {
	data, n := corpusArgus5(tb)
	w, err := jsonl.NewWriter(io.Discard, dialect)
	if err != nil {
		tb.Fatal(err)
	}
	p := &pipe{open: func() decoder {
		// convert skips the rewrite check when the sink is not Argus
		rd, err := argus.NewReader(bytes.NewReader(data), argus.WithoutRewriteCheck())
		if err != nil {
			tb.Fatal(err)
		}
		return rd
	}, enc: func(r *flow.Record) error {
		// as convert --lossy: a one-way dialect (goflow2) leaves a
		// biflow's reverse counters out, counted, and says so
		if err := w.Encode(r); err != nil && !errors.Is(err, codecs.ErrNotRepresentable) {
			return err
		}
		return nil
	}}
	p.dec = p.open()
	return p, n
}

func benchPipe(b *testing.B, p *pipe) {
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := p.step(b); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrec/s")
}

// cpuTime is the process's CPU time (user+sys): on a machine shared with
// other loads, CPU time per record varies far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU ns per record and records per CPU-second since c0
// (the re-opening of the input, outside the timer, included: it is rare).
func reportCPU(b *testing.B, c0 time.Duration) {
	cpu := cpuTime() - c0
	if cpu <= 0 {
		return
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/cpu.Seconds()/1e6, "Mrec/cpu-s")
}

// BenchmarkZeekTSVToArgus5: a Zeek TSV conn.log to Argus v5 records.
func BenchmarkZeekTSVToArgus5(b *testing.B) {
	p, _ := zeekToArgusPipe(b)
	benchPipe(b, p)
}

// BenchmarkArgus5ToJSON: Argus v5 to JSON lines, per dialect.
func BenchmarkArgus5ToJSON(b *testing.B) {
	for _, d := range jsonl.Dialects {
		b.Run(d, func(b *testing.B) {
			p, _ := argusToJSONPipe(b, d)
			benchPipe(b, p)
		})
	}
}

// TestConvertPipelineAllocs: the two point 7 conversions allocate nothing
// per record once warm (over more than one pass of the input, so that
// reopening is inside the measured runs only as often as it is in a long
// file: never, once the arena and buffers have grown).
func TestConvertPipelineAllocs(t *testing.T) {
	check := func(name string, p *pipe, n int) {
		for i := 0; i <= n; i++ { // a pass and the next one's first record

			if err := p.step(nil); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		runs := n - 3 // stay inside the second pass (AllocsPerRun warms up once)
		if runs > 2000 {
			runs = 2000
		}
		if a := testing.AllocsPerRun(runs, func() {
			if err := p.step(nil); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}); a != 0 {
			t.Errorf("%s: %.2f allocations per record, want 0", name, a)
		}
	}
	p, n := zeekToArgusPipe(t)
	check("zeek TSV to Argus v5", p, n)
	for _, d := range jsonl.Dialects {
		p, n := argusToJSONPipe(t, d)
		check("Argus v5 to JSON "+d, p, n)
	}
}

// BenchmarkZeekTSVToArgus5Encode: the Argus v5 side of
// BenchmarkZeekTSVToArgus5 alone (the corpus conn.log's records decoded
// once), to tell the writer's cost from the reader's. 256 records spread
// over the log, as hot in cache as a convert batch's.
func BenchmarkZeekTSVToArgus5Encode(b *testing.B) {
	data, n := corpusConnLog(b)
	rd := zeek.NewReader(bytes.NewReader(data))
	var recs []flow.Record
	for i := 0; ; i++ {
		var r flow.Record
		err := rd.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if i%max(1, n/256) == 0 {
			r.DetachInto(nil)
			recs = append(recs, r)
		}
	}
	w, err := argus.NewWriter(io.Discard, 5)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := w.Encode(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}
