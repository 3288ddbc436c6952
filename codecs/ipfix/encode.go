package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore"
	"github.com/flowgate/flowgate/flow"
)

// Encoder defaults.
const (
	DefaultMTU = 1400 // message size limit: fits a 1500-byte link with IP/UDP headers
	// Templates are re-sent to each domain every DefaultRefreshPackets
	// messages or DefaultRefresh, whichever comes first (RFC 7011 §8.4:
	// over UDP templates must be re-sent periodically).
	DefaultRefreshPackets = 20
	DefaultRefresh        = time.Minute
	headerLen             = 16
	setHeaderLen          = 4
)

var be = binary.BigEndian

// maxDomains bounds the observation domains an Encoder keeps state for.
const maxDomains = 1 << 16

// ntpEraEnd is the end of NTP era 0 in Unix ns (2036-02-07T06:28:16Z).
const ntpEraEnd = (1<<32 - 2208988800) * int64(1e9)

// EncoderOption configures an Encoder.
type EncoderOption func(*encConfig)

type encConfig struct {
	mtu       int
	every     time.Duration
	packets   uint64
	domain    uint32
	setDomain bool
	now       func() time.Time
	nano      bool
	milli     bool
	lossy     bool
	mapping   *Mapping
	maxTpl    int
}

// WithMTU sets the largest message (default DefaultMTU, at least 256, at
// most 65507: a UDP payload over IPv4, and the header's 16-bit length).
func WithMTU(n int) EncoderOption { return func(c *encConfig) { c.mtu = min(max(n, 256), 65507) } }

// WithTemplateRefresh re-sends templates every d and every n messages per
// domain, whichever comes first (0 turns that trigger off; both 0: sent
// once, as on a TCP session).
func WithTemplateRefresh(d time.Duration, n int) EncoderOption {
	return func(c *encConfig) { c.every, c.packets = d, uint64(max(n, 0)) }
}

// WithDomain sends every record in observation domain d; by default a
// record keeps its own ObsDomain (0 without HasExporter).
func WithDomain(d uint32) EncoderOption {
	return func(c *encConfig) { c.domain, c.setDomain = d, true }
}

// DefaultEncoderTemplates bounds the templates an Encoder keeps.
const DefaultEncoderTemplates = 4096

// WithEncoderTemplateLimit bounds the distinct templates (default
// DefaultEncoderTemplates, at least 2, at most 65280): past it the least recently used
// template id is redefined, so a stream of ever-new field lists cannot
// grow the encoder without bound. A collector that keeps the first
// definition of an id (tshark 4.0's dissector does) then misreads; the
// default is far above the shapes real records take.
func WithEncoderTemplateLimit(n int) EncoderOption {
	return func(c *encConfig) { c.maxTpl = min(max(n, 2), 0x10000-nfcore.FirstTemplateID) }
}

// WithEncoderClock sets the clock for export times and refreshes.
func WithEncoderClock(now func() time.Time) EncoderOption { return func(c *encConfig) { c.now = now } }

// WithNanoseconds writes flow times as flowStartNanoseconds and
// flowEndNanoseconds (156/157) always; by default they are milliseconds
// (152/153) unless a record's times have a finer part.
func WithNanoseconds() EncoderOption { return func(c *encConfig) { c.nano = true } }

// WithMilliseconds writes flow times as flowStart/EndMilliseconds
// (152/153) always, as most exporters do: Debian's nfdump 1.7.1 prints
// the NTP-format micro- and nanosecond elements as 1970. A sub-millisecond
// part is then dropped and counted (EncoderStats.SubMs).
func WithMilliseconds() EncoderOption { return func(c *encConfig) { c.milli = true } }

// WithLossyEncode drops (and counts) Extra elements IPFIX cannot carry (a
// NetFlow v9 vendor type >= 32768) instead of refusing the record.
func WithLossyEncode() EncoderOption { return func(c *encConfig) { c.lossy = true } }

