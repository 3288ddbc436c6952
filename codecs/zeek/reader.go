package zeek

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strconv"
	"unsafe"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// Format is the form of a conn.log.
type Format uint8

const (
	FormatAuto Format = iota // detect from the first line
	FormatTSV                // Zeek's ASCII writer: # header, separated columns
	FormatJSON               // one JSON object per line (LogAscii::use_json)
)

// Errors. Every error the Reader returns wraps one of these in an *Error.
var (
	// They wrap codecs.ErrCorrupt, so that callers handling every
	// format's bad input can test for that.
	ErrSyntax = fmt.Errorf("zeek: malformed log: %w", codecs.ErrCorrupt)
	ErrValue  = fmt.Errorf("zeek: bad value: %w", codecs.ErrCorrupt)
	ErrSchema = fmt.Errorf("zeek: record before #fields or with the wrong number of columns: %w", codecs.ErrCorrupt)
)

var (
	_ codecs.Decoder = (*Reader)(nil)
	_ codecs.Encoder = (*Writer)(nil)
)

// Error says where the input went wrong.
type Error struct {
	File   string
	Line   int    // 1-based input line
	Column string // column name, if one is at fault
	Text   string // the offending text (truncated)
	Err    error
}

func (e *Error) Error() string {
	s := e.File
	if s == "" {
		s = "zeek"
	}
	s += ":" + strconv.Itoa(e.Line)
	if e.Column != "" {
		s += ": column " + e.Column
	}
	s += ": " + e.Err.Error()
	if e.Text != "" {
		s += ": " + strconv.Quote(e.Text)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Option configures a Reader or a Writer.
type Option func(*options)

type options struct {
	file    string
	format  Format
	header  *Header
	mapping *Mapping
}

// WithFileName names the input in error messages (Reader).
func WithFileName(name string) Option { return func(o *options) { o.file = name } }

// WithFormat forces the form (Reader: no detection; Writer: TSV by default).
func WithFormat(f Format) Option { return func(o *options) { o.format = f } }

// WithHeader makes a Writer reproduce a log read by a Reader: the TSV
// writer writes h's header lines and columns, in h's order, and h's
// trailer (#close) at Close. h is read when the first record is written
// and at Close, so a Reader's live Header (Reader.Header) may be passed
// before the reader has read anything.
func WithHeader(h *Header) Option { return func(o *options) { o.header = h } }

// Header is a TSV log's header as read. Lines and Trailer are kept byte for
// byte (they are not record values: btest baselines mask #open, some
// tools indent the first line) so that a rewrite reproduces them.
type Header struct {
	Lines        []byte   // every line before the first record, newlines included
	Trailer      []byte   // '#' lines after the records (#close), newlines included
	Separator    byte     // #separator (a single byte)
	SetSeparator []byte   // #set_separator
	Empty        []byte   // #empty_field
	Unset        []byte   // #unset_field
	Path         []byte   // #path
	Fields       [][]byte // #fields
	Types        [][]byte // #types (may be shorter than Fields when absent)
}

// Stats counts what a Reader saw.
type Stats struct {
	Records  int64
	Verbatim int64 // values kept as text because their canonical form differs (see doc)
	Blank    int64 // blank lines skipped
}

// Reader decodes a Zeek conn.log, TSV or JSON lines.
type Reader struct {
	br      *bufio.Reader
	opt     options
	format  Format
	hdr     Header
	inData  bool     // a record of the current header block was read
	cols    []int    // per TSV column: index into columns, or -1
	ids     []uint32 // per TSV column: Extra ID
	rc      []rcol   // per column: built-in kind or user rule (WithMapping)
	keys    []string // JSON: the previous line's keys
	present uint32   // kinds the schema has
	line    int
	err     error
	long    []byte // a line longer than the buffer
	scratch []byte // unescaped values of the current record
	stats   Stats

	// per record
	dur      int64
	hasDur   bool
	durText  []byte
	durF     float64 // JSON: the duration as read
	protoTxt []byte
	protoTok []byte // proto as written (TSV text or JSON token)
	unset    uint32
	ends     []int // TSV: offsets of the separators of the current line
	plain    bool  // the line has no '\\' and no byte >= 0x7f
}

// NewReader returns a Reader of r. Options: WithFileName, WithFormat.
func NewReader(r io.Reader, opts ...Option) *Reader {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10), scratch: make([]byte, 0, 1024)}
	for _, o := range opts {
		o(&rd.opt)
	}
	rd.format = rd.opt.format
	rd.hdr.Separator = '\t'
	rd.hdr.SetSeparator = []byte{','}
	rd.hdr.Empty = []byte("(empty)")
	rd.hdr.Unset = []byte{'-'}
	return rd
}

