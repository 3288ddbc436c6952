package zeek

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/flowgate/flowgate/flow"
)

// decodeJSON decodes one JSON object. Keys are matched against the
// previous line's keys first: Zeek writes them in the same order.
func (r *Reader) decodeJSON(line []byte, rec *flow.Record) error {
	r.begin()
	// A line without '\\' has no escapes: a string ends at the next
	// '"', and no value needs the escape and UTF-8 checks.
	r.plain = !hasSpecial(line)
	p := skipWS(line, 0)
	if p >= len(line) || line[p] != '{' {
		return r.fail("", string(line), fmt.Errorf("%w: not a JSON object", ErrSyntax))
	}
	p = skipWS(line, p+1)
	var present uint32
	n := 0
	if p < len(line) && line[p] == '}' {
		p++
		goto end
	}
	for {
		if p >= len(line) || line[p] != '"' {
			return r.fail("", string(line[min(p, len(line)):]), fmt.Errorf("%w: expected a key", ErrSyntax))
		}
		// The key of the previous line's position n, most often.
		e, same := -1, false
		if r.plain && n < len(r.keys) {
			k := r.keys[n]
			if q := p + 1 + len(k); q < len(line) && line[q] == '"' && string(line[p+1:q]) == k {
				e, same = q+1, true
			}
		}
		if e < 0 {
			if e = r.stringEnd(line, p); e < 0 {
				return r.fail("", string(line[p:]), fmt.Errorf("%w: unterminated string", ErrSyntax))
			}
		}
		key := line[p+1 : e-1]
		p = skipWS(line, e)
		if p >= len(line) || line[p] != ':' {
			return r.fail(string(key), "", fmt.Errorf("%w: expected ':'", ErrSyntax))
		}
		p = skipWS(line, p+1)
		var ve int
		if p < len(line) && line[p] == '"' {
			ve = r.stringEnd(line, p)
		} else {
			ve = scanValue(line, p, 0)
		}
		if ve < 0 {
			return r.fail(string(key), string(line[p:]), fmt.Errorf("%w: bad value", ErrSyntax))
		}
		v := line[p:ve]
		if !same && (n >= len(r.cols) || r.keys[n] != string(key)) {
			if err := r.jsonColumn(n, key); err != nil {
				return err
			}
		}
		if k := r.rc[n].kind; k != kExtra {
			if present&(1<<k) != 0 {
				return r.fail(string(key), "", fmt.Errorf("%w: duplicate key", ErrSyntax))
			}
			present |= 1 << k
		} else {
			present |= 1 << r.rc[n].ck
		}
		if err := r.value(rec, n, v, true); err != nil {
			return err
		}
		n++
		p = skipWS(line, ve)
		if p < len(line) && line[p] == ',' {
			p = skipWS(line, p+1)
			continue
		}
		if p < len(line) && line[p] == '}' {
			p++
			break
		}
		return r.fail(string(key), "", fmt.Errorf("%w: expected ',' or '}'", ErrSyntax))
	}
end:
	if p = skipWS(line, p); p != len(line) {
		return r.fail("", string(line[p:]), fmt.Errorf("%w: text after the object", ErrSyntax))
	}
	if r.durText != nil {
		r.checkDuration(rec)
	}
	return r.finish(rec, present)
}

// jsonColumn sets the column of key position n.
func (r *Reader) jsonColumn(n int, key []byte) error {
	for len(r.cols) <= n {
		r.cols = append(r.cols, -1)
		r.ids = append(r.ids, 0)
		r.rc = append(r.rc, rcol{})
		r.keys = append(r.keys, "")
	}
	c := lookupColumn(key)
	var id uint32
	if c >= 0 {
		id = uint32(c + 1)
	} else {
		var err error
		if id, err = internColumn(key, nil); err != nil {
			return r.fail(string(key), "", err)
		}
	}
	name, _ := columnInfo(id) // an interned string: no allocation per line
	r.cols[n], r.ids[n], r.keys[n] = c, id, name
	r.rc[n] = resolve(r.opt.inTable(), c, key)
	return nil
}

