package nfcore

import "github.com/flowgate/flowgate/mappings"

// FieldSpec is one field of a template as it is on the wire.
type FieldSpec struct {
	PEN uint32 // 0 for IANA (and every NetFlow v9 field)
	ID  uint16 // element id without the enterprise bit
	Len uint16 // VarLen for a variable-length IPFIX element
}

// fieldOp is a compiled template field: what to do with the value and
// where it goes.
type fieldOp struct {
	op   Op
	dir  uint8 // flow.Src or flow.Dst
	vlen bool
	keep bool // also kept in Extra
	len  uint16
	pen  uint32
	id   uint16
	rule uint16 // OpRule: index into Template.rules (the op stays 16 bytes)

}

// Template is a compiled (options) template. It is immutable once in the
// cache: a re-sent template with the same id replaces it.
type Template struct {
	ID     uint16
	Domain uint32
	Scope  int // scope field count: >0 for options templates (v9 and IPFIX)
	// Options is true for an options template (even with zero scope
	// fields, as Juniper SRX sends in v9).
	Options bool
	Fields  []FieldSpec

	ops      []fieldOp
	rules    []*mappings.RuleOp // OpRule's rules (a user mapping)
	minLen   int                // bytes of the shortest record
	variable bool               // has variable-length fields
	size     int                // bytes charged to the exporter's budget
	created  int64
	used     int64 // last time a data set used it (Unix ns)
}

// RecordLen returns the length of a record of the template, or the
// shortest length when it has variable-length fields.
func (t *Template) RecordLen() int { return t.minLen }

// Variable reports whether the template has variable-length fields.
func (t *Template) Variable() bool { return t.variable }

// compile builds the per-field ops of t. Lengths a canonical field cannot
// take (a 3-byte IPv4 address) fall back to Extra, so the value is kept.
//
// A user mapping (m, may be nil) is consulted here, once per template
// field: the field's op is then the mapping's rule, or Extra for a drop.
func (t *Template) compile(v Version, m *Mapping) {
	t.ops = make([]fieldOp, len(t.Fields))
	t.rules = nil
	t.minLen, t.variable = 0, false
	for i, f := range t.Fields {
		o := fieldOp{op: OpExtra, len: f.Len, pen: f.PEN, id: f.ID}
		if f.Len == VarLen { // v9 too: H3C NetStream sends IPFIX-style variable-length strings
			o.vlen = true
			t.variable = true
			t.minLen++
		} else {
			t.minLen += int(f.Len)
		}
		if m != nil && i >= t.Scope {
			if op, rule, ok := m.inOp(f); ok {
				o.op = op
				if rule != nil {
					o.rule = uint16(len(t.rules))
					t.rules = append(t.rules, rule)
				}
				t.ops[i] = o
				continue
			}
		}
		e, rev := Lookup(f.PEN, f.ID)
		switch {
		case f.Len == 0:
			o.op = OpSkip
		case e == nil || o.vlen:
		case rev && !perDirection(e.Op):
		case !lenFits(e.Op, f.Len):
		default:
			o.op = e.Op
			if rev {
				o.dir = 1
			}
		}
		if i < t.Scope {
			// Scope fields of options records name what the options apply
			// to; only a few matter (sampler id), decoded by the options path.
			// NetFlow v9 scope types are their own namespace (1 system,
			// 2 interface ...), never IANA elements.
			if o.op != OpSamplerID || v == V9 {
				o.op = OpExtra
			}
		}
		o.keep = kept(o.op)
		t.ops[i] = o
	}
	t.size = 64 + len(t.Fields)*(8+16)
}

// lenFits reports whether an element of op can be read from n bytes.
func lenFits(op Op, n uint16) bool {
	switch op {
	case OpSrcAddr4, OpDstAddr4, OpNextHop4, OpBGPNextHop4, OpExporter4:
		return n == 4
	case OpSrcAddr6, OpDstAddr6, OpNextHop6, OpBGPNextHop6, OpExporter6:
		return n == 16
	case OpSrcMAC, OpDstMAC:
		return n == 6
	case OpStartUs, OpEndUs, OpStartNs, OpEndNs, OpObsUs, OpObsNs:
		return n == 8
	case OpMPLS1:
		return n >= 3 && n <= 4
	case OpICMPTypeCode4, OpICMPTypeCode6:
		return n == 2
	}
	return n >= 1 && n <= 8 // reduced-size encoding of unsigned integers (RFC 7011 §6.2)
}
