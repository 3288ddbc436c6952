package mappings

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"
	"unsafe"

	"github.com/flowgate/flowgate/flow"
)

// ntpOffset is the NTP epoch (1900) in Unix seconds, negated.
const ntpOffset = 2208988800

// Source gives a decoder's external values by slot (the index into
// Plan.Columns). ok is false when the field is absent or null; the codec
// decides what null looks like ("-", "(empty)", JSON null).
type Source interface {
	Get(slot int) (v []byte, ok bool)
}

// Sink takes an encoder's external values by slot. v aliases the scratch
// buffer Encode was given and is valid until the next Encode call.
type Sink interface {
	Put(slot int, v []byte)
}

// Plan is a compiled mapping for one direction. It is immutable and safe
// for concurrent use; Decode and Encode do not allocate.
type Plan struct {
	Schema  string
	Dialect string
	Dir     Direction // In or Out
	ops     []op
	columns []string
	rules   []Rule
	oneWay  bool
	// unmapped: the fields the plan has no op for (derived ones aside),
	// checked per record by EncodeUnwritten; unmappedHas is the union of
	// their Has groups, so a record with none of them skips the loop.
	unmapped    []*accessor
	unmappedHas flow.Group
	declared    FieldSet
}

// Columns lists the external fields the plan reads or writes, by slot.
// A codec resolves them once (to a header position, an element id...).
func (p *Plan) Columns() []string { return p.columns }

type op struct {
	slot    int
	rule    int // index in Plan.rules
	acc     *accessor
	kind    ConvKind
	extMax  uint64 // ConvWiden/ConvNarrow: largest external value
	mul     uint64
	div     uint64
	unitNs  int64
	epochNs int64 // added to a canonical Unix ns time to get the external epoch
	format  byte  // 'i' integer, 'd' decimal, 'z' iso
	digits  int
	round   bool // decimal: round half up at the last digit (printf) instead of truncating (ra)
	zeroDur bool // duration: write 0 when the record has times but no end (ra's dur)
	enumIn  map[string]value
	enumU   map[uint64][]byte
	enumS   map[string][]byte
	pass    bool // enum others: pass
	// A small table is scanned instead of hashed (faster up to ~8 keys).
	smallExt [][]byte
	smallVal []value
	v4       bool // ConvFamily
	v6       bool
	fam      uint8    // ConvFamily on an ICMP field: 4 or 6, by protocol (1 or 58)
	miss     FieldSet // the field's bit when a value is not written (none for a derived one)
	konst    value
	konstB   []byte
	def      value
	hasDef   bool
}

func (o *op) setConv(c *Convert) {
	o.kind = c.Kind
	o.mul, o.div = 1, 1
	switch c.Kind {
	case ConvWiden, ConvNarrow:
		o.extMax = 1<<c.Bits - 1
		if c.Bits == 64 {
			o.extMax = ^uint64(0)
		}
	case ConvScale:
		o.mul, o.div = c.Mul, c.Div
	case ConvTime:
		o.unitNs = timeUnits[c.Unit]
		if c.Epoch == "ntp" {
			o.epochNs = ntpOffset * 1e9
		}
		o.format = map[string]byte{"integer": 'i', "decimal": 'd', "iso": 'z', "datetime": 't'}[c.Format]
		o.digits = int(c.Digits)
		o.round = c.Round
		o.zeroDur = c.Zero
	case ConvFamily:
		if o.acc != nil && o.acc.kind != KindAddr {
			o.fam = 4
			if c.Family == "ipv6" {
				o.fam = 6
			}
			break
		}
		o.v4, o.v6 = c.Family == "ipv4", c.Family == "ipv6"
	}
}

