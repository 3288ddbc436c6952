package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// maxDepth bounds object nesting so that hostile input cannot recurse deeply.
const maxDepth = 32

// nfdumpEmpty is what nfdump -o json prints inside its array when no flow
// matches: not JSON, but real output, so the reader skips it.
var nfdumpEmpty = []byte("No matching flows")

// Stats counts what a Reader saw.
type Stats struct {
	Records int // objects decoded
	Ignored int // keys (or paths) the mapping does not name, skipped
}

// Reader decodes JSON objects into flow.Records through a mapping.
type Reader struct {
	r    io.Reader
	plan *mappings.Plan
	cfg  config

	buf        []byte
	start, end int   // unread data is buf[start:end]
	base       int64 // stream offset of buf[0]
	eof        bool
	err        error // sticky

	// Position bookkeeping for errors: line is the 1-based line of byte
	// lineAt (absolute), lineStart the absolute offset where it begins.
	line      int
	lineAt    int64
	lineStart int64

	started, inArray, needComma bool

	slots map[string]int // dotted path -> plan slot
	text  []byte         // unescaped strings of the current object
	vals  [][]byte
	at    []int // where each value starts in the object, for errors
	gen   []uint32
	cur   uint32
	path  []byte
	stats Stats
	// Producers write their keys in the same order on every line, so the
	// next key of an object is predicted from the keys of the last one: a
	// byte compare instead of hashing the path (a fifth of reading time).
	// A key a line leaves out (a uni-flow's reverse counters) is skipped
	// by looking a few entries ahead; a miss falls back to the map and
	// writes the key at the cursor.
	pred []predKey
	keyN int // cursor into pred
}

type predKey struct {
	path   []byte
	slot   int
	mapped bool
}

// lookup gives the plan slot of r.path.
func (r *Reader) lookup() (int, bool) {
	n := r.keyN
	for j := n; j < n+4 && j < len(r.pred); j++ {
		if p := &r.pred[j]; bytes.Equal(p.path, r.path) {
			r.keyN = j + 1
			return p.slot, p.mapped
		}
	}
	r.keyN++
	if n == len(r.pred) && n < 512 { // bounds what a hostile object makes us keep
		r.pred = append(r.pred, predKey{})
	}
	slot, mapped := r.slots[string(r.path)]
	if n < len(r.pred) {
		p := &r.pred[n]
		p.path, p.slot, p.mapped = append(p.path[:0], r.path...), slot, mapped
	}
	return slot, mapped
}

