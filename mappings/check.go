package mappings

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/flowgate/flowgate/flow"
)

// FindingKind classifies a Check result.
type FindingKind uint8

const (
	NotCarried    FindingKind = iota + 1 // the target has no field for this canonical field
	Narrowing                            // values may not fit or lose precision
	NotReversible                        // reading back does not give the value written
)

func (k FindingKind) String() string {
	return [...]string{"", "not carried", "narrowing", "not reversible"}[k]
}

// Finding is one Check result.
type Finding struct {
	Kind      FindingKind
	Canonical string
	External  string    // "" for NotCarried
	Dir       Direction // the direction that loses (In, Out, or Both)
	Rule      Pos       // zero for NotCarried
	Detail    string
}

// Report is what Check found, in canonical-field order.
type Report struct {
	Mapping  string
	Findings []Finding
}

// canonicalOrder lists the reachable canonical fields in flow/fields.csv
// order (ra's columns, then the fields ra has no column for).
func canonicalOrder() []string {
	var out []string
	for _, f := range flow.Fields {
		if accessors[f.Name] != nil {
			out = append(out, f.Name)
		}
	}
	for _, f := range flow.RecordFields {
		if accessors[f.Name] != nil {
			out = append(out, f.Name)
		}
	}
	return out
}

// Check reports, before any traffic flows, every canonical field the
// mapping cannot carry out, every narrowing, and every rule that does not
// read back what it wrote.
func Check(f *File) *Report {
	rep := &Report{Mapping: f.Name}
	// A field is carried when a rule writes it or a field that holds the
	// same value (an ICMP flow's type as src_port; last_time as start
	// plus duration).
	written := map[string]bool{}
	for _, r := range f.Rules {
		if !r.Drop && r.Dir != In {
			if a := accessors[r.Canonical]; a != nil {
				for id := a.writes.Next(0); id >= 0; id = a.writes.Next(id + 1) {
					written[FieldName(id)] = true
				}
			}
		}
	}
	order := canonicalOrder()
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
		if !written[n] {
			d := fmt.Sprintf("%s has no %s field for it", f.Schema, f.Dialect)
			if f.OneWay && accessors[n].reverse {
				d = "one-way records (oneway: true): a biflow's reverse count is refused, or left out and counted with --lossy"
			}
			rep.Findings = append(rep.Findings, Finding{Kind: NotCarried, Canonical: n, Dir: Out, Detail: d})
		}
	}
	for _, r := range f.Rules {
		if r.Drop {
			continue
		}
		acc := accessors[r.Canonical]
		add := func(k FindingKind, d Direction, format string, args ...any) {
			rep.Findings = append(rep.Findings, Finding{Kind: k, Canonical: r.Canonical, External: r.External,
				Dir: d, Rule: r.Pos, Detail: fmt.Sprintf(format, args...)})
		}
		c := &r.Convert
		switch c.Kind {
		case ConvNarrow:
			add(Narrowing, Out, "%s has %d bits, %s %d: larger values are reported, not written", r.Canonical, acc.bits, r.External, c.Bits)
		case ConvWiden:
			add(Narrowing, In, "%s has %d bits, %s %d: larger values are reported, not read", r.Canonical, acc.bits, r.External, c.Bits)
		case ConvScale:
			if c.Mul != 1 {
				add(Narrowing, Out, "canonical = external × %d: a value that is not a multiple is reported, not written", c.Mul)
			} else {
				add(Narrowing, In, "canonical = external ÷ %d: the remainder is lost", c.Div)
			}
		case ConvTime:
			if u := timeUnits[c.Unit]; u > 1 && r.Dir != In {
				d := "ns"
				switch {
				case c.Format == "decimal" && c.Digits < uint8(len(fmt.Sprint(u))-1):
					d = fmt.Sprintf("%d fraction digits of %s", c.Digits, c.Unit)
				case c.Format != "decimal":
					d = c.Unit
				}
				if d != "ns" {
					add(Narrowing, Out, "time cut to %s", d)
				}
			}
		case ConvEnum:
			if c.OneWay {
				add(NotReversible, Both, "one-way enum: %d external values, the first for each canonical value is written", len(c.EnumExt))
			}
			if !c.Pass {
				add(Narrowing, Both, "values outside the table (%d entries) are reported, not converted", len(c.EnumExt))
			}
		case ConvConstant:
			add(NotReversible, Both, "constant %q: the record's value is neither read nor written", c.Constant)
		}
		if acc != nil && acc.readOnly {
			add(NotReversible, In, "%s is a total: written, never read back (the split per direction is lost)", r.Canonical)
		} else if r.Dir == In {
			add(NotReversible, Out, "read only (direction: in)")
		} else if r.Dir == Out {
			add(NotReversible, In, "written only (direction: out)")
		}
		if r.Written != r.Canonical {
			add(NotReversible, Both, "direction swap: %s is read into %s", r.External, r.Canonical)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		return rank[rep.Findings[i].Canonical] < rank[rep.Findings[j].Canonical]
	})
	return rep
}

