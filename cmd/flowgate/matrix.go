package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// The round-trip matrix (issue 5, point 6): for every ordered pair of
// formats (A, B) and every canonical field F, a record carrying F is
// written as A, converted A to B and B back to A by convert's own code
// (runConvert with --lossy --report, files in a temporary directory), and
// F must come back as A held it, or B's conversion report must name F
// (transformed by a declared rule, or not representable). A value changed
// with no word is SILENT.

// mxFormat is one column of the matrix: a file format, with its JSON (or
// CSV) dialect.
type mxFormat struct {
	Name    string // column name: argus, json-ecs ...
	Format  gateway.Format
	Dialect string
}

func (f mxFormat) endpoint(path string) (gateway.Endpoint, error) {
	return gateway.ParseEndpoint(string(f.Format) + ":" + path)
}

// mxFormats are the formats convert reads and writes. ra's -M json (the
// json sink without a dialect) is write-only and so not a column.
var mxFormats = []mxFormat{
	{"argus", gateway.FormatArgus, ""},
	{"argus3", gateway.FormatArgus3, ""},
	{"nf5", gateway.FormatNF5, ""},
	{"nf9", gateway.FormatNF9, ""},
	{"ipfix", gateway.FormatIPFIX, ""},
	{"zeek", gateway.FormatZeek, ""},
	{"zeekjson", gateway.FormatZeekJSON, ""},
	{"json-argus", gateway.FormatJSON, "argus"},
	{"json-ecs", gateway.FormatJSON, "ecs"},
	{"json-goflow2", gateway.FormatJSON, "goflow2"},
	{"json-nfdump", gateway.FormatJSON, "nfdump"},
	{"json-ipfix", gateway.FormatJSON, "ipfix"},
}

// csvDialects are the CSV columns, used once convert can write csv: (the
// hook for codecs/csv: matrixFormats probes openSink).
var csvDialects = []string{"argus", "ecs", "goflow2", "nfdump", "ipfix"}

// matrixFormats returns the columns: mxFormats, plus csv in each dialect
// when convert has a csv sink.
func matrixFormats(dir string) []mxFormat {
	out := append([]mxFormat(nil), mxFormats...)
	ep, err := gateway.ParseEndpoint("csv:" + filepath.Join(dir, "probe.csv"))
	if err != nil {
		return out
	}
	for _, d := range csvDialects {
		o := mxOpts(d, io.Discard)
		sk, err := openSink(context.Background(), ep, gateway.Endpoint{}, o)
		if err != nil {
			continue
		}
		sk.close()
		out = append(out, mxFormat{"csv-" + d, gateway.FormatCSV, d})
	}
	return out
}

func mxOpts(dialect string, stderr io.Writer) convertOpts {
	return convertOpts{lossy: true, report: true, dialect: dialect, communityID: true,
		stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr}
}

// Cell outcomes.
type mxOutcome uint8

const (
	mxPreserved mxOutcome = iota + 1
	mxReported            // B's report names F (a lossy rule or not representable)
	mxNotHeld             // A itself does not hold F: nothing to carry
	mxSilent              // changed or lost with no word
	mxNA                  // the pair cannot be converted by convert
)

// mxCell is one (A, B, F) result.
type mxCell struct {
	Outcome   mxOutcome
	Rule      string // mxReported: the rule or reason; mxNA, mxSilent: why
	Want, Got string // mxSilent: A's value and what came back
	// Record: the change was seen on the record made for this field, not
	// on the field's own.
	Record string
}

func (c mxCell) text() string {
	switch c.Outcome {
	case mxPreserved:
		return "preserved"
	case mxReported:
		return "reported (" + c.Rule + ")"
	case mxNotHeld:
		return "not held by A"
	case mxSilent:
		return "**SILENT**"
	case mxNA:
		return "n/a"
	}
	return "?"
}

