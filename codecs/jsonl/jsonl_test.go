package jsonl

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

func corpus(t testing.TB) string {
	d := os.Getenv("FLOWGATE_CORPUS")
	if d == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	return d
}

// argusFlows reads the flow records of one Argus file (MARs dropped).
func argusFlows(t testing.TB, path string) []flow.Record {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ar, err := argus.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []flow.Record
	for {
		var r flow.Record
		if err := ar.Decode(&r); err != nil {
			if err != io.EOF {
				t.Fatalf("%s: %v", path, err)
			}
			return recs
		}
		if r.Type == flow.TypeFlow {
			r.Detach()
			recs = append(recs, r)
		}
	}
}

func write(t testing.TB, dialect string, recs []flow.Record) []byte {
	var b bytes.Buffer
	w, err := NewWriter(&b, dialect)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Encode(&recs[i]); err != nil && !oneWayLoss(w, &recs[i], err) {
			t.Fatalf("%s: record %d: %v", dialect, i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// oneWayLoss reports whether err is a one-way dialect refusing a biflow's
// reverse counters (the line is written without them): what convert
// --lossy accepts.
func oneWayLoss(w *Writer, r *flow.Record, err error) bool {
	var nr *codecs.NotRepresentableError
	return w.plan.OneWay() && (r.Pkts[1] != 0 || r.Bytes[1] != 0) && errors.As(err, &nr) &&
		(nr.Field == "dst_pkts" || nr.Field == "dst_bytes" || nr.Field == "dst_app_bytes")
}

// raRow is one row of ra's own CSV output for the Argus file (v5.ra5.csv,
// written by Debian ra), the values the JSON must carry.
type raRow map[string]string

func raCSV(t *testing.T, path string) []raRow {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	all, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []raRow
	for _, rec := range all[1:] {
		row := raRow{}
		for i, h := range all[0] {
			if i < len(rec) {
				if _, dup := row[h]; !dup {
					row[h] = rec[i]
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

var raProto = map[string]float64{"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58}

// goflow2Proto is goflow2 v2's protoName (producer/proto/render.go): the
// names its JSON gives protocols.
var goflow2Proto = map[int]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP"}

// get walks a dotted path through decoded JSON objects.
func get(m map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	var v any = m
	for _, p := range parts {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// keysFor names, per dialect, where the values ra prints must appear: the
// key (or ECS path) of source address, destination address, protocol,
// ports, per-direction packets and bytes, and the start time with its
// rendering (s: epoch seconds, ms/ns: epoch integer, iso/datetime: text).
var keysFor = map[string]struct {
	saddr, daddr, proto, sport, dport, spkts, dpkts, sbytes, dbytes, stime, tfmt string
	pkts, bytes                                                                  string // totals, where the dialect has them
}{
	"argus":   {"saddr", "daddr", "proto", "sport", "dport", "spkts", "dpkts", "sbytes", "dbytes", "stime", "s", "pkts", "bytes"},
	"ecs":     {"source.ip", "destination.ip", "network.iana_number", "source.port", "destination.port", "source.packets", "destination.packets", "source.bytes", "destination.bytes", "event.start", "iso", "network.packets", "network.bytes"},
	"goflow2": {"src_addr", "dst_addr", "proto", "src_port", "dst_port", "packets", "", "bytes", "", "time_flow_start_ns", "ns", "", ""},
	"nfdump":  {"src%_addr", "dst%_addr", "proto", "src_port", "dst_port", "in_packets", "out_packets", "in_bytes", "out_bytes", "first", "datetime", "", ""},
	"ipfix":   {"sourceIPv%Address", "destinationIPv%Address", "protocolIdentifier", "sourceTransportPort", "destinationTransportPort", "packetDeltaCount", "reversePacketDeltaCount", "octetDeltaCount", "reverseOctetDeltaCount", "flowStartMilliseconds", "ms", "", ""},
}

// TestWriteMatchesRa writes every corpus Argus v5 file's flows in every
// dialect, checks each line with encoding/json, and compares the values at
// the dialect's keys with what Debian ra printed for the same file.
func TestWriteMatchesRa(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus(t), "argus/oracle/*/v5.argus"))
	if len(files) == 0 {
		t.Skip("no corpus argus files")
	}
	checked, icmpChecked := 0, 0
	for _, file := range files {
		recs := argusFlows(t, file)
		rows := raCSV(t, strings.TrimSuffix(file, ".argus")+".ra5.csv")
		if len(rows) != len(recs) {
			t.Errorf("%s: ra prints %d flows, we read %d", file, len(rows), len(recs))
			continue
		}
		for _, d := range Dialects {
			k := keysFor[d]
			out := write(t, d, recs)
			lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
			if len(lines) != len(recs) {
				t.Fatalf("%s %s: %d lines for %d records", file, d, len(lines), len(recs))
			}
			for i, line := range lines {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("%s %s line %d: not JSON: %v\n%s", file, d, i+1, err, line)
				}
				ra := rows[i]
				where := file + " " + d + " line " + strconv.Itoa(i+1)
				fam := "4"
				if strings.Contains(ra["SrcAddr"], ":") {
					fam = "6"
				}
				str := func(key, want string) {
					t.Helper()
					if key == "" || want == "" {
						return
					}
					key = strings.ReplaceAll(key, "%", fam)
					v, ok := get(m, key)
					if !ok {
						t.Errorf("%s: no %s (want %s): %s", where, key, want, line)
						return
					}
					if s, _ := v.(string); s != want {
						t.Errorf("%s: %s = %v, ra says %s", where, key, v, want)
					}
				}
				num := func(key, want string) {
					t.Helper()
					if key == "" || want == "" {
						return
					}
					w, err := strconv.ParseFloat(want, 64)
					if err != nil {
						return // ra prints a name or hex: not comparable
					}
					v, ok := get(m, key)
					if f, isNum := v.(float64); !ok || !isNum || f != w {
						t.Errorf("%s: %s = %v (%T), ra says %s", where, key, v, v, want)
					}
				}
				if _, err := netip.ParseAddr(ra["SrcAddr"]); err != nil {
					continue // layer-2 and ARP flows: ra prints hardware addresses, no dialect maps them to its IP keys
				}
				str(k.saddr, ra["SrcAddr"])
				str(k.daddr, ra["DstAddr"])
				if p, ok := raProto[ra["Proto"]]; ok {
					if d == "goflow2" {
						str(k.proto, goflow2Proto[int(p)])
					} else {
						if d == "ecs" {
							// ra's names are the IANA keywords ECS wants.
							str("network.transport", ra["Proto"])
						}
						num(k.proto, strconv.FormatFloat(p, 'f', -1, 64))
					}
				}
				if ra["Proto"] == "tcp" || ra["Proto"] == "udp" {
					num(k.sport, ra["Sport"])
					num(k.dport, ra["Dport"])
				}
				if ra["Proto"] == "icmp" || ra["Proto"] == "ipv6-icmp" {
					// ra 5 prints an ICMP flow's type as sport and its code
					// as dport (hex for ICMPv4, an empty dport for code 0);
					// every dialect has them there, and those with ICMP keys
					// of their own there too.
					typ, code := raICMP(ra["Sport"]), raICMP(ra["Dport"])
					num(k.sport, typ)
					num(k.dport, code)
					icmpFam := "IPv4"
					if ra["Proto"] == "ipv6-icmp" {
						icmpFam = "IPv6"
					}
					switch d {
					case "goflow2", "nfdump":
						num("icmp_type", typ)
						num("icmp_code", code)
					case "ipfix":
						num("icmpType"+icmpFam, typ)
						num("icmpCode"+icmpFam, code)
					}
					icmpChecked++
				}
				num(k.spkts, ra["SrcPkts"])
				num(k.dpkts, ra["DstPkts"])
				num(k.sbytes, ra["SrcBytes"])
				num(k.dbytes, ra["DstBytes"])
				num(k.pkts, ra["TotPkts"])
				num(k.bytes, ra["TotBytes"])
				checkTime(t, where, m, k.stime, k.tfmt, ra["StartTime"])
				checked++
			}
		}
	}
	t.Logf("%d records checked against ra over %d files and %d dialects (%d ICMP)", checked/len(Dialects), len(files), len(Dialects), icmpChecked/len(Dialects))
	if icmpChecked == 0 {
		t.Error("no ICMP flow checked")
	}
}

// raICMP reads ra's rendering of an ICMP type or code ("0x0003", "135",
// "" for 0) as decimal text.
func raICMP(s string) string {
	if s == "" {
		return "0"
	}
	u, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return ""
	}
	return strconv.FormatUint(u, 10)
}

// checkTime compares a start time with ra's epoch seconds (µs precision),
// truncated to what the dialect keeps.
func checkTime(t *testing.T, where string, m map[string]any, key, tfmt, raStart string) {
	t.Helper()
	sec, frac, _ := strings.Cut(raStart, ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	us, err2 := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: ra StartTime %q", where, raStart)
	}
	want := time.Unix(s, us*1000).UTC()
	v, ok := get(m, key)
	if !ok {
		t.Errorf("%s: no %s", where, key)
		return
	}
	var got time.Time
	switch tfmt {
	case "s":
		got = time.Unix(0, int64(v.(float64)*1e6+0.5)*1000).UTC() // float64 keeps µs of 2023 epochs
	case "ns":
		// float64 loses ns digits of an epoch: compare the text instead.
		raw, _ := json.Marshal(v)
		n, _ := strconv.ParseFloat(string(raw), 64)
		got = time.Unix(0, int64(n)).UTC().Truncate(time.Microsecond)
	case "ms":
		got = time.UnixMilli(int64(v.(float64))).UTC()
		want = want.Truncate(time.Millisecond)
	case "iso":
		var err error
		if got, err = time.Parse(time.RFC3339Nano, v.(string)); err != nil {
			t.Errorf("%s: %s: %v", where, key, err)
		}
		got = got.Truncate(time.Microsecond) // ra prints µs
	case "datetime":
		var err error
		if got, err = time.Parse("2006-01-02T15:04:05.000", v.(string)); err != nil {
			t.Errorf("%s: %s: %v", where, key, err)
		}
		want = want.Truncate(time.Millisecond)
	}
	if tfmt == "ns" {
		// float64 rounding of a 19-digit integer: within 256 ns.
		if d := got.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: %s = %v, ra says %v", where, key, got, want)
		}
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s: %s = %v, ra says %v", where, key, got, want)
	}
}

// TestRoundTrip reads back what the writer wrote and compares the fields
// each dialect carries with the Argus records.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus(t), "argus/oracle/*/v5.argus"))
	prec := map[string]int64{"argus": 1000, "ecs": 1, "goflow2": 1, "nfdump": 1e6, "ipfix": 1e6}
	for _, file := range files {
		recs := argusFlows(t, file)
		for _, d := range Dialects {
			out := write(t, d, recs)
			rd, err := NewReader(bytes.NewReader(out), d)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				var got flow.Record
				if err := rd.Decode(&got); err != nil {
					t.Fatalf("%s %s record %d: %v", file, d, i, err)
				}
				o := &recs[i]
				where := file + " " + d + " record " + strconv.Itoa(i)
				if o.Key.Src.IsValid() && (got.Key.Src != o.Key.Src || got.Key.Dst != o.Key.Dst) {
					t.Errorf("%s: addresses %v %v, want %v %v", where, got.Key.Src, got.Key.Dst, o.Key.Src, o.Key.Dst)
				}
				if o.Key.Src.IsValid() && (got.Key.SrcPort != o.Key.SrcPort || got.Key.DstPort != o.Key.DstPort || got.Key.Proto != o.Key.Proto) {
					t.Errorf("%s: ports/proto %d %d %d, want %d %d %d", where, got.Key.SrcPort, got.Key.DstPort, got.Key.Proto, o.Key.SrcPort, o.Key.DstPort, o.Key.Proto)
				}
				if o.Has&flow.HasICMPKey != 0 && (o.Key.Proto == 1 || o.Key.Proto == 58) &&
					(got.Has&flow.HasICMPKey == 0 || got.Key.ICMPType != o.Key.ICMPType || got.Key.ICMPCode != o.Key.ICMPCode) {
					t.Errorf("%s: ICMP type/code %d/%d, want %d/%d", where, got.Key.ICMPType, got.Key.ICMPCode, o.Key.ICMPType, o.Key.ICMPCode)
				}
				if got.Pkts[0] != o.Pkts[0] || got.Bytes[0] != o.Bytes[0] {
					t.Errorf("%s: src counters %v %v, want %v %v", where, got.Pkts, got.Bytes, o.Pkts, o.Bytes)
				}
				if d != "goflow2" && (got.Pkts != o.Pkts || got.Bytes != o.Bytes) {
					t.Errorf("%s: counters %v %v, want %v %v", where, got.Pkts, got.Bytes, o.Pkts, o.Bytes)
				}
				p := prec[d]
				if d1, d2 := got.Start-o.Start, got.Last-o.Last; d1 <= -p || d1 >= p || d2 <= -p || d2 >= p {
					t.Errorf("%s: times %d %d, want %d %d (precision %d ns)", where, got.Start, got.Last, o.Start, o.Last, p)
				}
			}
			var r flow.Record
			if err := rd.Decode(&r); err != io.EOF {
				t.Errorf("%s %s: after the records: %v, want EOF", file, d, err)
			}
		}
	}
}

// nfdumpCSV reads the flows of nfdump's -o csv output (header, rows, then
// a Summary block).
func nfdumpCSV(t *testing.T, path string) []map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var hdr []string
	var rows []map[string]string
	for sc.Scan() {
		line := sc.Text()
		if line == "Summary" {
			break
		}
		if hdr == nil {
			hdr = strings.Split(line, ",")
			continue
		}
		fs := strings.Split(line, ",")
		if len(fs) != len(hdr) {
			continue // "No matching flows"
		}
		row := map[string]string{}
		for i, h := range hdr {
			row[h] = strings.TrimSpace(fs[i])
		}
		rows = append(rows, row)
	}
	return rows
}

var nfProto = map[string]uint8{"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58}

// TestNfdumpJSON reads real nfdump -o json output (an array of pretty
// printed objects) in the nfdump dialect and compares each flow with the
// csv nfdump printed for the same capture file.
func TestNfdumpJSON(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus(t), "generated/exports/*/nfdump/*.json.txt"))
	if len(files) == 0 {
		t.Skip("no nfdump output in the corpus")
	}
	total, icmp := 0, 0
	for _, file := range files {
		rows := nfdumpCSV(t, strings.TrimSuffix(file, ".json.txt")+".csv.txt")
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := NewReader(f, "nfdump")
		if err != nil {
			t.Fatal(err)
		}
		var recs []flow.Record
		for {
			var r flow.Record
			err := rd.Decode(&r)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			recs = append(recs, r)
		}
		f.Close()
		if len(recs) != len(rows) {
			t.Errorf("%s: %d flows, csv has %d", file, len(recs), len(rows))
			continue
		}
		for i, row := range rows {
			r := &recs[i]
			where := file + " flow " + strconv.Itoa(i+1)
			sa, err1 := netip.ParseAddr(row["sa"])
			da, err2 := netip.ParseAddr(row["da"])
			if err1 != nil || err2 != nil || r.Key.Src != sa || r.Key.Dst != da {
				t.Errorf("%s: addresses %v %v, csv %s %s", where, r.Key.Src, r.Key.Dst, row["sa"], row["da"])
			}
			if p, ok := nfProto[row["pr"]]; !ok || r.Key.Proto != p {
				t.Errorf("%s: proto %d, csv %s", where, r.Key.Proto, row["pr"])
			}
			if row["pr"] == "TCP" || row["pr"] == "UDP" {
				if strconv.Itoa(int(r.Key.SrcPort)) != row["sp"] || strconv.Itoa(int(r.Key.DstPort)) != row["dp"] {
					t.Errorf("%s: ports %d %d, csv %s %s", where, r.Key.SrcPort, r.Key.DstPort, row["sp"], row["dp"])
				}
			}
			if row["pr"] == "ICMP" || row["pr"] == "ICMP6" {
				// nfdump's JSON has icmp_type and icmp_code, its csv the
				// type and code as dp = type*256 + code.
				if dp := strconv.Itoa(int(r.Key.ICMPType)<<8 | int(r.Key.ICMPCode)); r.Has&flow.HasICMPKey == 0 || dp != row["dp"] {
					t.Errorf("%s: ICMP type %d code %d, csv dp %s", where, r.Key.ICMPType, r.Key.ICMPCode, row["dp"])
				}
				icmp++
			}
			for _, c := range []struct {
				got  uint64
				name string
			}{{r.Pkts[0], "ipkt"}, {r.Bytes[0], "ibyt"}, {r.Pkts[1], "opkt"}, {r.Bytes[1], "obyt"}} {
				if strconv.FormatUint(c.got, 10) != row[c.name] {
					t.Errorf("%s: %s %d, csv %s", where, c.name, c.got, row[c.name])
				}
			}
			total++
		}
	}
	if total == 0 {
		t.Fatal("no flow compared")
	}
	t.Logf("%d nfdump flows in %d files equal their csv (%d ICMP)", total, len(files), icmp)
	if icmp == 0 {
		t.Error("no ICMP flow compared")
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		in        string
		line, col int
		sentinel  error
	}{
		{"{\"saddr\":\"10.0.0.1\"}\n{\"saddr\": x}\n", 2, 11, codecs.ErrCorrupt},
		{"{\"saddr\":\"10.0.0.1\"}\n{\"saddr\": \"1.2", 2, 15, codecs.ErrTruncated},
		{"{\"sport\":\"a\\qb\"}", 1, 13, codecs.ErrCorrupt},
		{"{\"sport\":1 \"dport\":2}", 1, 12, codecs.ErrCorrupt},
		{"\n\n  nope", 3, 3, codecs.ErrCorrupt},
		{"[{\"sport\":1}{\"sport\":2}]", 1, 13, codecs.ErrCorrupt},
		{"[{\"sport\":1},", 1, 14, codecs.ErrTruncated},
		{"{\"sport\":70000}", 1, 10, nil},                 // does not fit 16 bits: the plan's error, at the value
		{"\n {\"dport\":1, \"sport\":\"x\"}", 2, 22, nil}, // not a number
		{"{\"saddr\":{\"x\":1}}", 1, 10, codecs.ErrCorrupt},
	}
	for _, c := range cases {
		rd, err := NewReader(strings.NewReader(c.in), "argus")
		if err != nil {
			t.Fatal(err)
		}
		var r flow.Record
		for err == nil {
			err = rd.Decode(&r)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a *SyntaxError", c.in, err)
			continue
		}
		if se.Line != c.line || se.Col != c.col || (c.sentinel != nil && !errors.Is(err, c.sentinel)) {
			t.Errorf("%q: %v, want line %d col %d (%v)", c.in, err, c.line, c.col, c.sentinel)
		}
		if err2 := rd.Decode(&r); err2 != err {
			t.Errorf("%q: error not sticky: %v then %v", c.in, err, err2)
		}
	}
}

// TestStrings checks escapes both ways against encoding/json.
func TestStrings(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\ nl\n tab\t ctl\x01 del\x7f", "ünï 日本 😀", "bad\xffutf8"} {
		got := appendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q: wrote %s, reads as %q", s, got, back)
		}
		// And our own reader unescapes what encoding/json writes.
		enc, _ := json.Marshal(want)
		enc = append([]byte(nil), enc...)
		var text []byte
		v, _, e := unquote(enc, 0, &text)
		if e != nil || string(v) != want {
			t.Errorf("%s: unquote %q %v, want %q", enc, v, e, want)
		}
	}
	var text []byte
	v, _, e := unquote([]byte(`"\ud83d\ude00 \u00e9 \/"`), 0, &text)
	if e != nil || string(v) != "😀 é /" {
		t.Errorf("surrogates: %q %v", v, e)
	}
}

