package nfcore

import (
	"github.com/flowgate/flowgate/flow"
)

// pendingSet is a data set held until its template comes, with the header
// context it needs to decode later.
type pendingSet struct {
	dom       uint32
	tid       uint16
	exportSec uint32
	sysUp     uint32
	seq       uint32
	at        int64 // arrival, Unix ns
	off, n    int   // bytes in pending.buf
	done      bool
}

// pending is an exporter's bounded buffer of early data sets: one byte
// arena (never larger than Config.PendingBytes) and the sets in arrival
// order.
type pending struct {
	buf  []byte
	sets []pendingSet
}

// hold keeps a data set whose template is unknown.
func (d *Decoder) hold(e *exporter, m *msgCtx, tid uint16, body []byte, off int) {
	lim := d.cfg.PendingBytes
	if lim > 0 && len(e.pending.buf)+len(body) > lim {
		d.expirePending(e)
	}
	if lim <= 0 || len(e.pending.buf)+len(body) > lim || len(e.pending.sets) >= 4096 {
		d.stats.PendingDropped++
		d.fail(ReasonPendingFull, m, "set", int(tid), off, tid)
		return
	}
	at := len(e.pending.buf)
	e.pending.buf = append(e.pending.buf, body...)
	e.pending.sets = append(e.pending.sets, pendingSet{
		dom: m.domain, tid: tid, exportSec: m.exportSec, sysUp: m.sysUp, seq: m.seq,
		at: d.now, off: at, n: len(body),
	})
	d.stats.PendingSets++
}

// expirePending drops held sets older than the pending timeout.
func (d *Decoder) expirePending(e *exporter) {
	to := int64(d.cfg.PendingTimeout)
	n := 0
	for i := range e.pending.sets {
		if d.now-e.pending.sets[i].at > to {
			e.pending.sets[i].done = true
			n++
		}
	}
	if n > 0 {
		d.stats.PendingExpired += uint64(n)
		e.pending.compact()
	}
}

// compact removes done sets, moving the kept bytes to the front.
func (p *pending) compact() {
	w, off := 0, 0
	for _, s := range p.sets {
		if s.done {
			continue
		}
		copy(p.buf[off:], p.buf[s.off:s.off+s.n])
		s.off = off
		off += s.n
		p.sets[w] = s
		w++
	}
	p.sets = p.sets[:w]
	p.buf = p.buf[:off]
	if w == 0 && cap(p.buf) > 64<<10 {
		p.buf, p.sets = nil, nil // give a burst's memory back
	}
}

// drainPending decodes the held sets whose template is now known, in
// arrival order, appending their records to dst.
func (d *Decoder) drainPending(e *exporter, dst []flow.Record) []flow.Record {
	found := false
	for i := range e.pending.sets {
		ps := &e.pending.sets[i]
		s := e.doms[ps.dom]
		if s == nil {
			continue
		}
		t := d.lookup(e, s, ps.tid)
		if t == nil {
			continue
		}
		m := msgCtx{ver: d.ver, src: d.src, from: e.addr, exportSec: ps.exportSec, sysUp: ps.sysUp,
			seq: ps.seq, domain: ps.dom, dom: s, renorm: d.cfg.Renormalise, stats: &d.stats,
			defRate: d.cfg.DefaultSamplingRate, forceRate: d.cfg.ForceSamplingRate, recLimit: d.recLimit}
		var k int
		n := len(dst)
		dst, k, _ = d.dataSet(e, s, &m, ps.tid, nil, e.pending.buf[ps.off:ps.off+ps.n], 0, dst)
		for i := n; i < len(dst); i++ {
			// The arena is reused: late records get their own copies
			// (a rare path; the data path allocates nothing).
			dst[i].Detach()
		}
		ps.done = true
		found = true
		d.stats.PendingDecoded++
		d.stats.PendingRecords += uint64(k)
	}
	if found {
		e.pending.compact()
	}
	return dst
}

// seqState tracks one domain's sequence numbers.
type seqState struct {
	valid    bool
	next     uint32
	prevRecs uint32
	// unit says what the exporter counts when it differs from its
	// version's rule: 1 packets (an IPFIX exporter counting messages), 2
	// records (a v9 exporter counting records).
	unit uint8
	// Per domain: what Stats adds up over all.
	lost, quirks uint64
}

// sequence checks a message's sequence number against the expected one
// and sets the next expectation. v9 counts export packets (RFC 3954 §5.1);
// IPFIX counts data records sent before this message (RFC 7011 §3.1). A
// forward gap is loss; a gap that equals what the other counting rule
// gives switches the domain to that rule (a quirk, not loss); a step
// back is reordering; a far jump is a reset.
func (d *Decoder) sequence(s *domainState, m *msgCtx, recs int, held bool) {
	q := &s.seq
	byRecords := (m.ver == IPFIX) != (q.unit != 0)
	if q.valid && m.seq != q.next {
		diff := int32(m.seq - q.next)
		switch {
		case diff > 0 && uint32(diff) <= d.cfg.SeqMaxGap:
			// Would the other counting rule have predicted this number?
			prev := q.next - 1
			other := prev + q.prevRecs
			if byRecords {
				other = q.next - q.prevRecs + 1
			}
			if q.prevRecs != 1 && m.seq == other && q.unit == 0 {
				q.unit = 1
				byRecords = !byRecords
				d.stats.SeqQuirks++
				q.quirks++
			} else {
				d.stats.SeqLost += uint64(diff)
				q.lost += uint64(diff)
			}
		case diff < 0 && uint32(-diff) <= 1024:
			d.stats.SeqQuirks++
			d.stats.SeqReordered++
			q.quirks++
			return // keep expecting the same next number
		default:
			d.stats.SeqQuirks++
			d.stats.SeqResets++
			q.quirks++
		}
	}
	if byRecords {
		q.next = m.seq + uint32(recs)
	} else {
		q.next = m.seq + 1
	}
	q.prevRecs = uint32(recs)
	// Records of held sets are unknown yet: IPFIX cannot predict the next
	// number, so the next message starts over.
	q.valid = !(held && byRecords)
}

// sampler is one sampler's rate; hasID false is the exporter's default
// (options records scoped by something other than a sampler id).
type sampler struct {
	id    uint64
	hasID bool
	rate  uint32
}

const maxSamplers = 256

func (s *domainState) setSampler(id uint64, hasID bool, rate uint64) {
	if rate > 1<<31 {
		return
	}
	for i := range s.samplers {
		if x := &s.samplers[i]; x.hasID == hasID && x.id == id {
			x.rate = uint32(rate)
			return
		}
	}
	if len(s.samplers) < maxSamplers {
		s.samplers = append(s.samplers, sampler{id: id, hasID: hasID, rate: uint32(rate)})
	}
}

// samplingRate returns the rate of a record's sampler: by id when the
// record names one (else the exporter's default: a record's sampler id is
// never matched to another sampler, akvorado#997); without an id, the
// default, else the only sampler there is.
func (s *domainState) samplingRate(id uint64, hasID bool) uint32 {
	var def uint32
	for i := range s.samplers {
		x := &s.samplers[i]
		if hasID && x.hasID && x.id == id {
			return x.rate
		}
		if !x.hasID {
			def = x.rate
		}
	}
	if def == 0 && !hasID && len(s.samplers) == 1 {
		def = s.samplers[0].rate
	}
	return def
}