// Compile builds the plan for one direction: In reads external fields
// into a Record, Out writes them from one.
func Compile(f *File, dir Direction) (*Plan, error) {
	if dir != In && dir != Out {
		return nil, fmt.Errorf("mappings: compile %s: direction must be in or out", f.Name)
	}
	p := &Plan{Schema: f.Schema, Dialect: f.Dialect, Dir: dir, oneWay: f.OneWay}
	slots := map[string]int{}
	for _, r := range f.Rules {
		if r.Drop || (r.Dir != Both && r.Dir != dir) {
			continue
		}
		acc := accessors[r.Canonical]
		if acc == nil || (dir == In && acc.readOnly) {
			continue
		}
		p.rules = append(p.rules, r)
		o := op{rule: len(p.rules) - 1, acc: acc}
		if !acc.derived {
			o.miss.Add(acc.id)
		}
		o.setConv(&r.Convert)
		slot, ok := slots[r.External]
		if !ok {
			slot = len(p.columns)
			slots[r.External] = slot
			p.columns = append(p.columns, r.External)
		}
		o.slot = slot
		if err := o.prepare(&r); err != nil {
			return nil, err
		}
		p.ops = append(p.ops, o)
	}
	if dir == In {
		// protocol first: a port or ICMP field read for an ICMP flow sets
		// its type and code. duration sets Last from Start: last.
		rank := func(o *op) int {
			switch {
			case o.acc.name == "protocol":
				return 0
			case o.acc.kind == KindDur:
				return 2
			}
			return 1
		}
		sort.SliceStable(p.ops, func(i, j int) bool { return rank(&p.ops[i]) < rank(&p.ops[j]) })
	} else {
		covered := FieldSet{}
		for i := range p.ops {
			if p.ops[i].kind != ConvConstant {
				covered = covered.Union(p.ops[i].acc.writes)
			}
		}
		for _, n := range canonicalOrder() {
			a := accessors[n]
			if a.derived || covered.Has(a.id) {
				continue
			}
			p.unmapped = append(p.unmapped, a)
			p.unmappedHas |= a.group
			if !(p.oneWay && a.reverse) {
				p.declared.Add(a.id)
			}
		}
	}
	return p, nil
}

// OneWay reports whether the mapping's records are one-directional
// (oneway: true): a biflow's reverse counters have no place, and leaving
// them out is not declared lossy (see Declared).
func (p *Plan) OneWay() bool { return p.oneWay }

// Declared is the set of canonical fields an Out plan declares it does not
// carry: it has no rule for them (flowgate mapping check lists them as
// "not carried"), so a value of theirs left out is a declared loss,
// counted and not an error. Every other field EncodeUnwritten reports
// (a value a rule exists for but could not write: out of range, of the
// other address family, outside an enum table; a one-way mapping's
// reverse counters) is a loss the user has to accept (convert --lossy).
func (p *Plan) Declared() FieldSet { return p.declared }

func (o *op) prepare(r *Rule) error {
	c := &r.Convert
	lit := func(s string) (value, error) {
		var v value
		q := *o
		if q.kind == ConvEnum || q.kind == ConvConstant {
			q.kind = ConvNone
		}
		err := q.parse([]byte(s), &v)
		return v, err
	}
	switch c.Kind {
	case ConvEnum:
		o.enumIn = map[string]value{}
		o.pass = c.Pass
		if o.acc.kind == KindUint {
			o.enumU = map[uint64][]byte{}
		} else {
			o.enumS = map[string][]byte{}
		}
		for i, ext := range c.EnumExt {
			v, err := lit(c.EnumCan[i])
			if err != nil {
				return &ApplyError{Rule: r.Pos, External: r.External, Err: ErrValue}
			}
			o.enumIn[ext] = v
			if len(c.EnumExt) <= 8 {
				o.smallExt = append(o.smallExt, []byte(ext))
				o.smallVal = append(o.smallVal, v)
			}
			// The first external value listed for a canonical value is the
			// one written back.
			if o.enumU != nil {
				if _, dup := o.enumU[v.u]; !dup {
					o.enumU[v.u] = []byte(ext)
				}
			} else if _, dup := o.enumS[string(v.b)]; !dup {
				o.enumS[string(v.b)] = []byte(ext)
			}
		}
	case ConvConstant:
		v, err := lit(c.Constant)
		if err != nil {
			return &ApplyError{Rule: r.Pos, External: r.External, Err: ErrValue}
		}
		o.konst, o.konstB = v, []byte(c.Constant)
	}
	if r.HasDef {
		var err error
		o.def, err = lit(r.Default)
		if o.kind == ConvEnum { // a default is an external value
			if v, ok := o.enumIn[r.Default]; ok {
				o.def, err = v, nil
			}
		}
		if err != nil {
			return &ApplyError{Rule: r.Pos, External: r.External, Err: ErrValue}
		}
		o.hasDef = true
	}
	return nil
}

