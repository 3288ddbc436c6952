package main

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/sensor/capture"
)

// pcapCorpus returns the corpus, skipping the test without it.
func pcapCorpus(t *testing.T) string {
	t.Helper()
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	return c
}

// sensorFile runs flowgate sensor with args, writing -w out.
func sensorFile(t *testing.T, out string, args ...string) {
	t.Helper()
	a, err := parseSensorArgs(append(args, "-w", out))
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := runSensor(a, nil, &stderr, &stderr); err != nil {
		t.Fatalf("sensor %q: %v: %s", args, err, stderr.String())
	}
}

// TestConvertPcapSameAsSensor: convert pcap:FILE gives the records
// flowgate sensor -r FILE -w x.argus writes, byte for byte (MARs
// included: they carry packet times), in Argus 5 and, with an argus3 sink,
// Argus 3 as sensor -3; with --sensor options as the sensor takes them;
// and through every sink the same as convert -r x.argus gives (zeek sinks
// with the sensor's bytes: the command line makes them IP-level, see
// TestConvertPcapIPBytes).
func TestConvertPcapSameAsSensor(t *testing.T) {
	corpus := pcapCorpus(t)
	dir := t.TempDir()
	for _, c := range []struct {
		capture string
		opts    string // --sensor, and the sensor's own arguments
	}{
		{"zeek/zeek-btest/traces/wikipedia.pcap", ""},
		{"zeek/zeek-btest/traces/tunnels/Teredo.pcap", ""},
		{"zeek/zeek-btest/traces/ftp/ipv6.pcap", "-S 5 -A -m -J -Z -U 16"},
		{"traffic/slips/test7-malicious.pcap", "-M 1 -e 4711 --shards 1"},
		{"traffic/gopacket/pcapng-tests/le/test010.pcapng", ""},
		{"generated/pcaps/long_flow.pcap", "-S 10"},
	} {
		in := filepath.Join(corpus, c.capture)
		args := append([]string{"-r", in}, strings.Fields(c.opts)...)
		for _, v3 := range []bool{false, true} {
			want := filepath.Join(dir, "sensor.argus")
			got := filepath.Join(dir, "convert.argus")
			sink := "argus:" + got
			sargs := args
			if v3 {
				sink = "argus3:" + got
				sargs = append([]string{"-3"}, args...)
			}
			sensorFile(t, want, sargs...)
			// communityID as the command line's default: an Argus sink has
			// no place for it, and the sensor's records go out as made.
			rep, err := convert(t, "pcap:"+in, sink, convertOpts{communityID: true, pcap: pcapOpts{sensor: c.opts, argus3: v3}})
			if err != nil {
				t.Fatalf("%s: %v", c.capture, err)
			}
			a, _ := os.ReadFile(want)
			b, _ := os.ReadFile(got)
			if len(a) < 100 || !bytes.Equal(a, b) {
				t.Errorf("%s (--sensor %q, %s): convert wrote %d bytes, the sensor %d; they differ", c.capture, c.opts, sink, len(b), len(a))
			}
			if !strings.Contains(rep, "records written") || !strings.Contains(rep, "packets read") {
				t.Errorf("%s: report lacks the sink or the sensor's counts:\n%s", c.capture, rep)
			}
			if v3 {
				continue
			}
			// Every other sink: the same text as from the sensor's file.
			for _, s := range []string{"json:", "zeek:", "zeekjson:"} {
				var fromFile, fromPcap bytes.Buffer
				if _, err := convert(t, "argus:"+want, s+"-", convertOpts{stdout: &fromFile, communityID: true}); err != nil {
					t.Fatal(err)
				}
				if _, err := convert(t, "pcap:"+in, s+"-", convertOpts{stdout: &fromPcap, communityID: true, pcap: pcapOpts{sensor: c.opts}}); err != nil {
					t.Fatal(err)
				}
				a, b := dropOpenClose(fromFile.Bytes()), dropOpenClose(fromPcap.Bytes())
				if len(a) == 0 || !bytes.Equal(a, b) {
					t.Errorf("%s -> %s: convert pcap: and convert of the sensor's file differ:\n%s\n%s", c.capture, s, firstLines(b, 4), firstLines(a, 4))
				}
			}
		}
	}
}

// dropOpenClose removes a conn.log's #open and #close lines (wall clock).
func dropOpenClose(b []byte) []byte {
	var out []byte
	for _, ln := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasPrefix(ln, []byte("#open")) && !bytes.HasPrefix(ln, []byte("#close")) {
			out = append(out, ln...)
		}
	}
	return out
}

