package csv

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/mappings"
)

// Dialects lists the built-in dialect names NewReader and NewWriter accept
// (the same names as codecs/jsonl's).
var Dialects = []string{"argus", "ecs", "goflow2", "nfdump", "ipfix"}

var (
	// ErrDialect is returned for a dialect name that is not built in.
	ErrDialect = errors.New("csv: unknown dialect")
	// ErrNoHeader: the first line is not a header (none of its names is a
	// column of the mapping), or the input ended inside it.
	ErrNoHeader = errors.New("no header line")
	// ErrFieldCount: a record has more or fewer fields than the header.
	ErrFieldCount = errors.New("wrong number of fields")
)

// Option configures a Reader or a Writer.
type Option func(*config)

type config struct {
	mappingFile string
	fileName    string
	comma       byte // 0: ',' (a Reader also takes a tab-separated header)
	maxRecord   int
}

// WithMapping lays the user's mapping file at path (schema csv) over the
// dialect's built-in mapping: what --mapping FILE does.
func WithMapping(path string) Option { return func(c *config) { c.mappingFile = path } }

// WithFileName names the input in errors.
func WithFileName(name string) Option { return func(c *config) { c.fileName = name } }

// WithComma sets the field separator (ra -c CHAR; default ','). A Reader
// without it uses ',' unless the header line has no ',' but a tab.
func WithComma(c byte) Option { return func(cf *config) { cf.comma = c } }

// WithMaxRecord bounds one record (or the header) in bytes (default 1 MiB):
// a longer one is an error rather than an unbounded buffer.
func WithMaxRecord(n int) Option { return func(c *config) { c.maxRecord = n } }

// Mapping returns the mapping of a built-in dialect with the user's file
// (if userPath is not "") laid over it. argus and nfdump have their own
// CSV mappings (csv-argus: ra's header labels; csv-nfdump: nfdump -o csv's
// columns); ecs, goflow2 and ipfix take the JSON dialect's rules, whose
// keys are the flat column names (source.ip is the column "source.ip"),
// as a csv schema, so a user file says schema: csv for every dialect.
func Mapping(dialect, userPath string) (*mappings.File, error) {
	base, err := builtin(dialect)
	if err != nil || userPath == "" {
		return base, err
	}
	user, err := mappings.LoadFile(userPath)
	if err != nil {
		return nil, err
	}
	return mappings.Merge(base, user)
}

// builtins holds each dialect's built-in mapping once loaded: the YAML
// (the protocol and flag tables run to hundreds of lines) is parsed once
// per process, not per Reader. A File is not changed once loaded (Merge
// and Compile make new values), so one is shared.
var builtins sync.Map // dialect -> *mappings.File

func builtin(dialect string) (*mappings.File, error) {
	if f, ok := builtins.Load(dialect); ok {
		return f.(*mappings.File), nil
	}
	var base *mappings.File
	var err error
	switch dialect {
	case "argus", "nfdump":
		base, err = mappings.Builtin("csv-" + dialect)
	case "ecs", "goflow2":
		base, err = mappings.Builtin("json-" + dialect)
	case "ipfix":
		base, err = mappings.Builtin("ipfix")
	default:
		return nil, fmt.Errorf("%w: %q (have %s)", ErrDialect, dialect, strings.Join(Dialects, ", "))
	}
	if err != nil {
		return nil, err
	}
	if base.Schema != "csv" {
		f := *base
		f.Schema = "csv"
		base = &f
	}
	builtins.Store(dialect, base)
	return base, nil
}

func compile(dialect string, dir mappings.Direction, opts []Option) (*mappings.Plan, config, error) {
	c := config{maxRecord: 1 << 20}
	for _, o := range opts {
		o(&c)
	}
	f, err := Mapping(dialect, c.mappingFile)
	if err != nil {
		return nil, c, err
	}
	p, err := mappings.Compile(f, dir)
	return p, c, err
}

// ParseError says where a CSV input is malformed or a value does not
// convert: the file (if named), the 1-based line the record starts on,
// and the 1-based field number with its header name (0 and "" for the
// record as a whole).
type ParseError struct {
	File   string
	Line   int
	Field  int
	Column string
	Msg    string
	// Partial: only this value was left out; the record was read with
	// the rest (a value the mapping cannot convert).
	Partial   bool
	Canonical string // with Partial: the canonical field left out (src_addr, protocol ...)
	Err       error  // ErrNoHeader, ErrFieldCount, codecs.ErrCorrupt, codecs.ErrTruncated or a *mappings.ApplyError
}

func (e *ParseError) Error() string {
	s := "csv: "
	if e.File != "" {
		s += e.File + ":"
	}
	s += fmt.Sprintf("line %d", e.Line)
	if e.Field > 0 {
		s += fmt.Sprintf(" field %d", e.Field)
		if e.Column != "" {
			s += fmt.Sprintf(" (%s)", e.Column)
		}
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

var (
	_ codecs.Decoder = (*Reader)(nil)
	_ codecs.Encoder = (*Writer)(nil)
)
