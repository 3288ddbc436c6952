package netflow9

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
	// Templates are re-sent to each source id every DefaultRefreshPackets
	// packets or DefaultRefresh, whichever comes first (RFC 3954 §9:
	// templates are re-sent periodically, by time and by packet count).
	DefaultRefreshPackets = 20
	DefaultRefresh        = time.Minute
	headerLen             = 20
	setHeaderLen          = 4
)

var be = binary.BigEndian

// maxDomains bounds the observation domains (source ids) an Encoder keeps
// state for.
const maxDomains = 1 << 16

// EncoderOption configures an Encoder.
type EncoderOption func(*encConfig)

type encConfig struct {
	mtu       int
	every     time.Duration
	packets   uint64
	domain    uint32
	setDomain bool
	now       func() time.Time
	boot      int64 // Unix ns, whole ms
	uptime    bool
	lossy     bool
	mapping   *Mapping
	maxTpl    int
}

// WithMTU sets the largest packet (default DefaultMTU, at least 256, at
// most 65507: a UDP payload over IPv4).
func WithMTU(n int) EncoderOption { return func(c *encConfig) { c.mtu = min(max(n, 256), 65507) } }

// WithTemplateRefresh re-sends templates every d and every n packets per
// source id, whichever comes first (0 turns that trigger off; both 0:
// sent once).
func WithTemplateRefresh(d time.Duration, n int) EncoderOption {
	return func(c *encConfig) { c.every, c.packets = d, uint64(max(n, 0)) }
}

// WithDomain sends every record with source id d (v9's observation
// domain, as ipfix.WithDomain); by default a record keeps its own
// ObsDomain (0 without HasExporter).
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

// WithBoot sets the exporter's boot time, from which the header's
// sysUpTime counts (default: when the Encoder was made).
func WithBoot(boot time.Time) EncoderOption {
	return func(c *encConfig) { c.boot = boot.UnixMilli() * 1e6 }
}

// WithUptimeTimes writes flow times as FIRST_SWITCHED/LAST_SWITCHED
// (22/21, ms of sysUpTime) as classic v9 exporters do, instead of the
// absolute flowStartMilliseconds/flowEndMilliseconds (152/153). A time
// before the boot time or 2^32 ms after it is then not representable.
func WithUptimeTimes() EncoderOption { return func(c *encConfig) { c.uptime = true } }

// WithLossyEncode drops (and counts) Extra elements v9 cannot carry (an
// IPFIX enterprise element, an empty value) instead of refusing the record.
func WithLossyEncode() EncoderOption { return func(c *encConfig) { c.lossy = true } }

// EncoderStats counts what an Encoder did.
type EncoderStats struct {
	Records   uint64 // data records sent (a biflow makes two)
	Messages  uint64 // packets made
	Templates uint64 // template records sent (first sends and refreshes)
	Refused   uint64 // records refused with a NotRepresentableError
	Skipped   uint64 // management records skipped
	Redefined uint64 // template ids given a new field list (WithEncoderTemplateLimit)
	// Dropped counts values left out: Extra elements v9 cannot carry
	// (WithLossyEncode), and records whose reverse TOS, VLAN or TCP flags
	// came without reverse counts or whose ICMP type came without a key.
	Dropped uint64
	// Unmapped counts values a user mapping's rule could not write
	// exactly (a scale that does not divide, a value wider than its
	// element): written as near as the element allows.
	Unmapped uint64
	// SubMs counts records whose times lost a sub-millisecond part (v9
	// holds milliseconds).
	SubMs uint64
}

type domain struct {
	msgs uint64 // packets sent: the next packet's sequence number (RFC 3954 §5.1)
	sent nfcore.TemplateSends
}

// msg is a message being built at buf[base:].
type msg struct {
	buf    []byte
	base   int
	dom    uint32
	d      *domain
	recs   uint32 // records of any kind (the header's count)
	setOff int    // offset of the open data set's header, -1 none
	setTpl int    // its template index
	now    int64
}