// TestFlatAndNestedECS: ECS documents may use nested objects or dotted keys.
func TestFlatAndNestedECS(t *testing.T) {
	in := `{"source":{"ip":"192.0.2.1","port":53,"geo":{"x":[1,{"y":2}]}},"destination.ip":"2001:db8::1","network":{"iana_number":17},"event":{"start":"2024-01-02T03:04:05.123456789Z"},"other":null}` + "\n"
	rd, err := NewReader(strings.NewReader(in), "ecs")
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	if err := rd.Decode(&r); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC).UnixNano()
	if r.Key.Src.String() != "192.0.2.1" || r.Key.Dst.String() != "2001:db8::1" || r.Key.SrcPort != 53 || r.Key.Proto != 17 || r.Start != want {
		t.Errorf("got %v %v %d %d %d", r.Key.Src, r.Key.Dst, r.Key.SrcPort, r.Key.Proto, r.Start)
	}
	if st := rd.Stats(); st.Records != 1 || st.Ignored != 2 { // source.geo.x, other
		t.Errorf("stats %+v, want 1 record, 2 ignored", st)
	}
}

// TestMaxObject: an object larger than the bound is an error, not an
// unbounded buffer.
func TestMaxObject(t *testing.T) {
	in := "{\"label\":\"" + strings.Repeat("x", 300<<10) + "\"}\n"
	rd, _ := NewReader(strings.NewReader(in), "argus", WithMaxObject(128<<10))
	var r flow.Record
	err := rd.Decode(&r)
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, codecs.ErrCorrupt) || se.Line != 1 {
		t.Errorf("%v, want a too-large object error on line 1", err)
	}
	rd, _ = NewReader(strings.NewReader(in), "argus")
	if err := rd.Decode(&r); err != nil || len(r.Label) != 300<<10 {
		t.Errorf("default bound: %v, label %d bytes", err, len(r.Label))
	}
}

