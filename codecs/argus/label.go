package argus

import (
	"bytes"
	"net/netip"
	"strconv"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// Context carried in the label DSR (§7.16).
//
// Argus has no field for a NetFlow/IPFIX record's export context, the
// Community ID, or the Zeek conn.log columns with no Argus home. The
// writer carries them in the label text, after the record's own label
// (r.Label), as ralabel-style words "key=value" joined by ':'; ra prints
// them with -s +label. The keys are reserved: "fg." for flowgate's
// context, "zeek." and "zeekv." for conn.log columns. Values (and
// column names in keys) escape '%', ':', NUL, control bytes but TAB, and
// DEL as %XX (upper-case hex), so a value never ends a word nor a line of
// ra's output; '=' splits a word at its first occurrence only (keys escape
// it). The reader takes a word as carried
// context only when its key is one of those below and its value parses;
// every other word stays in r.Label, in order.
//
//	fg.exp=ADDR fg.expport=N fg.odid=N fg.expseq=N    HasExporter (zero values left out; fg.exp always)
//	fg.sampling=N                                     HasSampling
//	fg.inif=N fg.outif=N                              HasIfaces
//	fg.nexthop=ADDR fg.bgpnexthop=ADDR                HasNextHop (an invalid address left out; fg.nexthop always)
//	fg.cid=1%3A...=                                   CommunityID
//	zeek.uid, zeek.service, zeek.history, zeek.conn_state   r.Zeek (HasZeek)
//	zeek.NAME=TEXT      a conn.log column kept in Extra (flow.SourceZeek)
//	zeekv.NAME=TEXT     a canonical column's text as written (Offset 0xFFFFFFFF)
//	fg.zunset=HEX       the unset-columns Extra (ID 0), Enterprise in hex
//	fg.zform=1          the Zeek Extras' values are JSON tokens (Enterprise 1)
//	fg.zpos=N,N...      the zeek.NAME Extras' Offsets (column positions), in order
//	fg.zhdr=TEXT fg.ztrl=TEXT   a conn.log's header lines and trailer (ZeekHeaderID, ZeekTrailerID)
//	fg.zhdrc=TEXT       a piece of the header that the next record's fg.zhdrc or fg.zhdr continues (Offset 1)
//	fg.x.SRC.[PEN.]ID[@OFF]=HEX   another format's element kept in Extra (an IPFIX enterprise or
//	                    unknown element, a v9 vendor type): SRC ipfix, nf9, json or the Source
//	                    number; PEN when not 0; OFF (the template's length, 65535 for variable
//	                    length) when it is not the value's length; the value's bytes in
//	                    lower-case hex (json: its text, escaped)
//
// Examples, as Debian's ra 3.0.8.2 prints them (-s label): a NetFlow v9
// flow of ipt_NETFLOW (flowbeat's corpus) and a DNS connection of a Zeek
// JSON conn.log (slips' corpus):
//
//	fg.exp=192.168.1.1:fg.expport=57573:fg.expseq=35767553:fg.inif=3:fg.outif=4:fg.nexthop=160.3.9.1:fg.cid=1%3AJnmiXZDkZFd+iBPxHhvjmxWcLSk=
//	fg.cid=1%3A9nRr0IiULk74t7NIEyf8uVbFGIg=:zeek.uid=C6ce9q3xECAsonga21:zeek.service=dns:zeek.history=D:zeek.conn_state=S0:zeek.missed_bytes=0:fg.zunset=1fc0000:fg.zform=1:fg.zpos=12
//
// A record's own label (ralabel's "svc=dns", say) comes first:
// "svc=dns:fg.cid=...". An empty own label is an empty first word.
//
// The text is at most labelMax bytes (255 words with the header); a
// record whose context does not fit is refused (NotRepresentableError
// naming the first key that does not fit), or with WithLossy written
// without the keys that do not fit, counted per key.

// ZeekHeaderID and ZeekTrailerID are the Extra IDs (Source
// flow.SourceZeek) of a conn.log's header lines and trailer, which a
// converter attaches to a log's first and last record so that a log
// converted to Argus and back keeps them (codecs/zeek's column IDs stay
// below 1<<16 + 4096). A header too long for one label is cut in pieces
// on consecutive records: every piece but the last has Offset 1.
const (
	ZeekHeaderID  uint32 = 0xFFFF0001
	ZeekTrailerID uint32 = 0xFFFF0002
)

// labelMax is the longest text a label DSR holds: 255 words, one of them
// the header.
const labelMax = 254 * 4

// zeekVerbatim is the Offset codecs/zeek gives a canonical column's text.
const zeekVerbatim = 0xFFFFFFFF

// carryGroups are the record groups the label carries.
const carryGroups = flow.HasExporter | flow.HasSampling | flow.HasIfaces | flow.HasNextHop | flow.HasZeek | flow.HasCommunityID

// carries reports whether r has context the label carries.
func carries(r *flow.Record) bool {
	if r.Has&carryGroups != 0 {
		return true
	}
	for i := range r.Extra {
		if r.Extra[i].Source != flow.SourceArgusDSR {
			return true // Zeek columns and other formats' elements
		}
	}
	return false
}

// foreignSources names the Extra sources carried as fg.x words (by
// FieldSource); others are written as their number.
var foreignSources = [...]string{flow.SourceIPFIX: "ipfix", flow.SourceNetFlow9: "nf9", flow.SourceJSON: "json"}

// foreignKV writes f, an Extra of neither Argus nor Zeek, as an fg.x word;
// a word past the bound is counted under its key.
func (l *labelWriter) foreignKV(f *flow.Field) {
	l.begin()
	l.b = append(l.b, "fg.x."...)
	if int(f.Source) < len(foreignSources) && foreignSources[f.Source] != "" {
		l.b = append(l.b, foreignSources[f.Source]...)
	} else {
		l.b = appendSmall(l.b, uint32(f.Source))
	}
	l.b = append(l.b, '.')
	if f.Enterprise != 0 {
		l.b = strconv.AppendUint(l.b, uint64(f.Enterprise), 10)
		l.b = append(l.b, '.')
	}
	l.b = strconv.AppendUint(l.b, uint64(f.ID), 10)
	if f.Offset != uint32(len(f.Value)) {
		l.b = append(l.b, '@')
		l.b = strconv.AppendUint(l.b, uint64(f.Offset), 10)
	}
	l.b = append(l.b, '=')
	if f.Source == flow.SourceJSON {
		l.b = appendEsc(l.b, f.Value, false)
	} else {
		for _, c := range f.Value {
			l.b = append(l.b, lowerHex[c>>4], lowerHex[c&15])
		}
	}
	l.end("")
}

const lowerHex = "0123456789abcdef"

// escTab says which bytes a label value (1) and key (1|2) escape:
// control bytes but TAB (a conn.log header is mostly tabs, and ra prints
// them as they are, one line per record still), DEL, '%', ':', and in
// keys '='.
var escTab = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = 1
	}
	t['\t'] = 0
	t[0x7F], t['%'], t[':'], t['='] = 1, 1, 1, 2
	return t
}()

