package nfcore

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// A user mapping file (schema ipfix or netflow9) laid over the built-in
// one (mappings/builtin/ipfix.yaml, netflow9.yaml: the registry in
// elements.go is that file in Go, TestBuiltinMappingAgrees holds them
// together), as mappings.Merge lays files: a rule for an element the
// registry does not map (an enterprise or vendor element, which goes to
// Extra) decodes it into its canonical field and the encoders write it;
// a rule that names a mapped element with another canonical field or a
// conversion replaces the registry's op; drop: true sends the element to
// Extra. A rule that restates the built-in one keeps the registry's op.
//
// Decoders resolve the mapping once per template (Template.compile) into
// the template's field ops, encoders once per field list: no map lookup
// and no allocation per record.

// ErrMapping is returned by NewMapping for a file it cannot use.
var ErrMapping = errors.New("mapping")

// Mapping is a resolved user mapping.
type Mapping struct {
	ver Version
	// in: (PEN, id) of an element read by a rule or dropped.
	in map[[2]uint32]inRule
	// out: per (reverse, IANA id) of an element the encoder writes from
	// the registry: 0 keep, -1 drop, k+1 written by outRules[k].
	out [2][maxIANA]int16
	// outRules: the rules that write an element; added: those of
	// elements the registry does not write, in file order.
	outRules []outRule
	added    []int
	// nOver counts the registry elements out rewrites; addedMask has bit
	// id%64 of each added element: quick rejects for remap.
	nOver     int
	addedMask uint64
}

type inRule struct {
	drop bool
	rule *mappings.RuleOp
}

type outRule struct {
	spec FieldSpec
	rule *mappings.RuleOp
}

var builtins = map[Version]func() (*mappings.File, error){
	IPFIX: sync.OnceValues(func() (*mappings.File, error) { return mappings.Builtin("ipfix") }),
	V9:    sync.OnceValues(func() (*mappings.File, error) { return mappings.Builtin("netflow9") }),
}

// NewMapping resolves user mapping file f (schema ipfix for IPFIX,
// netflow9 for v9) over the built-in one. f is the user's file as loaded
// (mappings.LoadFile), not merged: its drop rules say which elements to
// take from the registry.
func NewMapping(v Version, f *mappings.File) (*Mapping, error) {
	if f.Schema != v.format() {
		return nil, fmt.Errorf("%w: %s is a %s mapping, not %s", ErrMapping, f.Name, f.Schema, v.format())
	}
	base, err := builtins[v]()
	if err != nil {
		return nil, err
	}
	m := &Mapping{ver: v, in: map[[2]uint32]inRule{}}
	for i := range f.Rules {
		u := &f.Rules[i]
		e := u.Element
		key := [2]uint32{e.Enterprise, uint32(e.ID)}
		for _, dir := range [2]mappings.Direction{mappings.In, mappings.Out} {
			if u.Dir != mappings.Both && u.Dir != dir {
				continue
			}
			var x *mappings.RuleOp
			if !u.Drop {
				if restates(base, u, dir) {
					if dir == mappings.In {
						delete(m.in, key)
					} else {
						m.setOut(e, 0)
					}
					continue
				}
				x, err = mappings.CompileRule(*u, dir)
				if err != nil {
					if dir == mappings.In && u.Dir == mappings.Both {
						continue // a derived field (a total) is only written
					}
					return nil, fmt.Errorf("%w: %s: %v", ErrMapping, u.Pos, err)
				}
			}
			if dir == mappings.In {
				m.in[key] = inRule{drop: u.Drop, rule: x}
				continue
			}
			if u.Drop {
				m.setOut(e, -1)
				continue
			}
			spec, ok := outSpec(v, e, x)
			if !ok {
				return nil, fmt.Errorf("%w: %s: %s cannot write %s (%s) as element %s", ErrMapping, u.Pos, v.format(), u.Canonical, x.Kind(), u.External)
			}
			m.outRules = append(m.outRules, outRule{spec: spec, rule: x})
			if !m.setOut(e, int16(len(m.outRules))) {
				m.added = append(m.added, len(m.outRules)-1)
				m.addedMask |= 1 << (e.ID & 63)
			}
		}
	}
	return m, nil
}