// Header returns the TSV header (live: it changes as the reader reads).
func (r *Reader) Header() *Header { return &r.hdr }

// Format returns the detected form (FormatAuto before the first line).
func (r *Reader) Format() Format { return r.format }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

func (r *Reader) fail(col, text string, err error) error {
	if len(text) > 64 {
		text = text[:64]
	}
	r.err = &Error{File: r.opt.file, Line: r.line, Column: col, Text: text, Err: err}
	return r.err
}

func (r *Reader) readLine() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = r.br.ReadSlice('\n')
			r.long = append(r.long, b...)
		}
		b = r.long
	}
	if err == io.EOF && len(b) > 0 {
		err = nil // last line without newline
	}
	if err != nil {
		return nil, err
	}
	r.line++
	return b, nil
}

// Decode reads the next record into rec. It returns io.EOF at the end.
// Errors are sticky. rec's slices alias the reader's buffers until the
// next Decode; call rec.Detach to keep them.
func (r *Reader) Decode(rec *flow.Record) error {
	if r.err != nil {
		return r.err
	}
	rec.Reset()
	for {
		raw, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				r.err = err
				return err
			}
			r.err = io.EOF
			return io.EOF
		}
		line := raw
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if r.format == FormatAuto {
			t := bytes.TrimLeft(line, " \t\r")
			switch {
			case len(t) == 0:
				r.hdr.Lines = append(r.hdr.Lines, raw...)
				continue
			case t[0] == '{':
				r.format = FormatJSON
			case t[0] == '#':
				r.format = FormatTSV
			default:
				return r.fail("", string(line), fmt.Errorf("%w: neither a # header nor a JSON object", ErrSyntax))
			}
		}
		if r.format == FormatJSON {
			if len(bytes.TrimSpace(line)) == 0 {
				r.stats.Blank++
				continue
			}
			r.scratch = r.scratch[:0]
			if err := r.decodeJSON(line, rec); err != nil {
				return err
			}
			r.stats.Records++
			return nil
		}
		t := bytes.TrimLeft(line, " \t")
		if len(t) > 0 && t[0] == '#' {
			if err := r.header(t, raw); err != nil {
				return err
			}
			continue
		}
		if len(line) == 0 {
			r.stats.Blank++
			continue
		}
		if r.cols == nil {
			return r.fail("", string(line), ErrSchema)
		}
		r.inData = true
		r.scratch = r.scratch[:0]
		if err := r.decodeTSV(line, rec); err != nil {
			return err
		}
		r.stats.Records++
		return nil
	}
}

