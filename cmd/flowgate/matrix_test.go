package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// knownSilent reads conformance/matrix-known.tsv: "A\tB\tfield" -> owner
// and cause.
func knownSilent(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "conformance", "matrix-known.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := strings.Split(l, "\t")
		if len(c) != 5 || c[3] == "" || c[4] == "" {
			t.Fatalf("matrix-known.tsv:%d: want A, B, field, owner, cause (tab-separated), have %q", n, l)
		}
		m[strings.Join(c[:3], "\t")] = c[3] + ": " + c[4]
	}
	return m
}

// TestConformanceMatrix runs the round-trip matrix over every format
// through convert's own code: a SILENT cell must be listed, with its cause
// and owner, in conformance/matrix-known.tsv, and a listed one must still
// be SILENT.
func TestConformanceMatrix(t *testing.T) {
	m, err := RunMatrix(MatrixOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Formats) < len(mxFormats) {
		t.Fatalf("%d formats, want at least %d", len(m.Formats), len(mxFormats))
	}
	// Every canonical field has a record that tests it (a field added to
	// mappings without a seed here would only ride on the base record).
	for _, f := range m.Fields {
		if f.Name != "community_id" && mxHardSeed(f.Name, 0) == nil {
			t.Errorf("no seed for canonical field %s (matrix.go mxHardSeed)", f.Name)
		}
	}
	// convert does every ordered pair (--read-dialect for two JSON or CSV
	// dialects): a pair it cannot do is an error, not a cell to skip.
	for ai, a := range m.Formats {
		for bi, b := range m.Formats {
			if c := m.Cells[ai][bi][0]; c.Outcome == mxNA {
				t.Errorf("%s -> %s -> %s: convert cannot do it: %s", a.Name, b.Name, a.Name, c.Rule)
			}
		}
	}
	known := knownSilent(t)
	got := map[string]bool{}
	for _, s := range m.Silent() {
		c := strings.Split(s, "\t")
		k := strings.Join(c[:3], "\t")
		got[k] = true
		if known[k] == "" {
			t.Errorf("SILENT, not in matrix-known.tsv: %s -> %s -> %s, %s: %q came back as %q", c[0], c[1], c[0], c[2], c[3], c[4])
		}
	}
	for k := range known {
		if !got[k] {
			t.Errorf("stale row in matrix-known.tsv (no longer SILENT): %s", strings.ReplaceAll(k, "\t", " "))
		}
	}
	if out := os.Getenv("FLOWGATE_MATRIX_OUT"); out != "" {
		var b bytes.Buffer
		m.WriteMarkdown(&b)
		if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d formats x %d formats x %d fields, %d conversions, %v", len(m.Formats), len(m.Formats), len(m.Fields), m.Conversions, m.Elapsed)

	cell := func(a, b, f string) mxCell {
		ai, bi, fi := -1, -1, -1
		for i, x := range m.Formats {
			if x.Name == a {
				ai = i
			}
			if x.Name == b {
				bi = i
			}
		}
		for i, x := range m.Fields {
			if x.Name == f {
				fi = i
			}
		}
		if ai < 0 || bi < 0 || fi < 0 {
			t.Fatalf("no cell %s %s %s", a, b, f)
		}
		return m.Cells[ai][bi][fi]
	}
	// What Cisco's v5 record format (Table B-4) cannot hold is reported:
	// IPv6 addresses, 32-bit AS numbers, counters over 32 bits, and
	// times finer than the ms of sysUptime.
	for _, f := range []string{"src_addr", "src_as", "dst_as", "src_bytes", "src_pkts", "start_time", "last_time"} {
		if c := cell("argus", "nf5", f); c.Outcome != mxReported {
			t.Errorf("argus -> nf5 -> argus %s: %s, want reported", f, c.text())
		}
	}
	// Argus 5.x holds ns times (time qualifier 0x19, argus-format.md):
	// IPFIX's flowStartNanoseconds (RFC 7011 §6.1.10) holds them, Zeek's
	// ts (%.6f) and Argus 3.x (µs) cut them, and say so.
	for _, f := range []string{"start_time", "last_time"} {
		if c := cell("argus", "ipfix", f); c.Outcome != mxPreserved {
			t.Errorf("argus -> ipfix -> argus %s: %s, want preserved (%s came back as %s)", f, c.text(), c.Want, c.Got)
		}
		for _, b := range []string{"argus3", "zeek", "zeekjson"} {
			if c := cell("argus", b, f); c.Outcome != mxReported || !strings.HasPrefix(c.Rule, "cut to µs") {
				t.Errorf("argus -> %s -> argus %s: %s, want reported (cut to µs) (%s came back as %s)", b, f, c.text(), c.Want, c.Got)
			}
		}
	}
	// A format read back into itself keeps whatever it held: the
	// diagonal has no reported and no SILENT cell.
	for ai, a := range m.Formats {
		for fi, f := range m.Fields {
			if c := m.Cells[ai][ai][fi]; c.Outcome != mxPreserved && c.Outcome != mxNotHeld {
				t.Errorf("%s -> %s -> %s %s: %s", a.Name, a.Name, a.Name, f.Name, c.text())
			}
		}
	}
}

// TestReportFieldAccount checks convert --report's per-field account
// against Debian ra 3.0.8.2's counts of the same Argus 3 file: NetFlow v5
// holds the IPv4 flows, refuses the IPv6 ones (naming src_addr) and the
// non-IP ones, and sends no management record.
func TestReportFieldAccount(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	if _, err := exec.LookPath("ra"); err != nil {
		t.Skip("no ra")
	}
	file := filepath.Join(corpus, "argus", "oracle", "traffic_slips_test7-malicious", "v3.argus")
	if _, err := os.Stat(file); err != nil {
		t.Skip(err)
	}
	count := func(filter ...string) int64 {
		args := append([]string{"-L", "-1", "-n", "-r", file, "-"}, filter...)
		out, err := exec.Command("ra", args...).Output()
		if err != nil {
			t.Fatalf("ra %v: %v", args, err)
		}
		return int64(bytes.Count(out, []byte("\n")))
	}
	all, v4, v6, man := count(), count("ipv4"), count("ipv6"), count("man")
	in, _ := gateway.ParseEndpoint("argus3:" + file)
	out, _ := gateway.ParseEndpoint("nf5:" + filepath.Join(t.TempDir(), "out.nf5"))
	var rep bytes.Buffer
	if err := runConvert(context.Background(), in, out, mxOpts("", &rep)); err != nil {
		t.Fatal(err)
	}
	tbl, err := parseFieldTable(rep.String())
	if err != nil {
		t.Fatalf("%v:\n%s", err, rep.String())
	}
	a := tbl["src_addr"]
	// Every flow record carries src_addr: preserved for the IPv4 ones,
	// not representable for the rest (IPv6, and non-IP flows refused).
	if a.Preserved != v4 || a.NotRep != all-man-v4 || a.CodecRp != all-man-v4 {
		t.Errorf("src_addr: preserved %d, not representable %d, codec-reported %d; ra: %d IPv4, %d other flows (%d IPv6)\n%s",
			a.Preserved, a.NotRep, a.CodecRp, v4, all-man-v4, v6, rep.String())
	}
	if d := tbl["dst_addr"]; d.NotRep != v6 {
		t.Errorf("dst_addr: not representable %d, ra counts %d IPv6 flows", d.NotRep, v6)
	}
	// v5 holds ms: an IPv4 flow whose start has a sub-ms part (in ra's
	// µs print) is cut, and counted.
	out6, err := exec.Command("ra", "-L", "-1", "-n", "-u", "-p", "6", "-s", "stime", "-r", file, "-", "ipv4").Output()
	if err != nil {
		t.Fatal(err)
	}
	var subMs int64
	for _, l := range strings.Fields(string(out6)) {
		if _, frac, ok := strings.Cut(l, "."); ok && len(frac) == 6 && frac[3:] != "000" {
			subMs++
		}
	}
	if s := tbl["start_time"]; s.Transformed != subMs || s.Preserved != v4-subMs || s.Rule != "cut to ms" {
		t.Errorf("start_time: %+v, want %d transformed (cut to ms), ra prints %d IPv4 starts with a sub-ms part", s, subMs, subMs)
	}
	// ra's sTtl has no place in v5.
	if s := tbl["src_ttl"]; s.NotRep == 0 || s.Preserved != 0 {
		t.Errorf("src_ttl: %+v, want not representable only", s)
	}
	want := "records handed to the sink (" + strconv.FormatInt(man, 10) + " management), " + strconv.FormatInt(v4, 10) + " written"
	if !strings.Contains(rep.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, rep.String())
	}
}