// EncoderStats counts what an Encoder did.
type EncoderStats struct {
	Records   uint64 // flow records encoded (data records)
	Messages  uint64 // messages made
	Templates uint64 // template records sent (first sends and refreshes)
	Refused   uint64 // records refused with a NotRepresentableError
	Skipped   uint64 // management records skipped
	Redefined uint64 // template ids given a new field list (WithEncoderTemplateLimit)
	// Dropped counts values left out: Extra elements IPFIX cannot carry
	// (WithLossyEncode), and records whose reverse TOS, VLAN or TCP flags
	// went without reverse counts (nfcore writes RFC 5103 elements for
	// biflows only) or whose ICMP type went without a flow key.
	Dropped uint64
	// Unmapped counts values a user mapping's rule could not write
	// exactly (a scale that does not divide, a value wider than its
	// element): written as near as the element allows.
	Unmapped uint64
	// SubMs counts records whose times lost a sub-millisecond part
	// (WithMilliseconds).
	SubMs uint64
}

type domain struct {
	seq  uint32 // data records sent before the next message (RFC 7011 §3.1)
	msgs uint64 // messages sent
	sent nfcore.TemplateSends
}

// msg is a message being built at buf[base:].
type msg struct {
	buf    []byte
	base   int
	dom    uint32
	d      *domain
	recs   uint32
	setOff int // offset of the open data set's header, -1 none
	setTpl int // its template index
	now    int64
}

// Encoder writes IPFIX messages (RFC 7011), one Write per message, for a
// UDP exporter: templates are built from what each record carries (one
// template id per distinct element list), sent before their first data
// record in each observation domain, and re-sent periodically; messages
// fill up to the MTU. It is not safe for concurrent use.
type Encoder struct {
	w      io.Writer
	c      encConfig
	opts   nfcore.EncOptions
	optsNs nfcore.EncOptions
	tpls   nfcore.EncTemplates
	doms   map[uint32]*domain
	fields []nfcore.EncField
	cur    msg
	stats  EncoderStats
	err    error
}

var _ codecs.Encoder = (*Encoder)(nil)

// NewEncoder returns an Encoder writing messages to w.
func NewEncoder(w io.Writer, opts ...EncoderOption) *Encoder {
	c := encConfig{mtu: DefaultMTU, every: DefaultRefresh, packets: DefaultRefreshPackets, now: time.Now,
		maxTpl: DefaultEncoderTemplates}
	for _, o := range opts {
		o(&c)
	}
	e := &Encoder{w: w, c: c, tpls: nfcore.EncTemplates{Max: c.maxTpl}, doms: map[uint32]*domain{},
		opts:   nfcore.EncOptions{Version: nfcore.IPFIX, Nanoseconds: c.nano},
		optsNs: nfcore.EncOptions{Version: nfcore.IPFIX, Nanoseconds: true}}
	e.opts.Map, e.optsNs.Map = c.mapping, c.mapping
	e.cur = msg{buf: make([]byte, 0, c.mtu), setOff: -1}
	return e
}

// Stats returns the counts so far.
func (e *Encoder) Stats() EncoderStats {
	st := e.stats
	st.Redefined = e.tpls.Redefined
	st.Unmapped = e.opts.RuleErrors
	return st
}

func notRep(field, reason string) error {
	return &codecs.NotRepresentableError{Format: "ipfix", Field: field, Reason: reason}
}

// check refuses what IPFIX cannot carry.
func (e *Encoder) check(r *flow.Record) error {
	if r.Has&flow.HasKey != 0 {
		k := &r.Key
		// A missing address goes as zeros (a key of protocol and ports:
		// Cisco AVC sends the addresses in enterprise elements); two of
		// different families have no template.
		s, d := k.Src.Unmap(), k.Dst.Unmap()
		if k.Kind != flow.Kind5Tuple || s.IsValid() && d.IsValid() && s.Is4() != d.Is4() {
			return notRep("saddr", "only IPv4 and IPv6 5-tuple keys are encoded")
		}
	}
	if r.Has&flow.HasTime != 0 {
		if r.Start < 0 || r.Last < 0 {
			return notRep("stime", "before 1970")
		}
		// NTP timestamps (flowStart/EndNanoseconds) end with era 0.
		if (e.c.nano || !e.c.milli && (r.Start%1e6 != 0 || r.Last%1e6 != 0)) && max(r.Start, r.Last) >= ntpEraEnd {
			return notRep("stime", "a nanosecond time after 2036-02-07 (NTP era 0)")
		}
	}
	for i := range r.Extra {
		x := &r.Extra[i]
		if x.Source != flow.SourceIPFIX && x.Source != flow.SourceNetFlow9 {
			continue
		}
		if x.ID >= 0x8000 || len(x.Value) >= nfcore.VarLen {
			if !e.c.lossy {
				return notRep(fmt.Sprintf("element %d/%d", x.Enterprise, x.ID), "no IPFIX element id or too long")
			}
			e.stats.Dropped++
		}
	}
	if r.Pkts[flow.Dst] == 0 && r.Bytes[flow.Dst] == 0 && nfcore.RevOnly(r) ||
		r.Has&(flow.HasKey|flow.HasICMPKey) == flow.HasICMPKey {
		// nfcore sends reverse elements with reverse counts only (a
		// reverse TOS, VLAN or flags of a flow with none is left out),
		// and ICMP type and code with a key only.
		e.stats.Dropped++
	}
	return nil
}