func (c mxCell) seedText() string {
	switch c.Outcome {
	case mxPreserved:
		return "held"
	case mxNotHeld:
		if c.Rule != "" {
			return "not held (" + c.Rule + ")"
		}
		return "not held"
	}
	return c.text()
}

// Matrix is the result: Cells[a][b][f] over Formats x Formats x Fields.
type Matrix struct {
	Formats []mxFormat
	Fields  []mappings.FieldInfo
	Cells   [][][]mxCell
	// Seed[a][f]: the seed record written as A and read back (A's own
	// conversion; what A holds is what the pairs start from).
	Seed [][]mxCell
	// Conversions run and time taken.
	Conversions int
	Elapsed     time.Duration
}

// mxSeed is the text (canonical form, as the probe mapping reads it) of a
// field in the seed records.
type mxSeed map[string]string

// mxBaseSeed is what every seed record carries: an IPv4 TCP flow with
// millisecond times and one-way counts, which every format holds, so that
// only the field under test is hard. i makes each record's key unique.
func mxBaseSeed(i int) mxSeed {
	start := int64(1700000000+i*10) * 1e9
	return mxSeed{
		"start_time": strconv.FormatInt(start, 10),
		"last_time":  strconv.FormatInt(start+2500e6, 10),
		"src_addr":   fmt.Sprintf("10.1.0.%d", i+1),
		"dst_addr":   fmt.Sprintf("10.2.0.%d", i+1),
		"protocol":   "6",
		"src_port":   strconv.Itoa(40000 + i),
		"dst_port":   "443",
		"src_pkts":   "10",
		"src_bytes":  "1000",
		"dst_pkts":   "0",
		"dst_bytes":  "0",
	}
}

// biflow: the reverse direction carries packets (for fields of the
// reverse direction).
var biflow = mxSeed{"dst_pkts": "7", "dst_bytes": "700"}

