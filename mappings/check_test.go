package mappings

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// The example in doc.go loads.
func TestDocExample(t *testing.T) {
	src := `version: 1
schema: zeek
dialect: conn
doc: text
fields:
  - external: ts
    canonical: start_time
    convert: {time: {unit: s, format: decimal, digits: 6}}
  - external: id.orig_h
    canonical: src_addr
  - external: proto
    canonical: protocol
    convert:
      enum: {values: {tcp: "6", udp: "17", icmp: "1"}}
    default: tcp
  - external: bytes_total
    canonical: bytes
    direction: out
    note: free text
`
	f, err := Load("doc.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := Compile(f, In)
	var r flow.Record
	if err := in.Decode(&csvRow{idx: []int{-1, -1, -1}}, &r); err != nil || r.Key.Proto != 6 {
		t.Errorf("default: %v %d", err, r.Key.Proto)
	}
}

func TestCheckFindings(t *testing.T) {
	f, err := Load("c.yaml", []byte(`version: 1
schema: csv
fields:
  - {external: sp, canonical: src_port, convert: {narrow: 8}}
  - {external: k, canonical: protocol, convert: {enum: {oneway: true, values: {a: "6", b: "6"}}}}
  - {external: c, canonical: label, convert: {constant: x}}
  - {external: db, canonical: src_bytes, convert: {swap: true}}
  - {external: t, canonical: start_time, convert: {time: {unit: ms}}}
  - {external: in, canonical: dst_pkts, direction: in}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep := Check(f)
	got := map[string]bool{}
	for _, x := range rep.Findings {
		if x.Kind != NotCarried {
			got[x.Kind.String()+" "+x.Canonical+" "+x.Dir.String()+" "+x.Rule.Path] = true
		}
	}
	for _, w := range []string{
		"narrowing src_port out fields[0]",
		"not reversible protocol both fields[1]",
		"not reversible label both fields[2]",
		"not reversible dst_bytes both fields[3]",
		"narrowing start_time out fields[4]",
		"not reversible dst_pkts out fields[5]",
	} {
		if !got[w] {
			t.Errorf("missing %q in\n%s", w, rep.Text())
		}
	}
	// src_port also carries an ICMP flow's type (icmp_type).
	carried := map[string]bool{"src_port": true, "icmp_type": true, "protocol": true, "label": true, "dst_bytes": true, "start_time": true}
	for _, x := range rep.Findings {
		if x.Kind == NotCarried && carried[x.Canonical] {
			t.Errorf("%s reported not carried", x.Canonical)
		}
	}
	if rep.Count(NotCarried) != len(accessors)-len(carried) {
		t.Errorf("not carried %d, want %d", rep.Count(NotCarried), len(accessors)-len(carried))
	}
	if !strings.Contains(rep.Text(), "c.yaml: ") {
		t.Error(rep.Text())
	}
}

func TestExplainZeekToECS(t *testing.T) {
	z, _ := Builtin("zeek-conn")
	e, _ := Builtin("json-ecs")
	s, err := Explain(z, e)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(s, "\n")[2:] {
		if f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1); len(f) == 4 {
			rows[f[0]] = f[1:]
		}
	}
	for _, w := range [][4]string{
		{"src_bytes", "orig_ip_bytes", "source.bytes", "kept"},
		{"src_app_bytes", "orig_bytes", "-", "dropped: target cannot carry"},
		{"bytes", "-", "network.bytes", "derived"},
		{"start_time", "ts (time s decimal)", "event.start (time ns iso)", "kept"},
		{"protocol", "proto (enum(4))", "network.iana_number, network.transport (enum(8))", "kept"},
		{"src_as", "-", "source.as.number", "not in source"},
	} {
		if got := rows[w[0]]; len(got) != 3 || got[0] != w[1] || got[1] != w[2] || got[2] != w[3] {
			t.Errorf("%s: got %q, want %q", w[0], got, w[1:])
		}
	}
	if testing.Verbose() {
		t.Log("\n" + s)
	}
}

func TestMerge(t *testing.T) {
	base, _ := Builtin("zeek-conn")
	user, err := Load("user.yaml", []byte(`version: 1
schema: zeek
fields:
  - {external: uid, drop: true}
  - {external: ts, canonical: start_time, direction: out, convert: {time: {unit: ms}}}
  - {external: my_col, canonical: label}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(base, user)
	if err != nil {
		t.Fatal(err)
	}
	var ts []Rule
	for _, r := range m.Rules {
		switch r.External {
		case "uid":
			t.Error("uid not dropped")
		case "ts":
			ts = append(ts, r)
		}
	}
	if len(ts) != 2 || ts[0].Dir != In || ts[0].Convert.Format != "decimal" || ts[1].Dir != Out || ts[1].Convert.Unit != "ms" {
		t.Errorf("ts rules: %+v", ts)
	}
	if last := m.Rules[len(m.Rules)-1]; last.External != "my_col" {
		t.Errorf("last rule %+v", last)
	}
	if _, err := Compile(m, Out); err != nil {
		t.Error(err)
	}
	other, _ := Builtin("json-ecs")
	if _, err := Merge(base, other); err == nil {
		t.Error("merged json over zeek")
	}
}

// 2024-01-01T00:00:00Z is 1704067200 Unix, 3913056000 NTP seconds.
func TestTimeForms(t *testing.T) {
	const ns = 1704067200 * int64(1e9)
	cases := []struct {
		conv string
		text string
		ns   int64
	}{
		{"{unit: s, epoch: ntp}", "3913056000", ns},
		{"{unit: ms}", "1704067200123", ns + 123e6},
		{"{unit: us, format: iso}", "2024-01-01T00:00:00.123456Z", ns + 123456e3},
		{"{unit: s, format: decimal, digits: 3}", "1704067200.250", ns + 250e6},
		{"{unit: ms, format: datetime}", "2024-01-01T00:00:00.007", ns + 7e6},
		{"{unit: ms, format: decimal, digits: 9}", "1704067200123.456789000", ns + 123456789},
	}
	for _, c := range cases {
		f, err := Load("t.yaml", []byte("version: 1\nschema: csv\nfields:\n  - {external: t, canonical: start_time, convert: {time: "+c.conv+"}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		in, _ := Compile(f, In)
		out, _ := Compile(f, Out)
		var r flow.Record
		if err := in.Decode(&csvRow{idx: []int{0}, row: []string{c.text}}, &r); err != nil || r.Start != c.ns {
			t.Errorf("%s %s: %v %d, want %d", c.conv, c.text, err, r.Start, c.ns)
		}
		w := &csvRow{idx: []int{0}, out: make([][]byte, 1)}
		out.Encode(&r, w, nil)
		if string(w.out[0]) != c.text {
			t.Errorf("%s: wrote %q, want %q", c.conv, w.out[0], c.text)
		}
	}
}

// Zeek's JSON writer prints doubles in full (0.09628199999999865); the
// TSV writer prints %.6f (0.096282). Reading the first rounds at the ns,
// writing with round: true rounds at the µs as printf does (the zeek-conn
// mapping says so; the default truncates, as ra does: TestTruncation).
func TestDecimalRounding(t *testing.T) {
	f, _ := Load("t.yaml", []byte("version: 1\nschema: csv\nfields:\n  - {external: d, canonical: duration, convert: {time: {unit: s, format: decimal, round: true}}}\n"))
	in, _ := Compile(f, In)
	out, _ := Compile(f, Out)
	for _, c := range []struct{ in, ns, out string }{
		{"0.09628199999999865", "96282000", "0.096282"},
		{"0.0018720000000023163", "1872000", "0.001872"},
		{"12.821130990982056", "12821130991", "12.821131"},
		{"0.9999996", "999999600", "1.000000"},
	} {
		r := flow.Record{Start: 1, Has: flow.HasTime}
		if err := in.Decode(&csvRow{idx: []int{0}, row: []string{c.in}}, &r); err != nil {
			t.Fatal(err)
		}
		if got := strconv.FormatInt(r.Last-r.Start, 10); got != c.ns {
			t.Errorf("%s: %s ns, want %s", c.in, got, c.ns)
		}
		w := &csvRow{idx: []int{0}, out: make([][]byte, 1)}
		out.Encode(&r, w, nil)
		if string(w.out[0]) != c.out {
			t.Errorf("%s: wrote %q, want %q", c.in, w.out[0], c.out)
		}
	}
}

func TestColumnAndOpen(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/site.yaml"
	os.WriteFile(p, []byte("version: 1\nschema: json\nfields:\n  - {external: event.start, canonical: start_time, convert: {time: {unit: ms}}}\n"), 0o644)
	f, err := Open("json-ecs", p)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := Compile(f, Out)
	want := map[string]bool{"source.ip": false, "source.port": true, "event.start": true, "network.community_id": false}
	seen := 0
	for s, c := range out.Columns() {
		if w, ok := want[c]; ok {
			seen++
			if got := out.Column(s); got.Number != w || got.Name != c {
				t.Errorf("%s: %+v", c, got)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d of %d columns", seen, len(want))
	}
	if _, err := Open("json-ecs", dir+"/none.yaml"); err == nil {
		t.Error("missing user file accepted")
	}
	if _, err := Open("zeek-conn", p); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("json over zeek: %v", err)
	}
}

// TestICMPCarried: ECS has no ICMP keys, but its ports carry an ICMP
// flow's type and code (as Zeek's id.orig_p/id.resp_p do), so neither
// check nor explain calls them dropped.
func TestICMPCarried(t *testing.T) {
	e, _ := Builtin("json-ecs")
	for _, x := range Check(e).Findings {
		if x.Kind == NotCarried && (x.Canonical == "icmp_type" || x.Canonical == "icmp_code") {
			t.Errorf("ecs: %s not carried", x.Canonical)
		}
	}
	n, _ := Builtin("json-nfdump")
	s, err := Explain(n, e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "kept as src_port") || !strings.Contains(s, "kept as dst_port") {
		t.Errorf("nfdump -> ecs:\n%s", s)
	}
}
