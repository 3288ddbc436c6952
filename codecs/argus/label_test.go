package argus

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// ctxRecord is a flow record with every kind of carried context.
func ctxRecord() flow.Record {
	r := flow.Record{
		Type: flow.TypeFlow,
		Has:  flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasLabel | flow.HasExporter | flow.HasSampling | flow.HasIfaces | flow.HasNextHop | flow.HasCommunityID | flow.HasZeek,
		Key: flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 53124, DstPort: 53},
		Start: 1700000000_123456000, Last: 1700000000_223456000,
		Pkts: [2]uint64{1, 1}, Bytes: [2]uint64{74, 90},
		Label:        []byte("svc=dns"),
		Exporter:     netip.MustParseAddrPort("[2001:db8::9]:2055"),
		ObsDomain:    7,
		ExportSeq:    4711,
		SamplingRate: 100,
		InIf:         3, OutIf: 0,
		NextHop:     netip.MustParseAddr("192.0.2.1"),
		CommunityID: []byte("1:wCb3OG7yAFWelaUydu0D+125CLM="),
		Zeek:        flow.Zeek{UID: []byte("CHhAvVGS1DHFjwGM9"), Service: []byte("dns"), State: []byte("SF"), History: []byte("Dd")},
	}
	missed, _ := zeekColumnIDFor("missed_bytes")
	tp, _ := zeekColumnIDFor("tunnel_parents")
	own, _ := zeekColumnIDFor("x-label:with=odd%chars")
	ts, _ := zeekColumnIDFor("ts")
	r.Extra = []flow.Field{
		{Source: flow.SourceZeek, ID: missed, Offset: 14, Value: []byte("0")},
		{Source: flow.SourceZeek, ID: tp, Offset: 20, Value: []byte("(empty)")},
		{Source: flow.SourceZeek, ID: own, Offset: 21, Value: []byte("a:b\tc=d%")},
		{Source: flow.SourceZeek, ID: ts, Offset: zeekVerbatim, Value: []byte("XXXXXXXXXX.XXXXXX")},
		{Source: flow.SourceZeek, ID: 0, Enterprise: 0x1234},
	}
	return r
}

func zeekColumnIDFor(name string) (uint32, bool) {
	id := zeekColumnID(name)
	return id, id != 0
}

func encodeOne(t *testing.T, ver int, r *flow.Record, opts ...Option) ([]byte, *Writer) {
	t.Helper()
	var b bytes.Buffer
	w, _ := NewWriter(&b, ver, opts...)
	if err := w.Encode(r); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	w.Flush()
	return b.Bytes(), w
}

func decodeFlows(t *testing.T, data []byte) []flow.Record {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []flow.Record
	for {
		var r flow.Record
		if err := rd.Decode(&r); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return out
		}
		if r.Type&0x80 == 0 {
			r.DetachInto(make([]byte, 0, len(data))) // keeps empty values non-nil
			r.Extra = append([]flow.Field(nil), r.Extra...)
			out = append(out, r)
		}
	}
}

// labelText returns the text of the label DSR of the stream's first flow
// record (read off the bytes, not through the decoder).
func labelText(t *testing.T, data []byte) string {
	t.Helper()
	p := 128
	for p < len(data) {
		n := int(data[p+2])<<8 | int(data[p+3])
		rec := data[p : p+4*n]
		if rec[0]&0x80 == 0 {
			for q := 4; q < len(rec); {
				l := dsrLen(rec[q:])
				if rec[q] == dsrLabel {
					return strings.TrimRight(string(rec[q+4:q+l]), "\x00")
				}
				q += l
			}
			return ""
		}
		p += 4 * n
	}
	return ""
}