// header parses one '#' line (t, leading blanks trimmed; raw as read).
func (r *Reader) header(t, raw []byte) error {
	if r.inData {
		if bytes.HasPrefix(t, []byte("#separator")) {
			// A new header block: a concatenated or rotated log.
			r.inData = false
			r.hdr.Lines = r.hdr.Lines[:0]
			r.hdr.Trailer = r.hdr.Trailer[:0]
		} else {
			r.hdr.Trailer = append(r.hdr.Trailer, raw...)
			if !bytes.HasPrefix(t, []byte("#fields")) && !bytes.HasPrefix(t, []byte("#types")) {
				return nil
			}
		}
	}
	if !r.inData {
		r.hdr.Lines = append(r.hdr.Lines, raw...)
	}
	if bytes.HasPrefix(t, []byte("#separator ")) {
		v, ok := unescapeTSV(nil, t[len("#separator "):])
		if !ok || len(v) != 1 {
			return r.fail("#separator", string(t), fmt.Errorf("%w: separator must be one byte", ErrSyntax))
		}
		r.hdr.Separator = v[0]
		return nil
	}
	sep := r.hdr.Separator
	i := bytes.IndexByte(t, sep)
	if i < 0 {
		return nil // "#open XXXX" (btest) and other comments: kept as text only
	}
	name, rest := t[:i], t[i+1:]
	cp := func(b []byte) []byte { return append([]byte(nil), b...) }
	switch string(name) {
	case "#set_separator":
		v, _ := unescapeTSV(nil, rest)
		r.hdr.SetSeparator = v
	case "#empty_field":
		r.hdr.Empty = cp(rest)
	case "#unset_field":
		r.hdr.Unset = cp(rest)
	case "#path":
		r.hdr.Path = cp(rest)
	case "#fields":
		r.hdr.Fields = r.hdr.Fields[:0]
		r.cols = r.cols[:0]
		r.ids = r.ids[:0]
		r.rc = r.rc[:0]
		r.present = 0
		for _, f := range bytes.Split(rest, []byte{sep}) {
			r.hdr.Fields = append(r.hdr.Fields, cp(f))
			c := lookupColumn(f)
			rc := resolve(r.opt.inTable(), c, f)
			r.rc = append(r.rc, rc)
			r.present |= 1<<rc.kind | 1<<rc.ck
			var id uint32
			if c >= 0 {
				id = uint32(c + 1)
			} else {
				var err error
				if id, err = internColumn(f, nil); err != nil {
					return r.fail("#fields", string(f), err)
				}
			}
			r.cols = append(r.cols, c)
			r.ids = append(r.ids, id)
		}
		if r.cols == nil {
			r.cols = []int{}
		}
	case "#types":
		r.hdr.Types = r.hdr.Types[:0]
		for i, f := range bytes.Split(rest, []byte{sep}) {
			r.hdr.Types = append(r.hdr.Types, cp(f))
			if i < len(r.ids) && r.ids[i] >= firstUnknownID {
				setColumnType(r.ids[i], f)
			}
		}
	}
	return nil
}

