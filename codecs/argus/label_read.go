package argus

import (
	"bytes"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// label decodes a label DSR's text (NUL-trimmed): the words that are
// carried context (label.go) go to their fields, the others stay in
// rec.Label in their order. A label with no word of ours is rec.Label
// as before (HasLabel); one with only ours leaves rec.Label nil.
func (d *dec) label(rec *flow.Record, text []byte) {
	if !bytes.Contains(text, []byte("fg.")) && !bytes.Contains(text, []byte("zeek")) {
		rec.Label = text
		rec.Has |= flow.HasLabel
		return
	}
	zstart := len(rec.Extra)
	ours, nUser, userEnd, contiguous := false, 0, 0, true
	for p := 0; p <= len(text); {
		end := bytes.IndexByte(text[p:], ':')
		if end < 0 {
			end = len(text)
		} else {
			end += p
		}
		if d.labelWord(rec, text[p:end], zstart, true) {
			ours = true
		} else {
			if nUser == 0 && p != 0 || nUser > 0 && p != userEnd+1 {
				contiguous = false
			}
			nUser++
			userEnd = end
		}
		p = end + 1
	}
	switch {
	case !ours || !carries(rec):
		// no word of ours, or only some that set nothing (fg.zform with
		// no column): the text stays the own label, so that the DSR stays
		rec.Label = text
	case nUser == 0:
		rec.Has &^= flow.HasLabel // the DSR held only our words
		return
	case contiguous:
		rec.Label = text[:userEnd:userEnd]
	default:
		// the user's words are interleaved with ours (a label appended
		// by ralabel after ours): join them, in order
		start := len(d.lbl)
		for p, n := 0, 0; p <= len(text); {
			end := bytes.IndexByte(text[p:], ':')
			if end < 0 {
				end = len(text)
			} else {
				end += p
			}
			if !d.labelWord(rec, text[p:end], zstart, false) {
				if n > 0 {
					d.lbl = append(d.lbl, ':')
				}
				d.lbl = append(d.lbl, text[p:end]...)
				n++
			}
			p = end + 1
		}
		rec.Label = d.lbl[start:len(d.lbl):len(d.lbl)]
	}
	rec.Has |= flow.HasLabel
}

// labelWord reports whether w is a word of carried context, and if apply
// sets it in rec. zstart is the first Extra the label added.
func (d *dec) labelWord(rec *flow.Record, w []byte, zstart int, apply bool) bool {
	i := bytes.IndexByte(w, '=')
	if i < 0 {
		return false
	}
	k, v := w[:i], w[i+1:]
	switch {
	case bytes.HasPrefix(k, []byte("fg.")):
		return d.fgWord(rec, k[3:], v, zstart, apply)
	case bytes.HasPrefix(k, []byte("zeek.")), bytes.HasPrefix(k, []byte("zeekv.")):
		verb := k[4] == 'v'
		nameEsc := k[5:]
		if verb {
			nameEsc = k[6:]
		}
		if len(nameEsc) == 0 || bytes.IndexByte(v, 0) >= 0 {
			return false
		}
		mark := len(d.lbl)
		name, ok := d.unesc(nameEsc)
		if !ok {
			return false
		}
		val, ok := d.unesc(v)
		if !ok {
			d.lbl = d.lbl[:mark]
			return false
		}
		if !verb {
			var dst *[]byte
			switch string(name) {
			case "uid":
				dst = &rec.Zeek.UID
			case "service":
				dst = &rec.Zeek.Service
			case "history":
				dst = &rec.Zeek.History
			case "conn_state":
				dst = &rec.Zeek.State
			}
			if dst != nil {
				if apply {
					if val == nil {
						val = v[:0:0] // present and empty, not unset
					}
					*dst = val
					rec.Has |= flow.HasZeek
				} else {
					d.lbl = d.lbl[:mark]
				}
				return true
			}
		}
		id, ok := d.zeekID(name)
		if !ok {
			d.lbl = d.lbl[:mark]
			return false
		}
		if !apply {
			d.lbl = d.lbl[:mark]
			return true
		}
		off := uint32(0)
		if verb {
			off = zeekVerbatim
		}
		if val == nil {
			val = v[:0:0]
		}
		rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: id, Offset: off, Value: val})
		return true
	}
	return false
}

