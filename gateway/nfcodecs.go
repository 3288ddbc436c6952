package gateway

import (
	"sync"

	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/netflow9"
)

// CodecSet makes the NetFlow v5, v9 and IPFIX decoders of a source (one
// set per receive worker or TCP session, through New) and adds up their
// counters: template and sequence accounting live in the decoders.
type CodecSet struct {
	opts []ipfix.Option // shared by ipfix and netflow9 (nfcore options)

	mu    sync.Mutex
	live  []Decoders
	ended CodecStats // sessions that ended
}

// NewCodecSet returns a CodecSet whose v9 and IPFIX decoders take opts
// (template timeout and limits, pending buffer, renormalisation ...).
func NewCodecSet(opts ...ipfix.Option) *CodecSet {
	return &CodecSet{opts: opts}
}

// New is a NewDecoders: a fresh set of decoders.
func (c *CodecSet) New() Decoders {
	d := Decoders{
		V5:    netflow5.NewDecoder(0),
		V9:    netflow9.NewDecoder(c.opts...),
		IPFIX: ipfix.NewDecoder(c.opts...),
	}
	c.mu.Lock()
	c.live = append(c.live, d)
	c.mu.Unlock()
	return d
}

// Release folds a finished set's counters into the totals and forgets it
// (a TCP session's decoders when the session ends).
func (c *CodecSet) Release(d Decoders) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.live {
		if c.live[i] == d {
			c.ended.add(d)
			c.live = append(c.live[:i], c.live[i+1:]...)
			return
		}
	}
}

// CodecStats adds up the decoders' own counters.
type CodecStats struct {
	V5 netflow5.Stats
	V9 ipfix.Stats // netflow9.Stats is the same type
	IP ipfix.Stats
}

func (s *CodecStats) add(d Decoders) {
	if v5, ok := d.V5.(*netflow5.Decoder); ok {
		addV5(&s.V5, v5.Stats())
	}
	if v9, ok := d.V9.(*netflow9.Decoder); ok {
		addNF(&s.V9, v9.Stats())
	}
	if ip, ok := d.IPFIX.(*ipfix.Decoder); ok {
		addNF(&s.IP, ip.Stats())
	}
}

// Stats returns the sum over every decoder set made so far.
func (c *CodecSet) Stats() CodecStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.ended
	for _, d := range c.live {
		s.add(d)
	}
	return s
}

func addV5(a *netflow5.Stats, b netflow5.Stats) {
	a.Packets += b.Packets
	a.Records += b.Records
	a.Errors += b.Errors
	a.Truncated += b.Truncated
	a.BadCount += b.BadCount
	a.BadVer += b.BadVer
	a.Lost += b.Lost
	a.Late += b.Late
	a.SeqQuirks += b.SeqQuirks
	a.Untracked += b.Untracked
}

func addNF(a *ipfix.Stats, b ipfix.Stats) {
	a.Packets += b.Packets
	a.Records += b.Records
	a.Templates += b.Templates
	a.OptionsTemplates += b.OptionsTemplates
	a.TemplatesChanged += b.TemplatesChanged
	a.TemplatesExpired += b.TemplatesExpired
	a.TemplatesWithdrawn += b.TemplatesWithdrawn
	a.OptionsRecords += b.OptionsRecords
	a.PendingSets += b.PendingSets
	a.PendingDecoded += b.PendingDecoded
	a.PendingRecords += b.PendingRecords
	a.PendingExpired += b.PendingExpired
	a.PendingDropped += b.PendingDropped
	a.SeqLost += b.SeqLost
	a.SeqQuirks += b.SeqQuirks
	a.SeqResets += b.SeqResets
	a.SeqReordered += b.SeqReordered
	a.NoTime += b.NoTime
	a.NoSysInit += b.NoSysInit
	for i := range a.Rejected {
		a.Rejected[i] += b.Rejected[i]
	}
}