func TestUnknownDialect(t *testing.T) {
	if _, err := NewReader(strings.NewReader(""), "yaml"); !errors.Is(err, ErrDialect) {
		t.Errorf("NewReader: %v", err)
	}
	if _, err := NewWriter(io.Discard, "yaml"); !errors.Is(err, ErrDialect) {
		t.Errorf("NewWriter: %v", err)
	}
}

// TestUserMapping renames a key with a user file laid over the built-in.
func TestUserMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my.yaml")
	y := "version: 1\nschema: json\nfields:\n  - {external: src_ip, canonical: src_addr}\n"
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(strings.NewReader(`{"src_ip":"192.0.2.7","sport":8}`), "argus", WithMapping(path))
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	if err := rd.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Key.Src.String() != "192.0.2.7" || r.Key.SrcPort != 8 {
		t.Errorf("got %v %d", r.Key.Src, r.Key.SrcPort)
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, "argus", WithMapping(path))
	if err != nil {
		t.Fatal(err)
	}
	w.Encode(&r)
	w.Close()
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || m["src_ip"] != "192.0.2.7" {
		t.Errorf("wrote %s (%v)", b.Bytes(), err)
	}
}

// TestErrorLineAfterRefills: line numbers stay right when the buffer has
// been refilled and compacted many times.
func TestErrorLineAfterRefills(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		b.WriteString("{\"saddr\":\"10.0.0.1\",\n  \"sport\":80}\n")
	}
	b.WriteString("{\"sport\":80,\n\"dport\":-}\n")
	rd, err := NewReader(strings.NewReader(b.String()), "argus")
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	n := 0
	for err == nil {
		if err = rd.Decode(&r); err == nil {
			n++
		}
	}
	var se *SyntaxError
	if n != 20000 || !errors.As(err, &se) || se.Line != 40002 || se.Col != 9 {
		t.Errorf("after %d records: %v, want line 40002 column 9", n, err)
	}
}