// nopSink takes records and keeps nothing.
type nopSink struct{}

func (nopSink) write([]flow.Record) error { return nil }
func (nopSink) flush() error              { return nil }
func (nopSink) close() error              { return nil }
func (nopSink) report(io.Writer)          {}

// The per-field account runs per record under --report: no allocation.
func TestFieldAccountAllocs(t *testing.T) {
	fields := mappings.CanonicalFields()
	recs, err := mxSeedRecords(fields)
	if err != nil {
		t.Fatal(err)
	}
	// Not the SCTP record: zeek's proto table has no sctp, and the
	// mapping's error for it (an *ApplyError) is made per call.
	recs = slices.DeleteFunc(recs, func(r flow.Record) bool { return r.Key.Proto == 132 })
	for _, f := range []string{"zeek:x", "nf5:x", "argus:x", "ipfix:x", "json:x"} {
		out, _ := gateway.ParseEndpoint(f)
		o := mxOpts("ecs", io.Discard)
		a, err := newFieldAccount(nopSink{}, out, o)
		if err != nil {
			t.Fatal(f, err)
		}
		for i := range recs { // grow the scratch buffers
			a.observe(&recs[i])
		}
		n := testing.AllocsPerRun(20, func() {
			for i := range recs {
				a.observe(&recs[i])
			}
		})
		if n != 0 {
			t.Errorf("%s: %.1f allocations per %d records", f, n, len(recs))
		}
	}
}