// Decode fills r from src. It sets every field it finds and returns the
// first value it could not convert (the others are still set).
func (p *Plan) Decode(src Source, r *flow.Record) error {
	var first error
	var v value // each kind reads only its own member: no reset per op
	for i := range p.ops {
		o := &p.ops[i]
		if o.kind == ConvConstant {
			v = o.konst
		} else {
			b, ok := src.Get(o.slot)
			if ok && len(b) == 0 && o.acc.kind != KindText {
				// No value: goflow2 writes "" for a next hop it has not
				// and for a protocol it has no name for.
				ok = false
			}
			if !ok {
				if !o.hasDef {
					continue
				}
				v = o.def
			} else if err := o.parse(b, &v); err != nil {
				if first == nil {
					first = p.applyErr(o, err)
				}
				continue
			}
		}
		if o.acc.kind == KindUint && o.acc.bits < 64 && v.u>>o.acc.bits != 0 {
			if first == nil {
				first = p.applyErr(o, ErrRange)
			}
			continue
		}
		if o.fam != 0 && !o.famMatch(r) {
			continue
		}
		if s := o.acc.setU; s != nil {
			s(r, v.u)
		} else {
			o.acc.set(r, v)
		}
	}
	return first
}

func (p *Plan) applyErr(o *op, err error) error {
	r := &p.rules[o.rule]
	return &ApplyError{Rule: r.Pos, External: r.External, Err: err}
}

// Encode writes r's fields to dst, formatting into scratch, and returns
// scratch for reuse (grown if needed: pass it back to stay allocation
// free). Fields the record lacks are not written. The error is the first
// value that could not be represented (others are still written).
func (p *Plan) Encode(r *flow.Record, dst Sink, scratch []byte) ([]byte, error) {
	buf, _, err := p.encode(r, dst, scratch, false)
	return buf, err
}

// EncodeUnwritten is Encode that also returns the canonical fields r
// carries whose values the plan did not write: fields it has no rule for
// (Declared), values a rule could not write (the error says why for the
// first), an address of a family no rule takes, a one-way plan's non-zero
// reverse counters. Derived fields (totals, duration) are never in it,
// and a field written through another (an ICMP flow's type as src_port,
// last_time as duration) counts as written. It does not allocate.
func (p *Plan) EncodeUnwritten(r *flow.Record, dst Sink, scratch []byte) ([]byte, FieldSet, error) {
	return p.encode(r, dst, scratch, true)
}

func (p *Plan) encode(r *flow.Record, dst Sink, scratch []byte, report bool) ([]byte, FieldSet, error) {
	var first error
	// missed: fields an op had a value for and did not write; written:
	// what the ops wrote (a field missed by one op may be written by
	// another: an address split by family). The unmapped fields are no
	// op's, so nothing written covers them.
	var missed, written FieldSet
	var v value
	buf := scratch[:0]
	for i := range p.ops {
		o := &p.ops[i]
		start := len(buf)
		if o.kind == ConvConstant {
			buf = append(buf, o.konstB...)
			dst.Put(o.slot, buf[start:])
			continue
		}
		var ok bool
		// format1 reads only the member of the accessor's kind
		if g := o.acc.getU; g != nil {
			v.u, ok = g(r)
		} else if g := o.acc.getA; g != nil {
			v.addr, ok = g(r)
		} else if g := o.acc.getB; g != nil {
			v.b, ok = g(r)
		} else {
			v, ok = o.acc.get(r)
		}
		if !ok {
			if !o.zeroDur || r.Has&flow.HasTime == 0 {
				continue
			}
			v.u = 0
		}
		if o.fam != 0 && !o.famMatch(r) {
			missed = missed.Union(o.miss)
			continue
		}
		var err error
		var skip bool
		buf, skip, err = o.format1(buf, &v)
		if err != nil {
			buf = buf[:start]
			if first == nil {
				first = p.applyErr(o, err)
			}
			missed = missed.Union(o.miss)
			continue
		}
		if skip {
			buf = buf[:start]
			missed = missed.Union(o.miss)
			continue
		}
		dst.Put(o.slot, buf[start:])
		written[0] |= o.acc.writes[0]
		written[1] |= o.acc.writes[1]
	}
	if !report {
		return buf, FieldSet{}, first
	}
	lost := missed.Minus(written)
	if r.Has&p.unmappedHas != 0 {
		for _, a := range p.unmapped {
			if r.Has&a.group == 0 {
				continue
			}
			var ok bool
			if a.getU != nil {
				v.u, ok = a.getU(r)
			} else {
				v, ok = a.get(r)
			}
			if ok && !(a.reverse && p.oneWay && v.u == 0) {
				lost.Add(a.id)
			}
		}
	}
	return buf, lost, first
}

// famMatch reports whether an ICMP field's family rule (icmpTypeIPv4 or
// icmpTypeIPv6) applies to r: protocol 1 is IPv4's, 58 IPv6's.
func (o *op) famMatch(r *flow.Record) bool {
	return (o.fam == 4) == (r.Key.Proto == 1)
}

// parse converts external text to a canonical value.
func (o *op) parse(b []byte, v *value) error {
	if o.kind == ConvEnum {
		if o.smallExt != nil {
			for i, k := range o.smallExt {
				if string(k) == string(b) {
					*v = o.smallVal[i]
					return nil
				}
			}
		} else if e, ok := o.enumIn[string(b)]; ok { // no allocation: map index by string(b)
			*v = e
			return nil
		}
		if !o.pass {
			return ErrValue
		}
	}
	switch o.acc.kind {
	case KindUint:
		u, ok := parseUint(b)
		if !ok && o.acc.name == "protocol" {
			// goflow2 writes "TCP", Zeek and ECS "tcp", nfdump "ICMP6".
			var n uint8
			n, ok = protocolNumber(b)
			u = uint64(n)
		}
		if !ok {
			return ErrValue
		}
		switch o.kind {
		case ConvWiden, ConvNarrow:
			if u > o.extMax {
				return ErrRange
			}
		case ConvScale:
			if o.mul != 1 {
				if u > ^uint64(0)/o.mul {
					return ErrRange
				}
				u *= o.mul
			} else {
				u /= o.div
			}
		}
		v.u = u
	case KindTime, KindDur:
		ns, ok := o.parseTime(b)
		if !ok {
			return ErrValue
		}
		v.u = uint64(ns)
	case KindAddr:
		if len(b) == 0 {
			return ErrValue
		}
		a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
		if err != nil {
			return ErrValue
		}
		if (o.v4 && !a.Is4()) || (o.v6 && !a.Is6()) {
			return ErrValue
		}
		v.addr = a
	case KindMAC:
		m, ok := parseMAC(b)
		if !ok {
			return ErrValue
		}
		v.mac = m
	case KindText:
		v.b = b
	case KindCountry:
		if len(b) != 2 {
			return ErrValue
		}
		v.b = b
	}
	return nil
}