func (e *Encoder) domainOf(r *flow.Record) uint32 {
	if e.c.setDomain {
		return e.c.domain
	}
	if r.Has&flow.HasExporter != 0 {
		return r.ObsDomain
	}
	return 0
}

func (e *Encoder) domain(id uint32) *domain {
	d := e.doms[id]
	if d == nil {
		d = &domain{}
		e.doms[id] = d
	}
	return d
}

// needTemplate says whether template ti must go into message m.
func (e *Encoder) needTemplate(m *msg, ti int) bool {
	return m.d.sent.Need(&e.tpls, ti, m.d.msgs, m.now, e.c.packets, e.c.every)
}

func (m *msg) open(e *Encoder, dst []byte, dom uint32) {
	m.buf, m.base, m.dom, m.d, m.recs, m.setOff = dst, len(dst), dom, e.domain(dom), 0, -1
	m.now = e.c.now().UnixNano()
	m.buf = append(m.buf, make([]byte, headerLen)...)
}

func (m *msg) empty() bool { return m.d == nil || len(m.buf)-m.base == headerLen }

func (m *msg) closeSet() {
	if m.setOff >= 0 {
		be.PutUint16(m.buf[m.setOff+2:], uint16(len(m.buf)-m.setOff))
		m.setOff = -1
	}
}

// finish writes the header and advances the domain's counters.
func (e *Encoder) finish(m *msg) []byte {
	m.closeSet()
	h := m.buf[m.base:]
	be.PutUint16(h[0:], 10)
	be.PutUint16(h[2:], uint16(len(h)))
	be.PutUint32(h[4:], uint32(e.c.now().Unix()))
	be.PutUint32(h[8:], m.d.seq)
	be.PutUint32(h[12:], m.dom)
	m.d.seq += m.recs
	m.d.msgs++
	e.stats.Messages++
	b := m.buf
	m.d = nil
	return b
}

// add puts r into m. It returns false, changing nothing, when r does not
// fit in m's room (the caller finishes m and retries in a new one).
func (e *Encoder) add(m *msg, r *flow.Record, ti int) bool {
	id, fields := e.tpls.ID(ti), e.tpls.Fields(ti)
	need := nfcore.DataLen(fields, r, &e.opts)
	tpl := e.needTemplate(m, ti)
	if tpl {
		need += setHeaderLen + nfcore.TemplateLen(nfcore.IPFIX, fields)
	}
	if tpl || m.setOff < 0 || m.setTpl != ti {
		need += setHeaderLen
	}
	if len(m.buf)-m.base+need > e.c.mtu {
		return false
	}
	if tpl {
		m.closeSet()
		off := len(m.buf)
		m.buf = be.AppendUint16(m.buf, 2)
		m.buf = be.AppendUint16(m.buf, 0)
		m.buf = nfcore.AppendTemplate(m.buf, nfcore.IPFIX, id, fields)
		be.PutUint16(m.buf[off+2:], uint16(len(m.buf)-off))
		m.d.sent.Sent(&e.tpls, ti, m.d.msgs, m.now)
		e.stats.Templates++
	}
	if m.setOff < 0 || m.setTpl != ti {
		m.closeSet()
		m.setOff, m.setTpl = len(m.buf), ti
		m.buf = be.AppendUint16(m.buf, id)
		m.buf = be.AppendUint16(m.buf, 0)
	}
	m.buf = nfcore.AppendRecord(m.buf, fields, r, &e.opts)
	m.recs++
	e.stats.Records++
	return true
}