const hexDigits = "0123456789ABCDEF"

// appendEsc appends v escaped; the runs that need none are copied whole.
// (A scan of 8 bytes at a time was no faster: values are short.)
func appendEsc(b, v []byte, key bool) []byte {
	mask := uint8(1)
	if key {
		mask = 3
	}
	start := 0
	for i, c := range v {
		if escTab[c]&mask != 0 {
			b = append(b, v[start:i]...)
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			start = i + 1
		}
	}
	return append(b, v[start:]...)
}

func appendEscString(b []byte, v string, key bool) []byte {
	mask := uint8(1)
	if key {
		mask = 3
	}
	start := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; escTab[c]&mask != 0 {
			b = append(b, v[start:i]...)
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			start = i + 1
		}
	}
	return append(b, v[start:]...)
}

// labelWriter composes a label text within labelMax.
type labelWriter struct {
	b     []byte
	mark  int
	lossy bool
	over  []string // keys left out (lossy), or the first that did not fit
	own   bool     // an own label (maybe empty) comes first: every word of ours follows a ':'
	// keys caches, per Zeek column ID, the column name's escaped key
	// text (a column's name never changes in a process): escaping the
	// names was a fifth of a conn.log record's label. Writers only
	// (AppendLabel's one-shot labelWriter has none: no allocation).
	keys *keyCache
}

// keyCache holds escaped column names by Extra ID: built-in columns
// (IDs from 1) and those a Reader met (from 1<<16), up to keyCacheN each.
type keyCache [2][keyCacheN]string

const keyCacheN = 1024

