package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// nopEmitter takes batches and counts their records.
type nopEmitter struct{ n int }

func (e *nopEmitter) Emit(_ context.Context, recs []flow.Record) error { e.n += len(recs); return nil }
func (e *nopEmitter) Sync(context.Context) error                       { return nil }

// allocsPerRecord runs src over its whole input runs times and returns the
// allocations per record read (opening the file, the reader's buffers and
// the first batch are a fixed cost a file pays once).
func allocsPerRecord(t *testing.T, text string) (float64, int) {
	t.Helper()
	var em nopEmitter
	run := func() {
		em.n = 0
		if err := makeSource(t, text).Run(context.Background(), &em); err != nil {
			t.Fatal(err)
		}
	}
	run()
	n := em.n
	a := testing.AllocsPerRun(3, run)
	return a / float64(n), n
}

// The file sources allocate per file, not per record, where the codec
// does not (the argus, zeek and csv readers decode in place).
func TestFileSourceAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("reads corpus files several times")
	}
	for _, p := range []string{
		corpus(t, "argus/openargus-clients/baseline.2024.01.25.out"),
		repeatLog(t, "zeek/slips/test9-mixed-zeek-dir/conn.log", 40),
		repeatLog(t, "zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled", 40),
	} {
		a, n := allocsPerRecord(t, p)
		t.Logf("%s: %d records, %.4f allocs/record", filepath.Base(p), n, a)
		if a > 0.05 {
			t.Errorf("%s: %.3f allocs per record", p, a)
		}
	}
}

// repeatLog writes a conn.log of the corpus log's records repeated n
// times, under its header.
func repeatLog(t testing.TB, rel string, n int) string {
	data, err := os.ReadFile(corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	hdr, lines, _ := splitLog(data)
	big := append([]byte(nil), hdr...)
	for range n {
		for _, l := range lines {
			big = append(big, l...)
		}
	}
	p := filepath.Join(t.TempDir(), filepath.Base(rel))
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func benchFile(b *testing.B, text string) {
	var em nopEmitter
	b.ReportAllocs()
	recs := 0
	for b.Loop() {
		em.n = 0
		if err := makeSource(b, text).Run(context.Background(), &em); err != nil {
			b.Fatal(err)
		}
		recs += em.n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(recs), "ns/record")
}

func BenchmarkFileSourceArgus(b *testing.B) {
	benchFile(b, corpus(b, "argus/openargus-clients/baseline.2024.01.25.out"))
}

func BenchmarkFileSourceZeekJSON(b *testing.B) {
	benchFile(b, repeatLog(b, "zeek/slips/test9-mixed-zeek-dir/conn.log", 50))
}

func BenchmarkFileSourceZeekTSV(b *testing.B) {
	benchFile(b, repeatLog(b, "zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled", 50))
}

// countEmitter counts records; it is read from another goroutine.
type countEmitter struct{ n atomic.Int64 }

func (e *countEmitter) Emit(_ context.Context, recs []flow.Record) error {
	e.n.Add(int64(len(recs)))
	return nil
}
func (e *countEmitter) Sync(context.Context) error { return nil }

// followOnce follows path from its start until want records went out.
func followOnce(t testing.TB, path string, want int64) {
	os.Remove(statePath(path)) // from the start each time
	src := makeSource(t, "zeek:"+path)
	var em countEmitter
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, &em) }()
	for em.n.Load() < want {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Following a log allocates per file and per wait, not per record.
func TestFollowAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("reads corpus files several times")
	}
	p := repeatLog(t, "zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled", 40)
	var em nopEmitter
	if err := makeSource(t, p).Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	n := int64(em.n)
	a := testing.AllocsPerRun(3, func() { followOnce(t, p, n) }) / float64(n)
	t.Logf("%d records, %.4f allocs/record", n, a)
	if a > 0.05 {
		t.Errorf("%.3f allocs per record", a)
	}
}

func BenchmarkFollowZeekTSV(b *testing.B) {
	p := repeatLog(b, "zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled", 50)
	var em nopEmitter
	if err := makeSource(b, p).Run(context.Background(), &em); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		followOnce(b, p, int64(em.n))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*em.n), "ns/record")
}

// A capture through the sensor (its flow tables allocate per flow).
func BenchmarkPcapSource(b *testing.B) {
	benchFile(b, "pcap:"+corpus(b, "traffic/slips/test-cc-capture-1.pcap"))
}

// The generated benchmark capture (make bench-data; 1 M packets, about
// 200 k flows) through the pcap source, for comparison with
// `flowgate sensor -r .bench/gen-1000000.pcap -w /dev/null`.
func BenchmarkPcapSourceGen(b *testing.B) {
	p := filepath.Join("..", "..", ".bench", "gen-1000000.pcap")
	if _, err := os.Stat(p); err != nil {
		b.Skip(err)
	}
	benchFile(b, "pcap:"+p)
}