// format1 appends the external text of v. skip is true when the rule does
// not apply to this value (an address of the other family).
func (o *op) format1(buf []byte, v *value) ([]byte, bool, error) {
	if o.kind == ConvEnum {
		var t []byte
		var ok bool
		if o.enumU != nil {
			t, ok = o.enumU[v.u]
		} else {
			t, ok = o.enumS[string(v.b)]
		}
		if ok {
			return append(buf, t...), false, nil
		}
		if !o.pass {
			return buf, false, ErrValue
		}
	}
	switch o.acc.kind {
	case KindUint:
		u := v.u
		switch o.kind {
		case ConvWiden, ConvNarrow:
			if u > o.extMax {
				return buf, false, ErrRange
			}
		case ConvScale:
			if o.mul != 1 {
				if u%o.mul != 0 {
					return buf, false, ErrLossy
				}
				u /= o.mul
			} else {
				if u > ^uint64(0)/o.div {
					return buf, false, ErrRange
				}
				u *= o.div
			}
		}
		return strconv.AppendUint(buf, u, 10), false, nil
	case KindTime, KindDur:
		return o.formatTime(buf, int64(v.u)), false, nil
	case KindAddr:
		if (o.v4 && !v.addr.Is4()) || (o.v6 && !v.addr.Is6()) {
			return buf, true, nil
		}
		return v.addr.AppendTo(buf), false, nil
	case KindMAC:
		const hx = "0123456789abcdef"
		for i, c := range v.mac {
			if i > 0 {
				buf = append(buf, ':')
			}
			buf = append(buf, hx[c>>4], hx[c&15])
		}
		return buf, false, nil
	}
	return append(buf, v.b...), false, nil
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (^uint64(0)-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

func parseMAC(b []byte) ([6]byte, bool) {
	var m [6]byte
	if len(b) != 17 {
		return m, false
	}
	for i := range 6 {
		hi, ok1 := unhex(b[i*3])
		lo, ok2 := unhex(b[i*3+1])
		if !ok1 || !ok2 || (i < 5 && b[i*3+2] != ':' && b[i*3+2] != '-') {
			return m, false
		}
		m[i] = hi<<4 | lo
	}
	return m, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseTime reads a time (or duration) in the op's unit, epoch and format
// and returns Unix ns (or ns).
func (o *op) parseTime(b []byte) (int64, bool) {
	unit := o.unitNs
	if o.kind != ConvTime {
		unit = 1 // canonical form: integer ns
	}
	if o.format == 'z' || o.format == 't' {
		return parseISO(b)
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	whole, frac := b, []byte(nil)
	for i, c := range b {
		if c == '.' {
			whole, frac = b[:i], b[i+1:]
			break
		}
	}
	w, ok := parseUint(whole)
	if !ok || w > uint64(1<<63-1)/uint64(unit) {
		return 0, false
	}
	ns := int64(w) * unit
	// The fraction is kept to the ns and rounded there: a JSON double such
	// as 0.09628199999999865 is Zeek's 0.096282.
	scale := unit
	for i, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		scale /= 10
		if scale == 0 {
			if c >= '5' {
				ns++
			}
			for _, c := range frac[i+1:] {
				if c < '0' || c > '9' {
					return 0, false
				}
			}
			break
		}
		ns += int64(c-'0') * scale
	}
	if neg {
		ns = -ns
	}
	return ns - o.epochNs, true
}

func (o *op) formatTime(buf []byte, ns int64) []byte {
	if o.kind != ConvTime {
		return strconv.AppendInt(buf, ns, 10)
	}
	ns += o.epochNs
	switch o.format {
	case 'z', 't':
		digits := 0
		switch o.unitNs {
		case 1e6:
			digits = 3
		case 1e3:
			digits = 6
		case 1:
			digits = 9
		}
		buf = appendISO(buf, ns, digits)
		if o.format == 'z' {
			buf = append(buf, 'Z')
		}
		return buf
	case 'd':
		// Truncated at the last digit written, as ra prints %T.%f times
		// (and an Argus record's µs, or a pcapng's ns, have more digits);
		// with round: true half up, as printf's %.6f (Zeek's ts) rounds.
		if ns < 0 {
			buf = append(buf, '-')
			ns = -ns
		}
		if o.unitNs == 1e9 && o.digits == 6 && !o.round {
			// ra's and Argus's own form: constant divisors.
			us := ns / 1e3
			buf = strconv.AppendInt(buf, us/1e6, 10)
			f := us % 1e6
			return append(buf, '.', byte('0'+f/1e5), byte('0'+f/1e4%10), byte('0'+f/1e3%10),
				byte('0'+f/100%10), byte('0'+f/10%10), byte('0'+f%10))
		}
		ed, step := 0, o.unitNs // digits the unit resolves; ns per last digit
		for ed < o.digits && step >= 10 {
			ed++
			step /= 10
		}
		n := ns / step
		if o.round {
			n = (ns + step/2) / step
		}
		pow := o.unitNs / step
		buf = strconv.AppendInt(buf, n/pow, 10)
		if o.digits > 0 {
			buf = append(buf, '.')
			frac := n % pow
			for d := pow / 10; d > 0; d /= 10 {
				buf = append(buf, byte('0'+frac/d%10))
			}
			for range o.digits - ed {
				buf = append(buf, '0')
			}
		}
		return buf
	}
	return strconv.AppendInt(buf, ns/o.unitNs, 10)
}

// appendISO appends Unix ns as 2006-01-02T15:04:05 in UTC with digits
// fraction digits (truncated), without time.Format (which costs a fifth
// of writing an ECS line). Days to a civil date: Howard Hinnant's
// days_from_civil inverse, valid for any int64 ns.
func appendISO(buf []byte, ns int64, digits int) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec--
		frac += 1e9
	}
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days--
		rem += 86400
	}
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	if y < 0 || y > 9999 {
		// Outside what four digits hold: time's own rendering.
		return time.Unix(sec, frac).UTC().AppendFormat(buf, "2006-01-02T15:04:05")
	}
	// Filled in a fixed array and appended once: one capacity check
	// instead of one per byte (this is ~10% of writing ECS).
	var t [30]byte
	two := func(i int, v int64) { t[i], t[i+1] = byte('0'+v/10), byte('0'+v%10) }
	two(0, y/100)
	two(2, y%100)
	t[4] = '-'
	two(5, m)
	t[7] = '-'
	two(8, d)
	t[10] = 'T'
	two(11, rem/3600)
	t[13] = ':'
	two(14, rem/60%60)
	t[16] = ':'
	two(17, rem%60)
	n := 19
	if digits > 9 {
		digits = 9
	}
	if digits > 0 {
		t[19] = '.'
		n = 20 + digits
		f := frac
		for k := 9; k > digits; k-- {
			f /= 10
		}
		for i := n - 1; i >= 20; i-- {
			t[i] = byte('0' + f%10)
			f /= 10
		}
	}
	return append(buf, t[:n]...)
}

