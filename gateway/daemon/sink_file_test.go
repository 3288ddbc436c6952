package daemon

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/prometheus/client_golang/prometheus"
)

// corpusArgus reads every record of the corpus's Argus files matching
// pattern (under argus/), detached, in file order.
func corpusArgus(t testing.TB, patterns ...string) (recs []flow.Record, files []string) {
	t.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS not set; see /work/shared/corpus/README.md")
	}
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(root, "argus", p))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no corpus file matches %v", patterns)
	}
	for _, f := range files {
		recs = append(recs, readArgusFile(t, f)...)
	}
	return recs, files
}

func readArgusFile(t testing.TB, name string) []flow.Record {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rd, err := argus.NewReader(fh, argus.WithFileName(name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []flow.Record
	for {
		var r flow.Record
		err := rd.Decode(&r)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: record %d: %v", name, len(out), err)
		}
		r.Detach()
		out = append(out, r)
	}
}

// testClock is a clock the test moves.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// lossTally is a LostFunc that counts by reason.
type lossTally struct {
	n    map[Reason]int
	recs []*flow.Record
}

func newTally() *lossTally { return &lossTally{n: map[Reason]int{}} }

func (l *lossTally) lost(r *flow.Record, why Reason) {
	l.n[why]++
	l.recs = append(l.recs, r)
}

func sinkCfg(t testing.TB, text string, rot config.Rotate) config.Sink {
	t.Helper()
	ep, err := gateway.ParseEndpoint(text)
	if err != nil {
		t.Fatal(err)
	}
	return config.Sink{Endpoint: config.Endpoint{Text: text, Kind: config.KindFile, Net: ep}, Rotate: rot}
}

// raRows runs Debian's ra on one file and returns its CSV rows (no
// header), flows and MARs apart.
func raRows(t testing.TB, file string) (flows, mars []string) {
	t.Helper()
	ra, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("ra (Debian argus-client) not installed")
	}
	cmd := exec.Command(ra, "-X", "-n", "-u", "-c", ",", "-r", file, "-s",
		"stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes", "state", "seq")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ra -r %s: %v %s", file, err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "StartTime") {
		t.Fatalf("ra -r %s: no header: %q", file, out)
	}
	for _, l := range lines[1:] {
		if strings.Split(l, ",")[2] == "man" {
			mars = append(mars, l)
		} else {
			flows = append(flows, orient(l))
		}
	}
	return flows, mars
}

// orient puts a row's sides in address order and drops the state: ra
// 3.0.8.2 turns some ICMP reply-only records around depending on what it
// read before them in the same file (even with -M nocorrect), so the same
// record prints one way or the other depending on the file it is in.
func orient(l string) string {
	f := strings.Split(l, ",")
	// stime ltime proto saddr sport daddr dport spkts dpkts sbytes dbytes state seq
	if strings.Contains(f[2], "icmp") {
		f[4], f[6] = "", "" // type and code, or id, by direction
	}
	if f[3] > f[5] || f[3] == f[5] && f[4] > f[6] {
		f[3], f[4], f[5], f[6] = f[5], f[6], f[3], f[4]
		f[7], f[8] = f[8], f[7]
		f[9], f[10] = f[10], f[9]
	}
	f[11] = ""
	return strings.Join(f, ",")
}

