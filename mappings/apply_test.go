package mappings

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// tsvRow is a minimal Zeek TSV test codec: a row split on tabs, with the
// plan's slots resolved to header columns once. "-" is unset, "(empty)" an
// empty value.
type tsvRow struct {
	idx  []int // slot -> column, -1 when the log lacks the column
	cols [][]byte
}

func bindTSV(p *Plan, header []string) *tsvRow {
	r := &tsvRow{idx: make([]int, len(p.Columns())), cols: make([][]byte, len(header))}
	for s, c := range p.Columns() {
		r.idx[s] = -1
		for i, h := range header {
			if h == c {
				r.idx[s] = i
			}
		}
	}
	return r
}

func (r *tsvRow) Get(slot int) ([]byte, bool) {
	i := r.idx[slot]
	if i < 0 {
		return nil, false
	}
	v := r.cols[i]
	switch string(v) {
	case "-", "XXXXXXXXXX.XXXXXX": // btest baselines mask times
		return nil, false
	case "(empty)":
		return v[:0], true
	}
	return v, true
}

func (r *tsvRow) Put(slot int, v []byte) {
	if i := r.idx[slot]; i >= 0 {
		r.cols[i] = append(r.cols[i][:0], v...)
	}
}

func (r *tsvRow) split(line []byte) {
	for i := range r.cols {
		j := bytes.IndexByte(line, '\t')
		if j < 0 {
			j = len(line)
		}
		r.cols[i] = line[:j]
		if j < len(line) {
			line = line[j+1:]
		} else {
			line = line[j:]
		}
	}
}

// zeekLog reads a TSV conn.log: its #fields header and data lines.
func zeekLog(t *testing.T, path string) ([]string, [][]byte) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var header []string
	var lines [][]byte
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Bytes()
		if bytes.HasPrefix(l, []byte("#fields\t")) {
			for _, f := range bytes.Split(l[len("#fields\t"):], []byte("\t")) {
				header = append(header, string(f))
			}
			continue
		}
		// slips' test10 log starts "\t#separator": a stray tab, still a header.
		if t := bytes.TrimLeft(l, "\t "); len(t) == 0 || t[0] == '#' {
			continue
		}
		lines = append(lines, bytes.Clone(l))
	}
	return header, lines
}

func corpusConnLogs(t *testing.T) []string {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	var out []string
	filepath.Walk(filepath.Join(dir, "zeek"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && filepath.Base(p) == "conn.log" {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("#fields\t")) {
				out = append(out, p)
			}
		}
		return nil
	})
	if len(out) == 0 {
		t.Skip("no TSV conn.log in the corpus")
	}
	return out
}

// Values Zeek wrote (slips' test9 conn.log, first line) land in the
// canonical fields argus-clients.md §4.2 names: orig_ip_bytes is IP bytes
// (Bytes), orig_bytes payload (AppBytes).
func TestZeekConnDecodeValues(t *testing.T) {
	f, err := Builtin("zeek-conn")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := Compile(f, In)
	header := []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
		"orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts",
		"orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents"}
	row := bindTSV(in, header)
	row.split([]byte("929.052075\tClFRAG4qdAIC5IPU95\t10.0.2.112\t49170\t195.113.214.221\t443\ttcp\tssl\t0.182943\t480\t34266\tRSTR\t-\t-\t0\tShADadRr\t18\t1212\t38\t35790\t(empty)"))
	var r flow.Record
	if err := in.Decode(row, &r); err != nil {
		t.Fatal(err)
	}
	want := flow.Record{Start: 929052075000, Last: 929052075000 + 182943000,
		Pkts: [2]uint64{18, 38}, Bytes: [2]uint64{1212, 35790}, AppBytes: [2]uint64{480, 34266}}
	if r.Start != want.Start || r.Last != want.Last || r.Pkts != want.Pkts || r.Bytes != want.Bytes || r.AppBytes != want.AppBytes {
		t.Errorf("times/counters: %d %d %v %v %v", r.Start, r.Last, r.Pkts, r.Bytes, r.AppBytes)
	}
	if r.Key.Src != netip.MustParseAddr("10.0.2.112") || r.Key.Dst != netip.MustParseAddr("195.113.214.221") ||
		r.Key.SrcPort != 49170 || r.Key.DstPort != 443 || r.Key.Proto != 6 || r.Key.AddrType != flow.AddrIPv4 {
		t.Errorf("key: %+v", r.Key)
	}
	if string(r.Zeek.UID) != "ClFRAG4qdAIC5IPU95" || string(r.Zeek.Service) != "ssl" || string(r.Zeek.State) != "RSTR" || string(r.Zeek.History) != "ShADadRr" {
		t.Errorf("zeek: %s %s %s %s", r.Zeek.UID, r.Zeek.Service, r.Zeek.State, r.Zeek.History)
	}
	wantHas := flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasAppBytes | flow.HasZeek
	if r.Has != wantHas {
		t.Errorf("Has %x, want %x", r.Has, wantHas)
	}
}

