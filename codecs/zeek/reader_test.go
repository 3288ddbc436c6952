package zeek

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

const hdr = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\tconn_state\thistory\ttunnel_parents\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tstring\tstring\tset[string]\n"

// TestErrors: bad input is an *Error naming file, line and column, and it
// is sticky.
func TestErrors(t *testing.T) {
	cases := []struct {
		in, col string
		line    int
		is      error
	}{
		{hdr + "1.000000\tC1\t1.2.3.400\t1\t1.2.3.4\t2\ttcp\t1.000000\tSF\tS\t-\n", "id.orig_h", 8, ErrValue},
		{hdr + "1.000000\tC1\t1.2.3.4\t70000\t1.2.3.4\t2\ttcp\t1.000000\tSF\tS\t-\n", "id.orig_p", 8, ErrValue},
		{hdr + "1.000000\tC1\t1.2.3.4\t1\t1.2.3.4\t2\ttcp\n", "", 8, ErrSchema},
		{hdr + "1.000000\tC1\t1.2.3.4\t1\t1.2.3.4\t2\ttcp\tx\tSF\tS\t-\n", "duration", 8, ErrValue},
		{hdr + "1.000000\tC\\x4\t1.2.3.4\t1\t1.2.3.4\t2\ttcp\t1.000000\tSF\tS\t-\n", "uid", 8, ErrValue},
		{"1.0\tC\n", "", 1, ErrSyntax},
		{"#separator \\x09\n1.0\tC\n", "", 2, ErrSchema},
		{`{"ts":1.5,"id.orig_h":"1.2.3"}` + "\n", "id.orig_h", 1, ErrValue},
		{`{"ts":1.5,"uid":"C1"` + "\n", "uid", 1, ErrSyntax},
		{`{"ts":1.5}` + "\n" + `{"ts":-1}` + "\n", "ts", 2, ErrValue},
	}
	for _, c := range cases {
		rd := NewReader(strings.NewReader(c.in), WithFileName("x.log"))
		var rec flow.Record
		var err error
		for err == nil {
			err = rd.Decode(&rec)
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, c.is) || !errors.Is(err, codecs.ErrCorrupt) || e.Line != c.line || e.Column != c.col || e.File != "x.log" {
			t.Errorf("%q: %v (want %v at line %d column %q)", c.in[len(c.in)-min(len(c.in), 40):], err, c.is, c.line, c.col)
			continue
		}
		if err2 := rd.Decode(&rec); err2 != err {
			t.Errorf("error not sticky: %v then %v", err, err2)
		}
	}
}

// TestTSVValues: escapes, (empty), unset, sets and a masked time.
func TestTSVValues(t *testing.T) {
	in := hdr + "XXXXXXXXXX.XXXXXX\t\\x2d\tfe80::1\t0\tff02::1\t5\ticmp\t-\t(empty)\tS\\x09a\tC1,C2\n"
	rd := NewReader(strings.NewReader(in))
	var rec flow.Record
	if err := rd.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if string(rec.Zeek.UID) != "-" || rec.Zeek.State == nil || len(rec.Zeek.State) != 0 || string(rec.Zeek.History) != "S\ta" {
		t.Errorf("uid %q state %q history %q", rec.Zeek.UID, rec.Zeek.State, rec.Zeek.History)
	}
	if rec.Key.Proto != 58 || rec.Key.ICMPCode != 5 || rec.Key.Src != netip.MustParseAddr("fe80::1") {
		t.Errorf("key %+v", rec.Key)
	}
	var tp []byte
	for _, e := range rec.Extra {
		if ColumnName(e.ID) == "tunnel_parents" {
			tp = e.Value
		}
	}
	if string(tp) != "C1,C2" {
		t.Errorf("tunnel_parents %q", tp)
	}
	var out bytes.Buffer
	w := NewWriter(&out, WithHeader(rd.Header()))
	w.Encode(&rec)
	w.Close()
	if out.String() != in {
		t.Errorf("rewrite:\n%q\nwant\n%q", out.String(), in)
	}
	var js bytes.Buffer
	w = NewWriter(&js, WithFormat(FormatJSON))
	w.Encode(&rec)
	w.Close()
	want := `{"ts":"XXXXXXXXXX.XXXXXX","uid":"-","id.orig_h":"fe80::1","id.orig_p":0,"id.resp_h":"ff02::1","id.resp_p":5,"proto":"icmp","conn_state":"","history":"S\ta","tunnel_parents":["C1","C2"]}` + "\n"
	if js.String() != want {
		t.Errorf("json:\n%s\nwant\n%s", js.String(), want)
	}
}

