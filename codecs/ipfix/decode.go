package ipfix

import (
	"io"
	"net/netip"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore"
	"github.com/flowgate/flowgate/flow"
)

// Option configures a Decoder. The options are shared with the other
// template-based codec (ipfix and netflow9 options are interchangeable).
type Option = nfcore.Option

// Stats are a Decoder's counters; Rejected is indexed by Reason.
type Stats = nfcore.Stats

// Reason says why input was rejected (Stats.Rejected index).
type Reason = nfcore.Reason

// DomainInfo is the state of one exporter's observation domain.
type DomainInfo = nfcore.DomainInfo

// WithTemplateTimeout drops templates neither re-sent nor used for d
// (default 0: templates live until withdrawn or replaced).
func WithTemplateTimeout(d time.Duration) Option { return nfcore.WithTemplateTimeout(d) }

// WithTemplateLimit bounds each exporter's templates (default 1024
// templates, 1 MiB); more are rejected and counted as a template flood.
func WithTemplateLimit(n, bytes int) Option { return nfcore.WithTemplateLimit(n, bytes) }

// WithExporterLimit bounds the exporters tracked (default 65536) and the
// observation domains per exporter (default 256).
func WithExporterLimit(exporters, domains int) Option {
	return nfcore.WithExporterLimit(exporters, domains)
}

// WithPendingLimit bounds the data sets held per exporter while their
// template has not come (default 256 KiB, 2 minutes; negative bytes: none).
func WithPendingLimit(bytes int, wait time.Duration) Option {
	return nfcore.WithPendingLimit(bytes, wait)
}

// WithRenormalise multiplies packet and byte counts by the sampling rate.
func WithRenormalise(on bool) Option { return nfcore.WithRenormalise(on) }

// WithSamplingRate sets the sampling rate of records whose exporter
// gives none (softflowd sends no options); with force, it replaces every
// exporter's rate.
func WithSamplingRate(rate uint32, force bool) Option { return nfcore.WithSamplingRate(rate, force) }

// WithMaxRecords bounds the flow records one message (and the held sets
// it releases) may add (default 8192); records past it are rejected and
// counted, so a template of tiny records cannot turn one datagram into
// hundreds of megabytes of records.
func WithMaxRecords(n int) Option { return nfcore.WithMaxRecords(n) }

// WithSeqMaxGap sets the largest sequence-number jump counted as loss
// (default 1<<20); larger jumps count as exporter resets.
func WithSeqMaxGap(n uint32) Option { return nfcore.WithSeqMaxGap(n) }

// WithClock sets the clock for expiry (default time.Now).
func WithClock(now func() time.Time) Option { return nfcore.WithClock(now) }

// Decoder decodes IPFIX messages from any number of exporters into
// flow records. It is safe for concurrent use.
type Decoder struct {
	c *nfcore.Decoder
}

var _ codecs.PacketDecoder = (*Decoder)(nil)

// NewDecoder returns a decoder.
func NewDecoder(opts ...Option) *Decoder {
	return &Decoder{c: nfcore.NewDecoderOpts(nfcore.IPFIX, opts...)}
}

// DecodePacket decodes one message (a UDP payload) from exporter from,
// appending its flow records to dst. A bad set is rejected and counted
// and the others still decode: dst holds their records even when err (the
// message's first *codecs.DecodeError) is not nil. Data sets that came
// before their template are held; their records are appended by the call
// that decodes the message bringing the template. Records alias b until
// Detach (records from held sets are already detached).
func (d *Decoder) DecodePacket(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error) {
	return d.c.DecodePacket(b, from, dst)
}

// Stats returns a copy of the counters.
func (d *Decoder) Stats() Stats { return d.c.Stats() }

// Domains returns the state of every exporter's domains: templates held,
// sequence loss and quirks, sampling, system init time.
func (d *Decoder) Domains() []DomainInfo { return d.c.Domains() }

// SaveTemplates writes templates, system init times and sampling rates in
// the text format described in codecs/internal/nfcore (save.go).
func (d *Decoder) SaveTemplates(w io.Writer) error { return d.c.Save(w) }

// LoadTemplates reads what SaveTemplates wrote (lines of other versions
// are skipped, so one file can serve both decoders).
func (d *Decoder) LoadTemplates(r io.Reader) error { return d.c.Load(r) }