// Every row of every TSV conn.log in the corpus decodes and encodes back
// to the same text in every mapped column, without allocating.
func TestZeekConnRoundTripCorpus(t *testing.T) {
	f, err := Builtin("zeek-conn")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := Compile(f, In)
	out, _ := Compile(f, Out)
	total := 0
	for _, path := range corpusConnLogs(t) {
		header, lines := zeekLog(t, path)
		src, dst := bindTSV(in, header), bindTSV(out, header)
		var scratch []byte
		for n, l := range lines {
			if n == 2000 {
				break
			}
			src.split(l)
			var r flow.Record
			if err := in.Decode(src, &r); err != nil {
				t.Errorf("%s:%d: %v", path, n+1, err)
				continue
			}
			for i := range dst.cols {
				dst.cols[i] = append(dst.cols[i][:0], '-')
			}
			if scratch, err = out.Encode(&r, dst, scratch); err != nil {
				t.Errorf("%s:%d: encode: %v", path, n+1, err)
			}
			for _, c := range out.Columns() {
				i := dst.idx[in.slotOf(c)]
				if i < 0 {
					continue
				}
				got, want := dst.cols[i], src.cols[i]
				if string(want) == "(empty)" {
					want = nil
				}
				if string(want) == "XXXXXXXXXX.XXXXXX" {
					continue // masked by btest: nothing to compare
				}
				if !bytes.Equal(got, want) && !(len(want) == 0 && string(got) == "-") {
					t.Errorf("%s:%d: %s = %q, wrote %q", path, n+1, c, want, got)
				}
			}
			total++
		}
	}
	t.Logf("%d rows", total)
}

func (p *Plan) slotOf(col string) int {
	for i, c := range p.columns {
		if c == col {
			return i
		}
	}
	return -1
}

func TestApplyAllocs(t *testing.T) {
	f, err := Builtin("zeek-conn")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := Compile(f, In)
	out, _ := Compile(f, Out)
	header := []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
		"orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
		"orig_l2_addr", "resp_l2_addr", "vlan", "orig_cc", "resp_cc", "community_id"}
	line := []byte("929.052075\tClFRAG4qdAIC5IPU95\t2001:db8::1\t49170\t195.113.214.221\t443\ttcp\tssl\t0.182943\t480\t34266\tRSTR\tShADadRr\t18\t1212\t38\t35790\t08:00:07:f8:3d:02\t00:1b:21:aa:bb:cc\t100\tCZ\tUS\t1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
	src, dst := bindTSV(in, header), bindTSV(out, header)
	src.split(line)
	scratch := make([]byte, 0, 512)
	for i := range dst.cols {
		dst.cols[i] = make([]byte, 0, 64)
	}
	var r flow.Record
	var derr, eerr error
	allocs := testing.AllocsPerRun(1000, func() {
		r = flow.Record{}
		derr = in.Decode(src, &r)
		scratch, eerr = out.Encode(&r, dst, scratch)
	})
	if derr != nil || eerr != nil {
		t.Fatal(derr, eerr)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per record", allocs)
	}
	for i := range header {
		if !bytes.Equal(src.cols[i], dst.cols[i]) {
			t.Errorf("%s: %q -> %q", header[i], src.cols[i], dst.cols[i])
		}
	}
}

// csvRow is a []string CSV test codec with a header, for the JSON/CSV
// dialects (same keys).
type csvRow struct {
	idx []int
	row []string
	out [][]byte
}

func (c *csvRow) Get(slot int) ([]byte, bool) {
	if i := c.idx[slot]; i >= 0 && c.row[i] != "" {
		return []byte(c.row[i]), true
	}
	return nil, false
}

func (c *csvRow) Put(slot int, v []byte) {
	if i := c.idx[slot]; i >= 0 {
		c.out[i] = append(c.out[i][:0], v...)
	}
}

