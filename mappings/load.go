package mappings

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Schemas a mapping can describe.
var schemas = map[string]bool{"ipfix": true, "netflow9": true, "zeek": true, "json": true, "csv": true}

// Direction limits a rule to reading (in: external to canonical), writing
// (out: canonical to external), or both.
type Direction uint8

const (
	Both Direction = iota
	In
	Out
)

func (d Direction) String() string {
	return [...]string{"both", "in", "out"}[d]
}

// ConvKind is one conversion of the closed set.
type ConvKind uint8

const (
	ConvNone ConvKind = iota
	ConvWiden
	ConvNarrow
	ConvScale
	ConvTime
	ConvEnum
	ConvFamily
	ConvSwap
	ConvConstant
)

func (c ConvKind) String() string {
	return [...]string{"", "widen", "narrow", "scale", "time", "enum", "family", "swap", "constant"}[c]
}

// Convert is a rule's conversion.
type Convert struct {
	Kind ConvKind
	Pos  Pos
	// ConvWiden, ConvNarrow: the external value's width in bits.
	Bits uint8
	// ConvScale: canonical = external * Mul / Div (one of them is 1).
	Mul, Div uint64
	// ConvTime.
	Unit   string // s, ms, us, ns
	Epoch  string // unix (default), ntp
	Format string // integer (default), decimal, iso (with Z), datetime (ISO without zone, UTC)
	Digits uint8  // decimal: fraction digits written (default 6)
	Round  bool   // decimal: round half up at the last digit (default: truncate, as ra)
	Zero   bool   // duration: 0 for a record without an end time (default: left out)
	// ConvEnum: external text -> canonical text, in file order.
	EnumExt, EnumCan []string
	OneWay           bool
	Pass             bool // others: pass: values outside the table are read and written unconverted
	// ConvFamily: ipv4 or ipv6.
	Family string
	// ConvConstant: the value written whatever the record holds.
	Constant string
}

// Rule relates one external field to one canonical field.
type Rule struct {
	Pos       Pos
	External  string  // as written
	Element   Element // ipfix, netflow9: the resolved element
	Canonical string  // after swap
	Written   string  // canonical name as written
	Dir       Direction
	Convert   Convert
	Default   string // text used when the external field is missing
	HasDef    bool
	Drop      bool // in an override file: remove the base rule
	Note      string
}

// File is a loaded mapping.
type File struct {
	Name    string // file name used in errors
	Version int
	Schema  string
	Dialect string
	Doc     string
	// OneWay (oneway: true): the schema's records are one-directional
	// (goflow2's): a biflow's reverse counters have no place, and a codec
	// must not drop them without the user's consent (Plan.OneWay,
	// Plan.Declared).
	OneWay    bool
	oneWaySet bool // the file says oneway (true or false): Merge keeps it
	Rules     []Rule
}

type loader struct {
	file string
	errs Errors
}