// TestOneByteReads: objects, strings, escapes and surrogate pairs split
// across reads at every byte give the same records as one read.
func TestOneByteReads(t *testing.T) {
	recs := argusFlows(t, filepath.Join(corpus(t), "argus/oracle/generated_ipv6_tcp/v5.argus"))
	for _, d := range Dialects {
		out := write(t, d, recs)
		whole, _ := NewReader(bytes.NewReader(out), d)
		split, _ := NewReader(iotest.OneByteReader(bytes.NewReader(out)), d)
		for i := 0; ; i++ {
			var a, b flow.Record
			ea, eb := whole.Decode(&a), split.Decode(&b)
			if ea != eb {
				t.Fatalf("%s record %d: %v vs %v", d, i, ea, eb)
			}
			if ea != nil {
				break
			}
			if a.Key != b.Key || a.Pkts != b.Pkts || a.Bytes != b.Bytes || a.Start != b.Start || a.Last != b.Last {
				t.Errorf("%s record %d differs when read a byte at a time", d, i)
			}
		}
	}
	in := "[{\"label\":\"a\\ud83d\\ude00\\u00e9\\\"\\\\\\n\"},\n{\"label\":\"\\ud83d\"}]"
	rd, _ := NewReader(iotest.OneByteReader(strings.NewReader(in)), "argus")
	for _, want := range []string{"a😀é\"\\\n", "\ufffd"} {
		var r flow.Record
		if err := rd.Decode(&r); err != nil || string(r.Label) != want {
			t.Errorf("label %q (%v), want %q", r.Label, err, want)
		}
	}
}

// TestRaJSONRejected: Debian ra's -M json prints an ICMP flow's sport as a
// bare hex number, which is not JSON (Python's json module stops at the
// same byte); the reader names that value's line and column.
func TestRaJSONRejected(t *testing.T) {
	f, err := os.Open(filepath.Join(corpus(t), "argus/oracle/generated_icmp_echo/v5.ra5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := NewReader(f, "argus")
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	err = rd.Decode(&r)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 1 || se.Col != 201 || !errors.Is(err, codecs.ErrCorrupt) {
		t.Errorf("%v, want line 1 column 201 (\"sport\":0x0008)", err)
	}
}

// TestEncodeNotRepresentable: a value the mapping cannot write (a port
// narrowed to 8 bits by a user file) is left out and reported; the line
// and the next records are still written.
func TestEncodeNotRepresentable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "narrow.yaml")
	y := "version: 1\nschema: json\nfields:\n  - {external: sport, canonical: src_port, convert: {narrow: 8}}\n"
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, "argus", WithMapping(path))
	if err != nil {
		t.Fatal(err)
	}
	rd, _ := NewReader(strings.NewReader(`{"saddr":"192.0.2.1","daddr":"192.0.2.2","proto":17,"sport":4000,"dport":53}`), "argus")
	var r flow.Record
	if err := rd.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if err := w.Encode(&r); !errors.Is(err, codecs.ErrNotRepresentable) {
		t.Errorf("port 4000 in 8 bits: %v, want ErrNotRepresentable", err)
	}
	r.Key.SrcPort = 53
	if err := w.Encode(&r); err != nil {
		t.Errorf("port 53: %v", err)
	}
	w.Close()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "sport") || !strings.Contains(lines[1], `"sport":53`) {
		t.Errorf("wrote %q", lines)
	}
}