// published lists dir's files that are not hidden, sorted (the order
// `ra -r dir/*` reads them in).
func published(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func hidden(t testing.TB, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	return m
}

// writeBatches writes recs in batches of n, moving the clock by step
// before each batch.
func writeBatches(t testing.TB, s Sink, recs []flow.Record, n int, clk *testClock, step time.Duration, l *lossTally) {
	t.Helper()
	for i := 0; i < len(recs); i += n {
		j := min(i+n, len(recs))
		if clk != nil {
			clk.t = clk.t.Add(step)
		}
		if err := s.Write(recs[i:j], l.lost); err != nil {
			t.Fatalf("Write(records %d-%d): %v", i, j, err)
		}
	}
}

// TestArgusFileSizeRotationRa writes the corpus's Argus 3 records, three
// times over, to an argus3: sink rotated by size, and has Debian's ra
// read each rotated file on its own: every flow comes out once across
// the files, in order, as ra prints it from the corpus files themselves;
// each file starts with a MAR and none exceeds the size by more than a
// record.
func TestArgusFileSizeRotationRa(t *testing.T) {
	recs, files := corpusArgus(t, "oracle/*/v3.argus")
	var want []string
	for _, f := range files {
		fl, _ := raRows(t, f)
		want = append(want, fl...)
	}
	wantMars := 0
	for _, r := range recs {
		if r.Type == flow.TypeMgmt {
			wantMars++
		}
	}
	all := append(append(append([]flow.Record(nil), recs...), recs...), recs...)
	want3 := append(append(append([]string(nil), want...), want...), want...)

	dir := filepath.Join(t.TempDir(), "data") // made by the sink
	const size = 64 << 10
	clk := &testClock{t: time.Date(2026, 11, 27, 1, 10, 0, 0, time.UTC)}
	s, err := newArgusFile(sinkCfg(t, "argus3:"+filepath.Join(dir, "flowgate.argus"), config.Rotate{Size: size}), Env{}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	writeBatches(t, s, all, 100, clk, 300*time.Millisecond, l)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(l.recs) != 0 {
		t.Fatalf("lost %v", l.n)
	}
	if h := hidden(t, dir); len(h) != 0 {
		t.Fatalf("temporary files left after Close: %v", h)
	}
	out := published(t, dir)
	if len(out) < 5 {
		t.Fatalf("%d files for %d records of about %d bytes each, rotated at %d bytes", len(out), len(all), 150, size)
	}
	var got []string
	gotMars := 0
	for _, f := range out {
		if !strings.HasPrefix(filepath.Base(f), "flowgate.2026.11.27.01.") || !strings.HasSuffix(f, ".argus") {
			t.Errorf("name %s: want flowgate.2026.11.27.01.MM.SS[_N].argus", f)
		}
		fl, _ := raRows(t, f)
		got = append(got, fl...)
		// The first record is a MAR, as the Argus writer makes every
		// file (ra -X prints no MARs: our reader counts them).
		rs := readArgusFile(t, f)
		if rs[0].Type != flow.TypeMgmt {
			t.Errorf("%s: first record is not a MAR", f)
		}
		for _, r := range rs {
			if r.Type == flow.TypeMgmt {
				gotMars++
			}
		}
		st, _ := os.Stat(f)
		if st.Size() > size+4096 {
			t.Errorf("%s: %d bytes, rotated at %d", f, st.Size(), size)
		}
	}
	if len(got) != len(want3) {
		t.Fatalf("ra read %d flows across %d files, want %d", len(got), len(out), len(want3))
	}
	for i := range got {
		if got[i] != want3[i] {
			t.Fatalf("flow %d: ra prints\n%s\nwant (ra of the corpus file)\n%s", i, got[i], want3[i])
		}
	}
	// The corpus's MARs are written as they are; files that start with a
	// flow get one made from it.
	if gotMars < 3*wantMars || gotMars > 3*wantMars+len(out) {
		t.Errorf("%d MARs, want %d plus at most one per file (%d files)", gotMars, 3*wantMars, len(out))
	}
}

// TestArgusFileTimeRotation moves an injected clock over three hours: each
// hour's records go to a file named by the hour's start, which ra reads.
func TestArgusFileTimeRotation(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/*/v3.argus")
	dir := t.TempDir()
	clk := &testClock{t: time.Date(2026, 11, 27, 0, 40, 0, 0, time.UTC)}
	var names []string
	s, err := newArgusFile(sinkCfg(t, "argus3:"+filepath.Join(dir, "flowgate.argus"), config.Rotate{Every: time.Hour}), Env{}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	s.rot.published = func(n string) { names = append(names, filepath.Base(n)) }
	l := newTally()
	// 2500 records over three hours: 50 batches of 50, 3m36s apart.
	n := 0
	perFile := map[string]int{}
	for i := 0; i < len(recs); i += 50 {
		j := min(i+50, len(recs))
		clk.t = clk.t.Add(216 * time.Second)
		if err := s.Write(recs[i:j], l.lost); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[i:j] {
			if r.Type != flow.TypeMgmt {
				perFile[clk.t.Truncate(time.Hour).Format("15")]++
			}
		}
		n += j - i
		// The flush a second later finishes a file whose hour ended.
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"flowgate.2026.11.27.00.00.00.argus", "flowgate.2026.11.27.01.00.00.argus",
		"flowgate.2026.11.27.02.00.00.argus", "flowgate.2026.11.27.03.00.00.argus"}
	if strings.Join(names, " ") != strings.Join(wantNames[:len(names)], " ") || len(names) < 3 {
		t.Fatalf("published %v, want %v", names, wantNames)
	}
	for _, name := range names {
		fl, _ := raRows(t, filepath.Join(dir, name))
		if h := name[20:22]; len(fl) != perFile[h] {
			t.Errorf("%s: ra reads %d flows, want the %d written in hour %s", name, len(fl), perFile[h], h)
		}
	}
}

// TestArgusFileCrashSafe: after Writes and a Flush with no Close, no file
// has a final name but those the size rotation finished, which ra reads
// whole; the file being written is hidden, and what a Flush put in it
// reads back as whole records.
func TestArgusFileCrashSafe(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/*/v3.argus")
	dir := t.TempDir()
	clk := &testClock{t: time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)}
	s, err := newArgusFile(sinkCfg(t, "argus3:"+filepath.Join(dir, "f.argus"), config.Rotate{Size: 100 << 10}), Env{}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	writeBatches(t, s, recs, 64, clk, 10*time.Millisecond, l)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// The process dies here: no Close.
	fin := published(t, dir)
	tmp := hidden(t, dir)
	if len(tmp) != 1 {
		t.Fatalf("hidden files %v, want the one being written", tmp)
	}
	total := 0
	for _, f := range append(fin, tmp...) {
		fl, _ := raRows(t, f)
		rs := readArgusFile(t, f) // our reader: errors on a partial record
		total += len(rs)
		flows := 0
		for _, r := range rs {
			if r.Type != flow.TypeMgmt {
				flows++
			}
		}
		if flows != len(fl) {
			t.Errorf("%s: %d flows, ra read %d", f, flows, len(fl))
		}
	}
	if len(fin) == 0 {
		t.Fatalf("no file finished by the size rotation")
	}
	// Every record written is in a finished file or the hidden one (plus
	// one made MAR per file after the first).
	if total < len(recs) || total > len(recs)+len(fin) {
		t.Errorf("%d records on disk, %d written", total, len(recs))
	}
	// A Write with no Flush leaves nothing partial either: finished
	// files stay whole, the rest is in memory or the hidden file.
	writeBatches(t, s, recs[:100], 100, clk, time.Millisecond, l)
	for _, f := range published(t, dir) {
		raRows(t, f)
		readArgusFile(t, f)
	}
}

// TestArgusFileNoRotation: without rotate: the file is the configured
// path, published at Close; a second sink on the same path does not
// overwrite it (the name gets _1).
func TestArgusFileNoRotation(t *testing.T) {
	recs, files := corpusArgus(t, "openargus-clients/baseline.2024.01.25.out")
	dir := t.TempDir()
	path := filepath.Join(dir, "out.argus")
	for k := 0; k < 2; k++ {
		s, err := newArgusFileSink(sinkCfg(t, "argus:"+path, config.Rotate{}), Env{})
		if err != nil {
			t.Fatal(err)
		}
		l := newTally()
		writeBatches(t, s, recs, 256, nil, 0, l)
		if len(published(t, dir)) != k {
			t.Fatalf("a file published before Close")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := published(t, dir)
	if len(got) != 2 || got[0] != path || got[1] != filepath.Join(dir, "out_1.argus") {
		t.Fatalf("files %v", got)
	}
	// Argus 5 to Argus 5: the file is the corpus file, byte for byte.
	src, _ := os.ReadFile(files[0])
	for _, f := range got {
		b, _ := os.ReadFile(f)
		if !bytes.Equal(b, src) {
			t.Errorf("%s: %d bytes differ from the corpus file's %d", f, len(b), len(src))
		}
	}
}

// TestArgusFileNotRepresentable: a record the Argus 3 writer refuses is
// handed to lost as not representable, and the records around it are
// written.
func TestArgusFileNotRepresentable(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/generated_long_flow/v3.argus")
	bad := recs[1]
	bad.SrcID = flow.SrcID{Type: flow.SrcIDUUID, ID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	bad.Has |= flow.HasSrcID
	bad.Argus = flow.ArgusLayout{} // not Argus's own bytes: the writer encodes the model
	in := append([]flow.Record{recs[0], recs[1], bad}, recs[2:]...)
	dir := t.TempDir()
	s, err := newArgusFileSink(sinkCfg(t, "argus3:"+filepath.Join(dir, "x.argus"), config.Rotate{}), Env{})
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	if err := s.Write(in, l.lost); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if l.n[ReasonNotRepresentable] != 1 || len(l.recs) != 1 || l.recs[0] != &in[2] {
		t.Fatalf("lost %v, want the one record with a UUID source id as not representable", l.n)
	}
	got := readArgusFile(t, filepath.Join(dir, "x.argus"))
	if len(got) != len(recs) {
		t.Fatalf("%d records in the file, want %d", len(got), len(recs))
	}
}

// TestFileSinkWriteFails: a write that fails (the file system full) hands
// the records of the batch to lost with sink_error, keeps the finished
// part of the file whole, and the next Write starts a new file.
func TestFileSinkWriteFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	recs, _ := corpusArgus(t, "oracle/*/v3.argus")
	dir := t.TempDir()
	s, err := newArgusFileSink(sinkCfg(t, "argus3:"+filepath.Join(dir, "x.argus"), config.Rotate{}), Env{})
	if err != nil {
		t.Fatal(err)
	}
	a := s.(*argusFileSink)
	l := newTally()
	if err := s.Write(recs[:10], l.lost); err != nil {
		t.Fatal(err)
	}
	// Swap the file for /dev/full: every write out fails with ENOSPC.
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	a.rot.f.Close()
	a.rot.f = full
	err = s.Write(recs[10:], l.lost)
	if err == nil || !errors.Is(err, ErrFileSink) {
		t.Fatalf("Write to a full disk: %v", err)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Dropped != 10 {
		t.Fatalf("error %v: want a FileError with the 10 records of the first Write dropped", err)
	}
	if l.n[ReasonSinkError] != len(recs)-10 {
		t.Fatalf("lost %v, want %d sink errors", l.n, len(recs)-10)
	}
	// The 10 records of the first Write are counted by the sink's metric.
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collectors()...)
	if mfs, _ := reg.Gather(); len(mfs) != 1 || mfs[0].Metric[0].Counter.GetValue() != 10 {
		t.Fatalf("buffer dropped metric: %v", mfs)
	}
	// The next Write starts a new file and succeeds.
	if err := s.Write(recs[:5], l.lost); err != nil {
		t.Fatalf("Write after the failure: %v", err)
	}
}

// TestFileSinkIdleRotation: with the real clock, a file whose period ends
// while no record comes is finished by the sink's timer: the daemon calls
// Flush only after Writes.
func TestFileSinkIdleRotation(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/generated_long_flow/v5.argus")
	dir := t.TempDir()
	s, err := newArgusFileSink(sinkCfg(t, "argus:"+filepath.Join(dir, "f.argus"), config.Rotate{Every: time.Second}), Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newTally()
	if err := s.Write(recs, l.lost); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(published(t, dir)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := published(t, dir)
	if len(out) != 1 || len(hidden(t, dir)) != 0 {
		t.Fatalf("published %v, hidden %v: want the file finished at the end of its second", out, hidden(t, dir))
	}
	if got := readArgusFile(t, out[0]); len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
}

// TestArgusStdout: argus:- writes the stream to the daemon's stdout (for
// a pipe into ra), flushed by Flush.
func TestArgusStdout(t *testing.T) {
	recs, files := corpusArgus(t, baselineArgus)
	var out bytes.Buffer
	s, err := newArgusFileSink(sinkCfg(t, "argus:-", config.Rotate{}), Env{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	writeBatches(t, s, recs, 500, nil, 0, l)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(files[0])
	if !bytes.Equal(out.Bytes(), want) || len(l.recs) != 0 {
		t.Fatalf("stdout has %d bytes, the corpus file %d; lost %v", out.Len(), len(want), l.n)
	}
}

// TestFileSinkCollectors: two file sinks' counters register side by side
// and read 0 until a write fails.
func TestFileSinkCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, p := range []string{"a.argus", "b.json"} {
		var s Sink
		var err error
		cfg := sinkCfg(t, "argus:"+filepath.Join(t.TempDir(), p), config.Rotate{})
		if strings.HasSuffix(p, ".json") {
			cfg = sinkCfg(t, "json:"+filepath.Join(t.TempDir(), p), config.Rotate{})
			s, err = newTextFileSink(cfg, Env{Pipeline: "p"})
		} else {
			s, err = newArgusFileSink(cfg, Env{Pipeline: "p"})
		}
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, c := range s.(Collector).Collectors() {
			if err := reg.Register(c); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || len(mfs[0].Metric) != 2 || mfs[0].Metric[0].Counter.GetValue() != 0 {
		t.Fatalf("gathered %v", mfs)
	}
}