// setOut records what the encoder does with a registry element (false:
// the element is not one the registry writes).
func (m *Mapping) setOut(e mappings.Element, k int16) bool {
	rev := 0
	switch {
	case e.Enterprise == PENReverse && m.ver == IPFIX:
		rev = 1
	case e.Enterprise != 0:
		return false
	}
	if int(e.ID) >= maxIANA || !written(e.ID, rev) {
		return false
	}
	if m.out[rev][e.ID] == 0 && k != 0 {
		m.nOver++
	} else if m.out[rev][e.ID] != 0 && k == 0 {
		m.nOver--
	}
	m.out[rev][e.ID] = k
	return true
}

// written reports whether RecordFields writes element id (rev: its RFC
// 5103 reverse) from the registry.
func written(id uint16, rev int) bool {
	for _, w := range writtenIDs {
		if w.id == id && (rev == 0 || w.rev) {
			return true
		}
	}
	return false
}

// writtenIDs lists the elements RecordFields writes (rev: also as a
// reverse element).
var writtenIDs = []struct {
	id  uint16
	rev bool
}{
	{8, false}, {12, false}, {27, false}, {28, false}, {7, false}, {11, false}, {4, false},
	{9, false}, {13, false}, {29, false}, {30, false}, {32, false}, {139, false}, {31, false},
	{1, true}, {2, true}, {21, false}, {22, false}, {152, false}, {153, false}, {156, false}, {157, false},
	{6, true}, {5, true}, {192, true}, {10, false}, {14, false}, {15, false}, {62, false},
	{18, false}, {63, false}, {16, false}, {17, false}, {58, true}, {56, false}, {80, false},
	{70, false}, {34, false}, {130, false}, {131, false},
}

// restates reports whether u does to its element, in dir, what the
// built-in rule for it does.
func restates(base *mappings.File, u *mappings.Rule, dir mappings.Direction) bool {
	for i := range base.Rules {
		b := base.Rules[i]
		if b.Element.Enterprise != u.Element.Enterprise || b.Element.ID != u.Element.ID || (b.Dir != mappings.Both && b.Dir != dir) {
			continue
		}
		uu := *u
		uu.Dir, b.Dir = dir, dir
		return mappings.SameRule(&uu, &b)
	}
	return false
}

// outSpec is the template field a rule writes: its element, with the
// length of the canonical value.
func outSpec(v Version, e mappings.Element, x *mappings.RuleOp) (FieldSpec, bool) {
	s := FieldSpec{PEN: e.Enterprise, ID: e.ID}
	if v == V9 && e.Enterprise != 0 {
		return s, false
	}
	switch x.Kind() {
	case mappings.KindUint:
		s.Len = uint16((x.Bits() + 7) / 8)
	case mappings.KindTime, mappings.KindDur:
		s.Len = 8
	case mappings.KindAddr:
		s.Len = 4
		if x.Family() == 6 {
			s.Len = 16
		} else if x.Family() == 0 {
			return s, false // one element has one length: say ipv4 or ipv6
		}
	case mappings.KindMAC:
		s.Len = 6
	case mappings.KindCountry:
		s.Len = 2
	case mappings.KindText:
		if v == V9 {
			return s, false
		}
		s.Len = VarLen
	default:
		return s, false
	}
	return s, true
}

// inOp resolves one template field against the mapping: ok false when
// the mapping says nothing of it; OpExtra for a drop or a length the
// rule cannot read.
func (m *Mapping) inOp(f FieldSpec) (op Op, rule *mappings.RuleOp, ok bool) {
	r, found := m.in[[2]uint32{f.PEN, uint32(f.ID)}]
	if !found {
		return 0, nil, false
	}
	if r.drop || f.Len == 0 || (f.Len == VarLen && r.rule.Kind() != mappings.KindText) || !ruleFits(r.rule, f.Len) {
		return OpExtra, nil, true
	}
	return OpRule, r.rule, true
}

