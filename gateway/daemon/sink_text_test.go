package daemon

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/mappings"
)

const baselineArgus = "openargus-clients/baseline.2024.01.25.out"

// TestJSONSinkEqualsConvert: the json: sink writes, in each dialect, what
// `flowgate convert -w json: --dialect D` writes of the same Argus file;
// rotated, the files put together are the same lines. The MARs have no
// line and are lost as not representable.
func TestJSONSinkEqualsConvert(t *testing.T) {
	bin := flowgateBin(t) // source_sensor_test.go
	recs, files := corpusArgus(t, baselineArgus)
	mars := 0
	for _, r := range recs {
		if r.Type == flow.TypeMgmt {
			mars++
		}
	}
	for _, d := range []string{"argus", "nfdump", "ipfix"} {
		t.Run(d, func(t *testing.T) {
			dir := t.TempDir()
			conv := filepath.Join(dir, "convert.json")
			if out, err := exec.Command(bin, "convert", "-r", files[0], "-w", "json:"+conv, "--dialect", d).CombinedOutput(); err != nil {
				t.Fatalf("flowgate convert: %v\n%s", err, out)
			}
			want, _ := os.ReadFile(conv)

			// One file, the dialect from the sink's dialect:.
			cfg := sinkCfg(t, "json:"+filepath.Join(dir, "one", "out.json"), config.Rotate{})
			cfg.Dialect = d
			got := runTextSink(t, cfg, recs, nil, mars)
			if !bytes.Equal(got[0], want) {
				t.Fatalf("json sink (%d bytes) differs from convert's (%d bytes):\n%s", len(got[0]), len(want), firstDiff(got[0], want))
			}

			// Rotated by size: the same lines across the files.
			cfg = sinkCfg(t, "json:"+filepath.Join(dir, "rot", "out.json"), config.Rotate{Size: 200 << 10})
			cfg.Dialect = d
			clk := &testClock{t: time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)}
			got = runTextSink(t, cfg, recs, clk, mars)
			if len(got) < 3 {
				t.Fatalf("%d files", len(got))
			}
			if all := bytes.Join(got, nil); !bytes.Equal(all, want) {
				t.Fatalf("rotated json files differ from convert's output:\n%s", firstDiff(all, want))
			}
		})
	}
}