// TestLabelCarry: the context goes into the label DSR in the documented
// text, after the record's own label, and comes back into the same
// fields in both versions; the own label is unchanged.
func TestLabelCarry(t *testing.T) {
	r := ctxRecord()
	want := "svc=dns:fg.exp=2001%3Adb8%3A%3A9:fg.expport=2055:fg.odid=7:fg.expseq=4711:fg.sampling=100:fg.inif=3:fg.outif=0:fg.nexthop=192.0.2.1:fg.cid=1%3AwCb3OG7yAFWelaUydu0D+125CLM=:zeek.uid=CHhAvVGS1DHFjwGM9:zeek.service=dns:zeek.history=Dd:zeek.conn_state=SF:zeek.missed_bytes=0:zeek.tunnel_parents=(empty):zeek.x-label%3Awith%3Dodd%25chars=a%3Ab\tc=d%25:zeekv.ts=XXXXXXXXXX.XXXXXX:fg.zunset=1234:fg.zpos=14,20,21"
	for _, ver := range []int{3, 5} {
		data, _ := encodeOne(t, ver, &r)
		if got := labelText(t, data); got != want {
			t.Fatalf("v%d label\n got %s\nwant %s", ver, got, want)
		}
		got := decodeFlows(t, data)
		if len(got) != 1 {
			t.Fatalf("v%d: %d records", ver, len(got))
		}
		g := &got[0]
		if s := string(AppendLabel([]byte("x"), g)); s != "x"+want {
			t.Errorf("v%d: AppendLabel %q", ver, s)
		}
		if string(g.Label) != "svc=dns" || g.Has&flow.HasLabel == 0 {
			t.Errorf("v%d: own label %q", ver, g.Label)
		}
		if g.Exporter != r.Exporter || g.ObsDomain != 7 || g.ExportSeq != 4711 || g.SamplingRate != 100 || g.InIf != 3 || g.OutIf != 0 ||
			g.NextHop != r.NextHop || g.BGPNextHop.IsValid() || string(g.CommunityID) != string(r.CommunityID) {
			t.Errorf("v%d: context %+v %d %d %d %d %d %v %v %s", ver, g.Exporter, g.ObsDomain, g.ExportSeq, g.SamplingRate, g.InIf, g.OutIf, g.NextHop, g.BGPNextHop, g.CommunityID)
		}
		if g.Has&carryGroups != r.Has&carryGroups {
			t.Errorf("v%d: groups %x, want %x", ver, g.Has&carryGroups, r.Has&carryGroups)
		}
		if string(g.Zeek.UID) != "CHhAvVGS1DHFjwGM9" || string(g.Zeek.Service) != "dns" || string(g.Zeek.History) != "Dd" || string(g.Zeek.State) != "SF" {
			t.Errorf("v%d: zeek %+v", ver, g.Zeek)
		}
		if len(g.Extra) != len(r.Extra) {
			t.Fatalf("v%d: %d extras, want %d", ver, len(g.Extra), len(r.Extra))
		}
		for i := range r.Extra {
			a, b := r.Extra[i], g.Extra[i]
			if a.Source != b.Source || a.ID != b.ID || a.Offset != b.Offset || a.Enterprise != b.Enterprise || string(a.Value) != string(b.Value) {
				t.Errorf("v%d: extra %d = %+v, want %+v", ver, i, b, a)
			}
		}
		// read and written again: the same bytes
		var out bytes.Buffer
		w, _ := NewWriter(&out, ver)
		rd, _ := NewReader(bytes.NewReader(data))
		var rec flow.Record
		for rd.Decode(&rec) == nil {
			if err := w.Encode(&rec); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("v%d: rewrite differs", ver)
		}
	}
}

// TestLabelOwnWords: words that are not ours (other keys, our keys with
// values that do not parse, text without '=') stay in the own label in
// their order, also when ralabel appended them after ours; such a label
// rewrites byte for byte.
func TestLabelOwnWords(t *testing.T) {
	for _, c := range []struct{ text, own, cid string }{
		{"fg.other=1:fg.sampling=x:zeek=1:plain", "fg.other=1:fg.sampling=x:zeek=1:plain", ""},
		{"fg.cid=1%3Aabc:svc=http:fg.inif=%zz", "svc=http:fg.inif=%zz", "1:abc"},
		{"a:fg.cid=X::b", "a::b", "X"},
		{"a:", "a:", ""},
		{"fg.cid=Y", "", "Y"},
	} {
		body := []byte(c.text)
		body = append(body, make([]byte, (4-len(body)%4)%4)...)
		if len(body) == len(c.text) {
			body = append(body, 0, 0, 0, 0)
		}
		dsr := append([]byte{dsrLabel, 0, 0, byte(1 + len(body)/4)}, body...)
		flowV4 := hxF("02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000")
		data := append(marBytes(5), far(5, append(flowV4, dsr...))...)
		got := decodeFlows(t, data)
		g := &got[0]
		if string(g.Label) != c.own || string(g.CommunityID) != c.cid || (g.Has&flow.HasLabel != 0) != (c.own != "") {
			t.Errorf("%q: own %q cid %q has %v", c.text, g.Label, g.CommunityID, g.Has&flow.HasLabel != 0)
		}
		rd, _ := NewReader(bytes.NewReader(data))
		var out bytes.Buffer
		w, _ := NewWriter(&out, 5)
		var rec flow.Record
		for rd.Decode(&rec) == nil {
			w.Encode(&rec)
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("%q: rewrite differs\n% x\n% x", c.text, data, out.Bytes())
		}
	}
}