// NewReader returns a Reader of JSON objects in the named dialect (argus,
// ecs, goflow2, nfdump, ipfix). Input is JSON lines, or objects in a
// top-level array (nfdump -o json), or objects separated by any white space.
func NewReader(r io.Reader, dialect string, opts ...Option) (*Reader, error) {
	p, c, err := compile(dialect, mappings.In, opts)
	if err != nil {
		return nil, err
	}
	cols := p.Columns()
	rd := &Reader{
		r: r, plan: p, cfg: c,
		buf:   make([]byte, 64<<10),
		line:  1,
		slots: make(map[string]int, len(cols)),
		vals:  make([][]byte, len(cols)),
		at:    make([]int, len(cols)),
		gen:   make([]uint32, len(cols)),
		path:  make([]byte, 0, 256),
		text:  make([]byte, 0, 1024),
	}
	for i, name := range cols {
		rd.slots[name] = i
	}
	return rd, nil
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Get implements mappings.Source.
func (r *Reader) Get(slot int) ([]byte, bool) {
	if slot < 0 || slot >= len(r.gen) || r.gen[slot] != r.cur {
		return nil, false
	}
	return r.vals[slot], true
}

// Decode reads the next object into rec. It returns io.EOF at the end.
// Text values (label, uid, community id) alias the reader's buffer until
// the next call. Errors are *SyntaxError values naming line and column,
// and are sticky.
func (r *Reader) Decode(rec *flow.Record) error {
	if r.err != nil {
		return r.err
	}
	for {
		if err := r.skipSpace(); err != nil {
			if err == io.EOF {
				if r.inArray {
					return r.fail(r.start, "array not closed", codecs.ErrTruncated)
				}
				r.err = io.EOF
			}
			return r.err
		}
		c := r.buf[r.start]
		switch {
		case c == '[' && !r.started:
			r.started, r.inArray = true, true
			r.start++
			continue
		case c == ',' && r.inArray && r.needComma:
			r.needComma = false
			r.start++
			continue
		case c == ']' && r.inArray:
			r.inArray, r.needComma = false, false
			r.start++
			continue
		case c == '{':
			if r.needComma {
				return r.fail(r.start, "missing comma between objects", codecs.ErrCorrupt)
			}
			r.started = true
			return r.decodeObject(rec)
		case r.inArray && !r.needComma && r.hasPrefix(nfdumpEmpty):
			r.start += len(nfdumpEmpty)
			continue
		}
		return r.fail(r.start, fmt.Sprintf("unexpected %q, want an object", c), codecs.ErrCorrupt)
	}
}

func (r *Reader) hasPrefix(p []byte) bool {
	for r.end-r.start < len(p) && !r.eof {
		if r.fill() != nil {
			break
		}
	}
	return bytes.HasPrefix(r.buf[r.start:r.end], p)
}

// fill reads more input, first moving unread data to the front and growing
// the buffer when an object does not fit (up to the configured maximum).
func (r *Reader) fill() error {
	if r.eof {
		return io.EOF
	}
	if r.start > 0 {
		r.advance(r.base + int64(r.start)) // count the lines about to be dropped
		n := copy(r.buf, r.buf[r.start:r.end])
		r.base += int64(r.start)
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= r.cfg.maxObject {
			return r.fail(r.start, fmt.Sprintf("object larger than %d bytes", r.cfg.maxObject), codecs.ErrCorrupt)
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
			if n > 0 {
				return nil
			}
			return io.EOF
		}
		if err != nil {
			r.err = fmt.Errorf("jsonl: read: %w", err)
			return r.err
		}
		if n > 0 {
			return nil
		}
	}
	r.err = fmt.Errorf("jsonl: read: %w", io.ErrNoProgress)
	return r.err
}

func (r *Reader) skipSpace() error {
	for {
		for r.start < r.end {
			switch r.buf[r.start] {
			case ' ', '\t', '\r', '\n':
				r.start++
				continue
			}
			return nil
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

// fail records a sticky error at buffer position p.
func (r *Reader) fail(p int, msg string, err error) error {
	abs := r.base + int64(p)
	r.advance(abs)
	r.err = &SyntaxError{Line: r.line, Col: int(abs-r.lineStart) + 1, Offset: abs, Msg: msg, Err: err}
	return r.err
}

// advance moves the line bookkeeping forward to absolute offset abs, which
// must be inside the buffer.
func (r *Reader) advance(abs int64) {
	if abs <= r.lineAt {
		return
	}
	from := int(r.lineAt - r.base)
	if from < 0 {
		from = 0
	}
	b := r.buf[from : abs-r.base]
	if n := bytes.Count(b, []byte{'\n'}); n > 0 {
		r.line += n
		r.lineStart = r.base + int64(from+bytes.LastIndexByte(b, '\n')+1)
	}
	r.lineAt = abs
}

// decodeObject parses the object at r.start in one pass over what the
// buffer holds; when the parse runs off the end, it reads more and starts
// again (strings are unescaped into r.text, never in place, so a second
// pass sees the input unchanged).
func (r *Reader) decodeObject(rec *flow.Record) error {
	ignored := r.stats.Ignored
	var n int
	for {
		r.cur++
		if r.cur == 0 { // wrapped: old generations could match again
			clear(r.gen)
			r.cur = 1
		}
		r.path, r.text, r.stats.Ignored = r.path[:0], r.text[:0], ignored
		r.keyN = 0
		obj := r.buf[r.start:r.end]
		var e *perr
		if n, e = r.object(obj, 0, 0); e == nil {
			break
		}
		if e.at < len(obj) {
			return r.fail(r.start+e.at, e.msg, codecs.ErrCorrupt)
		}
		if err := r.fill(); err != nil {
			if err == io.EOF {
				return r.fail(r.end, "object not closed", codecs.ErrTruncated)
			}
			return err
		}
	}
	rec.Reset()
	rec.Type = flow.TypeFlow
	if err := r.plan.Decode(r, rec); err != nil {
		// Point at the value the plan rejected (the object when the value
		// came from a default).
		at := r.start
		var ae *mappings.ApplyError
		if errors.As(err, &ae) {
			if slot, ok := r.slots[ae.External]; ok && r.gen[slot] == r.cur {
				at += r.at[slot]
			}
		}
		return r.fail(at, "", err)
	}
	r.start += n
	r.needComma = r.inArray
	r.stats.Records++
	return nil
}

type perr struct {
	at  int
	msg string
}

// The parser works on the buffered input b; positions are into b. An
// error at len(b) or beyond means the input ran out before the object
// ended. It returns *perr (not error) so that the hot path does not
// allocate; only a malformed object builds one.

func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		}
		break
	}
	return i
}

func bad(i int, msg string) *perr { return &perr{at: i, msg: msg} }

// object parses the object at b[i] == '{' whose keys extend path (of
// length plen) and returns the index after it.
func (r *Reader) object(b []byte, i, depth int) (int, *perr) {
	if depth >= maxDepth {
		return i, bad(i, "objects nested too deeply")
	}
	plen := len(r.path)
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, bad(i, "want a key string")
		}
		key, j, e := unquote(b, i, &r.text)
		if e != nil {
			return j, e
		}
		r.path = r.path[:plen]
		if plen > 0 {
			r.path = append(r.path, '.')
		}
		r.path = append(r.path, key...)
		i = ws(b, j)
		if i >= len(b) || b[i] != ':' {
			return i, bad(i, "want ':' after key")
		}
		i = ws(b, i+1)
		if i >= len(b) {
			return i, bad(i, "want a value")
		}
		slot, mapped := r.lookup()
		switch c := b[i]; {
		case c == '{':
			if mapped {
				return i, bad(i, fmt.Sprintf("%s is mapped to a value, have an object", r.path))
			}
			if i, e = r.object(b, i, depth+1); e != nil {
				return i, e
			}
		case c == '[':
			if i, e = skipArray(b, i, depth+1, &r.text); e != nil {
				return i, e
			}
			if mapped {
				r.stats.Ignored++
			}
		case c == '"':
			var v []byte
			s := i
			if v, i, e = unquote(b, i, &r.text); e != nil {
				return i, e
			}
			if mapped {
				r.vals[slot], r.gen[slot], r.at[slot] = v, r.cur, s
			}
		default:
			s := i
			for i < len(b) && !isDelim(b[i]) {
				i++
			}
			if i == len(b) {
				return i, bad(i, "object not closed") // the literal may go on
			}
			v := b[s:i]
			if !validLiteral(v) {
				return s, bad(s, fmt.Sprintf("bad value %q", v))
			}
			if mapped && v[0] != 'n' { // null is absent
				r.vals[slot], r.gen[slot], r.at[slot] = v, r.cur, s
			}
		}
		if !mapped && b[i-1] != '}' {
			r.stats.Ignored++
		}
		i = ws(b, i)
		if i >= len(b) {
			return i, bad(i, "object not closed")
		}
		switch b[i] {
		case ',':
			i = ws(b, i+1)
		case '}':
			r.path = r.path[:plen]
			return i + 1, nil
		default:
			return i, bad(i, "want ',' or '}'")
		}
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n', ':', '"', '{', '[':
		return true
	}
	return false
}