// mxHardSeed gives, per field, the values of the record that tests it: a
// value that a format with less room, precision or width cannot hold as
// is (ns times, 33-bit counters, 32-bit AS numbers, IPv6). start is the
// base start time (ns).
func mxHardSeed(f string, start int64) []mxSeed {
	t := func(ns int64) string { return strconv.FormatInt(ns, 10) }
	// Per-direction times within the record's, which are their min and
	// max (as Argus derives them).
	srcTimes := mxSeed{"src_start_time": t(start + 1234567), "src_last_time": t(start + 2400e6 + 7654321),
		"start_time": t(start + 1234567), "last_time": t(start + 2400e6 + 7654321)}
	dirTimes := mxSeed{"src_start_time": t(start + 1234567), "src_last_time": t(start + 2400e6 + 7654321),
		"dst_start_time": t(start + 500000123), "dst_last_time": t(start + 2500e6 - 123),
		"start_time": t(start + 1234567), "last_time": t(start + 2500e6 - 123)}
	switch f {
	case "start_time":
		return []mxSeed{{f: t(start + 123456789)}}
	case "last_time":
		return []mxSeed{{f: t(start + 3487654321)}}
	case "duration":
		return []mxSeed{{f: "2345678912"}}
	case "src_addr":
		return []mxSeed{{f: "2001:db8::1:77", "dst_addr": "2001:db8:ffff::1"}}
	case "dst_addr":
		return []mxSeed{{f: "203.0.113.77"}}
	case "protocol":
		return []mxSeed{{f: "132"}} // SCTP
	case "src_port":
		return []mxSeed{{f: "61234"}}
	case "dst_port":
		return []mxSeed{{f: "5353"}}
	case "src_tos":
		return []mxSeed{{f: "184"}}
	case "dst_tos":
		return []mxSeed{biflow, {f: "40"}}
	case "src_ttl":
		return []mxSeed{{f: "63"}}
	case "dst_ttl":
		return []mxSeed{biflow, {f: "121"}}
	case "bytes":
		return []mxSeed{{"src_bytes": "123456", "dst_pkts": "9", "dst_bytes": "654321"}}
	case "src_bytes":
		return []mxSeed{{f: "5000000000"}}
	case "dst_bytes":
		return []mxSeed{{"dst_pkts": "7", f: "6000000000"}}
	case "app_bytes":
		return []mxSeed{biflow, {"src_app_bytes": "600", "dst_app_bytes": "500"}}
	case "src_app_bytes":
		return []mxSeed{{f: "777"}}
	case "dst_app_bytes":
		return []mxSeed{biflow, {f: "555"}}
	case "pkts":
		return []mxSeed{{"src_pkts": "11", "dst_pkts": "13", "dst_bytes": "1300"}}
	case "src_pkts":
		return []mxSeed{{f: "4300000000", "src_bytes": "300000000000"}}
	case "dst_pkts":
		return []mxSeed{{f: "4294967301", "dst_bytes": "300000000000"}}
	case "src_mac":
		return []mxSeed{{f: "02:00:5e:10:00:01", "dst_mac": "02:00:5e:10:00:02"}}
	case "dst_mac":
		return []mxSeed{{f: "02:00:5e:10:00:04", "src_mac": "02:00:5e:10:00:03"}}
	case "seq":
		return []mxSeed{{f: "3000000001"}}
	case "src_vid":
		return []mxSeed{{f: "4001"}}
	case "dst_vid":
		return []mxSeed{biflow, {f: "4002"}}
	case "src_start_time", "src_last_time":
		return []mxSeed{srcTimes}
	case "dst_start_time", "dst_last_time":
		return []mxSeed{biflow, dirTimes}
	case "src_country":
		return []mxSeed{{f: "NL", "dst_country": "JP"}}
	case "dst_country":
		return []mxSeed{{f: "JP", "src_country": "NL"}}
	case "label":
		return []mxSeed{{f: "flowgate matrix"}}
	case "src_as":
		return []mxSeed{{f: "4200000001", "dst_as": "64512"}}
	case "dst_as":
		return []mxSeed{{f: "4200000002", "src_as": "64513"}}
	case "src_mss":
		return []mxSeed{{f: "1460"}}
	case "bgp_next_hop":
		return []mxSeed{{f: "198.51.100.9", "next_hop": "198.51.100.1"}}
	case "next_hop":
		return []mxSeed{{f: "198.51.100.1"}}
	case "community_id":
		return nil // computed from the key (below): a true ID, not a made-up one
	case "src_tcp_flags":
		return []mxSeed{{f: "27"}} // FIN SYN PSH ACK
	case "dst_tcp_flags":
		return []mxSeed{biflow, {f: "18", "src_tcp_flags": "2"}} // SYN ACK / SYN
	case "exporter_addr":
		return []mxSeed{{f: "192.0.2.250", "obs_domain": "7"}}
	case "obs_domain":
		return []mxSeed{{f: "70000", "exporter_addr": "192.0.2.250"}}
	case "in_if":
		return []mxSeed{{f: "70001", "out_if": "3"}}
	case "out_if":
		return []mxSeed{{f: "70002", "in_if": "4"}}
	case "sampling_rate":
		return []mxSeed{{f: "20000"}}
	case "icmp_type":
		return []mxSeed{{"protocol": "1", f: "8", "icmp_code": "0", "src_port": "0", "dst_port": "0"}}
	case "icmp_code":
		return []mxSeed{{"protocol": "1", "icmp_type": "3", f: "13", "src_port": "0", "dst_port": "0"}}
	case "zeek_conn_state":
		return []mxSeed{{f: "SF"}}
	case "zeek_history":
		return []mxSeed{{f: "ShADadFf"}}
	case "zeek_service":
		return []mxSeed{{f: "http"}}
	case "zeek_uid":
		return []mxSeed{{f: "CHhAvVGS1DHFjwGM9"}}
	}
	return nil
}

// seedSource hands the probe plan a seed's values.
type seedSource struct {
	cols []string
	seed mxSeed
}

