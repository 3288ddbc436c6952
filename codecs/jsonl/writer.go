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
	vals    [][]byte
	gen     []uint32
	cur     uint32
	buf     []byte
	scratch []byte
	err     error // sticky write error
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
		vals:   make([][]byte, len(cols)),
		gen:    make([]uint32, len(cols)),
		buf:    make([]byte, 0, flushAt+4096),
	}
	wr.root.slot = -1
	for slot, name := range cols {
		wr.number[slot] = p.Column(slot).Number
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

// Put implements mappings.Sink.
func (w *Writer) Put(slot int, v []byte) {
	if slot >= 0 && slot < len(w.vals) {
		w.vals[slot], w.gen[slot] = v, w.cur
	}
}

// Encode writes one record as one line. A value the mapping cannot
// represent is left out and reported with an error wrapping
// codecs.ErrNotRepresentable and the mapping's *mappings.ApplyError (the
// line is still written, and the next Encode goes on); write errors are
// sticky.
func (w *Writer) Encode(r *flow.Record) error {
	if w.err != nil {
		return w.err
	}
	w.cur++
	if w.cur == 0 {
		clear(w.gen)
		w.cur = 1
	}
	var perr error
	w.scratch, perr = w.plan.Encode(r, w, w.scratch)
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
	return nil
}

func (w *Writer) present(n *node) bool {
	for _, s := range w.order[n.lo:n.hi] {
		if w.gen[s] == w.cur {
			return true
		}
	}
	return false
}

func (w *Writer) children(n *node) {
	first := true
	for _, c := range n.children {
		if c.slot >= 0 {
			if w.gen[c.slot] != w.cur {
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
		v := w.vals[c.slot]
		if w.number[c.slot] && validNumber(v) {
			w.buf = append(w.buf, v...)
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
func appendString(dst, v []byte) []byte {
	dst = append(dst, '"')
	s := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
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
