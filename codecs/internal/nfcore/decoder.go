package nfcore

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// Version is the export protocol version (the first two bytes of a
// message).
type Version uint16

// Versions.
const (
	V9    Version = 9
	IPFIX Version = 10
)

func (v Version) format() string {
	if v == V9 {
		return "netflow9"
	}
	return "ipfix"
}

// Config holds a decoder's settings. Zero values take the defaults.
type Config struct {
	// TemplateTimeout drops a template neither re-sent nor used for this
	// long. 0 means templates live until withdrawn or replaced (an
	// exporter that sends its template once per session keeps working).
	TemplateTimeout time.Duration
	// MaxTemplates and MaxTemplateBytes bound each exporter's templates
	// (all domains). Templates past the bound are rejected and counted
	// (ReasonTemplateLimit). Defaults 1024 and 1 MiB.
	MaxTemplates     int
	MaxTemplateBytes int
	// MaxExporters bounds the exporters tracked (default 65536) and
	// MaxDomains the domains per exporter (default 256).
	MaxExporters int
	MaxDomains   int
	// PendingBytes bounds each exporter's buffer of data sets that came
	// before their template (default 256 KiB; negative disables it), and
	// PendingTimeout is how long a held set waits (default 2 minutes).
	PendingBytes   int
	PendingTimeout time.Duration
	// Renormalise multiplies packet and byte counts by the sampling rate.
	Renormalise bool
	// DefaultSamplingRate is the rate of records whose exporter gives
	// none (softflowd and ipt_NETFLOW send no options); with
	// ForceSamplingRate it replaces every exporter's rate (goflow#87,
	// Akvorado's default-sampling-rate).
	DefaultSamplingRate uint32
	ForceSamplingRate   bool
	// MaxRecords bounds the flow records one message (with the held sets
	// it releases) may add (default 8192): a template of one 1-byte field
	// would otherwise turn a 64 KiB datagram into 65,000 records, 150 MB.
	// Records past it are rejected and counted (ReasonTooManyRecords).
	MaxRecords int
	// SeqMaxGap is the largest forward jump of a sequence number counted
	// as loss; larger jumps are resets (default 1<<20).
	SeqMaxGap uint32
	// Mapping is a user mapping file laid over the built-in one
	// (NewMapping), resolved into each template's field ops.
	Mapping *Mapping
	// Now gives the time (default time.Now); tests set it.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.MaxTemplates == 0 {
		c.MaxTemplates = 1024
	}
	if c.MaxTemplateBytes == 0 {
		c.MaxTemplateBytes = 1 << 20
	}
	if c.MaxExporters == 0 {
		c.MaxExporters = 65536
	}
	if c.MaxDomains == 0 {
		c.MaxDomains = 256
	}
	if c.PendingBytes == 0 {
		c.PendingBytes = 256 << 10
	}
	if c.PendingTimeout == 0 {
		c.PendingTimeout = 2 * time.Minute
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 8192
	}
	if c.SeqMaxGap == 0 {
		c.SeqMaxGap = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Decoder decodes NetFlow v9 or IPFIX messages from any number of
// exporters. It is safe for concurrent use (one lock per message), so the
// sockets of one listener can share templates.
type Decoder struct {
	ver Version
	src flow.FieldSource
	cfg Config
	mu  sync.Mutex
	// recLimit is the message's record bound: len(dst) at its start
	// plus Config.MaxRecords (held sets released by it count too).
	recLimit int
	exps     map[netip.AddrPort]*exporter
	last     *exporter

	stats     Stats
	lastSweep int64
	now       int64
	firstErr  *codecs.DecodeError
	newTpl    bool // a template arrived in this message
	scratch   []FieldSpec
	sets      []setRef // data sets of the message being decoded
}

// exporter is the state of one exporter (address and port).
type exporter struct {
	addr     netip.AddrPort
	doms     map[uint32]*domainState
	last     *domainState
	nTpl     int
	tplBytes int
	pending  pending
	seen     int64 // last message, Unix ns
}

// domainState is the state of one observation domain (v9 source id).
type domainState struct {
	id         uint32
	tpls       map[uint16]*Template
	seq        seqState
	sysInit    int64 // ms, from options data (IE 160)
	hasSysInit bool
	samplers   []sampler
}

// NewDecoder returns a decoder of version v.
func NewDecoder(v Version, cfg Config) *Decoder {
	cfg.defaults()
	src := flow.SourceIPFIX
	if v == V9 {
		src = flow.SourceNetFlow9
	}
	return &Decoder{ver: v, src: src, cfg: cfg, exps: map[netip.AddrPort]*exporter{}}
}

// Version returns the decoder's version.
func (d *Decoder) Version() Version { return d.ver }

// Stats returns a copy of the counters.
func (d *Decoder) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func (d *Decoder) exporter(from netip.AddrPort) *exporter {
	if e := d.last; e != nil && e.addr == from {
		e.seen = d.now
		return e
	}
	e := d.exps[from]
	if e == nil {
		if len(d.exps) >= d.cfg.MaxExporters {
			return nil
		}
		e = &exporter{addr: from, doms: map[uint32]*domainState{}}
		d.exps[from] = e
	}
	e.seen = d.now
	d.last = e
	return e
}

func (d *Decoder) domain(e *exporter, id uint32) *domainState {
	if s := e.last; s != nil && s.id == id {
		return s
	}
	s := e.doms[id]
	if s == nil {
		if len(e.doms) >= d.cfg.MaxDomains {
			return nil
		}
		s = &domainState{id: id, tpls: map[uint16]*Template{}}
		e.doms[id] = s
	}
	e.last = s
	return s
}

// lookup finds a live template, expiring it when it is too old.
func (d *Decoder) lookup(e *exporter, s *domainState, id uint16) *Template {
	t := s.tpls[id]
	if t == nil {
		return nil
	}
	if to := int64(d.cfg.TemplateTimeout); to > 0 && d.now-max(t.created, t.used) > to {
		d.dropTemplate(e, s, id)
		d.stats.TemplatesExpired++
		return nil
	}
	return t
}

func (d *Decoder) dropTemplate(e *exporter, s *domainState, id uint16) {
	if t := s.tpls[id]; t != nil {
		e.nTpl--
		e.tplBytes -= t.size
		delete(s.tpls, id)
	}
}

// addTemplate stores t (compiled), replacing one with its id, within the
// exporter's bounds.
func (d *Decoder) addTemplate(e *exporter, s *domainState, t *Template, m *msgCtx, off int) bool {
	t.compile(d.ver, d.cfg.Mapping)
	t.created, t.used = d.now, d.now
	old := s.tpls[t.ID]
	n, sz := e.nTpl+1, e.tplBytes+t.size
	if old != nil {
		n, sz = n-1, sz-old.size
	}
	if n > d.cfg.MaxTemplates || sz > d.cfg.MaxTemplateBytes {
		d.fail(ReasonTemplateLimit, m, "template", int(t.ID), off, t.ID)
		return false
	}
	if old != nil {
		d.stats.TemplatesChanged++
	}
	e.nTpl, e.tplBytes = n, sz
	s.tpls[t.ID] = t
	d.countTemplate(t)
	d.newTpl = true
	return true
}

func (d *Decoder) countTemplate(t *Template) {
	if t.Options {
		d.stats.OptionsTemplates++
	} else {
		d.stats.Templates++
	}
}

// sweep expires old templates and pending sets of every exporter, at most
// once a second, so an exporter that went away does not hold memory.
func (d *Decoder) sweep() {
	if d.now-d.lastSweep < int64(time.Second) {
		return
	}
	d.lastSweep = d.now
	for _, e := range d.exps {
		if to := int64(d.cfg.TemplateTimeout); to > 0 {
			for _, s := range e.doms {
				for id := range s.tpls {
					d.lookup(e, s, id)
				}
			}
		}
		d.expirePending(e)
		// An exporter that holds nothing (no template, held set, system
		// init time or sampler) and has gone quiet is forgotten, so
		// packets from spoofed sources cannot fill the exporter table
		// for good.
		if d.now-e.seen > int64(idleExporter) && e.empty() {
			delete(d.exps, e.addr)
			if d.last == e {
				d.last = nil
			}
		}
	}
}

// idleExporter is how long an exporter that holds nothing is kept.
const idleExporter = time.Minute

func (e *exporter) empty() bool {
	if e.nTpl != 0 || len(e.pending.sets) != 0 {
		return false
	}
	for _, s := range e.doms {
		if s.hasSysInit || len(s.samplers) != 0 {
			return false
		}
	}
	return true
}

// nextSlot returns dst grown by one record, reset, reusing the capacity of
// the slot's Extra slice so steady-state decoding does not allocate.
func nextSlot(dst []flow.Record) ([]flow.Record, *flow.Record) {
	dst, r := flow.Slot(dst)
	r.Reset()
	return dst, r
}

// DomainInfo is the state of one exporter's observation domain (v9
// source id).
type DomainInfo struct {
	Exporter netip.AddrPort
	Domain   uint32
	// Templates and OptionsTemplates held.
	Templates, OptionsTemplates int
	// SeqLost and SeqQuirks are this domain's share of Stats.SeqLost and
	// Stats.SeqQuirks; CountsOther is set when the exporter counts
	// sequence numbers the other version's way (a quirk seen once).
	SeqLost, SeqQuirks uint64
	CountsOther        bool
	// SamplingRate is the exporter's default sampling rate (0: none);
	// Samplers the number of sampler ids with a rate.
	SamplingRate uint32
	Samplers     int
	// SystemInit is systemInitTimeMilliseconds from options data (0:
	// none), Unix ms.
	SystemInit int64
}

// Domains returns the state of every exporter's domains, for operators
// (which exporter loses packets, which has no sampling rate ...).
func (d *Decoder) Domains() []DomainInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []DomainInfo
	for _, e := range d.exps {
		for _, s := range e.doms {
			i := DomainInfo{Exporter: e.addr, Domain: s.id, SeqLost: s.seq.lost, SeqQuirks: s.seq.quirks,
				CountsOther: s.seq.unit != 0, SamplingRate: s.samplingRate(0, false)}
			for _, t := range s.tpls {
				if t.Options {
					i.OptionsTemplates++
				} else {
					i.Templates++
				}
			}
			for _, x := range s.samplers {
				if x.hasID {
					i.Samplers++
				}
			}
			if s.hasSysInit {
				i.SystemInit = s.sysInit
			}
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b DomainInfo) int {
		if c := a.Exporter.Compare(b.Exporter); c != 0 {
			return c
		}
		return cmp.Compare(a.Domain, b.Domain)
	})
	return out
}