// s views b as a string without copying, for parsers that do not keep it.
func s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// masked reports whether v is a btest canonifier's mask (XXXXXXXXXX.XXXXXX).
func masked(v []byte) bool {
	if len(v) == 0 || v[0] != 'X' {
		return false
	}
	for _, c := range v {
		if c != 'X' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func (r *Reader) decodeTSV(line []byte, rec *flow.Record) error {
	sep := r.hdr.Separator
	r.begin()
	// One pass finds every column end and whether any value needs the
	// slow checks (an escape, a byte that may not be UTF-8): per-column
	// IndexByte calls cost more than the scan on ~20 short columns.
	var special bool
	r.ends, special = scanTSV(r.ends[:0], line, sep)
	r.plain = !special
	ends := r.ends
	last := len(r.cols) - 1
	start := 0
	for n := 0; n <= last; n++ {
		var v []byte
		if n == last {
			if len(ends) > last {
				return r.fail("", "", fmt.Errorf("%w: more than the %d columns of #fields", ErrSchema, len(r.cols)))
			}
			v = line[start:]
		} else {
			if n >= len(ends) {
				return r.fail("", "", fmt.Errorf("%w: %d columns, #fields has %d", ErrSchema, n+1, len(r.cols)))
			}
			e := ends[n]
			v = line[start:e:e]
			start = e + 1
		}
		if err := r.value(rec, n, v, false); err != nil {
			return err
		}
	}
	return r.finish(rec, r.present)
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// zeroBytes has the high bit of each byte of x that is zero, exactly (no
// false positive from a borrow, unlike the shorter (x-lo8)&^x&hi8).
func zeroBytes(x uint64) uint64 {
	t := ((x &^ hi8) + (hi8 - lo8)) | x
	return ^(t | (hi8 - lo8)) & hi8
}

// scanTSV appends to ends the offset of every sep in line and reports
// whether line has a '\\' or a byte >= 0x7f, eight bytes at a time.
func scanTSV(ends []int, line []byte, sep byte) ([]int, bool) {
	var spec uint64
	sepw := lo8 * uint64(sep)
	i := 0
	for ; i+8 <= len(line); i += 8 {
		w := binary.LittleEndian.Uint64(line[i:])
		// >= 0x7f: the high bit, or 0x7f itself.
		spec |= specialBytes(w)
		for m := zeroBytes(w ^ sepw); m != 0; m &= m - 1 {
			ends = append(ends, i+bits.TrailingZeros64(m)>>3)
		}
	}
	for ; i < len(line); i++ {
		c := line[i]
		if c == sep {
			ends = append(ends, i)
		}
		if c >= 0x7f || c == '\\' {
			spec = hi8
		}
	}
	return ends, spec&hi8 != 0
}

// specialBytes has a high bit set (&hi8) when w has a '\\' or a byte >=
// 0x7f. Only whether it is zero means anything (the cheap tests' carries
// and borrows mark bytes next to a true one): w+lo8 carries into the
// next byte only from 0xff, and x-lo8 borrows only from a zero byte.
func specialBytes(w uint64) uint64 {
	x := w ^ (lo8 * '\\')
	return w | (w + lo8) | (x-lo8)&^x
}

func (r *Reader) begin() {
	r.hasDur = false
	r.dur = 0
	r.unset = 0
	r.durText = nil
	r.protoTxt = nil
}

// finish derives what needs several columns and records the unset ones.
func (r *Reader) finish(rec *flow.Record, present uint32) error {
	// A masked ts (btest) leaves Start at 0; the duration still counts.
	if rec.Has&flow.HasTime != 0 || r.hasDur {
		rec.Has |= flow.HasTime
		rec.Last = rec.Start + r.dur
	}
	if r.protoTxt != nil {
		p, ok := protoNumber(r.protoTxt, rec.Key.Src.Is6())
		if rec.Key.Proto == 0 && ok {
			rec.Key.Proto = p
		}
		if !ok || (rec.Key.Proto != p && p != 0) {
			r.verbatim(rec, kProto, r.protoTok)
		}
	}
	if rec.Key.Src.IsValid() || rec.Key.Dst.IsValid() {
		rec.Has |= flow.HasKey
		rec.Key.Kind = flow.Kind5Tuple
		rec.Key.AddrType = flow.AddrIPv4
		if rec.Key.Src.Is6() && !rec.Key.Src.Is4In6() {
			rec.Key.AddrType = flow.AddrIPv6
		}
	}
	if rec.Key.Proto == 1 || rec.Key.Proto == 58 {
		// Zeek puts the ICMP type in orig_p and in resp_p the type's
		// counterpart (echo 8/0) or, for a type without one, the code
		// (icmpCounterpart): a counterpart is code 0, as RFC 792 has it
		// for these messages.
		rec.Key.ICMPType, rec.Key.ICMPCode = uint8(rec.Key.SrcPort), uint8(rec.Key.DstPort)
		if c, paired := icmpCounterpart(rec.Key.Proto == 58, rec.Key.ICMPType, 0); paired && uint16(c) == rec.Key.DstPort {
			rec.Key.ICMPCode = 0
		}
		rec.Has |= flow.HasICMPKey
	}
	if rec.Key.Proto == 6 {
		tcpFromZeek(rec, rec.Zeek.State, rec.Zeek.History)
	}
	if rec.Zeek.UID != nil || rec.Zeek.Service != nil || rec.Zeek.History != nil || rec.Zeek.State != nil {
		rec.Has |= flow.HasZeek
	}
	rec.Type = flow.TypeFlow
	if u := r.unset | (allKinds &^ present); u != 0 {
		rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: idUnset, Enterprise: u})
	}
	return nil
}

const allKinds = (1<<nKinds - 1) &^ 1

// verbatim keeps text as the value of a canonical column whose text the
// writer would not reproduce from the record.
func (r *Reader) verbatim(rec *flow.Record, k kind, text []byte) {
	r.stats.Verbatim++
	for i := range columns {
		if columns[i].kind == k {
			rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: uint32(i + 1), Offset: verbatimOffset, Value: text, Enterprise: r.form()})
			return
		}
	}
}

