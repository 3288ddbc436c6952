package csv

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// corpusFlows is a mix of corpus flows (IPv4, IPv6, TCP, UDP, ICMP, with
// MACs, VLANs, app bytes), IP flows only: the dialects have no hardware
// addresses.
func corpusFlows(tb testing.TB) []flow.Record {
	files, _ := filepath.Glob(filepath.Join(corpus(tb), "argus/oracle/*/v5full.argus"))
	var recs []flow.Record
	for _, f := range files {
		for _, r := range argusFlows(tb, f) {
			if r.Key.AddrType == flow.AddrIPv4 || r.Key.AddrType == flow.AddrIPv6 {
				recs = append(recs, r)
			}
		}
	}
	if len(recs) == 0 {
		tb.Skip("no corpus records")
	}
	return recs
}

func write(t testing.TB, dialect string, recs []flow.Record, opts ...Option) []byte {
	var b bytes.Buffer
	w, err := NewWriter(&b, dialect, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Encode(&recs[i]); err != nil {
			t.Fatalf("%s: record %d: %v", dialect, i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func read(t testing.TB, dialect string, in io.Reader, opts ...Option) []flow.Record {
	rd, err := NewReader(in, dialect, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, dialect, rd)
}

// TestRoundTrip: CSV to record to CSV gives the same text in every
// dialect, over the corpus flows, in every column the dialect reads back
// (the derived ones, written only, follow the values read: a duration
// from times rounded to µs or to seconds, for one).
func TestRoundTrip(t *testing.T) {
	recs := corpusFlows(t)
	for _, d := range Dialects {
		f, err := Mapping(d, "")
		if err != nil {
			t.Fatal(err)
		}
		in, err := mappings.Compile(f, mappings.In)
		if err != nil {
			t.Fatal(err)
		}
		readable := map[string]bool{}
		for _, c := range in.Columns() {
			readable[c] = true
		}
		first := write(t, d, recs)
		back := read(t, d, bytes.NewReader(first))
		if len(back) != len(recs) {
			t.Fatalf("%s: %d records back of %d", d, len(back), len(recs))
		}
		second := write(t, d, back)
		a, b := rows(t, first), rows(t, second)
		n := 0
		for i := range a {
			for col, v := range a[i] {
				if readable[col] && b[i][col] != v {
					t.Errorf("%s: line %d: %s %q became %q", d, i+2, col, v, b[i][col])
				}
				n++
			}
		}
		// And from there on the text is stable, derived columns too.
		if third := write(t, d, read(t, d, bytes.NewReader(second))); !bytes.Equal(second, third) {
			t.Errorf("%s: second and third writes differ", d)
		}
		t.Logf("%s: %d records, %d values", d, len(recs), n)
	}
}

// TestOneByteReads: the same records whatever the reads' sizes, with
// quoted fields holding separators, quotes and line breaks.
func TestOneByteReads(t *testing.T) {
	in := "SrcAddr,Label,\"Sport\"\r\n10.0.0.1,\"a,b\",80\r\n10.0.0.2,\"say \"\"hi\"\"\nthere\",81\n10.0.0.3, plain ,\"82\""
	whole := read(t, "argus", strings.NewReader(in))
	bytewise := read(t, "argus", iotest.OneByteReader(strings.NewReader(in)))
	want := []string{"a,b", "say \"hi\"\nthere", "plain"}
	if len(whole) != 3 || len(bytewise) != 3 {
		t.Fatalf("read %d and %d records, want 3", len(whole), len(bytewise))
	}
	for i := range whole {
		for _, r := range []*flow.Record{&whole[i], &bytewise[i]} {
			if string(r.Label) != want[i] || r.Key.SrcPort != uint16(80+i) || r.Key.Src != netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}) {
				t.Errorf("record %d: label %q port %d addr %v", i, r.Label, r.Key.SrcPort, r.Key.Src)
			}
		}
	}
}

// TestQuoting: the writer quotes what RFC 4180 says it must (and values
// with spaces at the ends, which the reader would trim), and reads back.
func TestQuoting(t *testing.T) {
	labels := []string{"a,b", `say "hi"`, "two\nlines", " padded ", "cr\rhere", "plain"}
	var recs []flow.Record
	for _, l := range labels {
		var r flow.Record
		r.Label = []byte(l)
		r.Has |= flow.HasLabel
		recs = append(recs, r)
	}
	out := write(t, "argus", recs)
	if !bytes.Contains(out, []byte(`,"say ""hi""",`)) || !bytes.Contains(out, []byte(`," padded ",`)) || !bytes.Contains(out, []byte(",plain,")) {
		t.Errorf("quoting:\n%s", out)
	}
	back := read(t, "argus", bytes.NewReader(out))
	for i := range back {
		if string(back[i].Label) != labels[i] {
			t.Errorf("label %q read back as %q", labels[i], back[i].Label)
		}
	}
}

func TestMissingHeader(t *testing.T) {
	in := "1700000000.000000,tcp,10.0.0.1,40000\n1700000001.000000,udp,10.0.0.2,53\n"
	rd, err := NewReader(strings.NewReader(in), "argus", WithFileName("flows.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	err = rd.Decode(&r)
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrNoHeader) || pe.File != "flows.csv" || pe.Line != 1 {
		t.Fatalf("err = %v, want ErrNoHeader at flows.csv line 1", err)
	}
	if !strings.Contains(err.Error(), "flows.csv:line 1") {
		t.Errorf("message %q does not name file and line", err)
	}
	if err2 := rd.Decode(&r); err2 != err {
		t.Errorf("not sticky: %v", err2)
	}
	// An input with no line at all holds no record.
	rd, _ = NewReader(strings.NewReader(""), "argus")
	if err := rd.Decode(&r); err != io.EOF {
		t.Errorf("empty input: %v", err)
	}
}

// TestBadRecords: a record with the wrong field count or broken quoting
// is reported at its line and skipped; a value the mapping cannot convert
// leaves the rest of the record read.
func TestBadRecords(t *testing.T) {
	in := "\xEF\xBB\xBF# made by hand\n\nSrcAddr,Sport,Proto,Extra\n" +
		"10.0.0.1,80,tcp,x\n" + // 4: good
		"10.0.0.2,81\n" + // 5: too few fields
		"10.0.0.3,\"82\"x,tcp,y\n" + // 6: junk after a quoted field
		"10.0.0.4,83,bogus,z\n" + // 7: the protocol does not convert
		"\n" + // 8: blank
		"10.0.0.5,84,udp,w\n" + // 9: good
		"10.0.0.6,\"85,tcp,v\n" // 10: quote not closed
	rd, err := NewReader(strings.NewReader(in), "argus", WithFileName("f.csv"))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		line, field int
		col         string
		err         error
		partial     bool
		addr        string
	}
	wants := []want{
		{addr: "10.0.0.1"},
		{line: 5, err: ErrFieldCount},
		{line: 6, field: 2, col: "Sport", err: codecs.ErrCorrupt},
		{line: 7, field: 3, col: "Proto", err: mappings.ErrValue, partial: true, addr: "10.0.0.4"},
		{addr: "10.0.0.5"},
		{line: 10, field: 2, col: "Sport", err: codecs.ErrTruncated},
	}
	for i, w := range wants {
		var r flow.Record
		err := rd.Decode(&r)
		if w.err == nil {
			if err != nil || r.Key.Src.String() != w.addr {
				t.Errorf("%d: err %v addr %v, want %s", i, err, r.Key.Src, w.addr)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, w.err) || pe.Line != w.line || pe.Field != w.field || pe.Column != w.col || pe.Partial != w.partial || pe.File != "f.csv" {
			t.Errorf("%d: err %v (%+v), want %v at line %d field %d (%s)", i, err, pe, w.err, w.line, w.field, w.col)
		}
		if w.partial && (r.Key.Src.String() != w.addr || r.Key.SrcPort != 83 || pe.Canonical != "protocol") {
			t.Errorf("%d: partial record lost its other fields: %v %d", i, r.Key.Src, r.Key.SrcPort)
		}
	}
	var r flow.Record
	if err := rd.Decode(&r); err != io.EOF {
		t.Errorf("after the last line: %v", err)
	}
	st := rd.Stats()
	if st.Records != 2 || st.Partial != 1 || st.Rejected != 3 || st.Unmapped != 1 || rd.Unmapped()[0] != "Extra" {
		t.Errorf("stats %+v, unmapped %v", st, rd.Unmapped())
	}
}

// TestTabsAndTrailers: a tab-separated header (ra -c '\t') is found
// without WithComma; nfdump's "No matching flows" is skipped and its
// summary block ends the records.
func TestTabsAndTrailers(t *testing.T) {
	recs := read(t, "argus", strings.NewReader("SrcAddr\tSport\n10.0.0.1\t80\n"))
	if len(recs) != 1 || recs[0].Key.SrcPort != 80 {
		t.Errorf("tab-separated: %+v", recs)
	}
	nf := "ts,te,sa,da,pr\nNo matching flows\nSummary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n0,0,0,0,0,0\n"
	rd, _ := NewReader(strings.NewReader(nf), "nfdump")
	var r flow.Record
	if err := rd.Decode(&r); err != io.EOF || !rd.Stats().Summary {
		t.Errorf("nfdump trailer: %v %+v", err, rd.Stats())
	}
}

func TestMaxRecord(t *testing.T) {
	long := "SrcAddr,Label\n10.0.0.1," + strings.Repeat("x", 200<<10) + "\n"
	if recs := read(t, "argus", strings.NewReader(long)); len(recs) != 1 || len(recs[0].Label) != 200<<10 {
		t.Errorf("a 200 KiB record was not read")
	}
	rd, _ := NewReader(strings.NewReader(long), "argus", WithMaxRecord(64<<10))
	var r flow.Record
	if err := rd.Decode(&r); !errors.Is(err, codecs.ErrCorrupt) {
		t.Errorf("over WithMaxRecord: %v", err)
	}
}

func TestUnknownDialect(t *testing.T) {
	if _, err := NewReader(strings.NewReader(""), "bogus"); !errors.Is(err, ErrDialect) {
		t.Errorf("reader: %v", err)
	}
	if _, err := NewWriter(io.Discard, "bogus"); !errors.Is(err, ErrDialect) {
		t.Errorf("writer: %v", err)
	}
}

// TestUserMapping: a user file (schema csv) renames a column both ways
// over a built-in dialect, and a file of another schema is refused.
func TestUserMapping(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "m.yaml")
	os.WriteFile(user, []byte("version: 1\nschema: csv\nfields:\n  - {external: source.ip, drop: true}\n  - {external: src_ip, canonical: src_addr}\n"), 0o644)
	var r flow.Record
	r.Key.Src = netip.MustParseAddr("192.0.2.1")
	r.Key.AddrType = flow.AddrIPv4
	r.Has |= flow.HasKey
	out := write(t, "ecs", []flow.Record{r}, WithMapping(user))
	if !bytes.Contains(out, []byte("src_ip")) || bytes.Contains(out, []byte("source.ip")) || !bytes.Contains(out, []byte("192.0.2.1")) {
		t.Errorf("renamed column:\n%s", out)
	}
	back := read(t, "ecs", bytes.NewReader(out), WithMapping(user))
	if len(back) != 1 || back[0].Key.Src != r.Key.Src {
		t.Errorf("read back %+v", back)
	}
	os.WriteFile(user, []byte("version: 1\nschema: zeek\nfields:\n  - {external: x, canonical: src_addr}\n"), 0o644)
	if _, err := NewWriter(io.Discard, "ecs", WithMapping(user)); !errors.Is(err, mappings.ErrSchemaMismatch) {
		t.Errorf("zeek schema over csv: %v", err)
	}
}

// TestEncodeNotRepresentable: a value the mapping cannot write is left
// empty and reported; the line is still written.
func TestEncodeNotRepresentable(t *testing.T) {
	user := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(user, []byte("version: 1\nschema: csv\nfields:\n  - {external: Sport, canonical: src_port, convert: {narrow: 8}}\n"), 0o644)
	var b bytes.Buffer
	w, err := NewWriter(&b, "argus", WithMapping(user))
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Record
	r.Key.Src, r.Key.SrcPort, r.Key.AddrType = netip.MustParseAddr("10.0.0.1"), 4000, flow.AddrIPv4
	r.Has |= flow.HasKey
	if err := w.Encode(&r); !errors.Is(err, codecs.ErrNotRepresentable) {
		t.Errorf("err = %v", err)
	}
	w.Close()
	back := rows(t, b.Bytes())
	if len(back) != 1 || back[0]["Sport"] != "" || back[0]["SrcAddr"] != "10.0.0.1" {
		t.Errorf("line %v", back)
	}
}