// checkDuration picks the duration in ns whose Zeek double prints as the
// text read (µs first: pcap times), else keeps the text.
func (r *Reader) checkDuration(rec *flow.Record) {
	f := r.durF // parsed by value
	t0 := zeekTime(rec.Start)
	us := int64(math.Round(f*1e6)) * 1000
	for _, d := range [2]int64{us, int64(math.Round(f * 1e9))} {
		if string(appendJSONFloat(r.scratch[len(r.scratch):], zeekTime(rec.Start+d)-t0)) == string(r.durText) {
			r.dur = d
			return
		}
	}
	r.verbatim(rec, kDuration, r.durText)
}

// zeekTime is the double Zeek holds for a packet time: seconds plus
// microseconds over 1e6, as it computes it from a pcap timeval.
func zeekTime(ns int64) float64 {
	sec, rem := ns/1e9, ns%1e9
	if rem%1000 == 0 {
		return float64(sec) + float64(rem/1000)/1e6
	}
	return float64(sec) + float64(rem)/1e9
}

// jsonDuration is the first guess of a JSON duration in ns.
func jsonDuration(f float64) int64 { return int64(math.Round(f*1e6)) * 1000 }

// appendJSONFloat formats f as Zeek's JSON writer (RapidJSON's Writer::
// Double) does: the shortest digits that read back as f, in decimal
// notation for exponents -7 < e < 21 ("12.5", "0.000123", "3.0"), else
// "1.5e-7".
func appendJSONFloat(b []byte, f float64) []byte {
	if f >= 1e-5 && f < 1e20 {
		// Decimal notation whatever the shortest digits' rounding (their
		// exponent stays within -5..20): strconv's own, without the
		// reformatting of the 'e' form; ".0" marks an integral value.
		n := len(b)
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
		if bytes.IndexByte(b[n:], '.') < 0 {
			b = append(b, '.', '0')
		}
		return b
	}
	return appendJSONFloatE(b, f)
}

// appendJSONFloatE is appendJSONFloat for any value, from the 'e' form.
func appendJSONFloatE(b []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	// e is d[.ddd]e±XX
	mant, exp := e, 0
	if i := bytes.IndexByte(e, 'e'); i >= 0 {
		mant = e[:i]
		x, _ := strconv.Atoi(string(e[i+1:]))
		exp = x
	}
	var digits [24]byte
	nd := 0
	for _, c := range mant {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	k := exp - nd + 1 // value = digits * 10^k
	kk := nd + k      // position of the decimal point
	switch {
	case k >= 0 && kk <= 21:
		b = append(b, digits[:nd]...)
		for i := 0; i < k; i++ {
			b = append(b, '0')
		}
		b = append(b, '.', '0')
	case kk > 0 && kk <= 21:
		b = append(b, digits[:kk]...)
		b = append(b, '.')
		b = append(b, digits[kk:nd]...)
	case kk > -6 && kk <= 0:
		b = append(b, '0', '.')
		for i := 0; i < -kk; i++ {
			b = append(b, '0')
		}
		b = append(b, digits[:nd]...)
	default:
		b = append(b, digits[0])
		if nd > 1 {
			b = append(b, '.')
			b = append(b, digits[1:nd]...)
		}
		b = append(b, 'e')
		b = strconv.AppendInt(b, int64(kk-1), 10)
	}
	return b
}

func skipWS(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\r' || b[p] == '\n') {
		p++
	}
	return p
}

// stringEnd is scanString, or on a line without '\\' the next '"'.
func (r *Reader) stringEnd(b []byte, p int) int {
	if !r.plain {
		return scanString(b, p)
	}
	i := bytes.IndexByte(b[p+1:], '"')
	if i < 0 {
		return -1
	}
	return p + 2 + i
}

// hasSpecial reports whether b has a '\\' or a byte >= 0x7f, eight
// bytes at a time.
func hasSpecial(b []byte) bool {
	var spec uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		spec |= specialBytes(binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x7f || b[i] == '\\' {
			return true
		}
	}
	return spec&hi8 != 0
}