// parseISO reads 2006-01-02T15:04:05[.frac][Z|±hh:mm] (a space may stand
// for the T; no zone means UTC).
func parseISO(b []byte) (int64, bool) {
	num := func(s []byte) (int, bool) {
		u, ok := parseUint(s)
		return int(u), ok
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	rest := b[19:]
	var frac int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := int64(1e9)
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			scale /= 10
			frac += int64(rest[i]-'0') * scale
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	off := 0
	switch {
	case len(rest) == 0, len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(rest[1:3])
		om, ok2 := num(rest[4:6])
		if !ok1 || !ok2 {
			return 0, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
	return (t.Unix()-int64(off))*1e9 + frac, true
}

// Column describes one slot of a plan for the codec that binds it.
type Column struct {
	Name      string  // external field
	Element   Element // ipfix, netflow9: the element (enterprise, id)
	Canonical string
	Kind      Kind
	// Number is true when every value written is a bare number (JSON
	// writes it unquoted): integers, integer and decimal times, without an
	// enum table.
	Number bool
	// Plain is true when every value written is printable ASCII without
	// '"' or '\\' (numbers, times, addresses, MACs, enum and constant
	// texts that are), so a text writer can quote it without scanning it.
	Plain bool
}

// plainText reports whether b is printable ASCII without '"' and '\\'.
func plainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// plain reports whether every value o writes is plainText.
func (o *op) plain() bool {
	switch o.kind {
	case ConvConstant:
		return plainText(o.konstB)
	case ConvEnum:
		if o.pass && o.acc.kind != KindUint {
			return false
		}
		for _, t := range o.enumU {
			if !plainText(t) {
				return false
			}
		}
		for _, t := range o.enumS {
			if !plainText(t) {
				return false
			}
		}
		return true
	}
	// Not KindAddr: an IPv6 zone read from text may hold any byte.
	switch o.acc.kind {
	case KindUint, KindTime, KindDur, KindMAC:
		return true
	}
	return false
}

// Column returns what slot holds. Several ops may share a slot (an address
// split by family); the first describes it.
func (p *Plan) Column(slot int) Column {
	var c Column
	found := false
	for i := range p.ops {
		o := &p.ops[i]
		if o.slot != slot {
			continue
		}
		// Number holds only if every op of the slot writes a number
		// (strconv digits, or an integer or decimal time): a JSON
		// writer then copies the text without checking it.
		num := false
		switch {
		case o.kind == ConvEnum || o.kind == ConvConstant:
		case o.acc.kind == KindUint:
			num = true
		case o.acc.kind == KindTime || o.acc.kind == KindDur:
			num = o.format != 'z' && o.format != 't'
		}
		pl := o.plain()
		if !found {
			r := &p.rules[o.rule]
			c = Column{Name: r.External, Element: r.Element, Canonical: r.Canonical, Kind: o.acc.kind, Number: num, Plain: pl}
			found = true
		}
		c.Number = c.Number && num
		c.Plain = c.Plain && pl
	}
	return c
}