func (d *dec) fgWord(rec *flow.Record, k, v []byte, zstart int, apply bool) bool {
	if len(k) > 2 && k[0] == 'x' && k[1] == '.' {
		return d.foreignWord(rec, k[2:], v, apply)
	}
	switch string(k) {
	case "exp", "nexthop", "bgpnexthop":
		var a netip.Addr
		if len(v) > 0 {
			// unescaped at the end of d.lbl, which is on the heap already:
			// ParseAddr's error keeps its input, so a stack copy would
			// escape (an allocation per address)
			mark := len(d.lbl)
			t, ok := unescInto(d.lbl, v)
			d.lbl = t[:mark]
			t = t[mark:]
			if !ok || len(t) == 0 || len(t) > 64 {
				return false
			}
			var err error
			if a, err = netip.ParseAddr(unsafe.String(&t[0], len(t))); err != nil {
				return false
			}
		} else if k[0] != 'e' && k[0] != 'n' {
			return false // fg.bgpnexthop is written only when valid
		}
		if apply {
			switch k[0] {
			case 'e':
				rec.Exporter = netip.AddrPortFrom(a, rec.Exporter.Port())
				rec.Has |= flow.HasExporter
			case 'n':
				rec.NextHop = a
				rec.Has |= flow.HasNextHop
			default:
				rec.BGPNextHop = a
				rec.Has |= flow.HasNextHop
			}
		}
		return true
	case "expport", "odid", "expseq", "sampling", "inif", "outif":
		n, ok := parseDec(v)
		if !ok || n > 0xFFFFFFFF || k[0] == 'e' && k[3] == 'p' && n > 0xFFFF {
			return false
		}
		if !apply {
			return true
		}
		switch string(k) {
		case "expport":
			rec.Exporter = netip.AddrPortFrom(rec.Exporter.Addr(), uint16(n))
			rec.Has |= flow.HasExporter
		case "odid":
			rec.ObsDomain = uint32(n)
			rec.Has |= flow.HasExporter
		case "expseq":
			rec.ExportSeq = uint32(n)
			rec.Has |= flow.HasExporter
		case "sampling":
			rec.SamplingRate = uint32(n)
			rec.Has |= flow.HasSampling
		case "inif":
			rec.InIf = uint32(n)
			rec.Has |= flow.HasIfaces
		case "outif":
			rec.OutIf = uint32(n)
			rec.Has |= flow.HasIfaces
		}
		return true
	case "cid", "zhdr", "zhdrc", "ztrl":
		if bytes.IndexByte(v, 0) >= 0 {
			return false
		}
		mark := len(d.lbl)
		val, ok := d.unesc(v)
		if !ok {
			return false
		}
		if !apply {
			d.lbl = d.lbl[:mark]
			return true
		}
		if val == nil {
			val = v[:0:0]
		}
		switch k[0] {
		case 'c':
			rec.CommunityID = val
			rec.Has |= flow.HasCommunityID
		default:
			id, more := ZeekHeaderID, uint32(0)
			switch {
			case k[1] == 't':
				id = ZeekTrailerID
			case len(k) == 5:
				more = 1 // fg.zhdrc: continued on the next record
			}
			rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: id, Offset: more, Value: val})
		}
		return true
	case "zunset":
		n, ok := parseHexNum(v)
		if !ok || n > 0xFFFFFFFF {
			return false
		}
		if apply {
			rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceZeek, ID: 0, Enterprise: uint32(n)})
		}
		return true
	case "zform":
		n, ok := parseDec(v)
		if !ok || n > 0xFFFFFFFF {
			return false
		}
		if apply {
			for i := zstart; i < len(rec.Extra); i++ {
				if f := &rec.Extra[i]; zeekColumnExtra(f) {
					f.Enterprise = uint32(n)
				}
			}
		}
		return true
	case "zpos":
		// validate first: a malformed list is not ours
		for p := 0; p <= len(v); {
			end := bytes.IndexByte(v[p:], ',')
			if end < 0 {
				end = len(v)
			} else {
				end += p
			}
			if n, ok := parseDec(v[p:end]); !ok || n >= zeekVerbatim {
				return false
			}
			p = end + 1
		}
		if !apply {
			return true
		}
		j := zstart
		for p := 0; p <= len(v); {
			end := bytes.IndexByte(v[p:], ',')
			if end < 0 {
				end = len(v)
			} else {
				end += p
			}
			n, _ := parseDec(v[p:end])
			for j < len(rec.Extra) && !(zeekColumnExtra(&rec.Extra[j]) && rec.Extra[j].Offset != zeekVerbatim) {
				j++
			}
			if j < len(rec.Extra) {
				rec.Extra[j].Offset = uint32(n)
				j++
			}
			p = end + 1
		}
		return true
	}
	return false
}

// zeekColumnExtra reports whether f is a Zeek column value (zeek.NAME or
// zeekv.NAME).
func zeekColumnExtra(f *flow.Field) bool {
	return f.Source == flow.SourceZeek && f.ID != 0 && f.ID != ZeekHeaderID && f.ID != ZeekTrailerID
}

// unesc returns v with its %XX escapes decoded: v itself when it has
// none, else a copy in d.lbl (valid until the next record).
func (d *dec) unesc(v []byte) ([]byte, bool) {
	if bytes.IndexByte(v, '%') < 0 {
		return v[:len(v):len(v)], true
	}
	start := len(d.lbl)
	out, ok := unescInto(d.lbl, v)
	if !ok {
		return nil, false
	}
	d.lbl = out
	return out[start:len(out):len(out)], true
}