// TestLabelHeaderPieces: a piece of a conn.log header that the next
// record continues (Offset 1) is fg.zhdrc, the last piece fg.zhdr.
func TestLabelHeaderPieces(t *testing.T) {
	for _, more := range []uint32{1, 0} {
		r := flow.Record{Type: flow.TypeFlow, Has: flow.HasKey, Key: ctxRecord().Key,
			Extra: []flow.Field{{Source: flow.SourceZeek, ID: ZeekHeaderID, Offset: more, Value: []byte("#separator \\x09\n#set_separator\t,\n")}}}
		data, _ := encodeOne(t, 5, &r)
		key := map[uint32]string{1: "fg.zhdrc", 0: "fg.zhdr"}[more]
		if got := labelText(t, data); got != key+"=#separator \\x09%0A#set_separator\t,%0A" {
			t.Errorf("label %q", got)
		}
		g := decodeFlows(t, data)[0]
		if len(g.Extra) != 1 || g.Extra[0].ID != ZeekHeaderID || g.Extra[0].Offset != more || string(g.Extra[0].Value) != string(r.Extra[0].Value) {
			t.Errorf("read back %+v", g.Extra)
		}
	}
}

// TestLabelTooLong: context past the DSR's 1016 bytes is a
// NotRepresentableError naming the key; WithLossy leaves it out, counts
// it, and keeps the rest.
func TestLabelTooLong(t *testing.T) {
	r := ctxRecord()
	r.Extra = append(r.Extra, flow.Field{Source: flow.SourceZeek, ID: ZeekHeaderID, Value: bytes.Repeat([]byte("#"), 900)})
	w, _ := NewWriter(io.Discard, 5)
	err := w.Encode(&r)
	var nr *codecs.NotRepresentableError
	if !errors.As(err, &nr) || nr.Field != "fg.zhdr" {
		t.Fatalf("err = %v", err)
	}
	data, lw := encodeOne(t, 5, &r, WithLossy(nil))
	if lw.Report().Lossy["fg.zhdr"] != 1 {
		t.Errorf("lossy = %v", lw.Report().Lossy)
	}
	g := decodeFlows(t, data)[0]
	if string(g.Zeek.UID) != "CHhAvVGS1DHFjwGM9" || len(g.Extra) != len(r.Extra)-1 {
		t.Errorf("kept: %+v %d", g.Zeek, len(g.Extra))
	}
	// an own label alone past the bound
	r = flow.Record{Type: flow.TypeFlow, Has: flow.HasLabel, Label: bytes.Repeat([]byte("x"), 1017)}
	if err := w.Encode(&r); !errors.As(err, &nr) || nr.Field != "label" {
		t.Fatalf("err = %v", err)
	}
	r.Label = r.Label[:1016]
	data, _ = encodeOne(t, 5, &r)
	if got := labelText(t, data); got != string(r.Label) {
		t.Errorf("1016-byte label: %d bytes back", len(got))
	}
}