// ruleFits reports whether a value of length n can be read by rule x.
func ruleFits(x *mappings.RuleOp, n uint16) bool {
	switch x.Kind() {
	case mappings.KindUint, mappings.KindTime, mappings.KindDur:
		return n >= 1 && n <= 8
	case mappings.KindAddr:
		return n == 4 && x.Family() != 6 || n == 16 && x.Family() != 4
	case mappings.KindMAC:
		return n == 6
	case mappings.KindCountry:
		return n == 2
	case mappings.KindText:
		return true
	}
	return false
}

// applyRule reads value v with rule x. Times, TCP flags and the sampling
// rate go through the record's accumulator, as the registry's do, so
// that they combine with the other elements (a start with a duration,
// flags into TCP state). It returns false when the value does not convert
// (the caller keeps it in Extra and counts it).
func applyRule(x *mappings.RuleOp, v []byte, a *recAcc, rec *flow.Record) bool {
	switch x.Kind() {
	case mappings.KindUint:
		if x.SetUint(rec, uintN(v)) != nil {
			return false
		}
		switch x.Rule().Canonical {
		case "src_tcp_flags":
			a.flags[0], a.hasFlags = uint16(rec.TCP.Side[0].Flags), a.hasFlags|1
		case "dst_tcp_flags":
			a.flags[1], a.hasFlags = uint16(rec.TCP.Side[1].Flags), a.hasFlags|2
		case "sampling_rate":
			a.rate = uint64(rec.SamplingRate)
		}
		return true
	case mappings.KindTime, mappings.KindDur:
		ns, err := x.TimeNs(uintN(v))
		if err != nil {
			return false
		}
		switch x.TimeCanonical() {
		case "start_time", "src_start_time":
			a.start[0], a.tflags[0] = ns, a.tflags[0]|tStart
		case "last_time", "src_last_time":
			a.end[0], a.tflags[0] = ns, a.tflags[0]|tEnd
		case "dst_start_time":
			a.start[1], a.tflags[1] = ns, a.tflags[1]|tStart
		case "dst_last_time":
			a.end[1], a.tflags[1] = ns, a.tflags[1]|tEnd
		case "duration":
			a.dur[0], a.tflags[0] = ns, a.tflags[0]|tDur
		default:
			return false
		}
		return true
	case mappings.KindAddr:
		var ad netip.Addr
		if len(v) == 4 {
			ad = netip.AddrFrom4([4]byte(v))
		} else {
			ad = netip.AddrFrom16([16]byte(v))
		}
		return x.SetAddr(rec, ad) == nil
	case mappings.KindMAC:
		return x.SetMAC(rec, [6]byte(v)) == nil
	case mappings.KindText, mappings.KindCountry:
		return x.SetBytes(rec, v) == nil
	}
	return false
}

// appendRule writes field f's value from r with its rule. A value the
// rule cannot write exactly (a scale that does not divide, one wider than
// the element) is written as near as the element allows and counted in
// o.RuleErrors; a value r does not carry is zeros.
func appendRule(dst []byte, f *EncField, r *flow.Record, o *EncOptions) []byte {
	x := o.Map.outRules[f.extra].rule
	n := int(f.Len)
	var u uint64
	switch x.Kind() {
	case mappings.KindUint:
		var err error
		u, _, err = x.Uint(r)
		if err != nil {
			o.RuleErrors++
		}
	case mappings.KindTime, mappings.KindDur:
		u, _ = x.TimeExt(r)
	case mappings.KindAddr:
		a, _ := x.Addr(r)
		if n == 4 {
			return append4(dst, a)
		}
		return append16(dst, a)
	case mappings.KindMAC:
		m, _ := x.MAC(r)
		return append(dst, m[:]...)
	case mappings.KindText, mappings.KindCountry:
		b, _ := x.Bytes(r)
		if f.Len == VarLen {
			if len(b) < 255 {
				dst = append(dst, byte(len(b)))
			} else {
				dst = append(dst, 255)
				dst = be.AppendUint16(dst, uint16(len(b)))
			}
			return append(dst, b...)
		}
		for i := range n {
			c := byte(0)
			if i < len(b) {
				c = b[i]
			}
			dst = append(dst, c)
		}
		return dst
	}
	if n < 8 && u>>(8*n) != 0 {
		u = 1<<(8*n) - 1
		o.RuleErrors++
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(u>>(8*i)))
	}
	return dst
}

