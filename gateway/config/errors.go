package config

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels a config error wraps; test with errors.Is.
var (
	ErrSyntax     = errors.New("yaml syntax")
	ErrUnknownKey = errors.New("unknown key")
	ErrType       = errors.New("wrong type")
	ErrMissing    = errors.New("missing key")
	ErrVersion    = errors.New("unsupported version")
	ErrDuplicate  = errors.New("duplicate")
	ErrEndpoint   = errors.New("bad endpoint")
	ErrRole       = errors.New("endpoint not usable here")
	ErrFilter     = errors.New("bad filter")
	ErrMapping    = errors.New("bad mapping")
	ErrValue      = errors.New("bad value")
)

// Pos is where a node is: file, 1-based line and column, and its path inside
// the file (pipelines[0].sinks[1].rotate.every).
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

// Error is one problem in a config file.
type Error struct {
	Pos
	Err error // a sentinel above
	Msg string
	// Cause is the underlying error when another package found it (a
	// filter *SyntaxError, a mappings.Errors, a gateway *EndpointError).
	Cause error
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("%s: %v", e.Pos, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Pos, e.Err, e.Msg)
}

// Unwrap gives both the sentinel and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

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
