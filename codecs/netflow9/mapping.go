package netflow9

import (
	"github.com/flowgate/flowgate/codecs/internal/nfcore"
	"github.com/flowgate/flowgate/mappings"
)

// Mapping is a user mapping file (schema netflow9) laid over the built-in
// one (mappings/builtin/netflow9.yaml, which the element registry is): see
// NewMapping.
type Mapping = nfcore.Mapping

// NewMapping resolves a user mapping file of schema netflow9 (as loaded by
// mappings.LoadFile, not merged) over the built-in mapping, as
// mappings.Merge lays files: a rule for an element the codec keeps in
// Extra (an enterprise or vendor element) decodes it into its canonical
// field and the encoder writes it; a rule that gives a known element
// another canonical field or a conversion (swap, scale ...) replaces the
// codec's handling of it; drop: true sends it to Extra. Decoders resolve
// it once per template and encoders once per field list, so a mapped
// element costs no allocation per record.
func NewMapping(f *mappings.File) (*Mapping, error) { return nfcore.NewMapping(nfcore.V9, f) }

// WithMapping makes a Decoder follow a user mapping (nil: the built-in one).
func WithMapping(m *Mapping) Option { return nfcore.WithMapping(m) }

// WithEncoderMapping makes an Encoder follow a user mapping.
func WithEncoderMapping(m *Mapping) EncoderOption { return func(c *encConfig) { c.mapping = m } }