func firstLines(b []byte, n int) string {
	l := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

// TestConvertPcapCompressed: a gzip-compressed capture, and stdin, give
// the same records as the file.
func TestConvertPcapCompressed(t *testing.T) {
	corpus := pcapCorpus(t)
	in := filepath.Join(corpus, "zeek/zeek-btest/traces/ssh/ssh.pcap")
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(t.TempDir(), "ssh.pcap.gz")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(gz, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var plain, comp, stdin bytes.Buffer
	if _, err := convert(t, "pcap:"+in, "json:-", convertOpts{stdout: &plain}); err != nil {
		t.Fatal(err)
	}
	if _, err := convert(t, "pcap:"+gz, "json:-", convertOpts{stdout: &comp}); err != nil {
		t.Fatal(err)
	}
	if _, err := convert(t, "pcap:-", "json:-", convertOpts{stdout: &stdin, stdin: bytes.NewReader(b.Bytes())}); err != nil {
		t.Fatal(err)
	}
	if plain.Len() == 0 || plain.String() != comp.String() || plain.String() != stdin.String() {
		t.Errorf("gzip or stdin changed the records: %d, %d and %d bytes of JSON", plain.Len(), comp.Len(), stdin.Len())
	}
}

// TestConvertPcapBadInput: a capture cut in the middle of a record gives
// the records of the frames before it, then an error naming the file and
// the offset of the cut record; the report counts undecodable frames per
// reason; bad --sensor options and a missing file are errors.
func TestConvertPcapBadInput(t *testing.T) {
	corpus := pcapCorpus(t)
	in := filepath.Join(corpus, "zeek/zeek-btest/traces/ftp/ipv4.pcap")
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, raw[:len(raw)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = convert(t, "pcap:"+cut, "json:-", convertOpts{stdout: &out})
	var de *codecs.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, codecs.ErrTruncated) || de.File != cut || de.Offset == 0 {
		t.Fatalf("cut capture: err %v, want a truncated DecodeError naming %s and an offset", err, cut)
	}
	if n := bytes.Count(out.Bytes(), []byte("\n")); n < 5 {
		t.Errorf("cut capture: %d records before the cut, want the flows of the good frames", n)
	}
	// The report has the sensor's counts.
	rep, err := convert(t, "pcap:"+filepath.Join(corpus, "traffic/tcpdump/mpls-traceroute.pcap"), "json:-", convertOpts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"packets read", "not decoded", "flows", "records made"} {
		if !strings.Contains(rep, w) {
			t.Errorf("report lacks %q:\n%s", w, rep)
		}
	}
	for _, bad := range []string{"-w x", "-r y.pcap", "-i eth0", "-P 561", "--metrics :9", "-Q", "-S x"} {
		if _, err := convert(t, "pcap:"+in, "json:-", convertOpts{pcap: pcapOpts{sensor: bad}}); !errors.Is(err, errPcapArgs) {
			t.Errorf("--sensor %q: err %v, want errPcapArgs", bad, err)
		}
	}
	if _, err := convert(t, "pcap:"+filepath.Join(t.TempDir(), "none.pcap"), "json:-", convertOpts{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing capture: err %v", err)
	}
	if _, err := convert(t, "pcap:"+filepath.Join(corpus, "zeek/slips/port-scans/vertical/conn.log"), "json:-", convertOpts{}); !errors.Is(err, codecs.ErrUnknownFormat) {
		t.Errorf("a conn.log as pcap: err %v, want ErrUnknownFormat", err)
	}
}

// oracleKeys are the keys of convert's json sink in the argus dialect
// (ra's names, values as numbers) that the oracle test compares; Debian
// ra 3.0.8.2's -s takes the same names.
var oracleKeys = []string{"stime", "ltime", "saddr", "daddr", "proto", "sport", "dport", "spkts", "dpkts", "sbytes", "dbytes"}

// TestConvertPcapArgusOracle: on the captures the sensor's oracle test
// uses, what convert pcap:FILE -w json:- --dialect argus prints agrees
// with what Debian ra 3.0.8.2 prints of Debian argus 3.0.8.2's records of
// the same capture (argus -X -r FILE -w f; ra -X -nn -u -r f), record for
// record: start and last time, addresses, protocol, TCP/UDP ports, packets
// and bytes per direction. The sensor's known differences
// (sensor/testdata/known-differences.tsv) apply: a '*' row leaves the
// capture out, a field row that field. Two printing differences are not
// the records': ra 3 prints ICMP type and code in the port columns where
// the dialect prints 0 (ports are compared for TCP, UDP and SCTP), and
// it shows some flows of uncertain direction ('<?') the other way round,
// so a record matches in either orientation (the sensor's own oracle test
// compares orientation, through ra on both sides). The dialect has no key
// for layer-2 addresses: a key the line lacks is not compared.
func TestConvertPcapArgusOracle(t *testing.T) {
	corpus := pcapCorpus(t)
	for _, tool := range []string{"argus", "ra"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian argus 3.0.8.2 is the oracle)", tool)
		}
	}
	known := loadSensorKnown(t)
	var pcaps []string
	for _, d := range []string{"generated/pcaps", "traffic", "zeek/zeek-btest/traces"} {
		filepath.WalkDir(filepath.Join(corpus, d), func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if ext := filepath.Ext(p); ext == ".pcap" || ext == ".pcapng" || ext == ".cap" {
				if fi, err := e.Info(); err == nil && fi.Size() < 20<<20 {
					pcaps = append(pcaps, p)
				}
			}
			return nil
		})
	}
	sort.Strings(pcaps)
	// argus takes about a second a file whatever its size: run them at once.
	tmp := t.TempDir()
	refs := make([][]byte, len(pcaps))
	refErr := make([]error, len(pcaps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range pcaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// A file, not -w - into ra: argus 3.0.8.2 writing to a pipe
			// loses its start MAR, and at times its last records at exit
			// (test7-malicious: 754 or 755 flows, in three runs).
			out := filepath.Join(tmp, fmt.Sprintf("ref%d.argus", i))
			if b, err := exec.Command("argus", "-X", "-r", p, "-w", out).CombinedOutput(); err != nil {
				refErr[i] = fmt.Errorf("argus: %v: %s", err, b)
				return
			}
			refs[i], refErr[i] = exec.Command("ra", append([]string{"-X", "-nn", "-u", "-c", ",", "-r", out, "-s"}, oracleKeys...)...).Output()
		}()
	}
	wg.Wait()
	var files, skipped, total, matched int
	var failed []string
	for i, p := range pcaps {
		name, _ := filepath.Rel(corpus, p)
		if refErr[i] != nil {
			t.Logf("%s: argus | ra: %v", name, refErr[i])
			continue
		}
		ignore, whole := map[string]bool{}, false
		for _, k := range known {
			if ok, _ := path.Match(k[0], name); ok {
				whole = whole || k[1] == "*"
				ignore[k[1]] = true
			}
		}
		if whole {
			skipped++
			continue
		}
		want := raCSVRows(t, refs[i], ignore)
		var out bytes.Buffer
		if _, err := convert(t, "pcap:"+p, "json:-", convertOpts{stdout: &out, dialect: "argus"}); err != nil {
			t.Logf("%s: %v", name, err) // a capture cut short: its records are still printed
		}
		got, err := jsonRows(out.Bytes(), ignore)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files++
		total += len(want)
		m, miss := matchRows(want, got)
		matched += m
		if len(miss) > 0 || len(got) != len(want) {
			failed = append(failed, fmt.Sprintf("%s: %d of %d argus records alike, convert printed %d; e.g.\n    %s", name, m, len(want), len(got), strings.Join(miss[:min(4, len(miss))], "\n    ")))
		}
	}
	t.Logf("%d captures (%d more left out by '*' rows): %d of %d argus records alike in convert pcap: -> json --dialect argus", files, skipped, matched, total)
	if files < 50 || matched < 2000 {
		t.Errorf("only %d captures, %d records compared", files, matched)
	}
	for _, f := range failed {
		t.Error(f)
	}
}