// verbatimOffset marks an Extra that replaces a canonical column's value.
const verbatimOffset = 0xFFFFFFFF

func (r *Reader) form() uint32 {
	if r.format == FormatJSON {
		return formJSON
	}
	return formTSV
}

// Forms of an Extra's Value (Field.Enterprise).
const (
	formTSV  = 0 // the text of a TSV column: \x escapes, set elements joined by ','
	formJSON = 1 // a JSON token: "string", number, true/false, [array]
)

// value decodes column n's text v (TSV form, or JSON token when json).
func (r *Reader) value(rec *flow.Record, n int, v []byte, json bool) error {
	c := r.cols[n]
	k := r.rc[n].kind
	if x := r.rc[n].rule; x != nil {
		return r.ruleValue(rec, n, v, json, x)
	}
	if k == kExtra {
		if !json && bytes.Equal(v, r.hdr.Unset) {
			return nil
		}
		rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: r.ids[n], Offset: uint32(n), Value: v, Enterprise: r.form()})
		return nil
	}
	str := v // string content
	kept := false
	if json {
		isStr := len(v) > 0 && v[0] == '"'
		if isStr {
			u, ok := r.jsonString(v)
			if !ok {
				return r.fail(columns[c].name, string(v), fmt.Errorf("%w: bad JSON string", ErrSyntax))
			}
			str = u
			if stringKind(k) && !r.plain && (bytes.IndexByte(v, '\\') >= 0 || hasHigh(v)) &&
				string(appendJSONString(r.scratch[len(r.scratch):], str)) != string(v) {
				// Escaped otherwise than the writer would: keep the token.
				r.verbatim(rec, k, v)
				kept = true
			}
		}
		if !kept && isStr != stringKind(k) || (len(v) > 0 && (v[0] == '[' || v[0] == '{' || v[0] == 'n' || v[0] == 't' || v[0] == 'f')) {
			// Not the JSON type Zeek writes for the column (a masked
			// time, a null): keep the token so that it is written back.
			r.verbatim(rec, k, v)
			kept = true
			if !isStr {
				return nil
			}
		}
	} else {
		if bytes.Equal(v, r.hdr.Unset) {
			r.unset |= 1 << k
			return nil
		}
		if bytes.Equal(v, r.hdr.Empty) {
			str = v[:0]
		} else if !r.plain && bytes.IndexByte(v, '\\') >= 0 {
			n0 := len(r.scratch)
			var ok bool
			r.scratch, ok = unescapeTSV(r.scratch, v)
			if !ok {
				return r.fail(columns[c].name, string(v), fmt.Errorf("%w: bad \\x escape", ErrValue))
			}
			str = r.scratch[n0:len(r.scratch):len(r.scratch)]
			if stringKind(k) && string(appendTSVEscaped(r.scratch[len(r.scratch):], str, r.hdr.Separator, r.hdr.Unset, r.hdr.Empty)) != string(v) {
				// Escaped otherwise than the writer would (an older
				// Zeek's escaped UTF-8, an escaped printable byte).
				r.verbatim(rec, k, v)
				kept = true
			}
		} else if !r.plain && stringKind(k) && hasHigh(v) && string(appendTSVEscaped(r.scratch[len(r.scratch):], v, r.hdr.Separator, r.hdr.Unset, r.hdr.Empty)) != string(v) {
			r.verbatim(rec, k, v) // bytes that are not UTF-8, unescaped
			kept = true
		}
	}
	// keep (r.verbatim unless kept) and bad (r.bad) are spelled out
	// rather than closures: the closures cost ~5% of a TSV record.
	switch k {
	case kTS:
		if !json {
			if ns, canon := fixed6(str); canon {
				rec.Start = ns
				rec.Has |= flow.HasTime
				break
			}
		}
		ns, ok := parseTime(str)
		if !ok {
			return r.bad(rec, c, k, v, str, kept)
		}
		rec.Start = ns
		rec.Has |= flow.HasTime
		if json {
			if !kept && string(appendJSONFloat(r.scratch[len(r.scratch):], zeekTime(ns))) != string(str) {
				r.verbatim(rec, k, v)
			}
		} else if !kept && !canonicalFixed6(str) {
			r.verbatim(rec, k, v)
		}
	case kDuration:
		if json {
			f, err := strconv.ParseFloat(s(str), 64)
			if err != nil || f < 0 {
				return r.bad(rec, c, k, v, str, kept)
			}
			r.dur, r.hasDur = jsonDuration(f), true
			r.durText, r.durF = str, f
		} else {
			ns, canon := fixed6(str)
			if !canon {
				var ok bool
				if ns, ok = parseTime(str); !ok {
					return r.bad(rec, c, k, v, str, kept)
				}
				if !kept && !canonicalFixed6(str) {
					r.verbatim(rec, k, v)
				}
			}
			r.dur, r.hasDur = ns, true
		}
	case kUID:
		rec.Zeek.UID = str
	case kService:
		rec.Zeek.Service = str
	case kConnState:
		rec.Zeek.State = str
	case kHistory:
		rec.Zeek.History = str
	case kCommunityID:
		rec.CommunityID = str
		rec.Has |= flow.HasCommunityID
	case kOrigH, kRespH:
		a, ok := parseIPv4(str)
		if !ok {
			var err error
			if a, err = netip.ParseAddr(s(str)); err != nil {
				return r.bad(rec, c, k, v, str, kept)
			}
		}
		if k == kOrigH {
			rec.Key.Src = a
		} else {
			rec.Key.Dst = a
		}
		// ParseAddr takes IPv4 only in canonical dotted decimal; IPv6
		// text has several spellings.
		if !kept && a.Is6() && string(a.AppendTo(r.scratch[len(r.scratch):])) != string(str) {
			r.verbatim(rec, k, v)
		}
	case kProto:
		r.protoTxt, r.protoTok = str, v
	case kOrigCC, kRespCC:
		if len(str) != 2 {
			// Not a country code: keep it as an ordinary column.
			if !kept {
				rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: r.ids[n], Offset: uint32(n), Value: v, Enterprise: r.form()})
			}
			return nil
		}
		d := 0
		if k == kRespCC {
			d = 1
		}
		rec.Country[d] = [2]byte(str)
		rec.Has |= flow.HasCountry
	case kOrigL2, kRespL2:
		var m [6]byte
		if !parseMAC(str, &m) {
			// Not a MAC: keep it as an ordinary column.
			rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: r.ids[n], Offset: uint32(n), Value: v, Enterprise: r.form()})
			return nil
		}
		if k == kOrigL2 {
			rec.MAC.Src = m
		} else {
			rec.MAC.Dst = m
		}
		rec.Has |= flow.HasMAC
	default:
		u, ok := parseUint(str)
		if !ok {
			if k == kVLAN && len(str) > 0 && str[0] == '-' {
				// a negative int: no canonical home
				rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: r.ids[n], Offset: uint32(n), Value: v, Enterprise: r.form()})
				return nil
			}
			return r.bad(rec, c, k, v, str, kept)
		}
		switch k {
		case kOrigP, kRespP, kIPProto:
			lim := uint64(65535)
			if k == kIPProto {
				lim = 255
			}
			if u > lim {
				return r.bad(rec, c, k, v, str, kept)
			}
			switch k {
			case kOrigP:
				rec.Key.SrcPort = uint16(u)
			case kRespP:
				rec.Key.DstPort = uint16(u)
			default:
				rec.Key.Proto = uint8(u)
			}
		case kOrigBytes:
			rec.AppBytes[flow.Src] = u
			rec.Has |= flow.HasAppBytes
		case kRespBytes:
			rec.AppBytes[flow.Dst] = u
			rec.Has |= flow.HasAppBytes
		case kOrigPkts:
			rec.Pkts[flow.Src] = u
			rec.Has |= flow.HasMetrics
		case kRespPkts:
			rec.Pkts[flow.Dst] = u
			rec.Has |= flow.HasMetrics
		case kOrigIPBytes:
			rec.Bytes[flow.Src] = u
			rec.Has |= flow.HasMetrics
		case kRespIPBytes:
			rec.Bytes[flow.Dst] = u
			rec.Has |= flow.HasMetrics
		case kVLAN:
			if u > 4095 {
				rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: r.ids[n], Offset: uint32(n), Value: v, Enterprise: r.form()})
				return nil
			}
			rec.VLAN.TCI = [2]uint16{uint16(u), uint16(u)}
			rec.VLAN.Present = 3
			rec.Has |= flow.HasVLAN
		}
		if len(str) > 1 && str[0] == '0' && !kept {
			r.verbatim(rec, k, v)
		}
	}
	return nil
}

