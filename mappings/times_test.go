package mappings

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

func oneRule(t *testing.T, rule string) (in, out *Plan) {
	t.Helper()
	f, err := Load("t.yaml", []byte("version: 1\nschema: csv\nfields:\n  - "+rule+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = Compile(f, In); err != nil {
		t.Fatal(err)
	}
	if out, err = Compile(f, Out); err != nil {
		t.Fatal(err)
	}
	return in, out
}

func encode1(p *Plan, r *flow.Record) (string, bool) {
	w := &csvRow{idx: []int{0}, out: make([][]byte, 1)}
	p.Encode(r, w, nil)
	return string(w.out[0]), w.out[0] != nil
}

// TestTruncation: decimal times are cut at the last digit, as ra cuts
// %T.%f (Debian ra 3.0.8.2 prints the ns time 1767663089.514291999 of the
// corpus's pcapng-multi-interface flow as 1767663089.514291); round: true
// rounds half up instead, as printf's %.6f (Zeek) does.
func TestTruncation(t *testing.T) {
	_, cut := oneRule(t, "{external: t, canonical: start_time, convert: {time: {unit: s, format: decimal}}}")
	_, round := oneRule(t, "{external: t, canonical: start_time, convert: {time: {unit: s, format: decimal, round: true}}}")
	_, ms := oneRule(t, "{external: t, canonical: start_time, convert: {time: {unit: ms, format: decimal, digits: 2}}}")
	for _, c := range []struct {
		ns               int64
		cut, round, msd2 string
	}{
		{1767663089514291999, "1767663089.514291", "1767663089.514292", "1767663089514.29"},
		{1700000000000300000, "1700000000.000300", "1700000000.000300", "1700000000000.30"},
		{999999, "0.000999", "0.001000", "0.99"},
	} {
		r := &flow.Record{Has: flow.HasTime, Start: c.ns}
		if got, _ := encode1(cut, r); got != c.cut {
			t.Errorf("%d: %q, want %q", c.ns, got, c.cut)
		}
		if got, _ := encode1(round, r); got != c.round {
			t.Errorf("%d round: %q, want %q", c.ns, got, c.round)
		}
		if got, _ := encode1(ms, r); got != c.msd2 {
			t.Errorf("%d ms: %q, want %q", c.ns, got, c.msd2)
		}
	}
}

// TestDurationZero: ra prints dur 0.000000 for a flow whose ltime is 0
// (corpus traffic_tcpdump_espudp1: stime 4026531839.000000, ltime
// 0.000000, dur 0.000000) and for one whose times are both 0; a rule with
// zero: true writes that, one without leaves the field out (Zeek's "-").
func TestDurationZero(t *testing.T) {
	_, zero := oneRule(t, "{external: d, canonical: duration, convert: {time: {unit: s, format: decimal, zero: true}}}")
	_, omit := oneRule(t, "{external: d, canonical: duration, convert: {time: {unit: s, format: decimal}}}")
	for _, r := range []flow.Record{
		{Has: flow.HasTime, Start: 4026531839e9},
		{Has: flow.HasTime},
	} {
		if got, ok := encode1(zero, &r); got != "0.000000" || !ok {
			t.Errorf("%d/%d zero: %q", r.Start, r.Last, got)
		}
		if got, ok := encode1(omit, &r); ok {
			t.Errorf("%d/%d: %q written", r.Start, r.Last, got)
		}
	}
	if got, _ := encode1(zero, &flow.Record{Has: flow.HasTime, Start: 1e9, Last: 3500e6}); got != "2.500000" {
		t.Errorf("2.5 s: %q", got)
	}
	if _, ok := encode1(zero, &flow.Record{}); ok {
		t.Error("a record without times has a duration")
	}
	for _, bad := range []string{
		"{external: d, canonical: start_time, convert: {time: {zero: true}}}",
		"{external: d, canonical: start_time, convert: {time: {format: iso, round: true}}}",
	} {
		if _, err := Load("t.yaml", []byte("version: 1\nschema: csv\nfields:\n  - "+bad+"\n")); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestISO: the hand-written ISO 8601 rendering is time.Format's, for every
// unit, over random instants from 1900 to 2200 and the edges.
func TestISO(t *testing.T) {
	layouts := map[string]string{"s": "2006-01-02T15:04:05", "ms": "2006-01-02T15:04:05.000",
		"us": "2006-01-02T15:04:05.000000", "ns": "2006-01-02T15:04:05.000000000"}
	rng := rand.New(rand.NewSource(1))
	var times []int64
	for range 20000 {
		times = append(times, (rng.Int63n(300*365*86400)-70*365*86400)*1e9+rng.Int63n(1e9))
	}
	times = append(times, 0, -1, 1, 951782400e9 /* 2000-02-29 */, 4102444799999999999, -2208988800e9, 4026531839e9)
	for unit, layout := range layouts {
		_, iso := oneRule(t, "{external: t, canonical: start_time, convert: {time: {unit: "+unit+", format: iso}}}")
		_, dt := oneRule(t, "{external: t, canonical: start_time, convert: {time: {unit: "+unit+", format: datetime}}}")
		for _, ns := range times {
			want := time.Unix(0, ns).UTC().Format(layout)
			r := &flow.Record{Has: flow.HasTime, Start: ns}
			if got, _ := encode1(iso, r); got != want+"Z" {
				t.Fatalf("%s %d: %q, want %qZ", unit, ns, got, want)
			}
			if got, _ := encode1(dt, r); got != want {
				t.Fatalf("%s %d datetime: %q, want %q", unit, ns, got, want)
			}
		}
	}
	var sink nullSink
	_, p := oneRule(t, "{external: t, canonical: start_time, convert: {time: {unit: ns, format: iso}}}")
	r := &flow.Record{Has: flow.HasTime, Start: 1767663089514291999}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(1000, func() { buf, _ = p.Encode(r, &sink, buf) }); n != 0 {
		t.Errorf("iso: %.1f allocations", n)
	}
}

// TestProtocolNames: a protocol field reads the IANA keywords (Assigned
// Internet Protocol Numbers) in any case, and the names writers use
// that are not keywords: goflow2's "TCP" and "ICMPv6", nfdump's "ICMP6",
// Zeek's and ECS's "tcp", ra's "ipv6-icmp".
func TestProtocolNames(t *testing.T) {
	in, _ := oneRule(t, "{external: p, canonical: protocol}")
	for name, want := range map[string]uint8{
		"TCP": 6, "tcp": 6, "Udp": 17, "ICMP": 1, "ICMPv6": 58, "ipv6-icmp": 58, "IPv6-ICMP": 58,
		"ICMP6": 58, "SCTP": 132, "gre": 47, "ESP": 50, "ospfigp": 89, "UDPLite": 136, "hopopt": 0,
		"ipv4": 4, "ipnip": 4, "Mobility Header": 135, "17": 17,
	} {
		var r flow.Record
		if err := in.Decode(&csvRow{idx: []int{0}, row: []string{name}}, &r); err != nil || r.Key.Proto != want {
			t.Errorf("%q: %d %v, want %d", name, r.Key.Proto, err, want)
		}
	}
	for _, bad := range []string{"tcpx", "unas", "Unassigned", "256", strings.Repeat("a", 40)} {
		var r flow.Record
		if err := in.Decode(&csvRow{idx: []int{0}, row: []string{bad}}, &r); err == nil {
			t.Errorf("%q read as %d", bad, r.Key.Proto)
		}
	}
	src := &byteSrc{[]byte("ICMPv6")}
	var r flow.Record
	if n := testing.AllocsPerRun(1000, func() { in.Decode(src, &r) }); n != 0 {
		t.Errorf("names: %.1f allocations", n)
	}
}

// byteSrc is one external value, held as bytes.
type byteSrc struct{ b []byte }

func (s *byteSrc) Get(int) ([]byte, bool) { return s.b, true }

// TestEnumPass: goflow2 names five protocols and nothing else; with
// others: pass a protocol outside the table is written and read as its
// number, and goflow2's "" for it is an absent value, not an error.
func TestEnumPass(t *testing.T) {
	in, out := oneRule(t, `{external: p, canonical: protocol, convert: {enum: {values: {TCP: "6", ICMPv6: "58"}, others: pass}}}`)
	for _, c := range []struct {
		proto uint8
		text  string
	}{{6, "TCP"}, {58, "ICMPv6"}, {47, "47"}} {
		r := flow.Record{Has: flow.HasKey}
		r.Key.Proto = c.proto
		if got, _ := encode1(out, &r); got != c.text {
			t.Errorf("%d: wrote %q, want %q", c.proto, got, c.text)
		}
		var back flow.Record
		if err := in.Decode(&byteSrc{[]byte(c.text)}, &back); err != nil || back.Key.Proto != c.proto {
			t.Errorf("%q: read %d %v", c.text, back.Key.Proto, err)
		}
	}
	var r flow.Record
	if err := in.Decode(&byteSrc{[]byte{}}, &r); err != nil || r.Has&flow.HasKey != 0 {
		t.Errorf(`"": %v, has %#x`, err, r.Has)
	}
	if _, err := Load("t.yaml", []byte("version: 1\nschema: csv\nfields:\n  - {external: p, canonical: protocol, convert: {enum: {values: {a: \"6\"}, others: maybe}}}\n")); err == nil {
		t.Error("others: maybe accepted")
	}
	f, _ := Load("t.yaml", []byte("version: 1\nschema: csv\nfields:\n  - {external: p, canonical: protocol, convert: {enum: {values: {a: \"6\"}, others: pass}}}\n"))
	for _, x := range Check(f).Findings {
		if x.Kind == Narrowing {
			t.Errorf("others: pass reported as narrowing: %s", x.Detail)
		}
	}
}