// validLiteral accepts true, false, null and JSON numbers.
func validLiteral(v []byte) bool {
	switch string(v) {
	case "true", "false", "null":
		return true
	}
	return validNumber(v)
}

func validNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	if i >= len(v) {
		return false
	}
	if v[i] == '0' {
		i++
	} else if v[i] >= '1' && v[i] <= '9' {
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		d := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		d := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(v)
}

// skipArray skips the array at b[i] == '['. Arrays are not mapped; their
// contents are only checked for balance, strings and nesting.
func skipArray(b []byte, i, depth int, text *[]byte) (int, *perr) {
	if depth >= maxDepth {
		return i, bad(i, "arrays nested too deeply")
	}
	i++
	for i < len(b) {
		switch b[i] {
		case ']':
			return i + 1, nil
		case '[':
			var e *perr
			if i, e = skipArray(b, i, depth+1, text); e != nil {
				return i, e
			}
			continue
		case '"':
			var e *perr
			if _, i, e = unquote(b, i, text); e != nil {
				return i, e
			}
			continue
		}
		i++
	}
	return i, bad(i, "array not closed")
}

// unquote reads the string at b[i] == '"' and returns its bytes and the
// index after the closing quote. A string without escapes aliases b; one
// with escapes is unescaped onto *text, leaving b as it was.
func unquote(b []byte, i int, text *[]byte) ([]byte, int, *perr) {
	s := i + 1
	j := s
	for j < len(b) {
		c := b[j]
		if c == '"' {
			return b[s:j], j + 1, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, j, bad(j, "control character in string")
		}
		j++
	}
	t := *text
	start := len(t)
	t = append(t, b[s:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			*text = t
			return t[start:], j + 1, nil
		case c < 0x20:
			return nil, j, bad(j, "control character in string")
		case c != '\\':
			t = append(t, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			break
		}
		e := b[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			t = append(t, e)
		case 'b':
			t = append(t, '\b')
		case 'f':
			t = append(t, '\f')
		case 'n':
			t = append(t, '\n')
		case 'r':
			t = append(t, '\r')
		case 't':
			t = append(t, '\t')
		case 'u':
			if j+4 > len(b) {
				return nil, len(b), bad(len(b), "string not closed")
			}
			r1, ok := hex4(b, j)
			if !ok {
				return nil, j, bad(j, "bad \\u escape")
			}
			j += 4
			if r1 >= 0xD800 && r1 < 0xDC00 {
				if len(b)-j < 6 && (j == len(b) || b[j] == '\\') {
					// The low half may be in the input not read yet.
					return nil, len(b), bad(len(b), "string not closed")
				}
				if j+6 <= len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if r2, ok := hex4(b, j+2); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r1 = (r1-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
						j += 6
					}
				}
			}
			if r1 >= 0xD800 && r1 < 0xE000 {
				r1 = utf8.RuneError // lone surrogate, as encoding/json reads it
			}
			t = utf8.AppendRune(t, r1)
		default:
			return nil, j - 1, bad(j-1, fmt.Sprintf("bad escape \\%c", e))
		}
	}
	return nil, len(b), bad(len(b), "string not closed")
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[j : j+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