// unescInto appends v, %XX escapes decoded, to dst.
func unescInto(dst, v []byte) ([]byte, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(v) {
			return dst, false
		}
		hi, lo := unhex(v[i+1]), unhex(v[i+2])
		if hi < 0 || lo < 0 {
			return dst, false
		}
		dst = append(dst, byte(hi<<4|lo))
		i += 2
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// parseDec parses a decimal number (no sign, at most 20 digits).
func parseDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func parseHexNum(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		h := unhex(c)
		if h < 0 {
			return 0, false
		}
		n = n<<4 | uint64(h)
	}
	return n, true
}

// zeekID returns the Extra ID codecs/zeek gives column name in this
// process. Names are resolved once per decoder.
func (d *dec) zeekID(name []byte) (uint32, bool) {
	if id, ok := d.zcols[string(name)]; ok {
		return id, id != 0
	}
	id := zeekColumnID(string(name))
	if d.zcols == nil {
		d.zcols = map[string]uint32{}
	}
	if len(d.zcols) < 8192 {
		d.zcols[string(name)] = id
	}
	return id, id != 0
}

// zeekColumnID finds name in codecs/zeek's column table (built-in columns
// from ID 1, names met by a Reader of this process from 1<<16), and adds
// it there when it is new, through a Reader of a one-column header
// (codecs/zeek exports no other way). 0: no ID (table full, or a name a
// TSV header cannot hold).
func zeekColumnID(name string) uint32 {
	find := func() uint32 {
		for _, from := range [2]uint32{1, 1 << 16} {
			for id := from; ; id++ {
				n := zeek.ColumnName(id)
				if n == "" {
					break
				}
				if n == name {
					return id
				}
			}
		}
		return 0
	}
	if id := find(); id != 0 {
		return id
	}
	if strings.ContainsAny(name, "\t\n\r\x00\\") || strings.HasPrefix(name, "#") {
		return 0
	}
	var rec flow.Record
	zeek.NewReader(strings.NewReader("#separator \\x09\n#fields\t" + name + "\n")).Decode(&rec)
	return find()
}

// foreignWord reads an fg.x word (after "fg.x."): SRC.[PEN.]ID[@OFF]=VALUE.
func (d *dec) foreignWord(rec *flow.Record, k, v []byte, apply bool) bool {
	i := bytes.IndexByte(k, '.')
	if i <= 0 {
		return false
	}
	var src flow.FieldSource
	switch s := k[:i]; string(s) {
	case "ipfix":
		src = flow.SourceIPFIX
	case "nf9":
		src = flow.SourceNetFlow9
	case "json":
		src = flow.SourceJSON
	default:
		n, ok := parseDec(s)
		if !ok || n > 255 || n == uint64(flow.SourceArgusDSR) || n == uint64(flow.SourceZeek) || n == 0 {
			return false
		}
		src = flow.FieldSource(n)
	}
	k = k[i+1:]
	var f flow.Field
	f.Source = src
	hasOff := false
	if j := bytes.IndexByte(k, '@'); j >= 0 {
		n, ok := parseDec(k[j+1:])
		if !ok || n > 0xFFFFFFFF {
			return false
		}
		f.Offset, hasOff, k = uint32(n), true, k[:j]
	}
	if j := bytes.IndexByte(k, '.'); j >= 0 {
		n, ok := parseDec(k[:j])
		if !ok || n == 0 || n > 0xFFFFFFFF {
			return false
		}
		f.Enterprise, k = uint32(n), k[j+1:]
	}
	n, ok := parseDec(k)
	if !ok || n > 0xFFFFFFFF {
		return false
	}
	f.ID = uint32(n)
	mark := len(d.lbl)
	if src == flow.SourceJSON {
		if bytes.IndexByte(v, 0) >= 0 {
			return false
		}
		val, ok := d.unesc(v)
		if !ok {
			return false
		}
		f.Value = val
	} else {
		if len(v)%2 != 0 {
			return false
		}
		for p := 0; p < len(v); p += 2 {
			hi, lo := unhex(v[p]), unhex(v[p+1])
			if hi < 0 || lo < 0 {
				d.lbl = d.lbl[:mark]
				return false
			}
			d.lbl = append(d.lbl, byte(hi<<4|lo))
		}
		f.Value = d.lbl[mark:len(d.lbl):len(d.lbl)]
	}
	if !apply {
		d.lbl = d.lbl[:mark]
		return true
	}
	if f.Value == nil {
		f.Value = v[:0:0]
	}
	if !hasOff {
		f.Offset = uint32(len(f.Value))
	}
	rec.Extra = append(rec.Extra, f)
	return true
}