// loadSensorKnown reads the sensor oracle's known differences: capture
// glob and field of each row.
func loadSensorKnown(t *testing.T) [][2]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "sensor", "testdata", "known-differences.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][2]string
	for _, ln := range strings.Split(string(b), "\n") {
		if ln == "" || ln[0] == '#' {
			continue
		}
		c := strings.Split(ln, "\t")
		if len(c) < 3 {
			t.Fatalf("known-differences.tsv: bad row %q", ln)
		}
		rows = append(rows, [2]string{c[0], c[1]})
	}
	return rows
}

// raCSVRows parses ra's CSV (header first, MARs left out), blanking the
// ignored fields.
func raCSVRows(t *testing.T, b []byte, ignore map[string]bool) [][]string {
	t.Helper()
	rd := csv.NewReader(bytes.NewReader(b))
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil {
		t.Fatalf("ra csv: %v", err)
	}
	var out [][]string
	for i, r := range rows {
		if i == 0 || len(r) != len(oracleKeys) {
			continue
		}
		if strings.TrimSpace(r[4]) == "man" {
			continue
		}
		for j := range r {
			r[j] = strings.TrimSpace(r[j])
			if ignore[oracleKeys[j]] {
				r[j] = ""
			}
		}
		if n, err := strconv.Atoi(r[4]); err == nil && n > 255 || r[4] == "0" && strings.Contains(r[2], ":") && !strings.Contains(r[2], "::") && len(r[2]) == 17 {
			// An Ethernet type, or 0 for an LLC frame, between MAC
			// addresses: see jsonRows.
			r[4] = "L2"
		}
		if p := r[4]; p != "6" && p != "17" {
			r[5], r[6] = "", "" // ICMP type/code, SCTP (none in argus 3): see the test
		}
		out = append(out, r)
	}
	return out
}

// jsonRows reads the argus dialect's lines into rows of oracleKeys, as
// ra -nn -u prints them; a key the line lacks is "?" (not compared).
func jsonRows(b []byte, ignore map[string]bool) ([][]string, error) {
	var out [][]string
	for ln := range bytes.SplitSeq(bytes.TrimSpace(b), []byte("\n")) {
		if len(ln) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(ln, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", ln, err)
		}
		r := make([]string, len(oracleKeys))
		for j, k := range oracleKeys {
			v, ok := m[k]
			switch {
			case ignore[k]:
			case !ok:
				r[j] = "?"
			case k == "stime" || k == "ltime":
				r[j] = strconv.FormatFloat(v.(float64), 'f', 6, 64)
			default:
				r[j] = strings.TrimSpace(fmt.Sprint(v))
				if n, ok := v.(float64); ok {
					r[j] = strconv.FormatFloat(n, 'f', -1, 64)
				}
			}
		}
		if r[4] == "0" {
			// A flow with no IP protocol (ARP, layer 2): the dialect writes
			// 0 where ra prints the Ethernet type.
			r[4] = "L2"
		}
		if p := r[4]; p != "6" && p != "17" {
			r[5], r[6] = "", ""
		} else if r[5] == "0" && r[6] == "0" {
			// A flow of fragments past the first (no transport header): ra
			// prints a part of the fragment key in the port columns.
			r[5], r[6] = "?", "?"
		}
		out = append(out, r)
	}
	return out, nil
}

// swapped is r seen from the other end (addresses, ports and counters).
func swapped(r []string) []string {
	s := append([]string(nil), r...)
	s[2], s[3] = r[3], r[2]
	s[5], s[6] = r[6], r[5]
	s[7], s[8] = r[8], r[7]
	s[9], s[10] = r[10], r[9]
	return s
}

// matchRows matches want (ra's rows) with got (ours) as multisets, in
// either orientation, a "?" of ours matching any value; it returns the
// matches and the unmatched rows.
func matchRows(want, got [][]string) (int, []string) {
	used := make([]bool, len(got))
	n := 0
	var miss []string
	alike := func(w, g []string) bool {
		for j := range w {
			if g[j] != "?" && g[j] != w[j] && !(j < 2 && nearTime(w[j], g[j])) {
				return false
			}
		}
		return true
	}
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && (alike(w, g) || alike(swapped(w), g)) {
				used[i], found = true, true
				break
			}
		}
		if found {
			n++
		} else {
			miss = append(miss, "argus: "+strings.Join(w, ","))
		}
	}
	for i, g := range got {
		if !used[i] {
			miss = append(miss, "ours:  "+strings.Join(g, ","))
		}
	}
	return n, miss
}

// nearTime: two times printed with 6 decimals are at most 1 µs apart. A
// nanosecond capture's times are printed rounded by the dialect and
// truncated by argus 3, which keeps µs.
func nearTime(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x-y < 1.5e-6 && y-x < 1.5e-6
}