// bad handles a value column c (kind k) cannot take: none if its text
// is already kept, a btest mask is kept, anything else is an error.
func (r *Reader) bad(rec *flow.Record, c int, k kind, v, str []byte, kept bool) error {
	if kept {
		return nil
	}
	if masked(str) {
		r.verbatim(rec, k, v)
		return nil
	}
	return r.fail(columns[c].name, string(v), ErrValue)
}

// fixed6 parses what %.6f prints for a time or interval of up to ten
// integer digits (the common case, in one pass); canon is false for any
// other text, which parseTime and the verbatim check then handle.
func fixed6(b []byte) (ns int64, canon bool) {
	n := len(b)
	if n < 8 || n > 17 || b[n-7] != '.' || (b[0] == '0' && n != 8) {
		return 0, false
	}
	var u uint64
	for _, c := range b[:n-7] {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		u = u*10 + uint64(d)
	}
	for _, c := range b[n-6:] {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		u = u*10 + uint64(d)
	}
	if u > (1<<63-1)/1000 {
		return 0, false
	}
	return int64(u * 1000), true
}

// parseIPv4 parses the dotted decimal netip.ParseAddr takes (four
// fields of 0-255, no leading zero) without its generality; ok is false
// for any other text, which ParseAddr then handles.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for f := 0; f < 4; f++ {
		if f > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		// Unrolled: one to three digits, a first 0 only alone.
		if i >= len(b) || b[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		d0 := uint(b[i] - '0')
		v := d0
		i++
		if i < len(b) && b[i]-'0' <= 9 {
			if d0 == 0 {
				return netip.Addr{}, false
			}
			v = v*10 + uint(b[i]-'0')
			i++
			if i < len(b) && b[i]-'0' <= 9 {
				v = v*10 + uint(b[i]-'0')
				i++
			}
		}
		if v > 255 {
			return netip.Addr{}, false
		}
		a[f] = byte(v)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(a), true
}