// TestUnwrittenMatchesRa: what each dialect leaves out, counted by field in
// Stats, is what Debian ra printed for the corpus files: ECS has no TTL
// key, so every flow ra prints an sTtl (dTtl) for is one unwritten src_ttl
// (dst_ttl); goflow2 is one-way, so every flow with DstPkts > 0 is one
// refused dst_pkts (Encode errs: not declared); the argus dialect writes
// every field ra prints that this test looks at, ICMP type and code
// included (as sport and dport).
func TestUnwrittenMatchesRa(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus(t), "argus/oracle/*/v5.argus"))
	if len(files) == 0 {
		t.Skip("no corpus argus files")
	}
	id := func(n string) int {
		i, ok := mappings.FieldID(n)
		if !ok {
			t.Fatalf("no field %s", n)
		}
		return i
	}
	var sTTL, dTTL, sTos, rev, icmp int64
	stats := map[string]WriteStats{}
	errs := map[string]int64{}
	for _, file := range files {
		recs := argusFlows(t, file)
		rows := raCSV(t, strings.TrimSuffix(file, ".argus")+".ra5.csv")
		if len(rows) != len(recs) {
			continue
		}
		for _, ra := range rows {
			if ra["sTtl"] != "" {
				sTTL++
			}
			if ra["dTtl"] != "" {
				dTTL++
			}
			if ra["sTos"] != "" {
				sTos++
			}
			if ra["DstPkts"] != "" && ra["DstPkts"] != "0" {
				rev++
			}
			if ra["Proto"] == "icmp" || ra["Proto"] == "ipv6-icmp" {
				icmp++
			}
		}
		for _, d := range Dialects {
			w, err := NewWriter(io.Discard, d)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if err := w.Encode(&recs[i]); err != nil {
					if !errors.Is(err, codecs.ErrNotRepresentable) {
						t.Fatalf("%s %s record %d: %v", file, d, i, err)
					}
					errs[d]++
				}
			}
			st, sum := w.Stats(), stats[d]
			sum.Records += st.Records
			sum.Undeclared += st.Undeclared
			for i, n := range st.Unwritten {
				sum.Unwritten[i] += n
			}
			stats[d] = sum
		}
	}
	ecs, gf, ar := stats["ecs"], stats["goflow2"], stats["argus"]
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"ecs src_ttl", ecs.Unwritten[id("src_ttl")], sTTL},
		{"ecs dst_ttl", ecs.Unwritten[id("dst_ttl")], dTTL},
		{"ecs src_tos", ecs.Unwritten[id("src_tos")], sTos},
		{"ecs icmp_type", ecs.Unwritten[id("icmp_type")], 0},
		{"goflow2 dst_pkts", gf.Unwritten[id("dst_pkts")], rev},
		{"goflow2 records refused", gf.Undeclared, rev},
		{"goflow2 errors", errs["goflow2"], rev},
		{"goflow2 src_ttl", gf.Unwritten[id("src_ttl")], 0},
		{"goflow2 dst_ttl", gf.Unwritten[id("dst_ttl")], dTTL},
		{"argus src_ttl", ar.Unwritten[id("src_ttl")], 0},
		{"argus dst_pkts", ar.Unwritten[id("dst_pkts")], 0},
		{"argus icmp_type", ar.Unwritten[id("icmp_type")], 0},
		{"argus icmp_code", ar.Unwritten[id("icmp_code")], 0},
		{"argus errors", errs["argus"], 0},
		{"ecs errors", errs["ecs"], 0},
		{"nfdump errors", errs["nfdump"], 0},
		{"ipfix errors", errs["ipfix"], 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d unwritten, want %d (from ra's output)", c.what, c.got, c.want)
		}
	}
	if sTTL == 0 || dTTL == 0 || rev == 0 || icmp == 0 {
		t.Errorf("corpus: %d sTtl, %d dTtl, %d biflows, %d ICMP: a case is not exercised", sTTL, dTTL, rev, icmp)
	}
	for _, d := range Dialects {
		st := stats[d]
		var lost []string
		for _, fc := range st.Lost() {
			lost = append(lost, fmt.Sprintf("%s %d", fc.Field, fc.Count))
		}
		t.Logf("%s: %d records, not written: %s", d, st.Records, strings.Join(lost, ", "))
	}
}

