package conformance

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The Zeek btest comparison: for each trace of $FLOWGATE_CORPUS/zeek/
// zeek-btest with a reference conn.log (baselines/<case>/conn.log, made by
// Zeek's own test suite; CASES.tsv gives the trace), our sensor's records
// of the trace, converted to a conn.log by flowgate convert pcap:TRACE -w
// zeek:, must agree with Zeek's on the 5-tuple, orig_pkts/resp_pkts and
// orig_ip_bytes/resp_ip_bytes for the connections both see. Every
// connection only one side has and every field that differs needs a row
// of known-differences-zeek.tsv saying why; a row that is no longer needed
// fails the test.
//
// Matching: the baselines' ts column is masked (XXXXXXXXXX.XXXXXX), so
// connections are matched on the 5-tuple (either orientation: Zeek's orig
// is the side it decides opened the connection, flipping it when the
// history says so; argus's source is the first packet's sender) and, among
// connections with the same 5-tuple, on the nearest duration and packet
// count. ICMP is matched on addresses: Zeek puts the ICMP type and code in
// the port columns, argus keys ICMP differently (see the rows).
//
// The sensor runs with -S 86400: argus reports a flow every -S seconds (5
// by default), each record counting the packets since the last, where Zeek
// logs a connection once, at its end; with no status report inside a
// trace, a record is a whole flow, as a conn.log line is. Timeouts stay
// argus's defaults. For a zeek: sink convert makes the records' bytes
// IP-level (argus counts from the link-layer header; convert_pcap.go).

// zeekConn is one conn.log line: what the comparison looks at.
type zeekConn struct {
	line          int
	proto         string // tcp, udp, icmp, unknown_transport
	oh, rh        string
	op, rp        string
	dur           float64 // NaN when unset
	pkts, ipBytes [2]int64
}

// flow is the connection's text in the known-differences file:
// "proto orig_h:orig_p>resp_h:resp_p".
func (c *zeekConn) flow() string {
	return fmt.Sprintf("%s %s:%s>%s:%s", c.proto, c.oh, c.op, c.rh, c.rp)
}

// readConnLog reads the compared columns of a conn.log (TSV), by the names
// of its #fields line (the field-name-map case renames id.orig_h to src).
func readConnLog(t *testing.T, file string) []zeekConn {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	alias := map[string]string{"src": "id.orig_h", "src_port": "id.orig_p", "dst": "id.resp_h", "dst_port": "id.resp_p"}
	col := map[string]int{}
	var out []zeekConn
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		ln := sc.Text()
		if strings.HasPrefix(ln, "#fields\t") {
			for i, name := range strings.Split(ln, "\t")[1:] {
				if a, ok := alias[name]; ok {
					name = a
				}
				col[name] = i
			}
			continue
		}
		if ln == "" || ln[0] == '#' {
			continue
		}
		v := strings.Split(ln, "\t")
		get := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(v) {
				t.Fatalf("%s:%d: no %s column", file, n, name)
			}
			return v[i]
		}
		num := func(name string) int64 {
			s := get(name)
			if s == "-" {
				return 0
			}
			x, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("%s:%d: %s %q: %v", file, n, name, s, err)
			}
			return x
		}
		c := zeekConn{line: n, proto: get("proto"), oh: get("id.orig_h"), op: get("id.orig_p"),
			rh: get("id.resp_h"), rp: get("id.resp_p"), dur: math.NaN()}
		if d, err := strconv.ParseFloat(get("duration"), 64); err == nil {
			c.dur = d
		}
		c.pkts = [2]int64{num("orig_pkts"), num("resp_pkts")}
		c.ipBytes = [2]int64{num("orig_ip_bytes"), num("resp_ip_bytes")}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// zeekKnown is a row of known-differences-zeek.tsv.
type zeekKnown struct {
	line               int
	cases, flow, field string
	reason             string
	perPkt             int64 // field ip_bytes+N: N
	hits               int
}

// zeekFields are the fields a row may name.
var zeekFields = map[string]bool{
	"only-zeek": true, "only-ours": true, "direction": true, "icmp-ports": true,
	"orig_pkts": true, "resp_pkts": true, "orig_ip_bytes": true, "resp_ip_bytes": true,
}

const zeekKnownFile = "known-differences-zeek.tsv"

func loadZeekKnown(t *testing.T) []*zeekKnown {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "conformance", zeekKnownFile))
	if err != nil {
		t.Fatal(err)
	}
	var rows []*zeekKnown
	for i, ln := range strings.Split(string(b), "\n") {
		if ln == "" || ln[0] == '#' {
			continue
		}
		c := strings.Split(ln, "\t")
		if len(c) != 4 || strings.TrimSpace(c[3]) == "" {
			t.Fatalf("%s:%d: want case glob, flow glob, field and reason separated by tabs", zeekKnownFile, i+1)
		}
		k := &zeekKnown{line: i + 1, cases: c[0], flow: c[1], field: c[2], reason: c[3]}
		for _, g := range append(strings.Split(k.cases, ","), k.flow, k.field) {
			if _, err := path.Match(g, ""); err != nil {
				t.Fatalf("%s:%d: bad glob %q: %v", zeekKnownFile, i+1, g, err)
			}
		}
		if !anyField(k.field) {
			t.Fatalf("%s:%d: field %q names no field", zeekKnownFile, i+1, k.field)
		}
		rows = append(rows, k)
	}
	return rows
}

// anyField reports whether the field glob g matches a field.
func anyField(g string) bool {
	for f := range zeekFields {
		if ok, _ := path.Match(g, f); ok {
			return true
		}
	}
	return false
}

// caseMatch reports whether the case column (globs separated by commas)
// matches cs.
func (k *zeekKnown) caseMatch(cs string) bool {
	for _, g := range strings.Split(k.cases, ",") {
		if ok, _ := path.Match(g, cs); ok {
			return true
		}
	}
	return false
}

// explain returns the row that lists field of flow in case, or nil.
// Rows are tried in file order: a specific row before a catch-all.
func explain(rows []*zeekKnown, cs, flow, field string) *zeekKnown {
	for _, k := range rows {
		if ok, _ := path.Match(k.field, field); !ok {
			continue
		}
		if !k.caseMatch(cs) {
			continue
		}
		if ok, _ := path.Match(k.flow, flow); ok {
			return k
		}
	}
	return nil
}