func (l *loader) add(n *yaml.Node, path string, err error, format string, args ...any) {
	e := &Error{Pos: Pos{File: l.file, Path: path}, Err: err, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

// mapping walks a mapping node: it checks every key against allowed and
// returns the values by key.
func (l *loader) mapping(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		l.add(n, path, ErrType, "want a mapping, have %s", kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := join(path, k.Value)
		ok := false
		for _, a := range allowed {
			if a == k.Value {
				ok = true
			}
		}
		if !ok {
			l.add(k, kp, ErrUnknownKey, "%q (want one of %s)", k.Value, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			l.add(k, kp, ErrDuplicate, "key %q given twice", k.Value)
			continue
		}
		out[k.Value] = v
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("scalar %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.add(n, path, ErrType, "want text, have %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) uint(n *yaml.Node, path string, max uint64) (uint64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		l.add(n, path, ErrType, "want an integer, have %s", kindName(n))
		return 0, false
	}
	u, err := strconv.ParseUint(n.Value, 0, 64)
	if err != nil || u > max || u == 0 {
		l.add(n, path, ErrType, "want an integer from 1 to %d, have %s", max, n.Value)
		return 0, false
	}
	return u, true
}

func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		l.add(n, path, ErrType, "want true or false, have %s", kindName(n))
		return false, false
	}
	return n.Value == "true", true
}

// Load parses and validates one mapping file. name is used in errors. The
// error, if any, is an Errors listing every problem found.
func Load(name string, data []byte) (*File, error) {
	l := &loader{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 puts "line N:" in its message and gives no column.
		e := &Error{Pos: Pos{File: name, Line: 1, Col: 1}, Err: ErrSyntax, Msg: err.Error()}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		return nil, Errors{e}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		l.add(&doc, "", ErrType, "empty file")
		return nil, l.errs
	}
	f := &File{Name: name}
	root := doc.Content[0]
	top := l.mapping(root, "", "version", "schema", "dialect", "doc", "oneway", "fields")
	if top == nil {
		return nil, l.errs
	}
	if n := top["version"]; n == nil {
		l.add(root, "version", ErrMissing, "a mapping starts with version: 1")
	} else if v, ok := l.uint(n, "version", math.MaxInt32); ok {
		if v != 1 {
			l.add(n, "version", ErrVersion, "%d (this flowgate reads version 1)", v)
		}
		f.Version = int(v)
	}
	if n := top["schema"]; n == nil {
		l.add(root, "schema", ErrMissing, "schema: ipfix, netflow9, zeek, json or csv")
	} else if s, ok := l.str(n, "schema"); ok {
		if !schemas[s] {
			l.add(n, "schema", ErrSchema, "%q (want ipfix, netflow9, zeek, json or csv)", s)
		} else {
			f.Schema = s
		}
	}
	if n := top["dialect"]; n != nil {
		f.Dialect, _ = l.str(n, "dialect")
	}
	if n := top["doc"]; n != nil {
		f.Doc, _ = l.str(n, "doc")
	}
	if n := top["oneway"]; n != nil {
		f.OneWay, f.oneWaySet = l.boolean(n, "oneway")
	}
	n := top["fields"]
	if n == nil {
		l.add(root, "fields", ErrMissing, "a mapping needs a fields: list")
	} else if n.Kind != yaml.SequenceNode {
		l.add(n, "fields", ErrType, "want a list, have %s", kindName(n))
	} else {
		seen := map[string]string{}
		for i, rn := range n.Content {
			path := fmt.Sprintf("fields[%d]", i)
			r, ok := l.rule(rn, path, f.Schema)
			if !ok {
				continue
			}
			// Two rules may name one external field only for different
			// directions (one in, one out).
			clash := false
			for _, d := range [2]Direction{In, Out} {
				if r.Dir != Both && r.Dir != d {
					continue
				}
				key := r.External + "\x00" + d.String()
				if prev, dup := seen[key]; dup && !r.Drop {
					l.add(rn, path, ErrDuplicate, "external field %q already mapped at %s", r.External, prev)
					clash = true
					break
				}
				seen[key] = path
			}
			if clash {
				continue
			}
			f.Rules = append(f.Rules, r)
		}
	}
	if f.OneWay {
		for _, r := range f.Rules {
			if accessors[r.Canonical] != nil && accessors[r.Canonical].reverse && !r.Drop && r.Dir != In {
				l.add(top["oneway"], "oneway", ErrConversion, "a one-way mapping writes no reverse counter, but %s writes %s (rule at %d:%d)", r.External, r.Canonical, r.Pos.Line, r.Pos.Col)
			}
		}
	}
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return f, nil
}

func (l *loader) rule(n *yaml.Node, path, schema string) (Rule, bool) {
	r := Rule{Pos: Pos{File: l.file, Line: n.Line, Col: n.Column, Path: path}}
	m := l.mapping(n, path, "external", "canonical", "convert", "default", "direction", "drop", "note")
	if m == nil {
		return r, false
	}
	before := len(l.errs)
	if x := m["external"]; x == nil {
		l.add(n, join(path, "external"), ErrMissing, "the external field's name")
	} else if s, ok := l.str(x, join(path, "external")); ok {
		r.External = s
		switch schema {
		case "ipfix":
			e, ok := ResolveIPFIX(s)
			if !ok {
				l.add(x, join(path, "external"), ErrUnknownElem, "IPFIX element %q (give a name from the IANA registry, a number, or enterprise/number)", s)
			}
			r.Element = e
		case "netflow9":
			e, ok := ResolveNetFlow9(s)
			if !ok {
				l.add(x, join(path, "external"), ErrUnknownElem, "NetFlow v9 field type %q (give a Cisco name or a number)", s)
			}
			r.Element = e
		default:
			if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
				l.add(x, join(path, "external"), ErrUnknownElem, "%q is not a column, key or dotted path", s)
			}
		}
	}
	if x := m["drop"]; x != nil {
		r.Drop, _ = l.boolean(x, join(path, "drop"))
	}
	if x := m["note"]; x != nil {
		r.Note, _ = l.str(x, join(path, "note"))
	}
	if x := m["direction"]; x != nil {
		if s, ok := l.str(x, join(path, "direction")); ok {
			switch s {
			case "both":
			case "in":
				r.Dir = In
			case "out":
				r.Dir = Out
			default:
				l.add(x, join(path, "direction"), ErrType, "%q (want both, in or out)", s)
			}
		}
	}
	var acc *accessor
	if x := m["canonical"]; x == nil {
		if !r.Drop {
			l.add(n, join(path, "canonical"), ErrMissing, "the canonical field's name (flow/fields.csv)")
		}
	} else if s, ok := l.str(x, join(path, "canonical")); ok {
		r.Canonical, r.Written = s, s
		if !canonicalKnown(s) {
			l.add(x, join(path, "canonical"), ErrUnknownField, "%q is not in flow/fields.csv", s)
		} else if acc = accessors[s]; acc == nil {
			l.add(x, join(path, "canonical"), ErrUnknownField, "%q is in flow/fields.csv but mappings cannot reach it yet", s)
		}
	}
	if x := m["convert"]; x != nil {
		r.Convert = l.convert(x, join(path, "convert"), acc)
	}
	if r.Convert.Kind == ConvSwap && acc != nil {
		sw := swapName(r.Canonical)
		if accessors[sw] == nil {
			l.add(m["convert"], join(path, "convert.swap"), ErrConversion, "%q has no other direction", r.Canonical)
		} else {
			r.Canonical = sw
		}
	}
	if acc != nil && acc.readOnly && r.Dir != Out {
		l.add(m["canonical"], join(path, "canonical"), ErrConversion, "%q is derived (a total): give direction: out", r.Canonical)
	}
	if x := m["default"]; x != nil {
		if s, ok := l.str(x, join(path, "default")); ok {
			r.Default, r.HasDef = s, true
			if acc != nil {
				if err := checkLiteral(acc, &r.Convert, s); err != "" {
					l.add(x, join(path, "default"), ErrConversion, "%s", err)
				}
			}
		}
	}
	return r, len(l.errs) == before
}

func swapName(s string) string {
	switch {
	case strings.HasPrefix(s, "src_"):
		return "dst_" + s[4:]
	case strings.HasPrefix(s, "dst_"):
		return "src_" + s[4:]
	}
	return s
}

var timeUnits = map[string]int64{"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}

func (l *loader) convert(n *yaml.Node, path string, acc *accessor) Convert {
	c := Convert{Pos: Pos{File: l.file, Line: n.Line, Col: n.Column, Path: path}, Mul: 1, Div: 1}
	m := l.mapping(n, path, "widen", "narrow", "scale", "time", "enum", "family", "swap", "constant")
	if m == nil {
		return c
	}
	if len(m) != 1 {
		l.add(n, path, ErrConversion, "give exactly one conversion, have %d", len(m))
		return c
	}
	want := func(k Kind, key string, x *yaml.Node) bool {
		if acc != nil && acc.kind != k {
			l.add(x, join(path, key), ErrConversion, "%s applies to %s fields; %s is %s", key, k, acc.name, acc.kind)
			return false
		}
		return true
	}
	for key, x := range m {
		p := join(path, key)
		switch key {
		case "widen", "narrow":
			if !want(KindUint, key, x) {
				continue
			}
			b, ok := l.uint(x, p, 64)
			if !ok {
				continue
			}
			c.Kind, c.Bits = ConvWiden, uint8(b)
			if key == "narrow" {
				c.Kind = ConvNarrow
			}
			if acc != nil && ((key == "widen" && c.Bits <= acc.bits) || (key == "narrow" && c.Bits >= acc.bits)) {
				l.add(x, p, ErrConversion, "%s to %d bits, but %s has %d bits", key, b, acc.name, acc.bits)
			}
		case "scale":
			if !want(KindUint, key, x) {
				continue
			}
			sm := l.mapping(x, p, "multiply", "divide")
			if len(sm) != 1 {
				if sm != nil {
					l.add(x, p, ErrConversion, "give one of multiply or divide")
				}
				continue
			}
			c.Kind = ConvScale
			if v := sm["multiply"]; v != nil {
				c.Mul, _ = l.uint(v, join(p, "multiply"), math.MaxUint32)
			} else {
				c.Div, _ = l.uint(sm["divide"], join(p, "divide"), math.MaxUint32)
			}
		case "time":
			if acc != nil && acc.kind != KindTime && acc.kind != KindDur {
				l.add(x, p, ErrConversion, "time applies to time and duration fields; %s is %s", acc.name, acc.kind)
				continue
			}
			tm := l.mapping(x, p, "unit", "epoch", "format", "digits", "round", "zero")
			if tm == nil {
				continue
			}
			c.Kind, c.Unit, c.Epoch, c.Format, c.Digits = ConvTime, "s", "unix", "integer", 6
			if v := tm["digits"]; v != nil {
				if d, ok := l.uint(v, join(p, "digits"), 9); ok {
					c.Digits = uint8(d)
				}
			}
			if v := tm["round"]; v != nil {
				c.Round, _ = l.boolean(v, join(p, "round"))
			}
			if v := tm["zero"]; v != nil {
				c.Zero, _ = l.boolean(v, join(p, "zero"))
				if acc != nil && acc.kind != KindDur {
					l.add(v, join(p, "zero"), ErrConversion, "zero applies to durations; %s is %s", acc.name, acc.kind)
				}
			}
			if v := tm["unit"]; v != nil {
				if s, ok := l.str(v, join(p, "unit")); ok {
					if _, ok := timeUnits[s]; !ok {
						l.add(v, join(p, "unit"), ErrConversion, "%q (want s, ms, us or ns)", s)
					}
					c.Unit = s
				}
			}
			if v := tm["epoch"]; v != nil {
				if s, ok := l.str(v, join(p, "epoch")); ok {
					if s != "unix" && s != "ntp" {
						l.add(v, join(p, "epoch"), ErrConversion, "%q (want unix or ntp)", s)
					} else if acc != nil && acc.kind == KindDur {
						l.add(v, join(p, "epoch"), ErrConversion, "a duration has no epoch")
					}
					c.Epoch = s
				}
			}
			if v := tm["format"]; v != nil {
				if s, ok := l.str(v, join(p, "format")); ok {
					if s != "integer" && s != "decimal" && s != "iso" && s != "datetime" {
						l.add(v, join(p, "format"), ErrConversion, "%q (want integer, decimal, iso or datetime)", s)
					} else if (s == "iso" || s == "datetime") && acc != nil && acc.kind == KindDur {
						l.add(v, join(p, "format"), ErrConversion, "a duration has no ISO form")
					}
					c.Format = s
				}
			}
			if c.Round && c.Format != "decimal" {
				l.add(tm["round"], join(p, "round"), ErrConversion, "round applies to format: decimal")
			}
		case "enum":
			if acc != nil && acc.kind != KindUint && acc.kind != KindText {
				l.add(x, p, ErrConversion, "enum applies to uint and text fields; %s is %s", acc.name, acc.kind)
				continue
			}
			em := l.mapping(x, p, "values", "oneway", "others")
			if em == nil {
				continue
			}
			if v := em["others"]; v != nil {
				if s, ok := l.str(v, join(p, "others")); ok {
					if s != "pass" && s != "error" {
						l.add(v, join(p, "others"), ErrConversion, "%q (want pass or error)", s)
					}
					c.Pass = s == "pass"
				}
			}
			if v := em["oneway"]; v != nil {
				c.OneWay, _ = l.boolean(v, join(p, "oneway"))
			}
			v := em["values"]
			if v == nil {
				l.add(x, join(p, "values"), ErrMissing, "enum needs values: {external: canonical, ...}")
				continue
			}
			if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
				l.add(v, join(p, "values"), ErrType, "want a non-empty mapping, have %s", kindName(v))
				continue
			}
			c.Kind = ConvEnum
			seen := map[string]bool{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				kp := join(join(p, "values"), k.Value)
				if k.Kind != yaml.ScalarNode {
					l.add(k, join(p, "values"), ErrType, "an enum key is a value, have %s", kindName(k))
					continue
				}
				if seen[k.Value] {
					l.add(k, kp, ErrDuplicate, "external value %q given twice", k.Value)
					continue
				}
				seen[k.Value] = true
				s, ok := l.str(val, kp)
				if !ok {
					continue
				}
				if acc != nil {
					if msg := checkLiteral(acc, nil, s); msg != "" {
						l.add(val, kp, ErrConversion, "%s", msg)
						continue
					}
				}
				if !c.OneWay {
					for j, prev := range c.EnumCan {
						if prev == s {
							l.add(val, kp, ErrConversion, "canonical value %q also comes from %q: a two-way enum must be one to one (or say oneway: true)", s, c.EnumExt[j])
						}
					}
				}
				c.EnumExt = append(c.EnumExt, k.Value)
				c.EnumCan = append(c.EnumCan, s)
			}
		case "family":
			// An ICMP field's family is its protocol's: icmpTypeIPv4 is
			// ICMP's (1), icmpTypeIPv6 ICMPv6's (58).
			if acc == nil || (acc.name != "icmp_type" && acc.name != "icmp_code") {
				if !want(KindAddr, key, x) {
					continue
				}
			}
			if s, ok := l.str(x, p); ok {
				if s != "ipv4" && s != "ipv6" {
					l.add(x, p, ErrConversion, "%q (want ipv4 or ipv6)", s)
				}
				c.Kind, c.Family = ConvFamily, s
			}
		case "swap":
			if b, ok := l.boolean(x, p); ok {
				if !b {
					l.add(x, p, ErrConversion, "swap: false is no conversion; leave it out")
				}
				c.Kind = ConvSwap
			}
		case "constant":
			if s, ok := l.str(x, p); ok {
				c.Kind, c.Constant = ConvConstant, s
				if acc != nil {
					if msg := checkLiteral(acc, nil, s); msg != "" {
						l.add(x, p, ErrConversion, "%s", msg)
					}
				}
			}
		}
	}
	return c
}

// checkLiteral parses s as a canonical value of acc (after conv, when
// given) and returns why it does not parse.
func checkLiteral(acc *accessor, conv *Convert, s string) string {
	var v value
	op := &op{acc: acc}
	if conv != nil && conv.Kind == ConvEnum {
		for _, e := range conv.EnumExt {
			if e == s {
				return ""
			}
		}
		return fmt.Sprintf("%q is not in the enum table", s)
	}
	if conv != nil && conv.Kind != ConvConstant {
		op.setConv(conv)
	}
	if err := op.parse([]byte(s), &v); err != nil {
		return fmt.Sprintf("%q is not a %s value for %s", s, acc.kind, acc.name)
	}
	if acc.kind == KindUint && acc.bits < 64 && v.u>>acc.bits != 0 {
		return fmt.Sprintf("%q does not fit %s (%d bits)", s, acc.name, acc.bits)
	}
	return ""
}
