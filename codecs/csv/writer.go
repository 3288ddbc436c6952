package csv

import (
	"fmt"
	"io"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// flushAt is how much output is buffered before it is written.
const flushAt = 64 << 10

// Writer encodes flow.Records as CSV through a mapping: a header line with
// the mapping's columns, then one line per record.
type Writer struct {
	w       io.Writer
	plan    *mappings.Plan
	comma   byte
	cols    []string
	plain   []bool         // the column's values never need quotes: numbers, addresses, MACs
	slots   mappings.Slots // the record's values, by slot
	buf     []byte
	scratch []byte
	err     error // sticky write error
}

// NewWriter returns a Writer of CSV in the named dialect. The header (the
// mapping's columns, in the mapping's order) is written at once, so an
// output without records still says what it would hold.
func NewWriter(w io.Writer, dialect string, opts ...Option) (*Writer, error) {
	p, c, err := compile(dialect, mappings.Out, opts)
	if err != nil {
		return nil, err
	}
	cols := p.Columns()
	wr := &Writer{
		w: w, plan: p, comma: c.comma, cols: cols,
		plain: make([]bool, len(cols)),
		slots: mappings.NewSlots(len(cols)),
		buf:   make([]byte, 0, flushAt+4096),
	}
	if wr.comma == 0 {
		wr.comma = ','
	}
	for i, name := range cols {
		col := p.Column(i)
		wr.plain[i] = wr.comma != '.' && wr.comma != ':' && wr.comma != '-' && wr.comma != ' ' &&
			(col.Number || col.Kind == mappings.KindAddr || col.Kind == mappings.KindMAC)
		if i > 0 {
			wr.buf = append(wr.buf, wr.comma)
		}
		wr.buf = wr.appendField(wr.buf, []byte(name))
	}
	wr.buf = append(wr.buf, '\n')
	return wr, nil
}

// Columns returns the header's column names.
func (w *Writer) Columns() []string { return w.cols }

// Encode writes one record as one line; a field the record lacks is
// empty. A value the mapping cannot represent is left empty and reported
// with an error wrapping codecs.ErrNotRepresentable and the mapping's
// *mappings.ApplyError (the line is still written, and the next Encode
// goes on); write errors are sticky.
func (w *Writer) Encode(r *flow.Record) error {
	if w.err != nil {
		return w.err
	}
	w.slots.Next()
	var perr error
	w.scratch, perr = w.plan.Encode(r, &w.slots, w.scratch)
	for i := range w.cols {
		if i > 0 {
			w.buf = append(w.buf, w.comma)
		}
		v, ok := w.slots.Get(i)
		if !ok {
			continue
		}
		if w.plain[i] {
			w.buf = append(w.buf, v...)
		} else {
			w.buf = w.appendField(w.buf, v)
		}
	}
	w.buf = append(w.buf, '\n')
	if len(w.buf) >= flushAt {
		w.flush()
	}
	if w.err != nil {
		return w.err
	}
	if perr != nil {
		return fmt.Errorf("csv: %s: %w: %w", w.plan.Dialect, codecs.ErrNotRepresentable, perr)
	}
	return nil
}

// appendField appends v, in double quotes (RFC 4180 §2.6-2.7) when it
// holds the separator, a quote, a line break, or spaces at either end
// (which the Reader would trim from an unquoted field).
func (w *Writer) appendField(dst, v []byte) []byte {
	quote := len(v) > 0 && (v[0] == ' ' || v[len(v)-1] == ' ')
	if !quote {
		for _, c := range v {
			if c == w.comma || c == '"' || c == '\n' || c == '\r' {
				quote = true
				break
			}
		}
	}
	if !quote {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	s := 0
	for i, c := range v {
		if c == '"' {
			dst = append(dst, v[s:i+1]...)
			dst = append(dst, '"')
			s = i + 1
		}
	}
	dst = append(dst, v[s:]...)
	return append(dst, '"')
}

func (w *Writer) flush() {
	if len(w.buf) == 0 || w.err != nil {
		return
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = fmt.Errorf("csv: write: %w", err)
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