func TestZeekBtestConnLogs(t *testing.T) {
	dir := corpusDir(t, "zeek", "zeek-btest")
	bin := flowgateBin(t)
	known := loadZeekKnown(t)
	cases, err := os.ReadFile(filepath.Join(dir, "CASES.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var traces, both, equal, equalCounts, onlyZeek, onlyOurs int
	byReason := map[string]int{}
	var failed []string
	for i, ln := range strings.Split(strings.TrimSpace(string(cases)), "\n") {
		c := strings.Split(ln, "\t")
		if i == 0 || len(c) < 2 {
			continue
		}
		cs, trace := c[0], c[1]
		ref := filepath.Join(dir, "baselines", cs, "conn.log")
		if _, err := os.Stat(ref); err != nil {
			continue
		}
		traces++
		out := filepath.Join(tmp, cs+".log")
		mustRun(t, "", bin, "convert", "-r", "pcap:"+filepath.Join(dir, "traces", trace),
			"--sensor", "-S 86400", "-w", "zeek:"+out, "--community-id=false")
		zs, ours := readConnLog(t, ref), readConnLog(t, out)
		used := make([]bool, len(ours))
		note := func(field, flow, detail string) {
			if k := explain(known, cs, flow, field); k != nil {
				k.hits++
				byReason[k.reason]++
				return
			}
			failed = append(failed, fmt.Sprintf("%s: %s %s: %s (no row in %s)", cs, flow, field, detail, zeekKnownFile))
		}
		// Every pairing with its cost, cheapest first: a connection takes
		// the nearest record left, so that one close match is not taken
		// by a worse one met earlier.
		type cand struct {
			zi, oi int
			swap   bool
			cost   float64
		}
		var cands []cand
		for zi := range zs {
			z := &zs[zi]
			for oi := range ours {
				o := &ours[oi]
				if o.proto != z.proto {
					continue
				}
				icmp := z.proto == "icmp"
				for _, sw := range []bool{false, true} {
					oh, op, rh, rp := o.oh, o.op, o.rh, o.rp
					if sw {
						oh, op, rh, rp = rh, rp, oh, op
					}
					if oh != z.oh || rh != z.rh || !icmp && (op != z.op || rp != z.rp) {
						continue
					}
					c := math.Abs(float64(o.pkts[0]+o.pkts[1]-z.pkts[0]-z.pkts[1])) * 1e-3
					if !math.IsNaN(z.dur) && !math.IsNaN(o.dur) {
						c += math.Abs(z.dur - o.dur)
					}
					if sw {
						c += 1e-9 // same cost: keep the orientation
					}
					cands = append(cands, cand{zi, oi, sw, c})
				}
			}
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].cost < cands[j].cost })
		match := make([]int, len(zs))
		swapped := make([]bool, len(zs))
		for i := range match {
			match[i] = -1
		}
		for _, c := range cands {
			if match[c.zi] < 0 && !used[c.oi] {
				match[c.zi], swapped[c.zi], used[c.oi] = c.oi, c.swap, true
			}
		}
		for zi := range zs {
			z := &zs[zi]
			best, swap := match[zi], swapped[zi]
			if best < 0 {
				onlyZeek++
				note("only-zeek", z.flow(), fmt.Sprintf("%d+%d pkts, conn.log line %d", z.pkts[0], z.pkts[1], z.line))
				continue
			}
			both++
			o := ours[best]
			if swap {
				o.oh, o.op, o.rh, o.rp = o.rh, o.rp, o.oh, o.op
				o.pkts[0], o.pkts[1] = o.pkts[1], o.pkts[0]
				o.ipBytes[0], o.ipBytes[1] = o.ipBytes[1], o.ipBytes[0]
				note("direction", z.flow(), "our record has the other side as orig")
			}
			if o.op != z.op || o.rp != z.rp {
				note("icmp-ports", z.flow(), fmt.Sprintf("ours %s>%s", o.op, o.rp))
			}
			same := o.pkts == z.pkts && o.ipBytes == z.ipBytes
			for d, side := range [2]string{"orig", "resp"} {
				if o.pkts[d] != z.pkts[d] {
					note(side+"_pkts", z.flow(), fmt.Sprintf("zeek %d, ours %d", z.pkts[d], o.pkts[d]))
				}
				if o.ipBytes[d] != z.ipBytes[d] {
					note(side+"_ip_bytes", z.flow(), fmt.Sprintf("zeek %d, ours %d (%d pkts)", z.ipBytes[d], o.ipBytes[d], o.pkts[d]))
				}
			}
			if same {
				equalCounts++
				if !swap && o.op == z.op && o.rp == z.rp {
					equal++
				}
			}
		}
		for oi := range ours {
			if !used[oi] {
				onlyOurs++
				o := &ours[oi]
				note("only-ours", o.flow(), fmt.Sprintf("%d+%d pkts, our line %d", o.pkts[0], o.pkts[1], o.line))
			}
		}
	}
	t.Logf("%d traces: %d connections both see, %d of them equal on packets and IP bytes, %d also on orientation and ports; %d only Zeek has, %d only ours", traces, both, equalCounts, equal, onlyZeek, onlyOurs)
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return byReason[reasons[i]] > byReason[reasons[j]] })
	for _, r := range reasons {
		t.Logf("  %4d  %.110s", byReason[r], r)
	}
	if traces < 25 {
		t.Errorf("only %d traces with a conn.log", traces)
	}
	for _, k := range known {
		if k.hits == 0 {
			failed = append(failed, fmt.Sprintf("%s:%d: stale row: %s %s %s explains no difference", zeekKnownFile, k.line, k.cases, k.flow, k.field))
		}
	}
	for _, f := range failed {
		t.Error(f)
	}
}