func BenchmarkFieldAccount(b *testing.B) {
	recs, err := mxSeedRecords(mappings.CanonicalFields())
	if err != nil {
		b.Fatal(err)
	}
	out, _ := gateway.ParseEndpoint("zeek:x")
	a, err := newFieldAccount(nopSink{}, out, mxOpts("", io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.observe(&recs[i%len(recs)])
	}
}

// A UDP flow's TCP flags have no place in v5, v9 or IPFIX (the encoders
// write tcp_flags/tcpControlBits for TCP only): the account says so, and
// the file read back indeed has none.
func TestFieldAccountTCPFlagsOfUDP(t *testing.T) {
	fields := mappings.CanonicalFields()
	recs, err := mxSeedRecords(fields)
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	for i, f := range fields {
		if f.Name == "src_tcp_flags" {
			r = recs[i]
		}
	}
	r.Key.Proto = 17
	for _, f := range []mxFormat{{"nf5", gateway.FormatNF5, ""}, {"nf9", gateway.FormatNF9, ""}, {"ipfix", gateway.FormatIPFIX, ""}} {
		path := filepath.Join(t.TempDir(), f.Name)
		rep, err := mxWriteSeed(f, path, []flow.Record{r})
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := parseFieldTable(rep)
		if err != nil {
			t.Fatal(err)
		}
		if l := tbl["src_tcp_flags"]; l.NotRep != 1 || l.Preserved != 0 {
			t.Errorf("%s: src_tcp_flags %+v, want 1 not representable\n%s", f.Name, l, rep)
		}
		back, err := mxRead(f, path)
		if err != nil || len(back) != 1 {
			t.Fatalf("%s: read back %d records, %v", f.Name, len(back), err)
		}
		if back[0].Has&flow.HasTCP != 0 && back[0].TCP.Side[0].Flags != 0 {
			t.Errorf("%s: a UDP flow's TCP flags came back: %#x", f.Name, back[0].TCP.Side[0].Flags)
		}
	}
}
