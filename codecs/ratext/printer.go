package ratext

import (
	"bufio"
	"io"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// fieldFunc appends the text ra prints for one field (without padding) to b.
type fieldFunc func(p *Printer, r *flow.Record, b []byte) []byte

type column struct {
	def   flow.FieldDef
	fn    fieldFunc
	width int
	left  bool // left-aligned in fixed-width mode
	trunc int  // fixed-width truncation style: 0 keep width-1 chars then '*', 1 keep width
	glue  bool // sport after saddr / dport after daddr: glued with '.'
	flags bool // flgs: spaces are kept
	dir   bool
	udata bool
}

// Printer prints records the way ra does. It is not safe for concurrent use.
type Printer struct {
	w     *bufio.Writer
	o     Options
	prec  int // -p: fraction digits of floats
	tprec int // fraction digits of times
	loc   *time.Location
	tfmt  string
	cols  []column
	line  []byte
	val   []byte
	n     int
	err   error
	c     rctx
	// curCol is the index of the column being printed.
	curCol int
	// offset is what the offset field prints (see SetOffset).
	offset int64
	// lastStart is the previous record's start time (dlstime).
	lastStart float64
	// rec3 is the scratch copy of a record ra 3.0.8.2 prints changed
	// (Compat3, see prepare3).
	rec3 *flow.Record
	// lbl is the label text the JSON label field splits.
	lbl []byte
}

// NewPrinter returns a Printer writing to w. Unknown field names are an
// error that names them.
func NewPrinter(w io.Writer, o Options) (*Printer, error) {
	p := &Printer{w: bufio.NewWriterSize(w, 64<<10), o: o}
	switch {
	case o.Precision == 0:
		p.prec = 6
	case o.Precision < 0:
		p.prec = 0
	default:
		p.prec = o.Precision
	}
	if p.prec > 9 {
		p.prec = 9
	}
	// ra keeps µs: times print at most 6 fraction digits, though their
	// column is widened for the requested precision and floats use it all.
	p.tprec = min(p.prec, 6)
	p.loc = o.Location
	if p.loc == nil {
		p.loc = time.Local
	}
	p.tfmt = o.TimeFormat
	if p.tfmt == "" {
		p.tfmt = "%T.%f"
	}
	fields := o.Fields
	if len(fields) == 0 {
		fields = DefaultFields
	}
	var unknown []string
	for _, s := range fields {
		def, w, err := parseField(s)
		if err != nil {
			if u, ok := err.(*UnknownFieldsError); ok {
				unknown = append(unknown, u.Names...)
				continue
			}
			return nil, err
		}
		c := column{def: def, width: def.RaWidth, fn: fieldFuncs[def.Ra]}
		if c.fn == nil {
			c.fn = printNothing
		}
		if w > 0 {
			c.width = w
		}
		switch def.Ra {
		case "stime", "ltime", "sstime", "sltime", "dstime", "dltime":
			c.width += p.prec // also with name:len, as ra does
		case "sport", "dport":
			c.left = true
			c.trunc = 1
			if n := len(p.cols); n > 0 {
				prev := p.cols[n-1].def.Ra
				c.glue = (def.Ra == "sport" && prev == "saddr") || (def.Ra == "dport" && prev == "daddr")
			}
		case "suser", "duser":
			c.left = true
			c.udata = true
		case "flgs":
			c.flags = true
		case "dir":
			c.dir = true
		}
		if o.Compat3 {
			c.trunc = 1
		}
		p.cols = append(p.cols, c)
	}
	if len(unknown) > 0 {
		return nil, &UnknownFieldsError{Names: unknown}
	}
	p.line = make([]byte, 0, 4096)
	p.val = make([]byte, 0, 512)
	if o.Compat3 {
		p.rec3 = new(flow.Record)
	}
	return p, nil
}

func printNothing(p *Printer, r *flow.Record, b []byte) []byte { return b }

// Print writes one record (and the header line when one is due).
func (p *Printer) Print(r *flow.Record) error {
	if p.err != nil {
		return p.err
	}
	if !p.o.JSON && p.o.Labels >= 0 {
		if (p.o.Labels == 0 && p.n == 0) || (p.o.Labels > 0 && p.n%p.o.Labels == 0) {
			p.writeHeader()
		}
	}
	p.n++
	p.c.init(p, r)
	if p.o.Compat3 {
		var rev bool
		if r, rev = p.prepare3(r); rev {
			p.c.reverse3()
		}
	}
	if p.o.JSON {
		p.line = p.jsonLine(r, p.line[:0])
	} else {
		p.line = p.textLine(r, p.line[:0])
	}
	p.line = append(p.line, '\n')
	if _, err := p.w.Write(p.line); err != nil {
		p.err = err
	}
	return p.err
}

// Flush writes buffered output.
func (p *Printer) Flush() error {
	if p.err != nil {
		return p.err
	}
	p.err = p.w.Flush()
	return p.err
}

// Header returns the header line (without newline) ra prints for the
// configured fields.
func (p *Printer) Header() string {
	return string(p.headerLine(nil))
}

func (p *Printer) writeHeader() {
	p.line = p.headerLine(p.line[:0])
	p.line = append(p.line, '\n')
	if _, err := p.w.Write(p.line); err != nil {
		p.err = err
	}
}

func (p *Printer) headerLine(b []byte) []byte {
	fixed := p.o.Delim == ""
	for i := range p.cols {
		c := &p.cols[i]
		label := c.def.RaLabel
		if fixed {
			if c.udata {
				slen := c.width
				if c.width > 10 {
					slen++
				}
				b = appendSpaces(b, slen/2)
				b = append(b, label...)
				b = appendSpaces(b, slen/2)
				if slen&1 == 1 {
					b = append(b, ' ')
				}
			} else {
				if len(label) > c.width {
					label = label[:c.width] // ra cuts labels to the column
				}
				b = appendPadded(b, []byte(label), c.width, false)
			}
			b = append(b, ' ')
		} else {
			b = append(b, label...)
			b = append(b, p.o.Delim...)
		}
	}
	if !fixed {
		b = b[:len(b)-len(p.o.Delim)]
	}
	return b
}

func (p *Printer) textLine(r *flow.Record, b []byte) []byte {
	fixed := p.o.Delim == ""
	for i := range p.cols {
		c := &p.cols[i]
		p.curCol = i
		v := c.fn(p, r, p.val[:0])
		p.val = v
		if fixed {
			if c.glue && len(b) > 0 && b[len(b)-1] == ' ' && hasNonSpace(v) && r.Type != flow.TypeMgmt {
				b[len(b)-1] = '.'
			}
			b = p.appendFixed(b, c, v)
			b = append(b, ' ')
			continue
		}
		if p.o.Compat3 && len(v) == 0 && c.def.Ra == "resp" {
			continue // ra 3.0.8.2 prints no delimiter for an empty resp
		}
		if c.dir && p.o.Compat3 {
			// ra 3.0.8.2 right-aligns Dir in 5 columns and trims the
			// trailing space ("   ->", "  <-")
			b = trimRightSpace(appendPadded(b, v, c.width, false))
		} else if c.flags {
			// ra keeps the flags' trailing separator space
			b = append(b, v...)
			b = append(b, ' ')
		} else {
			b = append(b, trimRightSpace(v)...)
		}
		b = append(b, p.o.Delim...)
	}
	if fixed {
		return trimRightSpace(b)
	}
	return b[:len(b)-len(p.o.Delim)]
}

func (p *Printer) appendFixed(b []byte, c *column, v []byte) []byte {
	w := c.width
	if len(v) > w && !c.udata {
		keep := w - 1
		if c.trunc == 0 {
			keep = w - 2
		}
		if keep < 0 {
			keep = 0
		}
		b = append(b, v[:keep]...)
		b = append(b, '*')
		if c.trunc == 0 {
			b = append(b, ' ')
		}
		return b
	}
	return appendPadded(b, v, w, c.left)
}

func appendPadded(b, v []byte, w int, left bool) []byte {
	pad := w - len(v)
	if left {
		b = append(b, v...)
		return appendSpaces(b, pad)
	}
	b = appendSpaces(b, pad)
	return append(b, v...)
}

func appendSpaces(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func hasNonSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return true
		}
	}
	return false
}

// SetOffset sets the value the "offset" field prints for the next records:
// ra prints the byte offset of the record in its input file.
func (p *Printer) SetOffset(off int64) { p.offset = off }