// ruleValueLen is the bytes of a variable-length rule field's value.
func ruleValueLen(f *EncField, r *flow.Record, o *EncOptions) int {
	b, _ := o.Map.outRules[f.extra].rule.Bytes(r)
	return len(b)
}

// remap applies m to the fields RecordFields listed from dst[start:]:
// a registry element a rule writes becomes the rule's field, in its
// place; a dropped one goes; an Extra value of an element a rule adds is
// left to the rule; the added rules' fields come last. (A pass after the
// registry's, so that encoding without a mapping runs as it did.)
func (m *Mapping) remap(dst []EncField, start int, r *flow.Record) []EncField {
	if m.nOver == 0 && m.addedMask == 0 {
		return dst
	}
	w := start
	for i := start; i < len(dst); i++ {
		f := dst[i]
		switch {
		case f.op == OpExtra:
			if m.addedMask>>(f.ID&63)&1 != 0 && m.isAdded(f.PEN, uint32(f.ID)) {
				continue // written from its canonical field
			}
		case m.nOver != 0 && f.ID < maxIANA && (f.PEN == 0 || f.PEN == PENReverse):
			rev := 0
			if f.PEN == PENReverse {
				rev = 1
			}
			switch k := m.out[rev][f.ID]; {
			case k < 0:
				continue
			case k > 0:
				or := &m.outRules[k-1]
				s := or.spec
				if or.rule.Kind() == mappings.KindUint || or.rule.Kind() == mappings.KindTime {
					s.Len = max(s.Len, f.Len) // the registry's length: a value of the same element
				}
				f = EncField{FieldSpec: s, op: OpRule, extra: int32(k - 1)}
			}
		}
		if w != i || f.op == OpRule {
			dst[w] = f
		}
		w++
	}
	return m.addedFields(dst[:w], r)
}

// addedFields appends the fields of m's rules for elements the registry
// does not write, for the canonical fields r carries.
func (m *Mapping) addedFields(dst []EncField, r *flow.Record) []EncField {
	for _, k := range m.added {
		or := &m.outRules[k]
		if !carries(or.rule, r) {
			continue
		}
		dst = append(dst, EncField{FieldSpec: or.spec, op: OpRule, extra: int32(k)})
	}
	return dst
}

// carries reports whether r has the value rule x writes.
func carries(x *mappings.RuleOp, r *flow.Record) bool {
	switch x.Kind() {
	case mappings.KindUint:
		_, ok, _ := x.Uint(r)
		return ok
	case mappings.KindTime, mappings.KindDur:
		_, ok := x.TimeExt(r)
		return ok
	case mappings.KindAddr:
		_, ok := x.Addr(r)
		return ok
	case mappings.KindMAC:
		_, ok := x.MAC(r)
		return ok
	}
	_, ok := x.Bytes(r)
	return ok
}

// isAdded reports whether element (pen, id) is written by one of m's
// added rules (an Extra value of it is then not written again).
func (m *Mapping) isAdded(pen uint32, id uint32) bool {
	for _, k := range m.added {
		s := &m.outRules[k].spec
		if s.PEN == pen && uint32(s.ID) == id {
			return true
		}
	}
	return false
}