func hasHigh(v []byte) bool {
	for _, c := range v {
		if c >= 0x7f {
			return true
		}
	}
	return false
}

// stringKind reports whether Zeek writes column kind k as a JSON string.
func stringKind(k kind) bool {
	switch k {
	case kUID, kService, kConnState, kHistory, kCommunityID, kOrigH, kRespH, kProto, kOrigL2, kRespL2, kOrigCC, kRespCC:
		return true
	}
	return false
}

// protoNumber maps Zeek's transport_proto enum to an IP protocol.
func protoNumber(t []byte, v6 bool) (uint8, bool) {
	switch string(t) {
	case "tcp":
		return 6, true
	case "udp":
		return 17, true
	case "icmp":
		if v6 {
			return 58, true
		}
		return 1, true
	case "unknown_transport":
		return 0, true
	}
	return 0, false
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var u uint64
	if len(b) < 20 {
		// 19 digits cannot overflow: no per-digit check.
		for _, c := range b {
			d := c - '0'
			if d > 9 {
				return 0, false
			}
			u = u*10 + uint64(d)
		}
		return u, true
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// parseTime parses a non-negative decimal seconds value (optionally with
// an exponent, as JSON writes small numbers) into nanoseconds, rounding
// past the ninth decimal.
func parseTime(b []byte) (int64, bool) {
	var mant uint64
	digits, frac, exp := 0, 0, 0
	i := 0
	dot := false
	round := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if dot {
				return 0, false
			}
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		digits++
		if mant > 1e17 {
			if !dot {
				return 0, false
			}
			if !round && c >= '5' {
				round = true
			}
			continue // precision past 1e-9 s
		}
		mant = mant*10 + uint64(c-'0')
		if dot {
			frac++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) {
		if b[i] != 'e' && b[i] != 'E' {
			return 0, false
		}
		i++
		neg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			neg = b[i] == '-'
			i++
		}
		e, ok := parseUint(b[i:])
		if !ok || e > 40 {
			return 0, false
		}
		exp = int(e)
		if neg {
			exp = -exp
		}
	}
	// value = mant * 10^(exp-frac) seconds = mant * 10^(exp-frac+9) ns
	p := exp - frac + 9
	for p > 0 {
		if mant > (1<<63-1)/10 {
			return 0, false
		}
		mant *= 10
		p--
	}
	for p < 0 {
		round = mant%10 >= 5
		mant /= 10
		p++
	}
	if round {
		mant++
	}
	if mant > 1<<63-1 {
		return 0, false
	}
	return int64(mant), true
}

// canonicalFixed6 reports whether b is what %.6f prints: digits, '.', six digits,
// no superfluous leading zero.
func canonicalFixed6(b []byte) bool {
	n := len(b)
	if n < 8 || b[n-7] != '.' {
		return false
	}
	if b[0] == '0' && n != 8 {
		return false
	}
	for i, c := range b {
		if i != n-7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func parseMAC(b []byte, m *[6]byte) bool {
	if len(b) != 17 {
		return false
	}
	for i := 0; i < 6; i++ {
		hi, lo := unhex(b[3*i]), unhex(b[3*i+1])
		if hi < 0 || lo < 0 || (i < 5 && b[3*i+2] != ':') {
			return false
		}
		if b[3*i] >= 'A' && b[3*i] <= 'F' || b[3*i+1] >= 'A' && b[3*i+1] <= 'F' {
			return false // Zeek prints lower case; keep other text as is
		}
		m[i] = byte(hi<<4 | lo)
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unescapeTSV appends v with Zeek's \xNN escapes decoded.
func unescapeTSV(dst, v []byte) ([]byte, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' {
			if i+3 >= len(v) || v[i+1] != 'x' {
				return dst, false
			}
			hi, lo := unhex(v[i+2]), unhex(v[i+3])
			if hi < 0 || lo < 0 {
				return dst, false
			}
			dst = append(dst, byte(hi<<4|lo))
			i += 3
			continue
		}
		dst = append(dst, c)
	}
	return dst, true
}
