package jsonl

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// node is one key of the output layout: a value (slot >= 0) or an object
// whose leaves are order[lo:hi].
type node struct {
	key      []byte // `"name":` pre-rendered
	slot     int
	children []*node
	lo, hi   int
}

// Writer encodes flow.Records as JSON lines through a mapping.
type Writer struct {
	w       io.Writer
	plan    *mappings.Plan
	root    node
	order   []int // slots in output order
	number  []bool
	plain   []bool         // Plan.Column.Plain: quoted without the escaping scan
	slots   mappings.Slots // the record's values, by slot
	buf     []byte
	scratch []byte
	err     error // sticky write error
	stats   WriteStats
	errs    [mappings.MaxFields]error // undeclared's, by field
}

// WriteStats counts what a Writer wrote and left out.
type WriteStats struct {
	Records int64 // lines written
	// Unwritten counts, by canonical field id (mappings.FieldName), the
	// values records carried that the dialect did not write
	// (mappings.Plan.EncodeUnwritten).
	Unwritten [mappings.MaxFields]int64
	// Undeclared counts the records Encode returned an error for: a value
	// left out that the mapping does not declare lossy.
	Undeclared int64
}

// Lost lists the fields with values left out, by name, with their counts,
// in canonical order.
func (s *WriteStats) Lost() []FieldCount {
	var out []FieldCount
	for id, n := range s.Unwritten {
		if n > 0 {
			out = append(out, FieldCount{Field: mappings.FieldName(id), Count: n})
		}
	}
	return out
}

// FieldCount is one canonical field's count.
type FieldCount struct {
	Field string
	Count int64
}

// flushAt is how much output is buffered before it is written.
const flushAt = 64 << 10

// NewWriter returns a Writer of JSON lines in the named dialect. Keys come
// in the mapping's order; a dotted path (source.ip) becomes nested objects,
// grouped under the first appearance of their parent key.
func NewWriter(w io.Writer, dialect string, opts ...Option) (*Writer, error) {
	p, _, err := compile(dialect, mappings.Out, opts)
	if err != nil {
		return nil, err
	}
	cols := p.Columns()
	wr := &Writer{
		w: w, plan: p,
		number: make([]bool, len(cols)),
		plain:  make([]bool, len(cols)),
		slots:  mappings.NewSlots(len(cols)),
		buf:    make([]byte, 0, flushAt+4096),
	}
	wr.root.slot = -1
	for slot, name := range cols {
		c := p.Column(slot)
		wr.number[slot], wr.plain[slot] = c.Number, c.Plain
		if err := wr.place(name, slot); err != nil {
			return nil, err
		}
	}
	wr.index(&wr.root)
	return wr, nil
}

func (w *Writer) place(name string, slot int) error {
	n := &w.root
	parts := strings.Split(name, ".")
	for k, part := range parts {
		key := appendString(nil, []byte(part))
		key = append(key, ':')
		var c *node
		for _, ch := range n.children {
			if string(ch.key) == string(key) {
				c = ch
				break
			}
		}
		last := k == len(parts)-1
		if c == nil {
			c = &node{key: key, slot: -1}
			if last {
				c.slot = slot
			}
			n.children = append(n.children, c)
		} else if last || c.slot >= 0 {
			return fmt.Errorf("jsonl: mapping %s: key %q is both a value and an object (or written twice)", w.plan.Dialect, name)
		}
		n = c
	}
	return nil
}

func (w *Writer) index(n *node) {
	n.lo = len(w.order)
	if n.slot >= 0 {
		w.order = append(w.order, n.slot)
	}
	for _, c := range n.children {
		w.index(c)
	}
	n.hi = len(w.order)
}