// TestGoflow2Output reads lines in the form goflow2 v2's JSON formatter
// prints (producer/proto/render.go: proto and etype as names, "ICMPv6",
// an absent BGP next hop as "", arrays for AS paths and MPLS labels).
func TestGoflow2Output(t *testing.T) {
	in := `{"type":"IPFIX","time_received_ns":1767324720787471565,"sequence_num":65372,"sampling_rate":0,"sampler_address":"192.168.88.1","time_flow_start_ns":1767324720000000000,"time_flow_end_ns":1767324721000000000,"bytes":272,"packets":5,"src_addr":"192.168.88.30","dst_addr":"54.68.150.54","etype":"IPv4","proto":"TCP","src_port":61269,"dst_port":4172,"in_if":12,"out_if":15,"src_mac":"9a:f9:87:2d:f5:96","dst_mac":"04:f4:1c:40:a3:fb","src_vlan":0,"dst_vlan":0,"vlan_id":0,"ip_tos":0,"forwarding_status":0,"ip_ttl":0,"ip_flags":0,"tcp_flags":194,"icmp_type":0,"icmp_code":0,"ipv6_flow_label":0,"src_as":0,"dst_as":0,"next_hop":"0.0.0.0","next_hop_as":0,"src_net":"0.0.0.0/0","dst_net":"0.0.0.0/0","bgp_next_hop":"","bgp_communities":[],"as_path":[],"mpls_label":[],"observation_domain_id":0}
{"type":"IPFIX","time_flow_start_ns":1767324720000000000,"time_flow_end_ns":1767324720000000000,"bytes":104,"packets":1,"src_addr":"2001:db8::1","dst_addr":"2001:db8::2","etype":"IPv6","proto":"ICMPv6","src_port":0,"dst_port":0,"icmp_type":128,"icmp_code":0,"bgp_next_hop":""}
{"type":"SFLOW_5","bytes":60,"packets":1,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","etype":"IPv4","proto":"udp","src_port":53,"dst_port":5353}
{"type":"SFLOW_5","bytes":60,"packets":1,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","etype":"IPv4","proto":"","src_port":0,"dst_port":0}
`
	rd, err := NewReader(strings.NewReader(in), "goflow2")
	if err != nil {
		t.Fatal(err)
	}
	var rs [4]flow.Record
	for i := range rs {
		if err := rd.Decode(&rs[i]); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	if r := rs[0]; r.Key.Proto != 6 || r.Key.SrcPort != 61269 || r.Pkts[0] != 5 || r.Bytes[0] != 272 || r.TCP.Side[0].Flags != 194 || r.InIf != 12 || r.BGPNextHop.IsValid() {
		t.Errorf("TCP line: %+v", r.Key)
	}
	if r := rs[1]; r.Key.Proto != 58 || r.Key.ICMPType != 128 || r.Has&flow.HasICMPKey == 0 {
		t.Errorf("ICMPv6 line: proto %d type %d", r.Key.Proto, r.Key.ICMPType)
	}
	if r := rs[2]; r.Key.Proto != 17 || r.Key.DstPort != 5353 {
		t.Errorf("udp line: proto %d", r.Key.Proto)
	}
	if r := rs[3]; r.Key.Proto != 0 || r.Pkts[0] != 1 {
		t.Errorf(`proto "" line: proto %d`, r.Key.Proto)
	}
}
