package mappings

import (
	"fmt"
	"net/netip"

	"github.com/flowgate/flowgate/flow"
)

// RuleOp is one compiled rule, for codecs that resolve a mapping into
// their own per-column or per-element ops (the zeek codec per header, the
// NetFlow v9/IPFIX codecs per template) instead of running a Plan: they
// hand one raw value at a time to the rule. The Set methods read a value
// into a record (conversion, range check, the canonical field's setter),
// the others read the canonical field of a record back as the external
// value. None allocates: the methods for binary values (SetUint, SetAddr,
// SetMAC, SetBytes, TimeNs, Uint) return the bare sentinels (ErrValue,
// ErrRange, ErrLossy), which a codec counts per value; SetText and
// ParseNs, for text formats that report a bad value with its place,
// return an *ApplyError. A RuleOp is immutable and safe for concurrent use.
type RuleOp struct {
	rule Rule
	o    op
}

// CompileRule compiles r for one direction (In: external to canonical,
// Out: canonical to external). A rule the direction does not use (a
// drop, direction: out when compiling In, a derived field read in) is an
// error, as is a canonical field mappings cannot reach.
func CompileRule(r Rule, dir Direction) (*RuleOp, error) {
	if dir != In && dir != Out {
		return nil, fmt.Errorf("mappings: rule %s: direction must be in or out", r.Pos)
	}
	if r.Drop || (r.Dir != Both && r.Dir != dir) {
		return nil, fmt.Errorf("mappings: rule %s (%s) does not apply %s", r.Pos, r.External, dir)
	}
	acc := accessors[r.Canonical]
	if acc == nil {
		return nil, &ApplyError{Rule: r.Pos, External: r.External, Err: ErrValue}
	}
	if dir == In && acc.readOnly {
		return nil, fmt.Errorf("mappings: rule %s: %s is derived and cannot be read", r.Pos, r.Canonical)
	}
	x := &RuleOp{rule: r, o: op{acc: acc}}
	x.o.setConv(&r.Convert)
	if err := x.o.prepare(&x.rule); err != nil {
		return nil, err
	}
	return x, nil
}

// Rule returns the rule x was compiled from.
func (x *RuleOp) Rule() *Rule { return &x.rule }

// Kind is the canonical field's kind.
func (x *RuleOp) Kind() Kind { return x.o.acc.kind }

// Bits is the width of the external integer: the widen/narrow width, else
// the canonical field's (KindUint only).
func (x *RuleOp) Bits() uint8 {
	if x.o.kind == ConvWiden || x.o.kind == ConvNarrow {
		return x.rule.Convert.Bits
	}
	return x.o.acc.bits
}

// Family reports the address family the rule is limited to: 4, 6, or 0
// for either.
func (x *RuleOp) Family() int {
	switch {
	case x.o.v4:
		return 4
	case x.o.v6:
		return 6
	}
	return 0
}

// Number reports whether the external text is a bare number (see
// Column.Number).
func (x *RuleOp) Number() bool {
	switch {
	case x.o.kind == ConvEnum || x.o.kind == ConvConstant:
		return false
	case x.o.acc.kind == KindUint:
		return true
	case x.o.acc.kind == KindTime || x.o.acc.kind == KindDur:
		return x.o.format != 'z' && x.o.format != 't'
	}
	return false
}

// TimeCanonical names the time a KindTime or KindDur rule reads: the
// canonical field (start_time, last_time, src_start_time ... duration).
func (x *RuleOp) TimeCanonical() string { return x.o.acc.name }

func (x *RuleOp) err(e error) error {
	return &ApplyError{Rule: x.rule.Pos, External: x.rule.External, Err: e}
}

// SetText reads external text b into r, as a Plan's Decode does for one
// column. A constant rule ignores b.
func (x *RuleOp) SetText(r *flow.Record, b []byte) error {
	if err := x.setText(r, b); err != nil {
		return x.err(err)
	}
	return nil
}

func (x *RuleOp) setText(r *flow.Record, b []byte) error {
	var v value
	if x.o.kind == ConvConstant {
		v = x.o.konst
	} else if err := x.o.parse(b, &v); err != nil {
		return err
	}
	return x.set(r, &v)
}

// SetMissing applies the rule to an absent value: the default, or the
// constant. It reports whether it set anything.
func (x *RuleOp) SetMissing(r *flow.Record) bool {
	switch {
	case x.o.kind == ConvConstant:
		return x.set(r, &x.o.konst) == nil
	case x.o.hasDef:
		return x.set(r, &x.o.def) == nil
	}
	return false
}

