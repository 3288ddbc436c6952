package filter

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error Compile returns is a *SyntaxError that
// matches ErrSyntax; it also matches ErrUnknownName when a name (host,
// service, protocol, ether type) could not be resolved, and ErrUnsupported
// when the construct is valid ra syntax that this package does not
// evaluate.
var (
	ErrSyntax      = errors.New("filter: syntax error")
	ErrUnknownName = errors.New("filter: unknown name")
	ErrUnsupported = errors.New("filter: unsupported construct")
)

// SyntaxError reports where an expression failed to compile.
type SyntaxError struct {
	Offset int    // byte offset of the offending token in the expression
	Token  string // the offending token text; "" at the end of input
	Msg    string // what is wrong, e.g. `unexpected "and"`
	Err    error  // ErrUnknownName, ErrUnsupported or nil
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter: offset %d: %s", e.Offset, e.Msg)
}

// Unwrap returns the cause (ErrUnknownName, ErrUnsupported) if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Is reports whether target is ErrSyntax: every compile error is one.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }
