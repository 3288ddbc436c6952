package mappings

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels a loader error wraps; test with errors.Is.
var (
	ErrSyntax         = errors.New("yaml syntax")
	ErrUnknownKey     = errors.New("unknown key")
	ErrType           = errors.New("wrong type")
	ErrMissing        = errors.New("missing key")
	ErrVersion        = errors.New("unsupported version")
	ErrSchema         = errors.New("unknown schema")
	ErrUnknownField   = errors.New("unknown canonical field")
	ErrUnknownElem    = errors.New("unknown external field")
	ErrConversion     = errors.New("bad conversion")
	ErrDuplicate      = errors.New("duplicate rule")
	ErrSchemaMismatch = errors.New("schemas differ")
)

// Pos is where a node is: file, 1-based line and column, and its path inside
// the file (fields[3].convert.scale).
type Pos struct {
	File      string
	Line, Col int
	Path      string
}

func (p Pos) String() string {
	if p.Path == "" {
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Path)
}

// Error is one problem in a mapping file.
type Error struct {
	Pos
	Err error  // a sentinel above
	Msg string // detail
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("%s: %v", e.Pos, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Pos, e.Err, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is find any one of the sentinels.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ApplyError is one value a plan could not convert, with the rule it came
// from. Apply returns it for the first bad value of a record.
type ApplyError struct {
	Rule     Pos
	External string
	Err      error // ErrValue, ErrRange, ErrLossy
}

// Sentinels of ApplyError.
var (
	ErrValue = errors.New("value does not parse")
	ErrRange = errors.New("value out of range for the field")
	ErrLossy = errors.New("value changes in conversion")
)

func (e *ApplyError) Error() string {
	return fmt.Sprintf("%s (%s): %v", e.Rule, e.External, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }
