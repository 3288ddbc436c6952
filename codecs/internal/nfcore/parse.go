package nfcore

import (
	"net/netip"
	"strconv"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// Header lengths.
const (
	V9HeaderLen    = 20
	IPFIXHeaderLen = 16
)

// DecodePacket decodes one export message (one UDP payload) from an
// exporter and appends its flow records to dst.
//
// Sets are independent: a bad set is rejected (counted in
// Stats.Rejected, the first one returned as a *codecs.DecodeError naming
// exporter, domain, template and byte offset) and the good sets around it
// still decode, so dst holds their records even when err is not nil. Data
// sets whose template has not been seen are held (bounded per exporter);
// when a later message brings the template, DecodePacket of that message
// appends the held sets' records after its own. Records alias b (Extra
// values) until Detach.
func (d *Decoder) DecodePacket(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.cfg.Now().UnixNano()
	d.firstErr = nil
	d.newTpl = false
	d.stats.Packets++
	m := msgCtx{ver: d.ver, src: d.src, from: from, renorm: d.cfg.Renormalise, stats: &d.stats,
		defRate: d.cfg.DefaultSamplingRate, forceRate: d.cfg.ForceSamplingRate}
	d.recLimit = len(dst) + d.cfg.MaxRecords
	m.recLimit = d.recLimit
	dst = d.decode(b, &m, dst)
	d.sweep()
	if d.firstErr != nil {
		return dst, d.firstErr
	}
	return dst, nil
}

func (d *Decoder) decode(b []byte, m *msgCtx, dst []flow.Record) []flow.Record {
	hdr, end := IPFIXHeaderLen, len(b)
	if d.ver == V9 {
		hdr = V9HeaderLen
	}
	if len(b) < hdr {
		d.fail(ReasonShortHeader, m, "header", 0, 0, 0)
		return dst
	}
	if Version(be.Uint16(b)) != d.ver {
		d.fail(ReasonVersion, m, "header", 0, 0, 0)
		return dst
	}
	if d.ver == V9 {
		m.sysUp = be.Uint32(b[4:])
		m.exportSec = be.Uint32(b[8:])
		m.seq = be.Uint32(b[12:])
		m.domain = be.Uint32(b[16:])
	} else {
		m.exportSec = be.Uint32(b[4:])
		m.seq = be.Uint32(b[8:])
		m.domain = be.Uint32(b[12:])
		n := int(be.Uint16(b[2:]))
		if n < hdr || n > len(b) {
			d.fail(ReasonMessageLength, m, "header", 0, 0, 0)
			return dst
		}
		end = n
	}
	e := d.exporter(m.from)
	if e == nil {
		d.fail(ReasonExporterLimit, m, "header", 0, 0, 0)
		return dst
	}
	s := d.domain(e, m.domain)
	if s == nil {
		d.fail(ReasonExporterLimit, m, "header", 0, 0, 0)
		return dst
	}
	m.dom = s
	if len(e.pending.sets) > 0 && d.now-e.pending.sets[0].at > int64(d.cfg.PendingTimeout) {
		d.expirePending(e)
	}
	var recs int
	held := false
	p := hdr
	for p+4 <= end {
		id := be.Uint16(b[p:])
		n := int(be.Uint16(b[p+2:]))
		if n < 4 || p+n > end {
			if d.ver == V9 && allZero(b[p:end]) {
				p = end // zero-filled tail (Palo Alto pads datagrams)
				break
			}
			d.fail(ReasonSetLength, m, "set", int(id), p, 0)
			p = end // the framing is lost: nothing after can be trusted
			break
		}
		body := b[p+4 : p+n]
		switch {
		case d.ver == V9 && id == 0:
			d.templates(e, s, m, body, p+4, false)
		case d.ver == V9 && id == 1:
			d.v9OptionsTemplates(e, s, m, body, p+4)
		case d.ver == IPFIX && id == 2:
			d.templates(e, s, m, body, p+4, false)
		case d.ver == IPFIX && id == 3:
			d.templates(e, s, m, body, p+4, true)
		case id < 256:
			d.fail(ReasonSetID, m, "set", int(id), p, 0)
		default:
			// Data sets wait for the end of the message, with the
			// template they had when they came (immutable, so a later
			// redefinition in the message does not change them), so that
			// options data anywhere in the message applies to every flow
			// record of it (akvorado#89), and a template later in the
			// same message serves the sets before it. Options data is
			// read at once.
			t := d.lookup(e, s, id)
			if t != nil && t.Options {
				t.used = d.now
				d.optionsData(s, t, m, body, p+4)
			} else {
				d.sets = append(d.sets, setRef{id: id, off: p, n: n, t: t})
			}
		}
		p += n
	}
	if p < end && !allZero(b[p:end]) {
		d.fail(ReasonSetLength, m, "trailer", 0, p, 0)
	}
	for i := range d.sets {
		r := &d.sets[i]
		if r.t != nil {
			continue
		}
		if t := d.lookup(e, s, r.id); t != nil && t.Options {
			t.used = d.now
			d.optionsData(s, t, m, b[r.off+4:r.off+r.n], r.off+4)
			r.done = true
		}
	}
	for i := range d.sets {
		r := &d.sets[i]
		if r.done {
			continue
		}
		var k int
		var h bool
		dst, k, h = d.dataSet(e, s, m, r.id, r.t, b[r.off+4:r.off+r.n], r.off+4, dst)
		recs += k
		held = held || h
	}
	d.sets = d.sets[:0]
	d.sequence(s, m, recs, held)
	if d.newTpl && len(e.pending.sets) > 0 {
		dst = d.drainPending(e, dst)
	}
	return dst
}

// padding reports whether the bytes left in a set after its last record
// are padding: fewer than 4 (Mikrotik pads with non-zero bytes), or zeros.
// Anything else means the records do not fit their template: a template
// that changed length without being re-sent, or a cut record.
func padding(b []byte) bool { return len(b) < 4 || allZero(b) }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fail records a rejection: counts it and keeps the message's first error.
// part and num name the part ("set" 256); off is its offset in the message.
func (d *Decoder) fail(r Reason, m *msgCtx, part string, num, off int, tid uint16) {
	d.stats.Rejected[r]++
	if d.firstErr != nil {
		return
	}
	if num != 0 || part == "set" {
		part += " " + strconv.Itoa(num)
	}
	exp := m.from
	if !exp.IsValid() {
		// DecodeError prints the context only for a valid exporter.
		exp = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	d.firstErr = &codecs.DecodeError{
		Format:   d.ver.format(),
		Part:     part,
		PartOff:  int64(off),
		Exporter: exp,
		Domain:   m.domain,
		Template: tid,
		Err:      r.Err(),
	}
}

// templates reads a template set (v9 flowset 0, IPFIX set 2 or 3).
func (d *Decoder) templates(e *exporter, s *domainState, m *msgCtx, body []byte, off int, options bool) {
	p := 0
	for len(body)-p >= 4 && !allZero(body[p:]) { // zeros: padding
		at := off + p
		tid := be.Uint16(body[p:])
		cnt := int(be.Uint16(body[p+2:]))
		p += 4
		if cnt == 0 {
			if d.ver == IPFIX {
				d.withdraw(e, s, m, tid, options, at)
				continue
			}
			d.fail(ReasonZeroLength, m, "template", int(tid), at, tid)
			continue
		}
		scope := 0
		if options {
			if len(body)-p < 2 {
				d.fail(ReasonTemplateTrunc, m, "template", int(tid), at, tid)
				return
			}
			scope = int(be.Uint16(body[p:]))
			p += 2
		}
		f := d.scratch[:0]
		for range cnt {
			if len(body)-p < 4 {
				d.fail(ReasonTemplateTrunc, m, "template", int(tid), at, tid)
				return
			}
			fs := FieldSpec{ID: be.Uint16(body[p:]), Len: be.Uint16(body[p+2:])}
			p += 4
			if d.ver == IPFIX && fs.ID&0x8000 != 0 {
				if len(body)-p < 4 {
					d.fail(ReasonTemplateTrunc, m, "template", int(tid), at, tid)
					return
				}
				fs.ID &= 0x7FFF
				fs.PEN = be.Uint32(body[p:])
				p += 4
			}
			f = append(f, fs)
		}
		d.scratch = f
		d.defineTemplate(e, s, m, tid, f, scope, options, at)
	}
}

// v9OptionsTemplates reads a NetFlow v9 options template flowset (id 1):
// template id, scope length and options length in bytes, then the fields
// (RFC 3954 §6.1), padded to 4 bytes at the end of the flowset.
func (d *Decoder) v9OptionsTemplates(e *exporter, s *domainState, m *msgCtx, body []byte, off int) {
	p := 0
	for len(body)-p >= 6 && !allZero(body[p:]) {
		at := off + p
		tid := be.Uint16(body[p:])
		sl := int(be.Uint16(body[p+2:]))
		ol := int(be.Uint16(body[p+4:]))
		p += 6
		if sl%4 != 0 || ol%4 != 0 {
			d.fail(ReasonScope, m, "template", int(tid), at, tid)
			return
		}
		if len(body)-p < sl+ol {
			d.fail(ReasonTemplateTrunc, m, "template", int(tid), at, tid)
			return
		}
		f := d.scratch[:0]
		for i := 0; i < sl+ol; i += 4 {
			f = append(f, FieldSpec{ID: be.Uint16(body[p+i:]), Len: be.Uint16(body[p+i+2:])})
		}
		p += sl + ol
		d.scratch = f
		d.defineTemplate(e, s, m, tid, f, sl/4, true, at)
	}
}

// defineTemplate checks a parsed template and stores it.
func (d *Decoder) defineTemplate(e *exporter, s *domainState, m *msgCtx, tid uint16, f []FieldSpec, scope int, options bool, at int) {
	if tid < 256 {
		d.fail(ReasonTemplateID, m, "template", int(tid), at, tid)
		return
	}
	if scope > len(f) || (d.ver == IPFIX && options && scope == 0) {
		d.fail(ReasonScope, m, "template", int(tid), at, tid)
		return
	}
	n := 0
	for _, x := range f {
		if x.Len == VarLen {
			n++
		} else {
			n += int(x.Len)
		}
	}
	if n == 0 {
		// A record of no bytes would make a data set an endless run of
		// records.
		d.fail(ReasonZeroLength, m, "template", int(tid), at, tid)
		return
	}
	if old := s.tpls[tid]; old != nil && old.Scope == scope && old.Options == options && equalSpecs(old.Fields, f) {
		old.created = d.now // re-sent unchanged: keep the compiled one
		d.countTemplate(old)
		return
	}
	t := &Template{ID: tid, Domain: m.domain, Scope: scope, Options: options, Fields: append([]FieldSpec(nil), f...)}
	d.addTemplate(e, s, t, m, at)
}

func equalSpecs(a, b []FieldSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// withdraw handles an IPFIX template withdrawal (RFC 7011 §8.1): a
// template record with no fields; id 2 in a template set (3 in an options
// template set) withdraws all templates (all options templates).
func (d *Decoder) withdraw(e *exporter, s *domainState, m *msgCtx, tid uint16, options bool, at int) {
	all := (tid == 2 && !options) || (tid == 3 && options)
	if !all {
		if tid < 256 {
			d.fail(ReasonTemplateID, m, "template", int(tid), at, tid)
			return
		}
		if s.tpls[tid] != nil {
			d.dropTemplate(e, s, tid)
			d.stats.TemplatesWithdrawn++
		}
		return
	}
	for id, t := range s.tpls {
		if t.Options == options {
			d.dropTemplate(e, s, id)
			d.stats.TemplatesWithdrawn++
		}
	}
}

// setRef is a data set of the message being decoded.
type setRef struct {
	id     uint16
	off, n int
	t      *Template // its template when it came, if known then
	done   bool
}

// dataSet decodes a data set with t (or the current template when t is
// nil), or holds it when its template is unknown.
// It returns the records added and whether the set was held.
func (d *Decoder) dataSet(e *exporter, s *domainState, m *msgCtx, tid uint16, t *Template, body []byte, off int, dst []flow.Record) ([]flow.Record, int, bool) {
	if t == nil {
		t = d.lookup(e, s, tid)
	}
	if t == nil {
		d.hold(e, m, tid, body, off-4)
		return dst, 0, true
	}
	t.used = d.now
	if t.Options {
		d.optionsData(s, t, m, body, off)
		return dst, 0, false
	}
	start := len(dst)
	p := 0
	for len(body)-p >= t.minLen {
		if len(body)-p < 4 {
			break // padding
		}
		if len(dst) >= m.recLimit {
			d.fail(ReasonTooManyRecords, m, "set", int(tid), off+p, tid)
			break
		}
		var r *flow.Record
		dst, r = nextSlot(dst)
		n := decodeRecord(t, body[p:], m, r)
		if n < 0 {
			d.fail(ReasonFieldPastEnd, m, "set", int(tid), off+p, tid)
			return dst[:start], 0, false
		}
		p += n
	}
	if len(dst) < m.recLimit && !padding(body[p:]) {
		d.fail(ReasonTemplateMismatch, m, "set", int(tid), off+p, tid)
		return dst[:start], 0, false
	}
	k := len(dst) - start
	d.stats.Records += uint64(k)
	return dst, k, false
}

// optionsData reads options records: sampling parameters per sampler and
// the exporter's system init time. They make no flow records.
func (d *Decoder) optionsData(s *domainState, t *Template, m *msgCtx, body []byte, off int) {
	p := 0
	for len(body)-p >= t.minLen {
		if len(body)-p < 4 {
			break
		}
		var sid, rate, interval, space uint64
		hasSid := false
		q := p
		for i := range t.ops {
			o := &t.ops[i]
			v, ok := fieldValue(o, body, &q)
			if !ok {
				d.fail(ReasonFieldPastEnd, m, "set", int(t.ID), off+p, t.ID)
				return
			}
			if i < t.Scope && m.ver == V9 {
				continue
			}
			switch o.op {
			case OpSamplerID:
				sid, hasSid = uintN(v), true
			case OpSamplingInterval, OpSamplerRandom:
				rate = uintN(v)
			case OpPacketInterval:
				interval = uintN(v)
			case OpPacketSpace:
				space = uintN(v)
			case OpSysInit:
				s.sysInit, s.hasSysInit = int64(uintN(v)), true
			}
		}
		p = q
		if rate == 0 && interval != 0 {
			rate = (interval + space) / interval
		}
		if rate != 0 {
			s.setSampler(sid, hasSid, rate)
		}
		d.stats.OptionsRecords++
	}
	if !padding(body[p:]) {
		d.fail(ReasonTemplateMismatch, m, "set", int(t.ID), off+p, t.ID)
	}
}

// fieldValue reads the value of o at *p in b.
func fieldValue(o *fieldOp, b []byte, p *int) ([]byte, bool) {
	q := *p
	n := int(o.len)
	if o.vlen {
		if q >= len(b) {
			return nil, false
		}
		n = int(b[q])
		q++
		if n == 255 {
			if q+2 > len(b) {
				return nil, false
			}
			n = int(be.Uint16(b[q:]))
			q += 2
		}
	}
	if q+n > len(b) {
		return nil, false
	}
	*p = q + n
	return b[q : q+n : q+n], true
}