// zeekKey appends column id's name, escaped as a key; false when the
// process has no name for id.
func (l *labelWriter) zeekKey(id uint32, zeekName func(uint32) string) bool {
	var slot *string
	if l.keys != nil {
		switch {
		case id < keyCacheN:
			slot = &l.keys[0][id]
		case id >= 1<<16 && id-1<<16 < keyCacheN:
			slot = &l.keys[1][id-1<<16]
		}
		if slot != nil && *slot != "" {
			l.b = append(l.b, *slot...)
			return true
		}
	}
	name := zeekName(id)
	if name == "" {
		return false
	}
	mark := len(l.b)
	l.b = appendEscString(l.b, name, true)
	if slot != nil {
		*slot = string(l.b[mark:])
	}
	return true
}

// appendSmall appends v in decimal; the one- and two-digit values of
// column positions without strconv's general path.
func appendSmall(b []byte, v uint32) []byte {
	switch {
	case v < 10:
		return append(b, byte('0'+v))
	case v < 100:
		return append(b, byte('0'+v/10), byte('0'+v%10))
	}
	return strconv.AppendUint(b, uint64(v), 10)
}

// appendHex32 appends v in lower-case hex, no leading zeros (as
// strconv.AppendUint(b, v, 16)).
func appendHex32(b []byte, v uint32) []byte {
	var t [8]byte
	i := len(t)
	for {
		i--
		t[i] = lowerHex[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(b, t[i:]...)
}

// begin starts a word.
func (l *labelWriter) begin() {
	l.mark = len(l.b)
	if len(l.b) > 0 || l.own {
		l.b = append(l.b, ':')
	}
}

// end finishes the word begun last; one past labelMax is taken back and
// its key (name, or the key's text when name is "") remembered. It
// reports whether the word stayed.
func (l *labelWriter) end(name string) bool {
	if len(l.b) <= labelMax {
		return true
	}
	if name == "" {
		k := l.b[l.mark:]
		if len(k) > 0 && k[0] == ':' {
			k = k[1:]
		}
		if i := bytes.IndexByte(k, '='); i >= 0 {
			k = k[:i]
		}
		name = string(k)
	}
	l.b = l.b[:l.mark]
	l.over = append(l.over, name)
	return false
}

func (l *labelWriter) bytesKV(key string, v []byte) {
	l.begin()
	l.b = append(l.b, key...)
	l.b = append(l.b, '=')
	l.b = appendEsc(l.b, v, false)
	l.end(key)
}

func (l *labelWriter) uintKV(key string, v uint64) {
	l.begin()
	l.b = append(l.b, key...)
	l.b = append(l.b, '=')
	l.b = strconv.AppendUint(l.b, v, 10)
	l.end(key)
}

func (l *labelWriter) addrKV(key string, a netip.Addr) {
	l.begin()
	l.b = append(l.b, key...)
	l.b = append(l.b, '=')
	if a.IsValid() {
		// an IPv6 text holds ':': escape it (zones too)
		var tmp [64]byte
		l.b = appendEsc(l.b, a.AppendTo(tmp[:0]), false)
	}
	l.end(key)
}

// composeLabel writes r's label text into l.b: r.Label (up to a NUL),
// then the carried context.
func composeLabel(l *labelWriter, r *flow.Record, zeekName func(uint32) string) {
	l.b, l.over, l.own = l.b[:0], l.over[:0], false
	if r.Has&flow.HasLabel != 0 || len(r.Label) > 0 {
		// an empty own label is an empty first word (":fg.cid=..."), so
		// that it reads back as one
		u := r.Label
		if i := bytes.IndexByte(u, 0); i >= 0 {
			u = u[:i]
		}
		l.b = append(l.b, u...)
		if len(l.b) > labelMax {
			l.b = l.b[:labelMax]
			l.over = append(l.over, "label")
			if !l.lossy {
				return
			}
		}
		l.own = true
	}
	if r.Has&flow.HasExporter != 0 {
		l.addrKV("fg.exp", r.Exporter.Addr())
		if p := r.Exporter.Port(); p != 0 {
			l.uintKV("fg.expport", uint64(p))
		}
		if r.ObsDomain != 0 {
			l.uintKV("fg.odid", uint64(r.ObsDomain))
		}
		if r.ExportSeq != 0 {
			l.uintKV("fg.expseq", uint64(r.ExportSeq))
		}
	}
	if r.Has&flow.HasSampling != 0 {
		l.uintKV("fg.sampling", uint64(r.SamplingRate))
	}
	if r.Has&flow.HasIfaces != 0 {
		l.uintKV("fg.inif", uint64(r.InIf))
		l.uintKV("fg.outif", uint64(r.OutIf))
	}
	if r.Has&flow.HasNextHop != 0 {
		l.addrKV("fg.nexthop", r.NextHop)
		if r.BGPNextHop.IsValid() {
			l.addrKV("fg.bgpnexthop", r.BGPNextHop)
		}
	}
	if r.Has&flow.HasCommunityID != 0 {
		l.bytesKV("fg.cid", r.CommunityID)
	}
	if r.Has&flow.HasZeek != 0 {
		z := &r.Zeek
		if z.UID != nil {
			l.bytesKV("zeek.uid", z.UID)
		}
		if z.Service != nil {
			l.bytesKV("zeek.service", z.Service)
		}
		if z.History != nil {
			l.bytesKV("zeek.history", z.History)
		}
		if z.State != nil {
			l.bytesKV("zeek.conn_state", z.State)
		}
	}
	form, mixed, npos, lost := uint32(0), false, 0, false
	var hdr, trl *flow.Field
	first := true
	foreign := false
	for i := range r.Extra {
		f := &r.Extra[i]
		if f.Source != flow.SourceZeek {
			foreign = foreign || f.Source != flow.SourceArgusDSR
			continue
		}
		switch {
		case f.ID == ZeekHeaderID:
			hdr = f
			continue
		case f.ID == ZeekTrailerID:
			trl = f
			continue
		case f.ID == 0:
			l.begin()
			l.b = append(l.b, "fg.zunset="...)
			l.b = appendHex32(l.b, f.Enterprise)
			l.end("fg.zunset")
			continue
		}
		l.begin()
		if f.Offset == zeekVerbatim {
			l.b = append(l.b, "zeekv."...)
		} else {
			l.b = append(l.b, "zeek."...)
		}
		if !l.zeekKey(f.ID, zeekName) {
			// a column this process has no name for: it cannot be
			// carried by name
			l.b = l.b[:l.mark]
			l.over = append(l.over, "zeek column "+strconv.FormatUint(uint64(f.ID), 10))
			continue
		}
		if f.Offset != zeekVerbatim {
			npos++
		}
		if first {
			form, first = f.Enterprise, false
		} else if f.Enterprise != form {
			mixed = true
		}
		l.b = append(l.b, '=')
		l.b = appendEsc(l.b, f.Value, false)
		if !l.end("") && f.Offset != zeekVerbatim {
			lost = true
		}
	}
	if mixed {
		l.over = append(l.over, "fg.zform")
	} else if form != 0 {
		l.uintKV("fg.zform", uint64(form))
	}
	if lost {
		// the positions would no longer match the words
		l.over = append(l.over, "fg.zpos")
	} else if npos > 0 {
		l.begin()
		l.b = append(l.b, "fg.zpos="...)
		n := 0
		for i := range r.Extra {
			f := &r.Extra[i]
			if f.Source != flow.SourceZeek || f.ID == 0 || f.ID == ZeekHeaderID || f.ID == ZeekTrailerID || f.Offset == zeekVerbatim {
				continue
			}
			if n > 0 {
				l.b = append(l.b, ',')
			}
			l.b = appendSmall(l.b, f.Offset)
			n++
		}
		l.end("fg.zpos")
	}
	if foreign {
		for i := range r.Extra {
			if f := &r.Extra[i]; f.Source != flow.SourceZeek && f.Source != flow.SourceArgusDSR {
				l.foreignKV(f)
			}
		}
	}
	if hdr != nil {
		if hdr.Offset == 1 {
			l.bytesKV("fg.zhdrc", hdr.Value)
		} else {
			l.bytesKV("fg.zhdr", hdr.Value)
		}
	}
	if trl != nil {
		l.bytesKV("fg.ztrl", trl.Value)
	}
}

// CarriesLabel reports whether the Writer puts context of r's in its
// label DSR (AppendLabel then gives more than r.Label).
func CarriesLabel(r *flow.Record) bool { return carries(r) }

// AppendLabel appends to dst the label text the Writer writes for r: its
// own label, then the carried context (words past the DSR's bound left
// out). A printer of ra's label column gives this, as ra prints the DSR.
func AppendLabel(dst []byte, r *flow.Record) []byte {
	if !carries(r) {
		u := r.Label
		if i := bytes.IndexByte(u, 0); i >= 0 {
			u = u[:i]
		}
		return append(dst, u[:min(len(u), labelMax)]...)
	}
	l := labelWriter{b: dst[len(dst):], lossy: true}
	composeLabel(&l, r, zeek.ColumnName)
	return append(dst, l.b...)
}
