package mappings

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// Each malformed file lists the errors it must give, as
// "line:col path sentinel", in file order.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top key", `version: 1
schema: zeek
colums: []
fields: []
`, []string{"3:1 colums unknown key"}},
		{"unknown rule key and bad type", `version: 1
schema: zeek
fields:
  - external: ts
    canonical: start_time
    convrt: {}
  - external: [a, b]
    canonical: src_addr
`, []string{"6:5 fields[0].convrt unknown key", "7:15 fields[1].external wrong type"}},
		{"unknown canonical field", `version: 1
schema: csv
fields:
  - {external: a, canonical: src_addr}
  - {external: b, canonical: source_address}
`, []string{"5:30 fields[1].canonical unknown canonical field"}},
		{"unknown IPFIX element", `version: 1
schema: ipfix
fields:
  - external: octetDeltaCount
    canonical: src_bytes
  - external: octetDeltaCnt
    canonical: src_bytes
  - external: 29305/1
    canonical: dst_bytes
`, []string{"6:15 fields[1].external unknown external field"}},
		{"bad conversions", `version: 1
schema: json
fields:
  - external: a
    canonical: src_port
    convert: {scale: {multiply: 0}}
  - external: b
    canonical: src_addr
    convert: {scale: {divide: 8}}
  - external: c
    canonical: start_time
    convert: {time: {unit: minutes}}
  - external: d
    canonical: protocol
    convert: {enum: {values: {tcp: "6", TCP: "6"}}}
  - external: e
    canonical: src_port
    convert: {narrow: 32}
  - external: f
    canonical: protocol
    convert: {constant: "256"}
  - external: g
    canonical: dst_port
    convert: {widen: 32, narrow: 8}
`, []string{
			"6:33 fields[0].convert.scale.multiply wrong type",
			"9:22 fields[1].convert.scale bad conversion",
			"12:28 fields[2].convert.time.unit bad conversion",
			"15:46 fields[3].convert.enum.values.TCP bad conversion",
			"18:23 fields[4].convert.narrow bad conversion",
			"21:25 fields[5].convert.constant bad conversion",
			"24:14 fields[6].convert bad conversion",
		}},
		{"version, schema, missing", `version: 2
schema: pcap
fields:
  - canonical: src_port
  - {external: x, canonical: bytes}
`, []string{
			"1:10 version unsupported version",
			"2:9 schema unknown schema",
			"4:5 fields[0].external missing key",
			"5:30 fields[1].canonical bad conversion",
		}},
		{"duplicate external", `version: 1
schema: zeek
fields:
  - {external: ts, canonical: start_time}
  - {external: ts, canonical: last_time}
  - {external: ts, canonical: last_time, direction: out}
`, []string{"5:5 fields[1] duplicate rule", "6:5 fields[2] duplicate rule"}},
	}
	sentinels := map[string]error{
		"unknown key": ErrUnknownKey, "wrong type": ErrType, "unknown canonical field": ErrUnknownField,
		"unknown external field": ErrUnknownElem, "bad conversion": ErrConversion, "unsupported version": ErrVersion,
		"unknown schema": ErrSchema, "missing key": ErrMissing, "duplicate rule": ErrDuplicate,
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Load("bad.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("loaded: %+v", f)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T: %v", err, err)
			}
			var got []string
			for _, e := range es {
				if e.File != "bad.yaml" {
					t.Errorf("file %q", e.File)
				}
				got = append(got, strings.Join([]string{itoa(e.Line) + ":" + itoa(e.Col), e.Path, e.Err.Error()}, " "))
				if !errors.Is(err, e.Err) {
					t.Errorf("errors.Is(%v) false", e.Err)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s\nfull:\n%v", strings.Join(got, "\n"), strings.Join(c.want, "\n"), err)
			}
			for _, w := range c.want {
				for name, s := range sentinels {
					if strings.HasSuffix(w, " "+name) && !errors.Is(err, s) {
						t.Errorf("not errors.Is %v", s)
					}
				}
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLoadErrorText(t *testing.T) {
	_, err := Load("m.yaml", []byte("version: 1\nschema: zeek\nfields:\n  - {external: ts, canonical: start_time, convert: {scale: {multiply: 3}}}\n"))
	want := `m.yaml:4:60: fields[0].convert.scale: bad conversion: scale applies to uint fields; start_time is time`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	_, err = Load("m.yaml", []byte("version: 1\nschema: zeek\nfields:\n  - {external: ts\n  - x\n"))
	var es Errors
	if !errors.Is(err, ErrSyntax) || !errors.As(err, &es) || es[0].Line != 3 { // yaml.v3 names the line the flow mapping opens
		t.Errorf("syntax: %v", err)
	}
	t.Log(err)
}