func TestDialectConversions(t *testing.T) {
	cases := []struct {
		dialect string
		header  []string
		row     []string
		check   func(r *flow.Record) bool
	}{
		// nfdump 1.7.1 -o json (TZ=UTC) prints first/last to the ms, IPv6
		// in src6_addr.
		{"json-nfdump", []string{"first", "last", "src6_addr", "dst6_addr", "proto", "in_bytes", "out_bytes"},
			[]string{"2024-03-01T12:00:01.250", "2024-03-01T12:00:02.500", "2001:db8::1", "2001:db8::2", "17", "100", "200"},
			func(r *flow.Record) bool {
				return r.Start == 1709294401250000000 && r.Last == 1709294402500000000 && r.Key.Src.Is6() && r.Bytes == [2]uint64{100, 200}
			}},
		{"json-ecs", []string{"event.start", "source.ip", "source.port", "network.iana_number"},
			[]string{"2024-03-01T12:00:01.000000123Z", "192.0.2.1", "53", "17"},
			func(r *flow.Record) bool { return r.Start == 1709294401000000123 && r.Key.SrcPort == 53 }},
		{"json-goflow2", []string{"time_flow_start_ns", "bytes", "packets", "sampler_address", "in_if"},
			[]string{"1709294401000000123", "1500", "3", "198.51.100.7", "4"},
			func(r *flow.Record) bool {
				return r.Start == 1709294401000000123 && r.Bytes[0] == 1500 && r.Exporter.Addr() == netip.MustParseAddr("198.51.100.7") && r.InIf == 4
			}},
	}
	for _, c := range cases {
		f, err := Builtin(c.dialect)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := Compile(f, In)
		out, _ := Compile(f, Out)
		bind := func(p *Plan) []int {
			idx := make([]int, len(p.Columns()))
			for s, col := range p.Columns() {
				idx[s] = -1
				for i, h := range c.header {
					if h == col {
						idx[s] = i
					}
				}
			}
			return idx
		}
		var r flow.Record
		if err := in.Decode(&csvRow{idx: bind(in), row: c.row}, &r); err != nil {
			t.Errorf("%s: %v", c.dialect, err)
		}
		if !c.check(&r) {
			t.Errorf("%s: %+v", c.dialect, r)
		}
		w := &csvRow{idx: bind(out), out: make([][]byte, len(c.header))}
		if _, err := out.Encode(&r, w, nil); err != nil {
			t.Errorf("%s: encode: %v", c.dialect, err)
		}
		for i, h := range c.header {
			if string(w.out[i]) != c.row[i] {
				t.Errorf("%s: %s %q -> %q", c.dialect, h, c.row[i], w.out[i])
			}
		}
	}
}

func TestApplyBadValues(t *testing.T) {
	f, err := Load("t.yaml", []byte(`version: 1
schema: csv
fields:
  - {external: p, canonical: src_port}
  - {external: a, canonical: src_addr, convert: {family: ipv4}}
  - {external: x, canonical: protocol, default: "6"}
  - {external: k, canonical: label, convert: {constant: fixed}}
`))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := Compile(f, In)
	row := &csvRow{idx: []int{0, 1, -1, -1}, row: []string{"70000", "2001:db8::1"}}
	var r flow.Record
	err = in.Decode(row, &r)
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, ErrRange) || ae.Rule.Path != "fields[0]" || ae.Rule.Line != 4 {
		t.Errorf("got %v", err)
	}
	if r.Key.Proto != 6 || string(r.Label) != "fixed" || r.Key.Src.IsValid() {
		t.Errorf("default/constant/family: %+v %q", r.Key, r.Label)
	}
}

// jsonRow is a flat JSON object test codec: values as their JSON text
// (strings unquoted), null or absent = unset.
type jsonRow struct {
	cols []string
	vals map[string][]byte
}

func (j *jsonRow) Get(slot int) ([]byte, bool) {
	v, ok := j.vals[j.cols[slot]]
	return v, ok
}

// Every row of the corpus's JSON conn.logs decodes; counters read back as
// Zeek wrote them and times as Zeek's TSV writer would print the double
// (%.6f, Go's 'f' formatting of the same float64).
func TestZeekConnJSONCorpus(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	f, _ := Builtin("zeek-conn")
	in, _ := Compile(f, In)
	out, _ := Compile(f, Out)
	rows := 0
	filepath.Walk(filepath.Join(dir, "zeek"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || filepath.Ext(p) != ".log" {
			return nil
		}
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte("{")) || !bytes.Contains(b, []byte(`"conn_state"`)) {
			return nil
		}
		for n, line := range bytes.Split(b, []byte("\n")) {
			if len(line) == 0 || n >= 2000 {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil {
				t.Errorf("%s:%d: %v", p, n+1, err)
				continue
			}
			src := &jsonRow{cols: in.Columns(), vals: map[string][]byte{}}
			for k, v := range m {
				if string(v) == "null" {
					continue
				}
				if v[0] == '"' {
					var s string
					json.Unmarshal(v, &s)
					v = []byte(s)
				}
				src.vals[k] = v
			}
			var r flow.Record
			if err := in.Decode(src, &r); err != nil {
				t.Errorf("%s:%d: %v", p, n+1, err)
				continue
			}
			dst := &tsvRow{idx: make([]int, len(out.Columns())), cols: make([][]byte, len(out.Columns()))}
			for i := range dst.idx {
				dst.idx[i] = i
			}
			out.Encode(&r, dst, nil)
			for i, c := range out.Columns() {
				v, ok := src.vals[c]
				if !ok {
					continue
				}
				want := string(v)
				if c == "ts" || c == "duration" {
					x, _ := strconv.ParseFloat(want, 64)
					want = strconv.FormatFloat(x, 'f', 6, 64)
				}
				if string(dst.cols[i]) != want {
					t.Errorf("%s:%d: %s = %s, wrote %q", p, n+1, c, v, dst.cols[i])
				}
			}
			rows++
		}
		return nil
	})
	t.Logf("%d rows", rows)
}
