package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/mappings"
)

// CodecSet makes the NetFlow v5, v9 and IPFIX decoders of a source (one
// set per receive worker or TCP session, through New) and adds up their
// counters: template and sequence accounting live in the decoders.
type CodecSet struct {
	opts []ipfix.Option // shared by ipfix and netflow9 (nfcore options)
	v5   []netflow5.Option
	// User mappings, by version (CodecConfig.SetMapping).
	ipMap  *ipfix.Mapping
	nf9Map *netflow9.Mapping

	mu    sync.Mutex
	live  []Decoders
	ended CodecStats // sessions that ended
	state []byte     // LoadTemplates' state, given to every new set
}

// NewCodecSet returns a CodecSet whose v9 and IPFIX decoders take opts
// (template timeout and limits, pending buffer, renormalisation ...).
func NewCodecSet(opts ...ipfix.Option) *CodecSet {
	return &CodecSet{opts: opts}
}

// CodecConfig holds the collector choices that apply to every NetFlow
// version alike.
type CodecConfig struct {
	// TemplateTimeout forgets a v9/IPFIX template not refreshed for this
	// long (0: templates never expire; IPFIX withdrawals still apply).
	TemplateTimeout time.Duration
	// SamplingRate is the rate of records whose exporter gives none
	// (softflowd, ipt_NETFLOW); with ForceSampling it replaces every
	// exporter's rate.
	SamplingRate  uint32
	ForceSampling bool
	// Renormalise multiplies packet and byte counts by the sampling rate.
	Renormalise bool
	// IPFIXMapping and NetFlow9Mapping lay a user mapping file over the
	// built-in element table of the IPFIX or the v9 decoders (SetMapping).
	IPFIXMapping    *ipfix.Mapping
	NetFlow9Mapping *netflow9.Mapping
}

// ErrMappingSchema is returned by SetMapping for a file of a schema no
// NetFlow/IPFIX codec reads.
var ErrMappingSchema = errors.New("gateway: the mapping's schema is not ipfix or netflow9")

// SetMapping resolves a user mapping file (as mappings.LoadFile loads it)
// for the decoders of its schema: ipfix or netflow9.
func (c *CodecConfig) SetMapping(f *mappings.File) error {
	switch f.Schema {
	case "ipfix":
		m, err := ipfix.NewMapping(f)
		if err != nil {
			return err
		}
		c.IPFIXMapping = m
	case "netflow9":
		m, err := netflow9.NewMapping(f)
		if err != nil {
			return err
		}
		c.NetFlow9Mapping = m
	default:
		return fmt.Errorf("%w: %s is %s", ErrMappingSchema, f.Name, f.Schema)
	}
	return nil
}

// NewCodecSetConfig returns a CodecSet whose v5, v9 and IPFIX decoders
// all follow cfg.
func NewCodecSetConfig(cfg CodecConfig) *CodecSet {
	var opts []ipfix.Option
	var v5 []netflow5.Option
	if cfg.TemplateTimeout > 0 {
		opts = append(opts, ipfix.WithTemplateTimeout(cfg.TemplateTimeout))
	}
	if cfg.SamplingRate > 0 {
		opts = append(opts, ipfix.WithSamplingRate(cfg.SamplingRate, cfg.ForceSampling))
		v5 = append(v5, netflow5.WithSamplingRate(cfg.SamplingRate, cfg.ForceSampling))
	}
	if cfg.Renormalise {
		opts = append(opts, ipfix.WithRenormalise(true))
		v5 = append(v5, netflow5.WithRenormalise(true))
	}
	return &CodecSet{opts: opts, v5: v5, ipMap: cfg.IPFIXMapping, nf9Map: cfg.NetFlow9Mapping}
}

// New is a NewDecoders: a fresh set of decoders.
func (c *CodecSet) New() Decoders {
	v9opts, ipopts := c.opts, c.opts
	if c.nf9Map != nil {
		v9opts = append(v9opts[:len(v9opts):len(v9opts)], netflow9.WithMapping(c.nf9Map))
	}
	if c.ipMap != nil {
		ipopts = append(ipopts[:len(ipopts):len(ipopts)], ipfix.WithMapping(c.ipMap))
	}
	v9, ip := netflow9.NewDecoder(v9opts...), ipfix.NewDecoder(ipopts...)
	d := Decoders{V5: netflow5.NewDecoder(0, c.v5...), V9: v9, IPFIX: ip}
	c.mu.Lock()
	c.live = append(c.live, d)
	if c.state != nil {
		// Checked by LoadTemplates already: cannot fail here.
		v9.LoadTemplates(bytes.NewReader(c.state))
		ip.LoadTemplates(bytes.NewReader(c.state))
	}
	c.mu.Unlock()
	return d
}

// LoadTemplates reads what SaveTemplates wrote into every decoder set made
// so far and every one made later: a restarted collector decodes at once
// the data of exporters that send their templates rarely (peers.md §3.1).
// Templates learnt from the wire replace loaded ones.
func (c *CodecSet) LoadTemplates(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	// Check the state once on scratch decoders, so a bad line is an error
	// here and not a half-loaded worker.
	if err := netflow9.NewDecoder(c.opts...).LoadTemplates(bytes.NewReader(b)); err != nil {
		return err
	}
	if err := ipfix.NewDecoder(c.opts...).LoadTemplates(bytes.NewReader(b)); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = b
	for _, d := range c.live {
		if v9, ok := d.V9.(*netflow9.Decoder); ok {
			v9.LoadTemplates(bytes.NewReader(b))
		}
		if ip, ok := d.IPFIX.(*ipfix.Decoder); ok {
			ip.LoadTemplates(bytes.NewReader(b))
		}
	}
	return nil
}

// SaveTemplates writes the templates, system init times and sampling
// rates of every live v9 and IPFIX decoder, each line once. State of
// messages with no exporter address (raw message files) is left out: it
// could not be told apart when loaded.
func (c *CodecSet) SaveTemplates(w io.Writer) error {
	c.mu.Lock()
	var buf bytes.Buffer
	for _, d := range c.live {
		if v9, ok := d.V9.(*netflow9.Decoder); ok {
			if err := v9.SaveTemplates(&buf); err != nil {
				c.mu.Unlock()
				return err
			}
		}
		if ip, ok := d.IPFIX.(*ipfix.Decoder); ok {
			if err := ip.SaveTemplates(&buf); err != nil {
				c.mu.Unlock()
				return err
			}
		}
	}
	c.mu.Unlock()
	seen := map[string]bool{}
	bw := bufio.NewWriter(w)
	header := false
	for _, line := range strings.Split(buf.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || seen[line] {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if !header {
				fmt.Fprintln(bw, line)
				header = true
			}
			continue
		}
		if len(f) < 3 {
			continue
		}
		if _, err := netip.ParseAddrPort(f[2]); err != nil {
			continue
		}
		seen[line] = true
		fmt.Fprintln(bw, line)
	}
	return bw.Flush()
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
	a.TimeClamped += b.TimeClamped
	a.Unmapped += b.Unmapped
	for i := range a.Rejected {
		a.Rejected[i] += b.Rejected[i]
	}
}