// scanString returns the index after the string starting at b[p] == '"', or -1.
func scanString(b []byte, p int) int {
	for i := p + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// scanValue returns the index after the JSON value at b[p], or -1. It
// checks structure, not number syntax (values are parsed by column).
func scanValue(b []byte, p, depth int) int {
	if p >= len(b) || depth > 32 {
		return -1
	}
	switch b[p] {
	case '"':
		return scanString(b, p)
	case '[', '{':
		open, close := b[p], byte(']')
		if open == '{' {
			close = '}'
		}
		p = skipWS(b, p+1)
		if p < len(b) && b[p] == close {
			return p + 1
		}
		for {
			if open == '{' {
				if p >= len(b) || b[p] != '"' {
					return -1
				}
				if p = scanString(b, p); p < 0 {
					return -1
				}
				if p = skipWS(b, p); p >= len(b) || b[p] != ':' {
					return -1
				}
				p = skipWS(b, p+1)
			}
			if p = scanValue(b, p, depth+1); p < 0 {
				return -1
			}
			p = skipWS(b, p)
			if p >= len(b) {
				return -1
			}
			if b[p] == close {
				return p + 1
			}
			if b[p] != ',' {
				return -1
			}
			p = skipWS(b, p+1)
		}
	}
	i := p
	for i < len(b) {
		t := scalarEnd[b[i]]
		if t == endOK {
			break
		}
		if t == endBad {
			return -1
		}
		i++
	}
	if i == p {
		return -1
	}
	return i
}

// scalarEnd classes the bytes that end a number or literal token (one
// table lookup a byte instead of eleven comparisons).
var scalarEnd = func() (t [256]uint8) {
	for _, c := range []byte(",}] \t\r\n") {
		t[c] = endOK
	}
	for _, c := range []byte(`"{[:`) {
		t[c] = endBad
	}
	return t
}()

const (
	endOK  = 1
	endBad = 2
)

// jsonString returns the content of the JSON string token v, unescaped
// into the reader's scratch buffer when it has escapes.
func (r *Reader) jsonString(v []byte) ([]byte, bool) {
	v = v[1 : len(v)-1]
	if r.plain || bytes.IndexByte(v, '\\') < 0 {
		return v, true
	}
	n0 := len(r.scratch)
	var ok bool
	r.scratch, ok = unescapeJSON(r.scratch, v)
	return r.scratch[n0:len(r.scratch):len(r.scratch)], ok
}

func unescapeJSON(dst, v []byte) ([]byte, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(v) {
			return dst, false
		}
		switch v[i] {
		case '"', '\\', '/':
			dst = append(dst, v[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+4 >= len(v) {
				return dst, false
			}
			x, err := strconv.ParseUint(s(v[i+1:i+5]), 16, 16)
			if err != nil {
				return dst, false
			}
			i += 4
			rn := rune(x)
			if rn >= 0xD800 && rn < 0xDC00 && i+6 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' {
				if y, err := strconv.ParseUint(s(v[i+3:i+7]), 16, 16); err == nil && y >= 0xDC00 && y < 0xE000 {
					rn = 0x10000 + (rn-0xD800)<<10 + (rune(y) - 0xDC00)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, rn)
		default:
			return dst, false
		}
	}
	return dst, true
}

// The process-wide table of column names that are not in the built-in
// table, so that an Extra ID means the same name to every Reader and
// Writer of the process. Bounded: hostile input cannot grow it forever.
var (
	internMu    sync.Mutex
	internIDs   = map[string]uint32{}
	internNames []string
	internTypes []string
)

const maxInterned = 4096

// ErrTooManyColumns is returned when the unknown column table is full.
var ErrTooManyColumns = fmt.Errorf("%w: more than %d distinct unknown column names", ErrSchema, maxInterned)

func internColumn(name, typ []byte) (uint32, error) {
	internMu.Lock()
	defer internMu.Unlock()
	if id, ok := internIDs[string(name)]; ok {
		return id, nil
	}
	if len(internNames) >= maxInterned {
		return 0, ErrTooManyColumns
	}
	id := uint32(firstUnknownID + len(internNames))
	internIDs[string(name)] = id
	internNames = append(internNames, string(name))
	internTypes = append(internTypes, string(typ))
	return id, nil
}

func setColumnType(id uint32, typ []byte) {
	internMu.Lock()
	defer internMu.Unlock()
	if i := int(id - firstUnknownID); i < len(internTypes) && internTypes[i] == "" {
		internTypes[i] = string(typ)
	}
}

// columnInfo returns the name and Zeek type of Extra ID id.
func columnInfo(id uint32) (name, typ string) {
	if id > 0 && int(id) <= len(columns) {
		return columns[id-1].name, columns[id-1].typ
	}
	internMu.Lock()
	defer internMu.Unlock()
	if i := int(id - firstUnknownID); id >= firstUnknownID && i < len(internNames) {
		return internNames[i], internTypes[i]
	}
	return "", ""
}
