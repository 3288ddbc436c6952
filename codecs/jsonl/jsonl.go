package jsonl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/mappings"
)

// Dialects lists the built-in dialect names NewReader and NewWriter accept.
var Dialects = []string{"argus", "ecs", "goflow2", "nfdump", "ipfix"}

// ErrDialect is returned for a dialect name that is not built in.
var ErrDialect = errors.New("jsonl: unknown dialect")

// Option configures a Reader or a Writer.
type Option func(*config)

type config struct {
	mappingFile string
	maxObject   int
}

// WithMapping lays the user's mapping file at path over the dialect's
// built-in mapping (mappings.Open): what --mapping FILE does.
func WithMapping(path string) Option { return func(c *config) { c.mappingFile = path } }

// WithMaxObject bounds the size of one JSON object in bytes (default 1 MiB):
// a larger one is an error rather than an unbounded buffer.
func WithMaxObject(n int) Option { return func(c *config) { c.maxObject = n } }

func builtinName(dialect string) (string, error) {
	d := strings.TrimPrefix(dialect, "json-")
	switch d {
	case "argus", "ecs", "goflow2", "nfdump":
		return "json-" + d, nil
	case "ipfix":
		// The IANA element names are the keys of the ipfix dialect.
		return "ipfix", nil
	}
	return "", fmt.Errorf("%w: %q (have %s)", ErrDialect, dialect, strings.Join(Dialects, ", "))
}

func compile(dialect string, dir mappings.Direction, opts []Option) (*mappings.Plan, config, error) {
	c := config{maxObject: 1 << 20}
	for _, o := range opts {
		o(&c)
	}
	name, err := builtinName(dialect)
	if err != nil {
		return nil, c, err
	}
	f, err := mappings.Open(name, c.mappingFile)
	if err != nil {
		return nil, c, err
	}
	p, err := mappings.Compile(f, dir)
	return p, c, err
}

// SyntaxError says where a JSON input is malformed or a value does not
// convert: 1-based line and column (in bytes) and the byte offset.
type SyntaxError struct {
	Line, Col int
	Offset    int64
	Msg       string
	Err       error // codecs.ErrCorrupt, codecs.ErrTruncated or a *mappings.ApplyError
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("jsonl: line %d column %d (byte %d)", e.Line, e.Col, e.Offset)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s + ": " + e.Err.Error()
}

func (e *SyntaxError) Unwrap() error { return e.Err }

var (
	_ codecs.Decoder = (*Reader)(nil)
	_ codecs.Encoder = (*Writer)(nil)
)