func (x *RuleOp) set(r *flow.Record, v *value) error {
	a := x.o.acc
	if a.kind == KindUint && a.bits < 64 && v.u>>a.bits != 0 {
		return ErrRange
	}
	a.set(r, *v)
	return nil
}

// SetUint reads an external unsigned integer (a binary element) into r:
// widen/narrow range, scale, enum (by the decimal text of u) and the
// field's width apply. For KindTime and KindDur use TimeNs.
func (x *RuleOp) SetUint(r *flow.Record, u uint64) error {
	var v value
	switch x.o.kind {
	case ConvConstant:
		v = x.o.konst
	case ConvEnum:
		var tmp [20]byte
		return x.setText(r, appendUint(tmp[:0], u))
	case ConvWiden, ConvNarrow:
		if u > x.o.extMax {
			return ErrRange
		}
		v.u = u
	case ConvScale:
		if x.o.mul != 1 {
			if u > ^uint64(0)/x.o.mul {
				return ErrRange
			}
			u *= x.o.mul
		} else {
			u /= x.o.div
		}
		v.u = u
	default:
		v.u = u
	}
	if x.o.acc.kind != KindUint {
		return ErrValue
	}
	return x.set(r, &v)
}

// TimeNs converts an external integer time in the rule's unit and epoch
// (a binary time element) to Unix ns, or a duration to ns, without
// setting it: a codec that derives times from several elements feeds it
// to its own accumulator (TimeCanonical says which time it is).
func (x *RuleOp) TimeNs(u uint64) (int64, error) {
	unit := x.o.unitNs
	if x.o.kind != ConvTime {
		unit = 1
	}
	if unit == 0 || u > uint64(1<<63-1)/uint64(unit) {
		return 0, ErrRange
	}
	return int64(u)*unit - x.o.epochNs, nil
}

// SetAddr reads an address into r (a family rule refuses the other one).
func (x *RuleOp) SetAddr(r *flow.Record, a netip.Addr) error {
	if x.o.acc.kind != KindAddr || (x.o.v4 && !a.Is4()) || (x.o.v6 && !a.Is6()) {
		return ErrValue
	}
	v := value{addr: a}
	return x.set(r, &v)
}

// SetMAC reads a hardware address into r.
func (x *RuleOp) SetMAC(r *flow.Record, m [6]byte) error {
	if x.o.acc.kind != KindMAC {
		return ErrValue
	}
	v := value{mac: m}
	return x.set(r, &v)
}

// SetBytes reads a text value (aliased, not copied) into r.
func (x *RuleOp) SetBytes(r *flow.Record, b []byte) error {
	if x.o.acc.kind != KindText && x.o.acc.kind != KindCountry {
		return ErrValue
	}
	return x.setText(r, b)
}

// AppendText appends the external text of r's canonical field, as a
// Plan's Encode does for one column (its error is a bare sentinel). ok is false when r does not carry
// the field or the rule does not apply to its value (an address of the
// other family); then nothing is appended.
func (x *RuleOp) AppendText(buf []byte, r *flow.Record) (out []byte, ok bool, err error) {
	if x.o.kind == ConvConstant {
		return append(buf, x.o.konstB...), true, nil
	}
	v, has := x.o.acc.get(r)
	if !has {
		return buf, false, nil
	}
	n := len(buf)
	out, skip, err := x.o.format1(buf, &v)
	if err != nil {
		return buf[:n], false, err // bare: the codec counts it
	}
	if skip {
		return buf[:n], false, nil
	}
	return out, true, nil
}

// Uint returns r's canonical field as the external integer: the inverse
// of SetUint (a multiplying scale divides, and a remainder is ErrLossy
// with the value rounded down; a value wider than Bits is ErrRange).
func (x *RuleOp) Uint(r *flow.Record) (u uint64, ok bool, err error) {
	if x.o.kind == ConvConstant {
		return x.o.konst.u, true, nil
	}
	v, has := x.o.acc.get(r)
	if !has {
		return 0, false, nil
	}
	u = v.u
	switch x.o.kind {
	case ConvEnum:
		t, found := x.o.enumU[u]
		if !found {
			return 0, true, ErrValue
		}
		e, okp := parseUint(t)
		if !okp {
			return 0, true, ErrValue
		}
		return e, true, nil
	case ConvWiden, ConvNarrow:
		if u > x.o.extMax {
			return x.o.extMax, true, ErrRange
		}
	case ConvScale:
		if x.o.mul != 1 {
			if u%x.o.mul != 0 {
				err = ErrLossy
			}
			u /= x.o.mul
		} else {
			if u > ^uint64(0)/x.o.div {
				return ^uint64(0), true, ErrRange
			}
			u *= x.o.div
		}
	}
	return u, true, err
}