// TestConvertPcapIPBytes: for a conn.log, the records' bytes are IP-level,
// as Zeek counts orig_ip_bytes/resp_ip_bytes: the values of Zeek's own
// btest baselines for QinQ, PPPoE in QinQ and Ethernet frames with
// padding (ssh.pcap's bare ACKs are padded to 60 bytes).
func TestConvertPcapIPBytes(t *testing.T) {
	corpus := pcapCorpus(t)
	for _, c := range []struct {
		trace, baseline string
	}{
		{"q-in-q.pcap", "core.q-in-q"},
		{"pppoe-over-qinq.pcap", "core.pppoe-over-qinq"},
		{"ssh/ssh.pcap", "scripts.base.protocols.ssh.basic"},
		{"tunnels/gre-sample.pcap", "core.tunnels.gre"},
	} {
		dir := filepath.Join(corpus, "zeek", "zeek-btest")
		var out bytes.Buffer
		rep, err := convert(t, "pcap:"+filepath.Join(dir, "traces", c.trace), "zeek:-",
			convertOpts{stdout: &out, pcap: pcapOpts{sensor: "-S 86400", ipBytes: true}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep, " 0 of them inexact") {
			t.Errorf("%s: report: %s", c.trace, rep)
		}
		// 5-tuple -> "orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes".
		rows := func(b []byte) map[string]string {
			m := map[string]string{}
			var col map[string]int
			for _, ln := range strings.Split(string(b), "\n") {
				f := strings.Split(ln, "\t")
				if f[0] == "#fields" {
					col = map[string]int{}
					for i, n := range f[1:] {
						col[n] = i
					}
				}
				if col == nil || ln == "" || ln[0] == '#' {
					continue
				}
				g := func(n string) string { return f[col[n]] }
				m[strings.Join([]string{g("proto"), g("id.orig_h"), g("id.orig_p"), g("id.resp_h"), g("id.resp_p")}, " ")] =
					strings.Join([]string{g("orig_pkts"), g("orig_ip_bytes"), g("resp_pkts"), g("resp_ip_bytes")}, " ")
			}
			return m
		}
		zb, err := os.ReadFile(filepath.Join(dir, "baselines", c.baseline, "conn.log"))
		if err != nil {
			t.Fatal(err)
		}
		zeek, ours := rows(zb), rows(out.Bytes())
		n := 0
		for k, v := range zeek {
			if !strings.HasPrefix(k, "tcp") && !strings.HasPrefix(k, "udp") || ours[k] == "" {
				continue // ICMP and connections argus keys otherwise: conformance/known-differences-zeek.tsv
			}
			o := strings.Fields(ours[k])
			if zf := strings.Fields(v); o[0] == zf[0] && o[2] == zf[2] {
				n++
				if ours[k] != v {
					t.Errorf("%s: %s: ours %s, Zeek %s (pkts ip_bytes pkts ip_bytes)", c.trace, k, ours[k], v)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no connection compared", c.trace)
		}
	}
}

// TestConvertPcapShards: with --sensor "--shards 2" the records are the
// ones one table makes (in another order), IP bytes included.
func TestConvertPcapShards(t *testing.T) {
	corpus := pcapCorpus(t)
	in := filepath.Join(corpus, "traffic/slips/test7-malicious.pcap")
	lines := func(shards string) []string {
		var out bytes.Buffer
		if _, err := convert(t, "pcap:"+in, "zeekjson:-", convertOpts{stdout: &out, pcap: pcapOpts{sensor: shards, ipBytes: true}}); err != nil {
			t.Fatal(err)
		}
		l := strings.Split(strings.TrimSpace(out.String()), "\n")
		sort.Strings(l)
		return l
	}
	one, two := lines("--shards 1"), lines("--shards 2")
	if len(one) < 700 || strings.Join(one, "\n") != strings.Join(two, "\n") {
		t.Errorf("--shards 2 gives %d conn.log lines, --shards 1 %d, not the same", len(two), len(one))
	}
}

// TestPcapIPBytesAllocs: noting the link-layer overhead of frames whose
// flows are known allocates nothing (the sensor's packet path allocates
// nothing either: sensor's own tests).
func TestPcapIPBytesAllocs(t *testing.T) {
	corpus := pcapCorpus(t)
	src, err := capture.OpenFile(filepath.Join(corpus, "zeek/zeek-btest/traces/ssh/ssh.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var fs []capture.Frame
	for {
		var f capture.Frame
		if err := src.ReadFrame(&f); err != nil {
			break
		}
		f.Data = append([]byte(nil), f.Data...)
		fs = append(fs, f)
	}
	if len(fs) < 100 {
		t.Fatalf("%d frames", len(fs))
	}
	b := newIPBytes(false)
	b.frames(fs) // the flows' entries
	if n := testing.AllocsPerRun(20, func() { b.frames(fs) }); n != 0 {
		t.Errorf("%v allocations for %d frames", n, len(fs))
	}
}