// TestJSONSinkPipelineMapping: a pipeline mapping of schema json is laid
// over the dialect as convert's --mapping lays it (here a user file whose
// dialect is its own name: over argus).
func TestJSONSinkPipelineMapping(t *testing.T) {
	bin := flowgateBin(t)
	recs, files := corpusArgus(t, baselineArgus)
	mars := 0
	for _, r := range recs {
		if r.Type == flow.TypeMgmt {
			mars++
		}
	}
	mf, err := filepath.Abs("../config/testdata/user-mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mappings.LoadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conv := filepath.Join(dir, "convert.json")
	if out, err := exec.Command(bin, "convert", "-r", files[0], "-w", "json:"+conv, "--dialect", "argus", "--mapping", mf).CombinedOutput(); err != nil {
		t.Fatalf("flowgate convert: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(conv)
	s, err := newTextFileSink(sinkCfg(t, "json:"+filepath.Join(dir, "out", "m.json"), config.Rotate{}), Env{Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	writeBatches(t, s, recs, 100, nil, 0, l)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out", "m.json"))
	if !bytes.Equal(got, want) || len(l.recs) != mars {
		t.Fatalf("%d lost; json sink with the mapping differs from convert --mapping:\n%s", len(l.recs), firstDiff(got, want))
	}
	if !bytes.Contains(got, []byte(`"src":"`)) {
		t.Fatalf("the mapping's key src is not in the output")
	}
}

// runTextSink writes recs through a text sink made of cfg and returns
// the contents of the files it published, in name order. It checks that
// exactly wantLost records were lost, as not representable.
func runTextSink(t testing.TB, cfg config.Sink, recs []flow.Record, clk *testClock, wantLost int) [][]byte {
	return runTextSinkStep(t, cfg, recs, clk, 100*time.Millisecond, wantLost)
}

// runTextSinkStep is runTextSink with the clock moved by step per batch
// of 100 records.
func runTextSinkStep(t testing.TB, cfg config.Sink, recs []flow.Record, clk *testClock, step time.Duration, wantLost int) [][]byte {
	t.Helper()
	var now func() time.Time
	if clk != nil {
		now = clk.now
	}
	s, err := newTextFile(cfg, Env{}, now)
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	writeBatches(t, s, recs, 100, clk, step, l)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(l.recs) != wantLost || l.n[ReasonNotRepresentable] != wantLost {
		t.Fatalf("lost %v, want %d not representable", l.n, wantLost)
	}
	dir := filepath.Dir(cfg.Net.Path)
	if h := hidden(t, dir); len(h) > 0 {
		t.Fatalf("temporary files left: %v", h)
	}
	var out [][]byte
	for _, f := range published(t, dir) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got " + la[i] + "\nwant " + lb[i]
		}
	}
	return "lines " + strconv.Itoa(len(la)) + " and " + strconv.Itoa(len(lb))
}

// TestCSVSinkRaGolden: csv: files (argus dialect: ra's column labels),
// rotated by size, each with its header; put together, their times,
// addresses, ports and counters are what ra 5.0.0 printed of the corpus
// file (argus/derived/*.ra5.csv).
func TestCSVSinkRaGolden(t *testing.T) {
	recs, _ := corpusArgus(t, baselineArgus)
	gold, err := os.ReadFile(filepath.Join(os.Getenv("FLOWGATE_CORPUS"), "argus/derived/baseline.2024.01.25.ra5.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := stdcsv.NewReader(bytes.NewReader(gold)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// MARs have no row; ra's arp and layer-2 rows (no IP addresses:
	// ra prints MAC addresses) have none in the argus CSV dialect's
	// columns either: both are lost.
	lost := 0
	for _, r := range recs {
		if r.Type == flow.TypeMgmt {
			lost++
		}
	}
	gp := -1
	for i, h := range want[0] {
		if h == "Proto" {
			gp = i
		}
	}
	ipOnly := want[:1]
	sa := -1
	for i, h := range want[0] {
		if h == "SrcAddr" {
			sa = i
		}
	}
	for _, row := range want[1:] {
		if _, err := netip.ParseAddr(row[sa]); err != nil || row[gp] == "arp" {
			lost++
			continue
		}
		ipOnly = append(ipOnly, row)
	}
	want = ipOnly
	dir := t.TempDir()
	clk := &testClock{t: time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)}
	files := runTextSink(t, sinkCfg(t, "csv:"+filepath.Join(dir, "flows.csv"), config.Rotate{Size: 300 << 10}), recs, clk, lost)
	if len(files) < 2 {
		t.Fatalf("%d files", len(files))
	}
	var hdr []string
	var rows [][]string
	for i, f := range files {
		r, err := stdcsv.NewReader(bytes.NewReader(f)).ReadAll()
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if i == 0 {
			hdr = r[0]
		} else if strings.Join(r[0], ",") != strings.Join(hdr, ",") {
			t.Fatalf("file %d header %v, want %v", i, r[0], hdr)
		}
		rows = append(rows, r[1:]...)
	}
	if len(rows) != len(want)-1 {
		t.Fatalf("%d rows, ra printed %d", len(rows), len(want)-1)
	}
	col := func(h []string, name string) int {
		for i, x := range h {
			if x == name {
				return i
			}
		}
		t.Fatalf("no column %s in %v", name, h)
		return -1
	}
	for _, name := range []string{"StartTime", "LastTime", "Proto", "SrcAddr", "Sport", "DstAddr", "Dport", "SrcPkts", "DstPkts", "SrcBytes", "DstBytes"} {
		g, w := col(hdr, name), col(want[0], name)
		for i := range rows {
			a, b := rows[i][g], want[i+1][w]
			if name == "Sport" || name == "Dport" {
				// ra prints an ICMP type or code in hex (0x0008).
				x, _ := strconv.ParseUint(a, 0, 64)
				y, _ := strconv.ParseUint(b, 0, 64)
				a, b = strconv.FormatUint(x, 10), strconv.FormatUint(y, 10)
			}
			if a != b {
				t.Fatalf("row %d %s = %q, ra printed %q", i+1, name, rows[i][g], want[i+1][w])
			}
		}
	}
}

// TestZeekSinkNotIP: a conn.log has no place for ARP flows: they are lost
// as not representable, the IP flows written, and each rotated log has
// its header (with the same columns) and #close trailer.
func TestZeekSinkNotIP(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/*/v5.argus")
	notIP := 0
	for _, r := range recs {
		if r.Type == flow.TypeMgmt || zeek.NotIP(&r) {
			notIP++
		}
	}
	arp := 0
	for _, r := range recs {
		if r.Type != flow.TypeMgmt && r.Key.Kind == flow.KindARP {
			arp++
		}
	}
	if arp == 0 {
		t.Fatal("no ARP flow in the corpus files")
	}
	dir := t.TempDir()
	clk := &testClock{t: time.Date(2026, 11, 27, 1, 59, 0, 0, time.UTC)}
	files := runTextSinkStep(t, sinkCfg(t, "zeek:"+filepath.Join(dir, "conn.log"), config.Rotate{Every: time.Minute}), recs, clk, 20*time.Second, notIP)
	if len(files) < 2 {
		t.Fatalf("%d files", len(files))
	}
	lines, fields := 0, ""
	for i, f := range files {
		sc := bufio.NewScanner(bytes.NewReader(f))
		sc.Buffer(nil, 1<<20)
		var last string
		for sc.Scan() {
			l := sc.Text()
			last = l
			switch {
			case strings.HasPrefix(l, "#fields"):
				if fields == "" {
					fields = l
				} else if l != fields {
					t.Errorf("file %d: %s, want %s", i, l, fields)
				}
			case strings.HasPrefix(l, "#"):
			default:
				lines++
			}
		}
		if !strings.HasPrefix(last, "#close\t2026-11-27-") {
			t.Errorf("file %d ends with %q, want #close and the clock's time", i, last)
		}
	}
	if lines != len(recs)-notIP {
		t.Fatalf("%d conn.log lines, want %d (IP flows)", lines, len(recs)-notIP)
	}
	if !strings.Contains(fields, "\tcommunity_id") {
		t.Errorf("no community_id column: %s", fields)
	}
}

// TestJSONSinkNotRepresentable: goflow2's records are one-way; a biflow's
// reverse counters have no key, so the record is lost as not
// representable and has no line, the one-way flows are written.
func TestJSONSinkNotRepresentable(t *testing.T) {
	recs, _ := corpusArgus(t, baselineArgus)
	lostWant, flows := 0, 0
	for _, r := range recs {
		switch {
		case r.Type == flow.TypeMgmt:
			lostWant++
		case r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0:
			lostWant++
		default:
			flows++
		}
	}
	if flows == 0 || lostWant == len(recs) {
		t.Fatal("the corpus file has no one-way flow, or only")
	}
	cfg := sinkCfg(t, "json:"+filepath.Join(t.TempDir(), "g.json"), config.Rotate{})
	cfg.Dialect = "goflow2"
	files := runTextSink(t, cfg, recs, nil, lostWant)
	if n := bytes.Count(files[0], []byte("\n")); n != flows {
		t.Fatalf("%d lines, want %d one-way flows", n, flows)
	}
}

// TestTextSinkStdout: json:- writes to the daemon's stdout, flushed by
// Flush, with no file.
func TestTextSinkStdout(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/generated_long_flow/v5.argus")
	var out bytes.Buffer
	s, err := newTextFileSink(sinkCfg(t, "json:-", config.Rotate{}), Env{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	l := newTally()
	if err := s.Write(recs, l.lost); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("written before Flush")
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(out.Bytes(), []byte("\n")); n != len(recs)-len(l.recs) || len(l.recs) == 0 {
		t.Fatalf("%d lines, %d lost of %d records", n, len(l.recs), len(recs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