// prepare checks r and finds its template: ti < 0 with a nil error means
// a record to skip (a MAR).
func (e *Encoder) prepare(r *flow.Record) (ti int, err error) {
	if r.Type&0x80 != 0 {
		e.stats.Skipped++
		return -1, nil
	}
	if err := e.check(r); err != nil {
		e.stats.Refused++
		return -1, err
	}
	o := &e.opts
	if r.Has&flow.HasTime != 0 && (r.Start%1e6 != 0 || r.Last%1e6 != 0) {
		if e.c.milli {
			e.stats.SubMs++
		} else {
			o = &e.optsNs // keep sub-millisecond times (a µs or ns source)
		}
	}
	if len(e.doms) >= maxDomains {
		if _, ok := e.doms[e.domainOf(r)]; !ok {
			e.stats.Refused++
			return -1, notRep("obsdomain", fmt.Sprintf("more than %d observation domains", maxDomains))
		}
	}
	e.fields = nfcore.RecordFields(e.fields[:0], r, o)
	ti = e.tpls.Index(e.fields)
	if headerLen+2*setHeaderLen+nfcore.TemplateLen(nfcore.IPFIX, e.fields)+nfcore.DataLen(e.fields, r, &e.opts) > e.c.mtu {
		e.stats.Refused++
		return -1, notRep("record", fmt.Sprintf("its template and data exceed the MTU of %d", e.c.mtu))
	}
	return ti, nil
}

// Encode adds r to the current message, writing the message first when r
// does not fit in it (room, another domain). A *codecs.NotRepresentableError
// leaves the message unchanged. Call Flush periodically on a live link.
func (e *Encoder) Encode(r *flow.Record) error {
	if e.err != nil {
		return e.err
	}
	ti, err := e.prepare(r)
	if err != nil || ti < 0 {
		return err
	}
	dom := e.domainOf(r)
	if e.cur.d != nil && e.cur.dom != dom {
		if err := e.Flush(); err != nil {
			return err
		}
	}
	if e.cur.d == nil {
		e.cur.open(e, e.cur.buf[:0], dom)
	}
	if !e.add(&e.cur, r, ti) {
		if err := e.Flush(); err != nil {
			return err
		}
		e.cur.open(e, e.cur.buf[:0], dom)
		e.add(&e.cur, r, ti) // fits an empty message (prepare checked)
	}
	return nil
}

// Flush writes the current message, if it holds anything.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if e.cur.d == nil {
		return nil
	}
	if e.cur.empty() {
		e.cur.d = nil
		return nil
	}
	b := e.finish(&e.cur)
	if _, err := e.w.Write(b); err != nil {
		e.err = err
	}
	return e.err
}

// Close flushes the Encoder; it does not close the underlying writer.
func (e *Encoder) Close() error {
	err := e.Flush()
	if e.err == nil {
		e.err = errors.New("ipfix: encoder closed")
	}
	return err
}

// AppendPacket appends one message made from the first records of recs
// to dst and returns how many it took: it stops at the MTU or at a record
// of another observation domain. If recs[n] cannot be represented it
// returns the message of recs[:n] (nothing when n == 0) and a
// *codecs.NotRepresentableError: the caller skips recs[n]. Management
// records are skipped and count as taken. Sequence numbers and templates
// are shared with Encode; use one or the other on an Encoder.
func (e *Encoder) AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error) {
	var m msg
	i := 0
	var err error
	for ; i < len(recs); i++ {
		r := &recs[i]
		var ti int
		ti, err = e.prepare(r)
		if err != nil {
			break
		}
		if ti < 0 {
			continue
		}
		dom := e.domainOf(r)
		if m.d == nil {
			m.setOff = -1
			m.open(e, dst, dom)
		} else if dom != m.dom {
			break
		}
		if !e.add(&m, r, ti) {
			break
		}
	}
	if m.d != nil && !m.empty() {
		return e.finish(&m), i, err
	}
	return dst, i, err
}