// TestLabelAllocs: reading and writing records with carried context
// allocates nothing per record.
func TestLabelAllocs(t *testing.T) {
	r := ctxRecord()
	var stream bytes.Buffer
	w, _ := NewWriter(&stream, 5)
	for range 64 {
		if err := w.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	data := stream.Bytes()
	w2, _ := NewWriter(io.Discard, 5)
	var rec flow.Record
	rd, _ := NewReader(bytes.NewReader(data))
	rd.Decode(&rec) // MAR
	rd.Decode(&rec) // warm up
	w2.Encode(&rec) // warm up
	if n := testing.AllocsPerRun(50, func() {
		if err := rd.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if err := w2.Encode(&rec); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per record", n)
	}
	w3, _ := NewWriter(io.Discard, 3)
	w3.Encode(&r)
	if n := testing.AllocsPerRun(50, func() { w3.Encode(&r) }); n != 0 {
		t.Errorf("v3 writer: %v allocations per record", n)
	}
}

// TestLabelRa: Debian's ra 3.0.8.2 prints the label of an Argus 3 record
// with carried context as written: the own label, then ours.
func TestLabelRa(t *testing.T) {
	ra, err := exec.LookPath("ra")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ra not installed")
		}
		t.Skip("ra not installed")
	}
	r := ctxRecord()
	one, _ := encodeOne(t, 3, &r)
	// and a label of the DSR's full 1016 bytes (no NUL left)
	full := ctxRecord()
	full.Extra = append(full.Extra, flow.Field{Source: flow.SourceZeek, ID: ZeekHeaderID, Value: bytes.Repeat([]byte("h"), 1016-len(labelText(t, one))-len(":fg.zhdr="))})
	two, _ := encodeOne(t, 3, &full)
	for i, data := range [][]byte{one, two} {
		text := labelText(t, data)
		if i == 1 && len(text) != 1016 {
			t.Fatalf("full label: %d bytes", len(text))
		}
		f := filepath.Join(t.TempDir(), "l.argus")
		os.WriteFile(f, data, 0o644)
		out, err := exec.Command(ra, "-X", "-n", "-r", f, "-c", ",", "-s", "saddr", "label").CombinedOutput()
		if err != nil {
			t.Fatalf("ra: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 || lines[1] != "10.0.0.1,"+text {
			t.Fatalf("ra prints\n%s\nwant\n10.0.0.1,%s", out, text)
		}
		if !strings.HasPrefix(lines[1], "10.0.0.1,svc=dns:fg.exp=2001%3Adb8%3A%3A9:") || !strings.Contains(lines[1], ":zeek.uid=CHhAvVGS1DHFjwGM9:") {
			t.Errorf("ra label %s", lines[1])
		}
	}
}

// FuzzLabel: any label text decodes without panic and rewrites byte for
// byte; what the reader took out of it, written canonically and read
// again, gives the same own label and carried values.
func FuzzLabel(f *testing.F) {
	f.Add("svc=dns:fg.cid=1%3Aab:zeek.uid=C1:zeek.x=%09:fg.zpos=3:a=b:fg.exp=::1")
	f.Add("fg.exp=2001%3Adb8%3A%3A9:fg.expport=2055:fg.odid=7:fg.sampling=100:fg.inif=3:fg.outif=0:fg.nexthop=192.0.2.1:fg.bgpnexthop=10.0.0.1")
	f.Add("zeekv.ts=XXXX:fg.zunset=1234:zeek.tunnel_parents=(empty):fg.zform=1:fg.zhdrc=#a%0A:fg.ztrl=#close")
	f.Add("a::fg.inif=%zz:zeek.=x:fg.zpos=1,,2")
	f.Add("fg.x.ipfix.6871.12=010203ab:fg.x.ipfix.94@65535=6667:fg.x.nf9.40000=0007:fg.x.json.3=%22a%3A:fg.x.7.1=zz:fg.x.ipfix.0.1=0:fg.x.4.1=00")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > labelMax || strings.IndexByte(text, 0) >= 0 || text == "" {
			return
		}
		body := []byte(text)
		body = append(body, make([]byte, (4-len(body)%4)%4)...)
		dsr := append([]byte{dsrLabel, 0, 0, byte(1 + len(body)/4)}, body...)
		flowV4 := hxF("02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000")
		data := append(marBytes(5), far(5, append(flowV4, dsr...))...)
		drain(t, data, false)
		roundTrip(t, data)
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var rec flow.Record
		rd.Decode(&rec)
		if rd.Decode(&rec) != nil {
			return
		}
		// an empty value stays non-nil (present), as the reader gave it
		rec.DetachInto(make([]byte, 0, 4096))
		rec.Extra = append([]flow.Field(nil), rec.Extra...)
		rec.Argus = flow.ArgusLayout{}
		var out bytes.Buffer
		w, _ := NewWriter(&out, 5, WithLossy(nil))
		if err := w.Encode(&rec); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		w.Flush()
		if len(w.Report().Lossy) > 0 {
			return // grew past the DSR (escapes): not comparable
		}
		got := decodeFlows(t, out.Bytes())
		if len(got) != 1 {
			t.Fatalf("%q: %d records back", text, len(got))
		}
		a, b := string(AppendLabel(nil, &rec)), string(AppendLabel(nil, &got[0]))
		if a != b || string(rec.Label) != string(got[0].Label) || rec.Has&(carryGroups|flow.HasLabel) != got[0].Has&(carryGroups|flow.HasLabel) {
			t.Fatalf("%q: read %q (own %q), again %q (own %q)", text, a, rec.Label, b, got[0].Label)
		}
	})
}

// TestLabelEsc: appendEsc's table escapes every byte the label format
// says (control bytes but TAB, DEL, '%', ':' as %XX, upper-case hex), at
// every position of a value, and no other.
func TestLabelEsc(t *testing.T) {
	slow := func(v []byte) []byte {
		var b []byte
		for _, c := range v {
			if c < 0x20 && c != '\t' || c == 0x7F || c == '%' || c == ':' {
				b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			} else {
				b = append(b, c)
			}
		}
		return b
	}
	for c := 0; c < 256; c++ {
		for p := 0; p < 24; p++ {
			v := []byte("C6ce9q3xECAsonga21Zx9_-+")[:24]
			v = append([]byte(nil), v...)
			v[p] = byte(c)
			if got, want := appendEsc(nil, v, false), slow(v); !bytes.Equal(got, want) {
				t.Fatalf("byte %#x at %d: %q, want %q", c, p, got, want)
			}
		}
	}
}
