// Package filter compiles and evaluates the ra (argus-clients) filter
// language against flow.Record values.
//
// The language is the one of ra(1) and the other ra* clients: a
// tcpdump-like surface syntax with per-flow semantics. "host X" matches a
// flow if X is either endpoint, "tcp" if the flow protocol is TCP, "syn" if
// a SYN was seen in either direction, and a metric without a direction
// ("pkts gt 5") tests the source OR the destination value, never the total
// ("src and dst pkts gt 5" tests both).
//
// Precedence follows ra, not C: "not" binds tightest, "and" and "or" have
// equal precedence and associate left to right, so "a or b and c" means
// "(a or b) and c". A bare value after "and"/"or" reuses the qualifiers of
// the previous primitive ("tcp dst port ftp or ftp-data or domain",
// "not host a and b" = "not host a and host b").
//
// TCP option keywords ("mss", "tcpopt", ...) test the options seen at SYN
// and match TCP flows only; "gap" compares the bytes missing from a
// direction, "co"/"cocode" the country codes, "as" the AS numbers ("inode
// as" the intermediate node's), "avgdur" the duration divided by the
// number of aggregated records, and "inode [host|net] ADDR" the sender of
// an ICMP error mapped onto the flow. Valid ra constructs that need what a
// record does not carry are refused with ErrUnsupported and a reason:
// "gateway" (an ethers database), "lcl"/"rem"/"inbound"/"outbound" and
// the other locality keywords (ra's RA_LOCAL configuration), and
// arithmetic ("len", "proto[x:y]").
//
// Compile parses an expression once into a tree of closures; Match
// evaluates it without allocating. Where ra 3.0.8.2 or 5.0.3 behave
// differently from the documented meaning (argus-clients.md §2.5), this
// package implements the documented meaning; the differences found against
// ra 3.0.8.2 are listed in testdata/known-differences.tsv.
package filter

import (
	"net/netip"

	"github.com/flowgate/flowgate/flow"
)

// node is a compiled predicate.
type node func(r *flow.Record) bool

// Filter is a compiled ra filter expression. It is safe for concurrent use.
type Filter struct {
	expr string
	root node // nil: match everything
}

// Option configures Compile.
type Option func(*config)

type config struct {
	resolve func(name string) ([]netip.Addr, error)
}

// WithResolver sets the function used to resolve host names ("host
// gateway.example"). Without one, a host name is a compile error matching
// ErrUnknownName: the library does no DNS lookups of its own.
func WithResolver(f func(name string) ([]netip.Addr, error)) Option {
	return func(c *config) { c.resolve = f }
}

// Compile parses expr. An empty (or all-blank) expression matches every
// record. Errors are *SyntaxError values naming the byte offset and the
// offending token; they match ErrSyntax.
func Compile(expr string, opts ...Option) (*Filter, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, cfg: &cfg}
	f := &Filter{expr: expr}
	if p.peek().kind == tEOF {
		return f, nil
	}
	n, _, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	f.root = n
	return f, nil
}

// MustCompile is Compile that panics on error, for expressions known at
// build time.
func MustCompile(expr string) *Filter {
	f, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return f
}

// Match reports whether r satisfies the filter. It does not allocate.
func (f *Filter) Match(r *flow.Record) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root(r)
}

// String returns the source expression.
func (f *Filter) String() string { return f.expr }