// TestForeignRecord: a record that did not come from Zeek (an Argus TCP
// flow) gets conn_state and history from its TCP state, and reads back.
func TestForeignRecord(t *testing.T) {
	var r flow.Record
	r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 80, Proto: 6}
	r.Start, r.Last = 1700000000123456000, 1700000001123456000
	r.Pkts, r.Bytes = [2]uint64{5, 4}, [2]uint64{400, 3000}
	r.TCP.Status = SawSyn | SawSynSent | Established | NormalClose
	r.TCP.Side[0].Flags = flagSYN | flagACK | flagFIN
	r.TCP.Side[1].Flags = flagSYN | flagACK | flagFIN
	var out bytes.Buffer
	w := NewWriter(&out)
	w.Encode(&r)
	w.Close()
	lines := strings.Split(out.String(), "\n")
	got := lines[8]
	want := "1700000000.123456\t-\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\t-\t1.000000\t-\t-\tSF\t-\t-\t-\tShAFf\t5\t400\t4\t3000\t-\t6"
	if got != want {
		t.Errorf("record line\n%q\nwant\n%q", got, want)
	}
	rd := NewReader(&out)
	var back flow.Record
	if err := rd.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.Key != r.Key || back.Start != r.Start || back.Last != r.Last || back.Pkts != r.Pkts || back.Bytes != r.Bytes ||
		back.TCP.Status != r.TCP.Status || back.TCP.Side[0].Flags != r.TCP.Side[0].Flags || back.TCP.Side[1].Flags != r.TCP.Side[1].Flags {
		t.Errorf("read back %+v", back)
	}
	if err := rd.Decode(&back); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

// TestHeaderBlocks: a second header block (two logs concatenated) changes
// the schema mid-stream.
func TestHeaderBlocks(t *testing.T) {
	a := hdr + "1.000000\tC1\t1.2.3.4\t1\t5.6.7.8\t2\ttcp\t1.000000\tSF\tS\t-\n#close\tX\n"
	b := "#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tlabel\n#types\ttime\taddr\tport\tstring\n2.000000\t9.9.9.9\t7\tMalicious\n"
	rd := NewReader(strings.NewReader(a + b))
	var rec flow.Record
	if err := rd.Decode(&rec); err != nil || rec.Key.SrcPort != 1 {
		t.Fatalf("%v %+v", err, rec.Key)
	}
	if err := rd.Decode(&rec); err != nil || rec.Key.SrcPort != 7 || rec.Start != 2e9 || rec.Zeek.UID != nil {
		t.Fatalf("%v %+v", err, rec)
	}
	if len(rec.Extra) == 0 || ColumnName(rec.Extra[0].ID) != "label" || string(rec.Extra[0].Value) != "Malicious" {
		t.Errorf("extra %+v", rec.Extra)
	}
	if err := rd.Decode(&rec); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

// TestJSONOddTypes: values of another JSON type than Zeek writes for the
// column are written back as read.
func TestJSONOddTypes(t *testing.T) {
	in := `{"ts":"XXXXXXXXXX.XXXXXX","uid":5,"id.orig_h":"1.2.3.4","id.orig_p":"80","proto":"tcp","service":null,"duration":0.5,"conn_state":["SF"],"local_orig":true,"extra_thing":{"a":[1,2]}}` + "\n"
	out, _, ok := fuzzRewrite([]byte(in), nil)
	if !ok || string(out) != in {
		t.Errorf("rewrite\n%s\nwant\n%s", out, in)
	}
}

// TestDetach: a detached record keeps its values after the reader moves on.
func TestDetach(t *testing.T) {
	in := hdr + "1.000000\tCa\\x41\t1.2.3.4\t1\t5.6.7.8\t2\ttcp\t1.000000\tSF\tShAF\tC1\n" +
		"2.000000\t\\x42bbb\t1.2.3.4\t1\t5.6.7.8\t2\ttcp\t1.000000\tS0\tS\tC2\n"
	rd := NewReader(strings.NewReader(in))
	var a, b flow.Record
	if err := rd.Decode(&a); err != nil {
		t.Fatal(err)
	}
	a.Detach() // b.uid is unescaped into the scratch buffer a.uid came from
	if err := rd.Decode(&b); err != nil {
		t.Fatal(err)
	}
	var tp string
	for _, e := range a.Extra {
		if ColumnName(e.ID) == "tunnel_parents" {
			tp = string(e.Value)
		}
	}
	if string(a.Zeek.UID) != "CaA" || string(a.Zeek.History) != "ShAF" || string(a.Zeek.State) != "SF" || tp != "C1" {
		t.Errorf("detached record changed: uid %q history %q state %q tunnel %q", a.Zeek.UID, a.Zeek.History, a.Zeek.State, tp)
	}
}

// TestEscapes: strings escaped otherwise than the writer would (an escaped
// printable byte, escaped UTF-8, a \u escape in JSON) rewrite as read, and
// decode to their bytes.
func TestEscapes(t *testing.T) {
	for _, in := range []string{
		hdr + "1.000000\tC\\x41\t1.2.3.4\t1\t5.6.7.8\t2\ttcp\t1.000000\tSF\t\\xc3\\xa9\t-\n",
		hdr + "1.000000\tCé\t1.2.3.4\t1\t5.6.7.8\t2\ttcp\t1.000000\tSF\t\\x5c\t-\n",
		`{"ts":1.5,"uid":"C\u0041","history":"\u00e9\"\\"}` + "\n",
	} {
		out, _, ok := fuzzRewrite([]byte(in), nil)
		if !ok || string(out) != in {
			t.Errorf("rewrite\n%q\nwant\n%q", out, in)
		}
		rd := NewReader(strings.NewReader(in))
		var rec flow.Record
		if err := rd.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if u := string(rec.Zeek.UID); u != "CA" && u != "Cé" {
			t.Errorf("uid %q", u)
		}
	}
}
