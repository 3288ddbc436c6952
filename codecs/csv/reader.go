package csv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// What nfdump -o csv prints besides records: a note when no flow matched,
// and a summary block (its own header and one line) after the records.
const (
	nfdumpEmpty   = "No matching flows"
	nfdumpSummary = "Summary"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Stats counts what a Reader saw.
type Stats struct {
	Records  int // records decoded whole
	Partial  int // records decoded without a value the mapping could not convert (ParseError.Partial)
	Rejected int // records not decoded: wrong field count, malformed quoting
	Skipped  int // blank lines, comment lines before the header, nfdump's "No matching flows"
	Unmapped int // header columns the mapping does not know (Reader.Unmapped names them)
	Summary  bool
}

// Reader decodes CSV records into flow.Records through a mapping: the
// header line says which column is which.
type Reader struct {
	r     io.Reader
	plan  *mappings.Plan
	cfg   config
	comma byte

	buf        []byte
	start, end int // unread input is buf[start:end]
	eof        bool
	err        error // sticky: read errors, a header that is missing or too long
	line       int   // 1-based line number of buf[start]

	header   []string
	slots    map[string]int // mapping column -> slot
	slotCol  []int          // slot -> header column, -1 when absent
	fields   [][]byte       // the current record's fields
	text     []byte         // unescaped quoted fields of the current record
	unmapped []string
	done     bool // nfdump's summary reached
	stats    Stats
}

// NewReader returns a Reader of CSV in the named dialect (argus, ecs,
// goflow2, nfdump, ipfix). The header is read by the first Decode.
func NewReader(r io.Reader, dialect string, opts ...Option) (*Reader, error) {
	p, c, err := compile(dialect, mappings.In, opts)
	if err != nil {
		return nil, err
	}
	cols := p.Columns()
	rd := &Reader{
		r: r, plan: p, cfg: c, comma: c.comma,
		buf:     make([]byte, 64<<10),
		line:    1,
		slots:   make(map[string]int, len(cols)),
		slotCol: make([]int, len(cols)),
		text:    make([]byte, 0, 256),
	}
	if rd.comma == 0 {
		rd.comma = ','
	}
	for i, name := range cols {
		rd.slots[name] = i
	}
	return rd, nil
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Header returns the column names of the header line (nil before it is read).
func (r *Reader) Header() []string { return r.header }

// Unmapped names the header columns the mapping does not know, in order.
func (r *Reader) Unmapped() []string { return r.unmapped }

// Get implements mappings.Source. An empty field is absent.
func (r *Reader) Get(slot int) ([]byte, bool) {
	if slot < 0 || slot >= len(r.slotCol) {
		return nil, false
	}
	c := r.slotCol[slot]
	if c < 0 || len(r.fields[c]) == 0 {
		return nil, false
	}
	return r.fields[c], true
}

func (r *Reader) perr(line, field int, msg string, err error) *ParseError {
	e := &ParseError{File: r.cfg.fileName, Line: line, Field: field, Msg: msg, Err: err}
	if field > 0 && field <= len(r.header) {
		e.Column = r.header[field-1]
	}
	return e
}

// Decode reads the next record into rec; it returns io.EOF at the end
// (also for an input with no line at all). Text values (label, uid) alias
// the reader's buffer until the next call. A record that does not parse
// or convert is returned as a *ParseError and skipped: the next Decode
// goes on with the next record. When only a value does not convert
// (ParseError.Partial), rec holds the record's other fields. A missing
// header and read errors are sticky.
func (r *Reader) Decode(rec *flow.Record) error {
	if r.err != nil {
		return r.err
	}
	if r.header == nil {
		if err := r.readHeader(); err != nil {
			return err
		}
	}
	for {
		if r.done {
			return io.EOF
		}
		line := r.line
		if err := r.next(); err != nil {
			return err
		}
		f := r.fields
		if len(f) == 1 && len(f[0]) == 0 {
			r.stats.Skipped++ // a blank line
			continue
		}
		if len(f) == 1 && len(r.header) > 1 {
			switch string(f[0]) {
			case nfdumpEmpty:
				r.stats.Skipped++
				continue
			case nfdumpSummary:
				r.done, r.stats.Summary = true, true
				return io.EOF
			}
		}
		if len(f) != len(r.header) {
			r.stats.Rejected++
			return r.perr(line, 0, fmt.Sprintf("%d fields, the header has %d", len(f), len(r.header)), ErrFieldCount)
		}
		rec.Reset()
		rec.Type = flow.TypeFlow
		if err := r.plan.Decode(r, rec); err != nil {
			// The plan sets every other field: the record is returned
			// without this value, for a caller that accepts that.
			r.stats.Partial++
			e := r.perr(line, 0, "", err)
			var ae *mappings.ApplyError
			if errors.As(err, &ae) {
				if slot, ok := r.slots[ae.External]; ok && r.slotCol[slot] >= 0 {
					c := r.slotCol[slot]
					e = r.perr(line, c+1, fmt.Sprintf("%q", r.fields[c]), err)
					e.Canonical = r.plan.Column(slot).Canonical
				}
			}
			e.Partial = true
			return e
		}
		r.stats.Records++
		return nil
	}
}

// readHeader reads the first line that is not blank or a # comment (as
// raconvert skips them) as the column names.
func (r *Reader) readHeader() error {
	for {
		line := r.line
		if err := r.next(); err != nil {
			if err == io.EOF {
				r.err = io.EOF
			}
			return err
		}
		f := r.fields
		if line == 1 && len(f) > 0 && bytes.HasPrefix(f[0], utf8BOM) {
			f[0] = bytes.TrimLeft(f[0][len(utf8BOM):], " ")
		}
		if len(f) == 1 && len(f[0]) == 0 || len(f) > 0 && len(f[0]) > 0 && f[0][0] == '#' {
			r.stats.Skipped++
			continue
		}
		if r.cfg.comma == 0 && r.comma == ',' && len(f) == 1 && bytes.IndexByte(f[0], '\t') >= 0 {
			// ra -c '\t' (and tab-separated binetflow files).
			r.comma = '\t'
			f = bytes.Split(f[0], []byte{'\t'})
			for i := range f {
				f[i] = trim(f[i])
			}
		}
		r.header = make([]string, len(f))
		for i := range r.slotCol {
			r.slotCol[i] = -1
		}
		known := 0
		for i, name := range f {
			r.header[i] = string(name)
			if slot, ok := r.slots[r.header[i]]; ok {
				r.slotCol[slot] = i // a column given twice: the last one wins, as raconvert
				known++
			} else {
				r.unmapped = append(r.unmapped, r.header[i])
			}
		}
		r.stats.Unmapped = len(r.unmapped)
		if known == 0 {
			cols := r.plan.Columns()
			if len(cols) > 6 {
				cols = cols[:6]
			}
			r.err = &ParseError{File: r.cfg.fileName, Line: line, Err: ErrNoHeader,
				Msg: fmt.Sprintf("%.40q names no column of the %s mapping (%s ...): the file has no header line, or is another dialect", f[0], r.plan.Dialect, strings.Join(cols, ","))}
			r.header = nil
			return r.err
		}
		r.fields = make([][]byte, 0, len(f)+1)
		return nil
	}
}

// next parses the record at r.start into r.fields and moves past it,
// reading more input as needed; io.EOF at the end of the input.
func (r *Reader) next() error {
	for {
		if r.start == r.end && r.eof {
			return io.EOF
		}
		n, nl, more, bad := r.record(r.buf[r.start:r.end], r.eof)
		if bad != nil {
			// Go on at the next line (or the end of the input).
			line := r.line
			if i := bytes.IndexByte(r.buf[r.start:r.end], '\n'); i >= 0 && !bad.truncated {
				r.start += i + 1
				r.line++
			} else {
				r.start = r.end
			}
			r.stats.Rejected++
			err := codecs.ErrCorrupt
			if bad.truncated {
				err = codecs.ErrTruncated
			}
			if r.header == nil {
				r.err = r.perr(line, bad.field, bad.msg, err)
				return r.err
			}
			return r.perr(line, bad.field, bad.msg, err)
		}
		if !more {
			r.start += n
			r.line += nl
			return nil
		}
		if err := r.fill(); err != nil && err != io.EOF {
			return err
		}
	}
}

// fill reads more input, moving unread data to the front and growing the
// buffer when a record does not fit (up to the configured maximum).
func (r *Reader) fill() error {
	if r.eof {
		return io.EOF
	}
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= r.cfg.maxRecord {
			r.err = r.perr(r.line, 0, fmt.Sprintf("record longer than %d bytes", r.cfg.maxRecord), codecs.ErrCorrupt)
			return r.err
		}
		nb := make([]byte, 2*len(r.buf))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err == io.EOF {
			r.eof = true
			return nil
		}
		if err != nil {
			r.err = fmt.Errorf("csv: read: %w", err)
			return r.err
		}
		if n > 0 {
			return nil
		}
	}
	r.err = fmt.Errorf("csv: read: %w", io.ErrNoProgress)
	return r.err
}

// badRecord is a malformed record: which field and why.
type badRecord struct {
	field     int
	msg       string
	truncated bool // the input ended inside a quoted field
}

// trim drops the spaces around an unquoted field: ra pads Flgs and Dir,
// nfdump its latency columns and protocol numbers, and neither writes a
// space that is data (RFC 4180 keeps spaces; a value that has them must
// be quoted to keep them here).
func trim(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// record splits the record at the start of b into r.fields. n is the bytes
// it takes with its line break, nl the line breaks in them. more: b ends
// before the record does and atEOF is false.
func (r *Reader) record(b []byte, atEOF bool) (n, nl int, more bool, bad *badRecord) {
	r.fields = r.fields[:0]
	r.text = r.text[:0]
	end := bytes.IndexByte(b, '\n')
	if end < 0 {
		if !atEOF {
			return 0, 0, true, nil
		}
		end, n = len(b), len(b)
	} else {
		n, nl = end+1, 1
	}
	line := b[:end]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if bytes.IndexByte(line, '"') >= 0 {
		return r.quoted(b, atEOF)
	}
	// The common case, a line without quotes: split at each separator.
	for {
		i := bytes.IndexByte(line, r.comma)
		if i < 0 {
			r.fields = append(r.fields, trim(line))
			return n, nl, false, nil
		}
		r.fields = append(r.fields, trim(line[:i]))
		line = line[i+1:]
	}
}

// quoted splits a record that has quotes (RFC 4180 §2.5-2.7: a field in
// double quotes may hold separators, line breaks and "" for a quote). A
// quote inside an unquoted field is kept as data.
func (r *Reader) quoted(b []byte, atEOF bool) (n, nl int, more bool, bad *badRecord) {
	comma := r.comma
	i := 0
	for {
		s := i
		for s < len(b) && b[s] == ' ' {
			s++
		}
		if s < len(b) && b[s] == '"' {
			j := s + 1
			seg := j
			start := len(r.text)
			esc := false
			for {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					if atEOF {
						return 0, 0, false, &badRecord{field: len(r.fields) + 1, msg: "quoted field not closed at the end of the input", truncated: true}
					}
					return 0, 0, true, nil
				}
				j += k
				if j+1 == len(b) && !atEOF {
					return 0, 0, true, nil // a "" may be split by the read
				}
				if j+1 < len(b) && b[j+1] == '"' {
					r.text = append(r.text, b[seg:j+1]...)
					j += 2
					seg = j
					esc = true
					continue
				}
				break
			}
			nl += bytes.Count(b[s+1:j], []byte{'\n'})
			v := b[s+1 : j]
			if esc {
				r.text = append(r.text, b[seg:j]...)
				v = r.text[start:]
			}
			r.fields = append(r.fields, v)
			i = j + 1
			for i < len(b) && b[i] == ' ' {
				i++
			}
			if i < len(b) && b[i] == '\r' {
				if i+1 == len(b) && !atEOF {
					return 0, 0, true, nil
				}
				if i+1 < len(b) && b[i+1] == '\n' {
					i++
				}
			}
			switch {
			case i >= len(b):
				if !atEOF {
					return 0, 0, true, nil
				}
				return i, nl, false, nil
			case b[i] == comma:
				i++
				continue
			case b[i] == '\n':
				return i + 1, nl + 1, false, nil
			}
			return 0, 0, false, &badRecord{field: len(r.fields), msg: fmt.Sprintf("%q after a quoted field, want a separator or the end of the line", b[i])}
		}
		j := i
		for j < len(b) && b[j] != comma && b[j] != '\n' {
			j++
		}
		if j == len(b) && !atEOF {
			return 0, 0, true, nil
		}
		v := b[i:j]
		if j < len(b) && b[j] == '\n' && len(v) > 0 && v[len(v)-1] == '\r' {
			v = v[:len(v)-1]
		}
		r.fields = append(r.fields, trim(v))
		switch {
		case j == len(b):
			return j, nl, false, nil
		case b[j] == comma:
			i = j + 1
		default:
			return j + 1, nl + 1, false, nil
		}
	}
}