func (s *seedSource) Get(slot int) ([]byte, bool) {
	v, ok := s.seed[s.cols[slot]]
	return []byte(v), ok
}

// mxSeedRecords makes one record per field, in field order.
func mxSeedRecords(fields []mappings.FieldInfo) ([]flow.Record, error) {
	in, err := newProbe(mappings.In)
	if err != nil {
		return nil, err
	}
	recs := make([]flow.Record, len(fields))
	for i, f := range fields {
		s := mxBaseSeed(i)
		start, _ := strconv.ParseInt(s["start_time"], 10, 64)
		for _, h := range mxHardSeed(f.Name, start) {
			for k, v := range h {
				s[k] = v
			}
		}
		r := &recs[i]
		r.Type = flow.TypeFlow
		if err := in.Decode(&seedSource{cols: in.Columns(), seed: s}, r); err != nil {
			return nil, fmt.Errorf("seed %s: %w", f.Name, err)
		}
		if f.Name == "community_id" {
			if _, ok := r.SetCommunityID(nil, 0); !ok {
				return nil, fmt.Errorf("seed community_id: no ID for the key")
			}
		}
		r.Detach()
	}
	return recs, nil
}

// mxRead reads a file of format f back, every record detached.
func mxRead(f mxFormat, path string) ([]flow.Record, error) {
	ep, err := f.endpoint(path)
	if err != nil {
		return nil, err
	}
	src, _, err := openSource(ep, mxOpts(f.Dialect, io.Discard))
	if err != nil {
		return nil, err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	var out []flow.Record
	err = src.Serve(context.Background(), func(recs []flow.Record) error {
		for i := range recs {
			if recs[i].Type == flow.TypeMgmt {
				continue
			}
			r := recs[i]
			r.Detach()
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// mxWriteSeed writes the seed records as f through convert's sink (with
// its --report account) and returns the report.
func mxWriteSeed(f mxFormat, path string, recs []flow.Record) (string, error) {
	ep, err := f.endpoint(path)
	if err != nil {
		return "", err
	}
	var rep bytes.Buffer
	o := mxOpts(f.Dialect, &rep)
	sk, err := openSink(context.Background(), ep, gateway.Endpoint{}, o)
	if err != nil {
		return "", err
	}
	sk = withFieldAccount(sk, ep, o)
	cp := make([]flow.Record, len(recs))
	for i := range recs {
		cp[i] = recs[i]
		cp[i].Detach()
	}
	if err := sk.write(cp); err != nil {
		sk.close()
		return "", err
	}
	if err := sk.close(); err != nil {
		return "", err
	}
	sk.report(&rep)
	return rep.String(), nil
}

// mxConvert runs convert from one file to another and returns its report.
func mxConvert(a, b mxFormat, from, to string) (string, error) {
	in, err := a.endpoint(from)
	if err != nil {
		return "", err
	}
	out, err := b.endpoint(to)
	if err != nil {
		return "", err
	}
	var rep bytes.Buffer
	o := mxOpts(b.Dialect, &rep)
	o.readDialect = a.Dialect
	err = runConvert(context.Background(), in, out, o)
	return rep.String(), err
}

// probeValues gives a record's canonical values by field index ("" when
// the record does not carry it).
type prober struct {
	plan    *mappings.Plan
	vals    probeVals
	scratch []byte
}

func newProber(n int) (*prober, error) {
	p, err := newProbe(mappings.Out)
	if err != nil {
		return nil, err
	}
	return &prober{plan: p, vals: probeVals{has: make([]bool, n), v: make([][]byte, n)}}, nil
}

func (p *prober) values(r *flow.Record) []string {
	clear(p.vals.has)
	p.scratch, _ = p.plan.Encode(r, &p.vals, p.scratch)
	out := make([]string, len(p.vals.has))
	for i, ok := range p.vals.has {
		if ok {
			out[i] = string(p.vals.v[i])
		}
	}
	return out
}

// mxKey is how a record is found again: its 5-tuple as the probe prints it.
func mxKey(v []string, idx map[string]int) string {
	return v[idx["src_addr"]] + " " + v[idx["dst_addr"]] + " " + v[idx["protocol"]] + " " + v[idx["src_port"]] + " " + v[idx["dst_port"]]
}

// MatrixOptions say where and over what the matrix runs.
type MatrixOptions struct {
	Dir     string   // for the temporary directory ("": the system's)
	Formats []string // only these columns (nil: all)
	Keep    bool     // keep the files (for looking into a cell)
}

// RunMatrix runs the matrix.
func RunMatrix(mo MatrixOptions) (*Matrix, error) {
	t0 := time.Now()
	tmp, err := os.MkdirTemp(mo.Dir, "flowgate-matrix-")
	if err != nil {
		return nil, err
	}
	if !mo.Keep {
		defer os.RemoveAll(tmp)
	}
	only := mo.Formats
	m := &Matrix{Fields: mappings.CanonicalFields()}
	for _, f := range matrixFormats(tmp) {
		if len(only) == 0 || contains(only, f.Name) {
			m.Formats = append(m.Formats, f)
		}
	}
	idx := map[string]int{}
	for i, f := range m.Fields {
		idx[f.Name] = i
	}
	seeds, err := mxSeedRecords(m.Fields)
	if err != nil {
		return nil, err
	}
	pr, err := newProber(len(m.Fields))
	if err != nil {
		return nil, err
	}
	nf := len(m.Fields)
	m.Cells = make([][][]mxCell, len(m.Formats))
	m.Seed = make([][]mxCell, len(m.Formats))
	for ai, a := range m.Formats {
		m.Cells[ai] = make([][]mxCell, len(m.Formats))
		pathA := filepath.Join(tmp, a.Name+".0")
		repSeed, err := mxWriteSeed(a, pathA, seeds)
		if err != nil {
			return nil, fmt.Errorf("matrix: seed %s: %w", a.Name, err)
		}
		fseed, _ := parseFieldTable(repSeed)
		recA, err := mxRead(a, pathA)
		if err != nil {
			return nil, fmt.Errorf("matrix: read %s: %w", a.Name, err)
		}
		// A's own version of each seed record, found by the seed's key.
		held := make([][]string, nf)
		byKey := map[string][]string{}
		for i := range recA {
			v := pr.values(&recA[i])
			byKey[mxKey(v, idx)] = v
		}
		m.Seed[ai] = make([]mxCell, nf)
		for fi, f := range m.Fields {
			sv := pr.values(&seeds[fi])
			held[fi] = byKey[mxKey(sv, idx)]
			// The seed written as A: A holds the value, holds it changed by
			// a rule its report names, does not hold it, or changes it
			// with no word.
			var got string
			if h := held[fi]; h != nil {
				got = h[fi]
			}
			m.Seed[ai][fi] = judge(sv[fi], got, f.Name, fseed, nil)
			if got == "" {
				m.Seed[ai][fi] = mxCell{Outcome: mxNotHeld}
				if l, ok := fseed[f.Name]; ok && l.NotRep+l.Transformed+l.CodecRp > 0 {
					m.Seed[ai][fi].Rule = shortRule(l.Rule)
				}
			}
		}
		// And every field of every other seed record A holds.
		for k := range seeds {
			h := held[k]
			if h == nil {
				continue
			}
			sv := pr.values(&seeds[k])
			for fi, f := range m.Fields {
				if k == fi || sv[fi] == "" || h[fi] == sv[fi] || m.Seed[ai][fi].Outcome != mxPreserved {
					continue
				}
				c := judge(sv[fi], h[fi], f.Name, fseed, nil)
				c.Record = m.Fields[k].Name
				m.Seed[ai][fi] = c
			}
		}
		for bi, b := range m.Formats {
			cells := make([]mxCell, nf)
			m.Cells[ai][bi] = cells
			pathB := filepath.Join(tmp, fmt.Sprintf("%s-%s.1", a.Name, b.Name))
			pathA1 := filepath.Join(tmp, fmt.Sprintf("%s-%s.2", a.Name, b.Name))
			repAB, err := mxConvert(a, b, pathA, pathB)
			m.Conversions++
			var repBA string
			if err == nil {
				repBA, err = mxConvert(b, a, pathB, pathA1)
				m.Conversions++
			}
			var back map[string][]string
			if err == nil {
				var recs []flow.Record
				recs, err = mxRead(a, pathA1)
				back = map[string][]string{}
				for i := range recs {
					v := pr.values(&recs[i])
					back[mxKey(v, idx)] = v
				}
			}
			if err != nil {
				for fi := range cells {
					cells[fi] = mxCell{Outcome: mxNA, Rule: err.Error()}
				}
				continue
			}
			fab, _ := parseFieldTable(repAB)
			fba, _ := parseFieldTable(repBA)
			for fi, f := range m.Fields {
				h := held[fi]
				if h == nil || h[fi] == "" {
					cells[fi] = mxCell{Outcome: mxNotHeld}
					continue
				}
				got := "(record not back)"
				if g := back[mxKey(h, idx)]; g != nil {
					got = g[fi]
				}
				cells[fi] = judge(h[fi], got, f.Name, fab, fba)
			}
			// Every other record that came back is checked on every
			// field too: a base value (a port, a time) changed on a record
			// made for another field is as silent as on its own. A record
			// that did not come back was refused for its own field, which
			// the first check judges.
			for k := range held {
				h := held[k]
				if h == nil {
					continue
				}
				g := back[mxKey(h, idx)]
				if g == nil {
					continue
				}
				for fi, f := range m.Fields {
					if k == fi || h[fi] == "" || g[fi] == h[fi] || cells[fi].Outcome != mxPreserved {
						continue
					}
					c := judge(h[fi], g[fi], f.Name, fab, fba)
					c.Record = m.Fields[k].Name
					cells[fi] = c
				}
			}
		}
	}
	m.Elapsed = time.Since(t0)
	return m, nil
}

// judge says what became of a value: want is what went in, got what came
// back; ab is the report of the conversion that could lose it, ba of the
// one back (nil for none).
func judge(want, got, field string, ab, ba map[string]fieldLine) mxCell {
	if got == want {
		return mxCell{Outcome: mxPreserved}
	}
	if l, ok := ab[field]; ok && l.Transformed+l.NotRep+l.CodecRp > 0 {
		return mxCell{Outcome: mxReported, Rule: shortRule(l.Rule), Want: want, Got: got}
	}
	if l, ok := ba[field]; ok && l.Transformed+l.NotRep+l.CodecRp > 0 {
		return mxCell{Outcome: mxReported, Rule: "back to A: " + shortRule(l.Rule), Want: want, Got: got}
	}
	return mxCell{Outcome: mxSilent, Want: want, Got: got}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// shortRule shortens a report's rule for a table cell.
func shortRule(r string) string {
	switch {
	case strings.HasPrefix(r, "no place for it"):
		return "not representable"
	case strings.HasPrefix(r, "biflow split"):
		return "biflow split"
	case strings.HasPrefix(r, "reverse attribute of a one-way flow"):
		return "one-way: reverse left out"
	case strings.HasPrefix(r, "over "):
		return "too wide"
	case strings.HasSuffix(r, "holds IPv4 only"):
		return "IPv4 only"
	}
	return r
}

// Silent lists the SILENT cells as "A\tB\tfield\twant\tgot"; the seed
// written as A is "seed\tA\t...".
func (m *Matrix) Silent() []string {
	var out []string
	for ai, a := range m.Formats {
		for fi, f := range m.Fields {
			if c := m.Seed[ai][fi]; c.Outcome == mxSilent {
				got := c.Got
				if c.Record != "" {
					got += " (on " + c.Record + "'s record)"
				}
				out = append(out, "seed\t"+a.Name+"\t"+f.Name+"\t"+c.Want+"\t"+got)
			}
		}
	}
	for ai, a := range m.Formats {
		for bi, b := range m.Formats {
			for fi, f := range m.Fields {
				if c := m.Cells[ai][bi][fi]; c.Outcome == mxSilent {
					got := c.Got
					if c.Record != "" {
						got += " (on " + c.Record + "'s record)"
					}
					out = append(out, a.Name+"\t"+b.Name+"\t"+f.Name+"\t"+c.Want+"\t"+got)
				}
			}
		}
	}
	return out
}

// WriteMarkdown prints the matrix: a summary (rows A, columns B: fields
// preserved / reported / not held by A / SILENT), then per format A a
// table with a row per canonical field and a column per format B.
func (m *Matrix) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# Round-trip matrix: A -> B -> A\n\n")
	fmt.Fprintf(w, "%d formats, %d ordered pairs, %d canonical fields: %d cells; %d conversions in %.1f s.\n\n",
		len(m.Formats), len(m.Formats)*len(m.Formats), len(m.Fields),
		len(m.Formats)*len(m.Formats)*len(m.Fields), m.Conversions, m.Elapsed.Seconds())
	fmt.Fprintf(w, "Summary: preserved / reported / not held by A / SILENT (n/a: convert cannot do the pair; the test fails on one).\n\n")
	fmt.Fprintf(w, "| A \\ B |")
	for _, b := range m.Formats {
		fmt.Fprintf(w, " %s |", b.Name)
	}
	fmt.Fprintf(w, "\n|---|")
	for range m.Formats {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for ai, a := range m.Formats {
		fmt.Fprintf(w, "| %s |", a.Name)
		for bi := range m.Formats {
			var n [6]int
			for _, c := range m.Cells[ai][bi] {
				n[c.Outcome]++
			}
			if n[mxNA] > 0 {
				fmt.Fprintf(w, " n/a |")
				continue
			}
			s := fmt.Sprintf("%d / %d / %d / %d", n[mxPreserved], n[mxReported], n[mxNotHeld], n[mxSilent])
			if n[mxSilent] > 0 {
				s = "**" + s + "**"
			}
			fmt.Fprintf(w, " %s |", s)
		}
		fmt.Fprintln(w)
	}
	var na []string
	for ai, a := range m.Formats {
		fmt.Fprintf(w, "\n## From %s\n\n| field | seed as %s |", a.Name, a.Name)
		for _, b := range m.Formats {
			fmt.Fprintf(w, " %s |", b.Name)
		}
		fmt.Fprintf(w, "\n|---|---|")
		for range m.Formats {
			fmt.Fprintf(w, "---|")
		}
		fmt.Fprintln(w)
		for fi, f := range m.Fields {
			fmt.Fprintf(w, "| %s | %s |", f.Name, m.Seed[ai][fi].seedText())
			for bi := range m.Formats {
				c := m.Cells[ai][bi][fi]
				if c.Outcome == mxNA && fi == 0 {
					na = append(na, fmt.Sprintf("%s -> %s: %s", a.Name, m.Formats[bi].Name, c.Rule))
				}
				fmt.Fprintf(w, " %s |", c.text())
			}
			fmt.Fprintln(w)
		}
	}
	if s := m.Silent(); len(s) > 0 {
		fmt.Fprintf(w, "\n## SILENT cells\n\n| A | B | field | A held | came back |\n|---|---|---|---|---|\n")
		for _, l := range s {
			fmt.Fprintf(w, "| %s |\n", strings.ReplaceAll(l, "\t", " | "))
		}
	}
	if len(na) > 0 {
		fmt.Fprintf(w, "\n## Pairs convert cannot do\n\n")
		for _, l := range na {
			fmt.Fprintf(w, "- %s\n", l)
		}
	}
}