// TimeExt returns r's time (or duration) as the external integer in the
// rule's unit and epoch, rounded down.
func (x *RuleOp) TimeExt(r *flow.Record) (u uint64, ok bool) {
	v, has := x.o.acc.get(r)
	if !has {
		return 0, false
	}
	unit := x.o.unitNs
	if x.o.kind != ConvTime {
		unit = 1
	}
	ns := int64(v.u) + x.o.epochNs
	if ns < 0 || unit == 0 {
		return 0, false
	}
	return uint64(ns / unit), true
}

// Addr returns r's address (false: none, or of the other family).
func (x *RuleOp) Addr(r *flow.Record) (netip.Addr, bool) {
	v, has := x.o.acc.get(r)
	if !has || (x.o.v4 && !v.addr.Is4()) || (x.o.v6 && !v.addr.Is6()) {
		return netip.Addr{}, false
	}
	return v.addr, true
}

// MAC returns r's hardware address.
func (x *RuleOp) MAC(r *flow.Record) ([6]byte, bool) {
	v, has := x.o.acc.get(r)
	return v.mac, has
}

// Bytes returns r's text value (aliasing r).
func (x *RuleOp) Bytes(r *flow.Record) ([]byte, bool) {
	if x.o.kind == ConvConstant {
		return x.o.konstB, true
	}
	v, has := x.o.acc.get(r)
	return v.b, has
}

func appendUint(b []byte, u uint64) []byte {
	var t [20]byte
	i := len(t)
	for {
		i--
		t[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(b, t[i:]...)
}

// SameRule reports whether two rules do the same thing to a value: same
// canonical field (after swap), direction, conversion and default. A
// codec uses it to tell a user rule that restates the built-in one (its
// own fast path stays) from one that changes it.
func SameRule(a, b *Rule) bool {
	if a.Canonical != b.Canonical || a.Dir != b.Dir || a.Drop != b.Drop ||
		a.HasDef != b.HasDef || a.Default != b.Default {
		return false
	}
	ca, cb := &a.Convert, &b.Convert
	if ca.Kind != cb.Kind {
		return false
	}
	switch ca.Kind {
	case ConvWiden, ConvNarrow:
		return ca.Bits == cb.Bits
	case ConvScale:
		return ca.Mul == cb.Mul && ca.Div == cb.Div
	case ConvTime:
		return ca.Unit == cb.Unit && ca.Epoch == cb.Epoch && ca.Format == cb.Format && ca.Digits == cb.Digits &&
			ca.Round == cb.Round && ca.Zero == cb.Zero
	case ConvEnum:
		if ca.OneWay != cb.OneWay || ca.Pass != cb.Pass || len(ca.EnumExt) != len(cb.EnumExt) {
			return false
		}
		for i := range ca.EnumExt {
			if ca.EnumExt[i] != cb.EnumExt[i] || ca.EnumCan[i] != cb.EnumCan[i] {
				return false
			}
		}
	case ConvFamily:
		return ca.Family == cb.Family
	case ConvConstant:
		return ca.Constant == cb.Constant
	}
	return true
}

// KindOf returns the kind of a canonical field a rule can name.
func KindOf(canonical string) (Kind, bool) {
	a := accessors[canonical]
	if a == nil {
		return 0, false
	}
	return a.kind, true
}

// ParseNs reads external text as a time (Unix ns) or duration (ns) in
// the rule's unit, epoch and format, without setting it: for a codec that
// derives one time from another (a duration column needs the start).
func (x *RuleOp) ParseNs(b []byte) (int64, error) {
	if k := x.o.acc.kind; k != KindTime && k != KindDur {
		return 0, x.err(ErrValue)
	}
	var v value
	if x.o.kind == ConvConstant {
		v = x.o.konst
	} else if err := x.o.parse(b, &v); err != nil {
		return 0, x.err(err)
	}
	return int64(v.u), nil
}
