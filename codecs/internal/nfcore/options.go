package nfcore

import "time"

// Option sets a decoder setting. The ipfix and netflow9 packages export
// the same options, so one list configures both decoders.
type Option func(*Config)

// NewDecoderOpts returns a decoder of version v with options applied to
// the default Config.
func NewDecoderOpts(v Version, opts ...Option) *Decoder {
	var c Config
	for _, o := range opts {
		o(&c)
	}
	return NewDecoder(v, c)
}

// WithTemplateTimeout drops templates neither re-sent nor used for d
// (0: never).
func WithTemplateTimeout(d time.Duration) Option {
	return func(c *Config) { c.TemplateTimeout = d }
}

// WithTemplateLimit bounds each exporter's templates: count and bytes.
func WithTemplateLimit(n, bytes int) Option {
	return func(c *Config) { c.MaxTemplates, c.MaxTemplateBytes = n, bytes }
}

// WithExporterLimit bounds the exporters and the domains per exporter.
func WithExporterLimit(exporters, domains int) Option {
	return func(c *Config) { c.MaxExporters, c.MaxDomains = exporters, domains }
}

// WithPendingLimit bounds the bytes of early data sets held per exporter
// (negative: hold none) and how long they wait for their template.
func WithPendingLimit(bytes int, wait time.Duration) Option {
	return func(c *Config) { c.PendingBytes, c.PendingTimeout = bytes, wait }
}

// WithRenormalise multiplies packet and byte counts by the sampling rate.
func WithRenormalise(on bool) Option {
	return func(c *Config) { c.Renormalise = on }
}

// WithSamplingRate sets the sampling rate of records whose exporter gives
// none; with force, it replaces every exporter's rate.
func WithSamplingRate(rate uint32, force bool) Option {
	return func(c *Config) { c.DefaultSamplingRate, c.ForceSamplingRate = rate, force }
}

// WithMaxRecords bounds the flow records one message may add.
func WithMaxRecords(n int) Option {
	return func(c *Config) { c.MaxRecords = n }
}

// WithSeqMaxGap sets the largest sequence jump counted as loss.
func WithSeqMaxGap(n uint32) Option {
	return func(c *Config) { c.SeqMaxGap = n }
}

// WithMapping lays a user mapping (NewMapping) over the built-in one.
func WithMapping(m *Mapping) Option {
	return func(c *Config) { c.Mapping = m }
}

// WithClock sets the clock used for template and pending expiry.
func WithClock(now func() time.Time) Option {
	return func(c *Config) { c.Now = now }
}