// Encoder writes NetFlow v9 export packets (RFC 3954), one Write per
// packet: templates are built from what each record carries (one template
// id per distinct field list), sent in a template FlowSet before their
// first data record for each source id, and re-sent periodically; packets
// fill up to the MTU. v9 has no reverse elements: a biflow goes as two
// records, the second with the key reversed and the reverse counters,
// flags and TOS (nfcore.SplitBiflow). It is not safe for concurrent use.
type Encoder struct {
	w      io.Writer
	c      encConfig
	opts   nfcore.EncOptions
	a, b   flow.Record // a biflow's two directions
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
	if c.boot == 0 {
		c.boot = c.now().UnixMilli() * 1e6
	}
	e := &Encoder{w: w, c: c, tpls: nfcore.EncTemplates{Max: c.maxTpl}, doms: map[uint32]*domain{},
		opts: nfcore.EncOptions{Version: nfcore.V9}}
	e.opts.Map = c.mapping
	if c.uptime {
		e.opts.BootNs = c.boot
	}
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
	return &codecs.NotRepresentableError{Format: "netflow9", Field: field, Reason: reason}
}

// check refuses what v9 cannot carry.
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
		if e.c.uptime {
			for _, t := range [2]int64{r.Start, r.Last} {
				if t < e.c.boot || t-e.c.boot >= 1<<32*1e6 {
					return notRep("stime", "outside the 32-bit ms sysUpTime since boot")
				}
			}
		}
	}
	for i := range r.Extra {
		x := &r.Extra[i]
		if x.Source != flow.SourceIPFIX && x.Source != flow.SourceNetFlow9 {
			continue
		}
		if x.Enterprise != 0 || x.ID > 0xFFFF || len(x.Value) == 0 || len(x.Value) >= nfcore.VarLen {
			if !e.c.lossy {
				return notRep(fmt.Sprintf("element %d/%d", x.Enterprise, x.ID), "v9 has no enterprise, empty or 64 KiB elements")
			}
			e.stats.Dropped++
		}
	}
	if r.Pkts[flow.Dst] == 0 && r.Bytes[flow.Dst] == 0 && nfcore.RevOnly(r) ||
		r.Has&(flow.HasKey|flow.HasICMPKey) == flow.HasICMPKey {
		// Reverse TOS, VLAN or flags of a flow without reverse counts
		// (no second record to carry them), an ICMP type without a key.
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

// closeSet pads the open data FlowSet to 32 bits (RFC 3954 §5.3) and
// writes its length.
func (m *msg) closeSet() {
	if m.setOff >= 0 {
		for (len(m.buf)-m.setOff)%4 != 0 {
			m.buf = append(m.buf, 0)
		}
		be.PutUint16(m.buf[m.setOff+2:], uint16(len(m.buf)-m.setOff))
		m.setOff = -1
	}
}

// finish writes the header and advances the domain's counters.
func (e *Encoder) finish(m *msg) []byte {
	m.closeSet()
	h := m.buf[m.base:]
	now := e.c.now()
	// Whole seconds for unix_secs and the uptime at that second, so that
	// a collector's boot time (unix_secs*1000 - sysUpTime) is exact.
	sec := now.Unix()
	be.PutUint16(h[0:], 9)
	be.PutUint16(h[2:], uint16(m.recs))
	be.PutUint32(h[4:], uint32((sec*1e9-e.c.boot)/1e6))
	be.PutUint32(h[8:], uint32(sec))
	be.PutUint32(h[12:], uint32(m.d.msgs))
	be.PutUint32(h[16:], m.dom)
	m.d.msgs++
	e.stats.Messages++
	b := m.buf
	m.d = nil
	return b
}

// need returns the bytes r adds to m (padding included) and whether its
// template goes with it.
func (e *Encoder) need(m *msg, r *flow.Record, ti int) (int, bool) {
	fields := e.tpls.Fields(ti)
	need := nfcore.DataLen(fields, r, &e.opts) + 3 // + the set's padding at most
	tpl := e.needTemplate(m, ti)
	if tpl {
		need += setHeaderLen + nfcore.TemplateLen(nfcore.V9, fields)
	}
	if tpl || m.setOff < 0 || m.setTpl != ti {
		need += setHeaderLen
	}
	return need, tpl
}

// add puts r into m. It returns false, changing nothing, when r does not
// fit in m's room (the caller finishes m and retries in a new one).
func (e *Encoder) add(m *msg, r *flow.Record, ti int) bool {
	id, fields := e.tpls.ID(ti), e.tpls.Fields(ti)
	need, tpl := e.need(m, r, ti)
	if len(m.buf)-m.base+need > e.c.mtu {
		return false
	}
	if tpl {
		m.closeSet()
		off := len(m.buf)
		m.buf = be.AppendUint16(m.buf, 0) // template FlowSet
		m.buf = be.AppendUint16(m.buf, 0)
		m.buf = nfcore.AppendTemplate(m.buf, nfcore.V9, id, fields)
		be.PutUint16(m.buf[off+2:], uint16(len(m.buf)-off))
		m.recs++
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
	if r.Has&flow.HasTime != 0 && (r.Start%1e6 != 0 || r.Last%1e6 != 0) {
		e.stats.SubMs++
	}
	return true
}

// prepare checks r and finds its template: ti < 0 with a nil error means
// a record to skip (a MAR).
func (e *Encoder) prepare(r *flow.Record, checked bool) (ti int, err error) {
	if r.Type&0x80 != 0 {
		e.stats.Skipped++
		return -1, nil
	}
	if !checked {
		if err := e.check(r); err != nil {
			e.stats.Refused++
			return -1, err
		}
	}
	if len(e.doms) >= maxDomains {
		if _, ok := e.doms[e.domainOf(r)]; !ok {
			e.stats.Refused++
			return -1, notRep("obsdomain", fmt.Sprintf("more than %d observation domains", maxDomains))
		}
	}
	e.fields = nfcore.RecordFields(e.fields[:0], r, &e.opts)
	ti = e.tpls.Index(e.fields)
	if headerLen+2*setHeaderLen+nfcore.TemplateLen(nfcore.V9, e.fields)+nfcore.DataLen(e.fields, r, &e.opts)+3 > e.c.mtu {
		e.stats.Refused++
		return -1, notRep("record", fmt.Sprintf("its template and data exceed the MTU of %d", e.c.mtu))
	}
	return ti, nil
}

// biflow says whether r goes as two records.
func biflow(r *flow.Record) bool {
	return r.Type&0x80 == 0 && r.Has&flow.HasMetrics != 0 && (r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0)
}

// split checks a biflow and splits it into e.a and e.b.
func (e *Encoder) split(r *flow.Record) error {
	if err := e.check(r); err != nil {
		e.stats.Refused++
		return err
	}
	e.a = *r
	nfcore.SplitBiflow(&e.a, &e.b)
	return nil
}

// Encode adds r to the current packet (a biflow as two records), writing
// the packet first when r does not fit in it (room, another source id).
// A *codecs.NotRepresentableError leaves the packet unchanged. Call Flush
// periodically on a live link.
func (e *Encoder) Encode(r *flow.Record) error {
	if e.err != nil {
		return e.err
	}
	if !biflow(r) {
		return e.encode(r, false)
	}
	if err := e.split(r); err != nil {
		return err
	}
	if err := e.encode(&e.a, true); err != nil {
		return err
	}
	return e.encode(&e.b, true)
}

func (e *Encoder) encode(r *flow.Record, checked bool) error {
	ti, err := e.prepare(r, checked)
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
		e.add(&e.cur, r, ti) // fits an empty packet (prepare checked)
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
		e.err = errors.New("netflow9: encoder closed")
	}
	return err
}

// AppendPacket appends one packet made from the first records of recs
// to dst and returns how many it took: it stops at the MTU or at a record
// of another source id (a biflow goes whole, as two records, or waits).
// If recs[n] cannot be represented it returns the packet of recs[:n]
// (nothing when n == 0) and a *codecs.NotRepresentableError: the caller
// skips recs[n]. Management records are skipped and count as taken.
// Sequence numbers and templates are shared with Encode; use one or the
// other on an Encoder.
func (e *Encoder) AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error) {
	var m msg
	i := 0
	var err error
loop:
	for ; i < len(recs); i++ {
		r := &recs[i]
		halves := [2]*flow.Record{r, nil}
		checked := false
		if biflow(r) {
			if err = e.split(r); err != nil {
				break
			}
			halves, checked = [2]*flow.Record{&e.a, &e.b}, true
		}
		var tis [2]int
		need := 0
		for h, hr := range halves {
			if hr == nil {
				continue
			}
			tis[h], err = e.prepare(hr, checked)
			if err != nil {
				break loop
			}
			if tis[h] < 0 {
				continue loop
			}
			if m.d == nil {
				m.setOff = -1
				m.open(e, dst, e.domainOf(hr))
			} else if e.domainOf(hr) != m.dom {
				break loop
			}
			n, _ := e.need(&m, hr, tis[h])
			need += n
		}
		if len(m.buf)-m.base+need > e.c.mtu {
			break
		}
		for h, hr := range halves {
			if hr != nil && !e.add(&m, hr, tis[h]) {
				break loop // not reached: need covered both
			}
		}
	}
	if m.d != nil && !m.empty() {
		return e.finish(&m), i, err
	}
	return dst, i, err
}