// Encode writes one record as one line. Every value the record carries
// that the dialect does not write is counted by field (Stats). Fields the
// mapping has no key for are a declared loss (mappings.Plan.Declared:
// `flowgate mapping check` lists them), counted only; any other value left
// out is reported with an error wrapping codecs.ErrNotRepresentable: the
// mapping's *mappings.ApplyError for a value its rule cannot convert, or a
// *codecs.NotRepresentableError (a one-way dialect's reverse counters, an
// address of a family no rule takes). The line is still written and the
// next Encode goes on; write errors are sticky.
func (w *Writer) Encode(r *flow.Record) error {
	if w.err != nil {
		return w.err
	}
	w.slots.Next()
	var perr error
	var lost mappings.FieldSet
	w.scratch, lost, perr = w.plan.EncodeUnwritten(r, &w.slots, w.scratch)
	w.stats.Records++
	for id := lost.Next(0); id >= 0; id = lost.Next(id + 1) {
		w.stats.Unwritten[id]++
	}
	var uerr error
	if perr == nil {
		if und := lost.Minus(w.plan.Declared()); !und.Empty() {
			uerr = w.undeclared(und)
		}
	}
	if perr != nil || uerr != nil {
		w.stats.Undeclared++
	}
	w.buf = append(w.buf, '{')
	w.children(&w.root)
	w.buf = append(w.buf, '}', '\n')
	if len(w.buf) >= flushAt {
		w.flush()
	}
	if w.err != nil {
		return w.err
	}
	if perr != nil {
		return fmt.Errorf("jsonl: %s: %w: %w", w.plan.Dialect, codecs.ErrNotRepresentable, perr)
	}
	return uerr
}

// undeclared describes the first field of und. The error is made once per
// field and kept (errors are immutable), so that refusing every biflow of
// a one-way dialect does not allocate per record.
func (w *Writer) undeclared(und mappings.FieldSet) error {
	id := und.Next(0)
	if e := w.errs[id]; e != nil {
		return e
	}
	f := mappings.FieldName(id)
	reason := "the mapping's rule for it does not take this value (an address of a family no rule has)"
	if w.plan.OneWay() && (f == "dst_pkts" || f == "dst_bytes" || f == "dst_app_bytes") {
		reason = "the dialect's records are one-way (oneway: true): the reverse direction's counters have no key"
	}
	w.errs[id] = fmt.Errorf("jsonl: %s: %w", w.plan.Dialect, &codecs.NotRepresentableError{Format: "json " + w.plan.Dialect, Field: f, Reason: reason})
	return w.errs[id]
}

// Stats returns the counts so far.
func (w *Writer) Stats() WriteStats { return w.stats }

func (w *Writer) present(n *node) bool {
	for _, s := range w.order[n.lo:n.hi] {
		if w.slots.Has(s) {
			return true
		}
	}
	return false
}

func (w *Writer) children(n *node) {
	first := true
	for _, c := range n.children {
		if c.slot >= 0 {
			if !w.slots.Has(c.slot) {
				continue
			}
		} else if !w.present(c) {
			continue
		}
		if !first {
			w.buf = append(w.buf, ',')
		}
		first = false
		w.buf = append(w.buf, c.key...)
		if c.slot < 0 {
			w.buf = append(w.buf, '{')
			w.children(c)
			w.buf = append(w.buf, '}')
			continue
		}
		v, _ := w.slots.Get(c.slot)
		if w.number[c.slot] { // Plan.Column: every op of the slot writes a JSON number
			w.buf = append(w.buf, v...)
		} else if w.plain[c.slot] {
			w.buf = append(w.buf, '"')
			w.buf = append(w.buf, v...)
			w.buf = append(w.buf, '"')
		} else {
			w.buf = appendString(w.buf, v)
		}
	}
}

func (w *Writer) flush() {
	if len(w.buf) == 0 || w.err != nil {
		return
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = fmt.Errorf("jsonl: write: %w", err)
	}
	w.buf = w.buf[:0]
}

// Flush writes buffered lines.
func (w *Writer) Flush() error {
	w.flush()
	return w.err
}

// Close flushes; it does not close the underlying writer.
func (w *Writer) Close() error { return w.Flush() }

const hexDigits = "0123456789abcdef"

// appendString appends v as a JSON string. Invalid UTF-8 bytes become
// U+FFFD, as encoding/json writes them: JSON text must be UTF-8.
// jsonSafe marks the bytes a JSON string holds as they are: printable
// ASCII but '"' and '\\'.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func appendString(dst, v []byte) []byte {
	dst = append(dst, '"')
	s := 0
	for i := 0; i < len(v); {
		c := v[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(v[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
			dst = append(dst, v[s:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			s = i
			continue
		}
		dst = append(dst, v[s:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		i++
		s = i
	}
	dst = append(dst, v[s:]...)
	return append(dst, '"')
}