// Count returns how many findings are of kind k.
func (r *Report) Count(k FindingKind) int {
	n := 0
	for _, f := range r.Findings {
		if f.Kind == k {
			n++
		}
	}
	return n
}

// Text renders the report as an aligned table.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d not carried, %d narrowing, %d not reversible\n", r.Mapping,
		r.Count(NotCarried), r.Count(Narrowing), r.Count(NotReversible))
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCANONICAL\tEXTERNAL\tDIR\tWHERE\tDETAIL")
	for _, f := range r.Findings {
		where := "-"
		if f.Rule.File != "" {
			where = fmt.Sprintf("%d:%d %s", f.Rule.Line, f.Rule.Col, f.Rule.Path)
		}
		ext := f.External
		if ext == "" {
			ext = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Kind, f.Canonical, ext, f.Dir, where, f.Detail)
	}
	tw.Flush()
	return b.String()
}

func convText(r *Rule) string {
	c := &r.Convert
	switch c.Kind {
	case ConvNone:
		return ""
	case ConvWiden, ConvNarrow:
		return fmt.Sprintf("%s %d", c.Kind, c.Bits)
	case ConvScale:
		if c.Mul != 1 {
			return fmt.Sprintf("×%d", c.Mul)
		}
		return fmt.Sprintf("÷%d", c.Div)
	case ConvTime:
		s := "time " + c.Unit + " " + c.Format
		if c.Epoch == "ntp" {
			s += " ntp"
		}
		return s
	case ConvEnum:
		if c.OneWay {
			return fmt.Sprintf("enum(%d, one-way)", len(c.EnumExt))
		}
		return fmt.Sprintf("enum(%d)", len(c.EnumExt))
	case ConvFamily:
		return c.Family
	case ConvSwap:
		return "swap " + r.Written
	case ConvConstant:
		return fmt.Sprintf("constant %q", c.Constant)
	}
	return c.Kind.String()
}

// Explain renders, as a table, what converting from one mapping's schema
// to another's does with every canonical field: which external field it is
// read from and written to, with the conversions of both compiled plans.
func Explain(from, to *File) (string, error) {
	in, err := Compile(from, In)
	if err != nil {
		return "", err
	}
	out, err := Compile(to, Out)
	if err != nil {
		return "", err
	}
	side := func(p *Plan) map[string][]string {
		m := map[string][]string{}
		for _, o := range p.ops {
			r := &p.rules[o.rule]
			s := r.External
			if c := convText(r); c != "" {
				s += " (" + c + ")"
			}
			m[r.Canonical] = append(m[r.Canonical], s)
		}
		return m
	}
	ins, outs := side(in), side(out)
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s %s) -> %s (%s %s)\n", from.Name, from.Schema, from.Dialect, to.Name, to.Schema, to.Dialect)
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CANONICAL\tFROM\tTO\tRESULT")
	for _, n := range canonicalOrder() {
		i, o := ins[n], outs[n]
		if i == nil && o == nil {
			continue
		}
		res := "kept"
		switch {
		case i == nil && accessors[n].readOnly:
			res = "derived"
		case i == nil:
			res = "not in source"
		case o == nil:
			res = "dropped: target cannot carry"
			for _, other := range canonicalOrder() {
				if other != n && outs[other] != nil && accessors[other].writes.Has(accessors[n].id) {
					res = "kept as " + other
					break
				}
			}
		}
		dash := func(s []string) string {
			if s == nil {
				return "-"
			}
			return strings.Join(s, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, dash(i), dash(o), res)
	}
	tw.Flush()
	return b.String(), nil
}
