package zeek

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// ErrClosed is returned by a Writer used after Close.
var ErrClosed = errors.New("zeek: writer closed")

// wcol is one column the TSV writer writes.
type wcol struct {
	kind kind
	id   uint32
	typ  string
	rule *mappings.RuleOp // a user rule (WithMapping) writes the column
}

// WriterStats counts what a Writer could not write.
type WriterStats struct {
	Records int64
	Dropped int64 // Extra values with no column in the TSV header
	// Unmapped counts values a user rule could not write (a scale that
	// does not divide, a value wider than the column): left unset.
	Unmapped int64
	// NotIP counts records that are not IP, not written (unless
	// WriteNotIP): a conn.log has IP connections only, and an ARP or
	// other layer-2 flow (argus makes them) has no IP connection.
	NotIP int64
	// lost counts, per column kind, values a record carried that the log
	// cannot hold: a TSV header (made from the first record, or the
	// source's) without the column, or an ICMP code Zeek does not log.
	lost [nKinds]int64
}

// Lost returns how many values of each canonical field (the names of
// mappings/builtin/zeek-conn.yaml) the writer could not write, with why:
// the TSV header has no column for them (a header is written before the
// records, from the first record or the source's), or Zeek logs no ICMP
// code for a type with a counterpart.
func (s WriterStats) Lost() map[string]LostCount {
	m := map[string]LostCount{}
	for k, n := range s.lost {
		if n == 0 {
			continue
		}
		why := "no " + columnName(kind(k)) + " column in the conn.log header"
		if kind(k) == kRespP {
			why = "Zeek logs the counterpart type of an ICMP request/reply, not its code"
		}
		m[lostField(kind(k))] = LostCount{N: n, Why: why}
	}
	return m
}

// LostCount is one field's count in WriterStats.Lost.
type LostCount struct {
	N   int64
	Why string
}

func lostField(k kind) string {
	if k == kRespP {
		return "icmp_code" // resp_p holds the code of an unpaired type only
	}
	return kindCanonical[k]
}

// columnName is the built-in column of kind k.
func columnName(k kind) string {
	for i := range columns {
		if columns[i].kind == k {
			return columns[i].name
		}
	}
	return ""
}

// Writer encodes records as a Zeek conn.log, TSV (default) or JSON lines.
type Writer struct {
	bw      *bufio.Writer
	opt     options
	json    bool
	started bool
	closed  bool
	err     error
	cols    []wcol
	sep     byte
	unsetV  []byte
	emptyV  []byte
	setSep  []byte
	buf     []byte
	tmp     []byte
	stats   WriterStats
	cidCol  bool   // CommunityIDColumn
	colKind uint32 // the kinds the TSV header has a column for (1<<kind)
	notIPOK bool   // WriteNotIP
	// With a mapping: the JSON writer's op per built-in column, and the
	// columns the mapping adds (their Extra IDs).
	jrc   []rcol
	added []wcol
	// Now gives #open and #close times of a header the writer makes.
	Now func() time.Time
}

// NewWriter returns a Writer to w. Options: WithFormat(FormatJSON) for
// JSON lines, WithHeader to reproduce a log's header and columns.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	wr := &Writer{bw: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 1024), Now: time.Now}
	for _, o := range opts {
		o(&wr.opt)
	}
	wr.json = wr.opt.format == FormatJSON
	return wr
}

// Stats returns the counts so far.
func (w *Writer) Stats() WriterStats { return w.stats }

// WriteNotIP makes the writer write records that are not IP (NotIP) as
// lines, as it did before it skipped them, still counting them
// (WriterStats.NotIP): for a caller whose output others expect to hold a
// line per record. Zeek logs IP connections only. Call it before the
// first Encode.
func (w *Writer) WriteNotIP() { w.notIPOK = true }

// CommunityIDColumn makes a TSV header the writer makes itself (no
// WithHeader schema) have the community_id column whatever the first
// record carries, for a stream whose records get their Community ID (a
// record without one has it unset). The column comes after the conn
// columns, as Zeek's policy/protocols/conn/community-id-logging.zeek adds
// it (type string). Without it the column is there only if the first
// record has an ID; a WithHeader schema is never changed. Call it before
// the first Encode.
func (w *Writer) CommunityIDColumn() { w.cidCol = true }

func zeekStamp(t time.Time) string { return t.UTC().Format("2006-01-02-15-04-05") }

// start writes the TSV header: the reader's lines if it has a schema,
// else the one Zeek writes, with columns for what rec carries.
func (w *Writer) start(rec *flow.Record) {
	w.started = true
	tbl := w.opt.outTable()
	if m := w.opt.mapping; m != nil {
		w.jrc = make([]rcol, len(columns))
		for i := range columns {
			w.jrc[i] = resolve(tbl, i, []byte(columns[i].name))
		}
		for _, a := range m.added {
			id, _ := internColumn([]byte(a.name), []byte(a.typ))
			w.added = append(w.added, wcol{id: id, typ: a.typ, rule: a.rule})
		}
	}
	if w.json {
		return
	}
	h := w.opt.header
	if h != nil && len(h.Fields) > 0 {
		w.sep, w.setSep, w.emptyV, w.unsetV = h.Separator, h.SetSeparator, h.Empty, h.Unset
		for i, f := range h.Fields {
			c := lookupColumn(f)
			col := wcol{}
			if c >= 0 {
				col = wcol{kind: columns[c].kind, id: uint32(c + 1), typ: columns[c].typ}
			} else {
				id, _ := internColumn(f, nil)
				col.id = id
			}
			rc := resolve(tbl, c, f)
			col.kind, col.rule = rc.kind, rc.rule
			if i < len(h.Types) {
				col.typ = string(h.Types[i])
			}
			w.cols = append(w.cols, col)
		}
		w.bw.Write(h.Lines)
		w.noteKinds()
		return
	}
	w.sep, w.setSep, w.emptyV, w.unsetV = '\t', []byte{','}, []byte("(empty)"), []byte{'-'}
	builtin := func(c int) wcol {
		rc := resolve(tbl, c, []byte(columns[c].name))
		return wcol{kind: rc.kind, id: uint32(c + 1), typ: columns[c].typ, rule: rc.rule}
	}
	for _, c := range defaultColumns {
		w.cols = append(w.cols, builtin(c))
	}
	add := func(c int) {
		for _, x := range w.cols {
			if x.id == uint32(c+1) {
				return
			}
		}
		w.cols = append(w.cols, builtin(c))
	}
	if w.cidCol || rec != nil && rec.CommunityID != nil {
		add(22) // community_id
	}
	if rec != nil {
		if rec.Has&flow.HasVLAN != 0 {
			add(23)
		}
		if rec.Has&flow.HasMAC != 0 {
			add(25)
			add(26)
		}
		for _, e := range rec.Extra {
			if e.Source != flow.SourceZeek || e.ID == idUnset || e.Offset == verbatimOffset {
				continue
			}
			if e.ID > 0 && int(e.ID) <= len(columns) {
				add(int(e.ID - 1))
			} else if _, typ := columnInfo(e.ID); true {
				dup := false
				for _, x := range w.cols {
					dup = dup || x.id == e.ID
				}
				if !dup {
					w.cols = append(w.cols, wcol{id: e.ID, typ: typ})
				}
			}
		}
	}
	// Columns a user mapping writes, whatever the first record holds: a
	// record without the field has them unset. Built-in columns first
	// (label ...), then those the table does not know.
	for i := range w.jrc {
		if w.jrc[i].rule != nil {
			add(i)
		}
	}
	for _, a := range w.added {
		dup := false
		for _, x := range w.cols {
			dup = dup || x.id == a.id
		}
		if !dup {
			w.cols = append(w.cols, a)
		}
	}
	b := w.buf[:0]
	b = append(b, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t"...)
	b = append(b, zeekStamp(w.Now())...)
	b = append(b, "\n#fields"...)
	for _, c := range w.cols {
		n, _ := columnInfo(c.id)
		b = append(b, '\t')
		b = append(b, n...)
	}
	b = append(b, "\n#types"...)
	for _, c := range w.cols {
		b = append(b, '\t')
		b = append(b, c.typ...)
	}
	b = append(b, '\n')
	w.bw.Write(b)
	w.buf = b[:0]
	w.noteKinds()
}

func (w *Writer) noteKinds() {
	for _, c := range w.cols {
		w.colKind |= 1 << c.kind
	}
}

// NotIP reports whether rec is a flow a conn.log has no place for: not
// IP (ARP, other layer-2 frames), which Zeek does not log. A record that
// merely lacks its addresses (Cisco AVC IPFIX sends them in enterprise
// elements) is written with them unset.
func NotIP(rec *flow.Record) bool {
	k := &rec.Key
	if k.Kind == flow.KindARP || k.AddrType == flow.AddrARP || k.AddrType == flow.AddrRARP {
		return true // its addresses, if any, are ARP's protocol addresses
	}
	if k.Src.IsValid() || k.Dst.IsValid() {
		return false
	}
	switch k.AddrType {
	case 0, flow.AddrIPv4, flow.AddrIPv6:
		return false
	}
	return true
}

// Encode writes one record.
func (w *Writer) Encode(rec *flow.Record) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if NotIP(rec) {
		w.stats.NotIP++
		if !w.notIPOK {
			return nil
		}
	}
	if !w.started {
		w.start(rec)
	}
	b := w.buf[:0]
	if w.json {
		b = w.appendJSON(b, rec)
	} else {
		b = w.appendTSV(b, rec)
	}
	w.buf = b[:0]
	w.stats.Records++
	if _, err := w.bw.Write(b); err != nil {
		w.err = err
	}
	return w.err
}

// Flush writes buffered data.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.bw.Flush()
	return w.err
}

// Close writes the TSV trailer (#close) and flushes. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if !w.started {
		w.start(nil)
	}
	w.closed = true
	if !w.json && w.err == nil {
		if h := w.opt.header; h != nil && len(h.Fields) > 0 {
			w.bw.Write(h.Trailer)
		} else {
			w.bw.WriteString("#close\t" + zeekStamp(w.Now()) + "\n")
		}
	}
	return w.Flush()
}

// unsetMask returns the canonical kinds rec has no value for.
func unsetMask(rec *flow.Record) uint32 {
	for i := range rec.Extra {
		if e := &rec.Extra[i]; e.Source == flow.SourceZeek && e.ID == idUnset {
			return e.Enterprise
		}
	}
	// A record from another format: unset what it lacks.
	var u uint32
	if rec.Zeek.UID == nil {
		u |= 1 << kUID
	}
	if rec.Zeek.Service == nil {
		u |= 1 << kService
	}
	if rec.Has&flow.HasTime == 0 {
		u |= 1<<kTS | 1<<kDuration
	}
	if rec.Has&flow.HasAppBytes == 0 {
		u |= 1<<kOrigBytes | 1<<kRespBytes
	}
	if rec.Has&flow.HasMetrics == 0 {
		u |= 1<<kOrigPkts | 1<<kOrigIPBytes | 1<<kRespPkts | 1<<kRespIPBytes
	}
	if rec.Zeek.State == nil && connStateOf(rec) == "" {
		u |= 1 << kConnState
	}
	if rec.Zeek.History == nil && (rec.Key.Proto != 6 || rec.Has&flow.HasTCP == 0) {
		u |= 1 << kHistory
	}
	if rec.CommunityID == nil {
		u |= 1 << kCommunityID
	}
	if rec.Has&flow.HasVLAN == 0 {
		u |= 1 << kVLAN
	}
	if rec.Has&flow.HasMAC == 0 {
		u |= 1<<kOrigL2 | 1<<kRespL2
	}
	// A record from a format that can lack addresses (Cisco AVC IPFIX
	// sends them in enterprise elements): unset, not "invalid IP".
	if !rec.Key.Src.IsValid() {
		u |= 1 << kOrigH
	}
	if !rec.Key.Dst.IsValid() {
		u |= 1 << kRespH
	}
	if rec.Has&flow.HasCountry == 0 || rec.Country[0] == [2]byte{} {
		u |= 1 << kOrigCC
	}
	if rec.Has&flow.HasCountry == 0 || rec.Country[1] == [2]byte{} {
		u |= 1 << kRespCC
	}
	return u
}

// isICMP reports whether rec is an ICMP flow with its type and code in the
// key, which Zeek logs in the port columns.
func isICMP(rec *flow.Record) bool {
	return rec.Has&flow.HasICMPKey != 0 && (rec.Key.Proto == 1 || rec.Key.Proto == 58)
}

// connStateOf derives a conn_state for a record that did not come from
// Zeek: the §4.3 table read backwards for TCP, Zeek's UDP/ICMP rule (S0
// one way, SF both ways) otherwise.
func connStateOf(rec *flow.Record) string {
	if rec.Key.Proto == 6 && rec.Has&flow.HasTCP != 0 {
		st, _ := ConnStateFlags(rec.TCP.Status&^(SrcRetrans|DstRetrans|SrcWinShut|DstWinShut),
			[2]uint8{rec.TCP.Side[0].Flags, rec.TCP.Side[1].Flags})
		if st == "" && rec.TCP.Side[0].Flags|rec.TCP.Side[1].Flags != 0 {
			st = "OTH" // packets, but no state Zeek names: its default
		}
		return st
	}
	if rec.Has&flow.HasMetrics == 0 {
		return ""
	}
	switch {
	case rec.Pkts[0] > 0 && rec.Pkts[1] > 0:
		return "SF"
	case rec.Pkts[0] > 0:
		return "S0"
	case rec.Pkts[1] > 0:
		return "SHR"
	}
	return "OTH"
}

// override returns the Extra that gives column (kind k, id) its text.
func override(rec *flow.Record, k kind, id uint32) *flow.Field {
	for i := range rec.Extra {
		e := &rec.Extra[i]
		if e.Source != flow.SourceZeek || e.ID == idUnset {
			continue
		}
		if e.ID == id || (e.Offset == verbatimOffset && k != kExtra && e.ID > 0 && int(e.ID) <= len(columns) && columns[e.ID-1].kind == k) {
			return e
		}
	}
	return nil
}

func (w *Writer) appendTSV(b []byte, rec *flow.Record) []byte {
	u := unsetMask(rec)
	used := 0
	for i, c := range w.cols {
		if i > 0 {
			b = append(b, w.sep)
		}
		if len(rec.Extra) > 0 {
			if e := override(rec, c.kind, c.id); e != nil {
				if e.Offset != verbatimOffset {
					used++
				}
				b = w.tsvValue(b, e, c.typ)
				continue
			}
		}
		if c.rule != nil {
			var ok bool
			if b, ok = w.ruleText(b, rec, c.rule, false); !ok {
				b = append(b, w.unsetV...)
			}
			continue
		}
		if c.kind == kExtra || u&(1<<c.kind) != 0 {
			b = append(b, w.unsetV...)
			continue
		}
		b = w.canonical(b, rec, c.kind, false)
	}
	if len(rec.Extra) > 0 {
		n := 0
		for i := range rec.Extra {
			if e := &rec.Extra[i]; e.Source == flow.SourceZeek && e.ID != idUnset && e.Offset != verbatimOffset {
				n++
			}
		}
		w.stats.Dropped += int64(n - used)
	}
	if opt := rec.Has & (flow.HasVLAN | flow.HasMAC | flow.HasCountry); opt != 0 {
		w.countLost(rec, opt)
	}
	return append(b, '\n')
}

// countLost counts the optional values of rec (VLAN, MACs, countries)
// that the header has no column for: Zeek's header comes before the
// records, so a later record's values have no place (WriterStats.Lost).
func (w *Writer) countLost(rec *flow.Record, opt flow.Group) {
	no := func(k kind) bool { return w.colKind&(1<<k) == 0 }
	if opt&flow.HasVLAN != 0 && no(kVLAN) {
		w.stats.lost[kVLAN]++
	}
	if opt&flow.HasMAC != 0 {
		if no(kOrigL2) {
			w.stats.lost[kOrigL2]++
		}
		if no(kRespL2) {
			w.stats.lost[kRespL2]++
		}
	}
	if opt&flow.HasCountry != 0 {
		if rec.Country[0] != [2]byte{} && no(kOrigCC) {
			w.stats.lost[kOrigCC]++
		}
		if rec.Country[1] != [2]byte{} && no(kRespCC) {
			w.stats.lost[kRespCC]++
		}
	}
}

// canonical appends column kind k's value from rec's fields.
func (w *Writer) canonical(b []byte, rec *flow.Record, k kind, json bool) []byte {
	str := func(v []byte) []byte {
		if json {
			return appendJSONString(b, v)
		}
		return w.appendTSVString(b, v)
	}
	switch k {
	case kTS:
		if json {
			return appendJSONFloat(b, zeekTime(rec.Start))
		}
		return appendFixed6(b, rec.Start)
	case kDuration:
		if json {
			return appendJSONFloat(b, zeekTime(rec.Last)-zeekTime(rec.Start))
		}
		return appendFixed6(b, rec.Last-rec.Start)
	case kUID:
		return str(rec.Zeek.UID)
	case kService:
		return str(rec.Zeek.Service)
	case kConnState:
		if rec.Zeek.State != nil {
			return str(rec.Zeek.State)
		}
		return str([]byte(connStateOf(rec)))
	case kHistory:
		if rec.Zeek.History != nil {
			return str(rec.Zeek.History)
		}
		w.tmp = AppendHistory(w.tmp[:0], [2]uint8{rec.TCP.Side[0].Flags, rec.TCP.Side[1].Flags}, rec.TCP.Status)
		return str(w.tmp)
	case kCommunityID:
		return str(rec.CommunityID)
	case kOrigH, kRespH:
		a := rec.Key.Src
		if k == kRespH {
			a = rec.Key.Dst
		}
		if json {
			b = append(b, '"')
			b = a.AppendTo(b)
			return append(b, '"')
		}
		return a.AppendTo(b)
	case kOrigP:
		if isICMP(rec) {
			return strconv.AppendUint(b, uint64(rec.Key.ICMPType), 10)
		}
		return strconv.AppendUint(b, uint64(rec.Key.SrcPort), 10)
	case kRespP:
		if isICMP(rec) {
			// Zeek's ICMP connection: the type and its counterpart
			// (echo 8/0), or the code for a type without one.
			p, paired := icmpCounterpart(rec.Key.Proto == 58, rec.Key.ICMPType, rec.Key.ICMPCode)
			if rec.Key.ICMPType == 0 && rec.Key.ICMPCode == 0 && rec.Has&flow.HasICMP == 0 && rec.Key.DstPort == 0 {
				// NetFlow/IPFIX: type*256+code 0 in the port is also
				// what an exporter gives ICMP without an ICMP header
				// (softflowd's flow of non-first fragments): with no
				// ICMP object saying an echo reply was seen, not 0/8.
				p = 0
			}
			if paired && rec.Key.ICMPCode != 0 {
				w.stats.lost[kRespP]++
			}
			return strconv.AppendUint(b, uint64(p), 10)
		}
		return strconv.AppendUint(b, uint64(rec.Key.DstPort), 10)
	case kProto:
		var p string
		switch rec.Key.Proto {
		case 6:
			p = "tcp"
		case 17:
			p = "udp"
		case 1, 58:
			p = "icmp"
		default:
			p = "unknown_transport"
		}
		if json {
			b = append(b, '"')
			b = append(b, p...)
			return append(b, '"')
		}
		return append(b, p...)
	case kIPProto:
		return strconv.AppendUint(b, uint64(rec.Key.Proto), 10)
	case kOrigBytes:
		return strconv.AppendUint(b, rec.AppBytes[0], 10)
	case kRespBytes:
		return strconv.AppendUint(b, rec.AppBytes[1], 10)
	case kOrigPkts:
		return strconv.AppendUint(b, rec.Pkts[0], 10)
	case kRespPkts:
		return strconv.AppendUint(b, rec.Pkts[1], 10)
	case kOrigIPBytes:
		return strconv.AppendUint(b, rec.Bytes[0], 10)
	case kRespIPBytes:
		return strconv.AppendUint(b, rec.Bytes[1], 10)
	case kVLAN:
		return strconv.AppendUint(b, uint64(rec.VLAN.TCI[0]&0xfff), 10)
	case kOrigCC:
		return str(rec.Country[0][:])
	case kRespCC:
		return str(rec.Country[1][:])
	case kOrigL2, kRespL2:
		m := rec.MAC.Src
		if k == kRespL2 {
			m = rec.MAC.Dst
		}
		if json {
			b = append(b, '"')
		}
		for i, x := range m {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, hexdig[x>>4], hexdig[x&15])
		}
		if json {
			b = append(b, '"')
		}
		return b
	}
	return b
}

const hexdig = "0123456789abcdef"

// appendFixed6 appends ns as seconds with six decimals (%.6f).
func appendFixed6(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	us := (ns + 500) / 1000
	b = strconv.AppendInt(b, us/1e6, 10)
	f := us % 1e6
	b = append(b, '.', byte('0'+f/100000), byte('0'+f/10000%10), byte('0'+f/1000%10), byte('0'+f/100%10), byte('0'+f/10%10), byte('0'+f%10))
	return b
}

// appendTSVString appends v as Zeek's ASCII writer escapes a string.
func (w *Writer) appendTSVString(b, v []byte) []byte {
	return appendTSVEscaped(b, v, w.sep, w.unsetV, w.emptyV)
}

// appendTSVEscaped appends v escaped as Zeek's ASCII writer does with
// LogAscii::enable_utf_8 (the default of current Zeek): control bytes,
// DEL, '\', the separator and bytes that are not UTF-8 as \xNN, valid
// UTF-8 as is; a value that would read as the unset or empty marker has
// its first byte escaped, and an empty one is the empty marker.
func appendTSVEscaped(b, v []byte, sep byte, unset, empty []byte) []byte {
	if len(v) == 0 {
		return append(b, empty...)
	}
	first := bytes.Equal(v, unset) || bytes.Equal(v, empty)
	for i := 0; i < len(v); {
		c := v[i]
		if c >= utf8.RuneSelf {
			if r, n := utf8.DecodeRune(v[i:]); r != utf8.RuneError || n > 1 {
				b = append(b, v[i:i+n]...)
				i += n
				continue
			}
		}
		if c < 0x20 || c >= 0x7f || c == '\\' || c == sep || (i == 0 && first) {
			b = append(b, '\\', 'x', hexdig[c>>4], hexdig[c&15])
		} else {
			b = append(b, c)
		}
		i++
	}
	return b
}

// appendJSONString appends v as a JSON string the way Zeek's JSON
// formatter does: bytes that are not UTF-8 become the text \xNN.
func appendJSONString(b, v []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, '\\', '\\', 'x', hexdig[c>>4], hexdig[c&15])
			i++
			continue
		}
		b = append(b, v[i:i+n]...)
		i += n
	}
	return append(b, '"')
}

func isNumType(t string) bool {
	switch t {
	case "count", "int", "double", "port", "time", "interval":
		return true
	}
	return false
}

func elemType(t string) (string, bool) {
	for _, p := range [...]string{"set[", "vector["} {
		if len(t) > len(p) && t[:len(p)] == p && t[len(t)-1] == ']' {
			return t[len(p) : len(t)-1], true
		}
	}
	return "", false
}

// tsvValue appends an Extra's value as a TSV column of type typ.
func (w *Writer) tsvValue(b []byte, e *flow.Field, typ string) []byte {
	v := e.Value
	if e.Enterprise == formTSV {
		return append(b, v...)
	}
	// JSON token to TSV text.
	if len(v) == 0 {
		return append(b, w.unsetV...)
	}
	switch v[0] {
	case '"':
		w.tmp, _ = unescapeJSON(w.tmp[:0], v[1:len(v)-1])
		return w.appendTSVString(b, w.tmp)
	case 't':
		return append(b, 'T')
	case 'f':
		return append(b, 'F')
	case 'n':
		return append(b, w.unsetV...)
	case '[':
		n0 := len(b)
		p := skipWS(v, 1)
		if p < len(v) && v[p] == ']' {
			return append(b, w.emptyV...)
		}
		for p < len(v) {
			q := scanValue(v, p, 1)
			if q < 0 {
				break
			}
			if len(b) > n0 {
				b = append(b, w.setSep...)
			}
			el := v[p:q]
			if el[0] == '"' {
				w.tmp, _ = unescapeJSON(w.tmp[:0], el[1:len(el)-1])
				b = w.appendTSVString(b, w.tmp)
			} else {
				b = append(b, el...)
			}
			p = skipWS(v, q)
			if p < len(v) && v[p] == ',' {
				p = skipWS(v, p+1)
				continue
			}
			break
		}
		return b
	}
	return append(b, v...)
}

// jsonValue appends an Extra's value as a JSON value of Zeek type typ.
func (w *Writer) jsonValue(b []byte, e *flow.Field, typ string) []byte {
	v := e.Value
	if e.Enterprise == formJSON {
		return append(b, v...)
	}
	if el, ok := elemType(typ); ok {
		b = append(b, '[')
		if !bytes.Equal(v, []byte("(empty)")) && len(v) > 0 {
			for i, part := range bytes.Split(v, []byte{','}) {
				if i > 0 {
					b = append(b, ',')
				}
				b = w.jsonScalar(b, part, el)
			}
		}
		return append(b, ']')
	}
	return w.jsonScalar(b, v, typ)
}

func (w *Writer) jsonScalar(b, v []byte, typ string) []byte {
	switch {
	case typ == "bool" && len(v) == 1 && (v[0] == 'T' || v[0] == 'F'):
		if v[0] == 'T' {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case isNumType(typ):
		if _, ok := parseTime(v); ok || (len(v) > 1 && v[0] == '-') {
			return append(b, v...)
		}
	}
	if bytes.Equal(v, []byte("(empty)")) {
		return append(b, '"', '"')
	}
	w.tmp, _ = unescapeTSV(w.tmp[:0], v)
	return appendJSONString(b, w.tmp)
}

// jsonOrder is the order of columns in a JSON line: the built-in table's
// (without the aliases), which is Zeek's order of conn.log's fields.
var jsonOrder = func() []int {
	var o []int
	for i, c := range columns {
		switch c.name {
		case "src", "src_port", "dst", "dst_port":
			continue
		}
		o = append(o, i)
	}
	return o
}()

func (w *Writer) appendJSON(b []byte, rec *flow.Record) []byte {
	u := unsetMask(rec)
	b = append(b, '{')
	first := true
	key := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	for _, ci := range jsonOrder {
		c := &columns[ci]
		id := uint32(ci + 1)
		k := c.kind
		var rule *mappings.RuleOp
		if w.jrc != nil {
			k, rule = w.jrc[ci].kind, w.jrc[ci].rule
		}
		if len(rec.Extra) > 0 {
			if e := override(rec, k, id); e != nil {
				key(c.name)
				b = w.jsonValue(b, e, c.typ)
				continue
			}
		}
		if rule != nil {
			n, f0 := len(b), first
			key(c.name)
			var ok bool
			if b, ok = w.ruleText(b, rec, rule, true); !ok {
				b, first = b[:n], f0
			}
			continue
		}
		if k == kExtra || u&(1<<k) != 0 {
			continue
		}
		key(c.name)
		b = w.canonical(b, rec, k, true)
	}
	for i := range w.added {
		a := &w.added[i]
		name, _ := columnInfo(a.id)
		if e := override(rec, kExtra, a.id); e != nil {
			key(name)
			b = w.jsonValue(b, e, a.typ)
			continue
		}
		n, f0 := len(b), first
		key(name)
		var ok bool
		if b, ok = w.ruleText(b, rec, a.rule, true); !ok {
			b, first = b[:n], f0
		}
	}
	for i := range rec.Extra {
		e := &rec.Extra[i]
		if e.Source != flow.SourceZeek || e.ID <= uint32(len(columns)) || w.isAdded(e.ID) {
			continue
		}
		name, typ := columnInfo(e.ID)
		if name == "" {
			continue
		}
		key(name)
		b = w.jsonValue(b, e, typ)
	}
	return append(b, '}', '\n')
}

func (w *Writer) isAdded(id uint32) bool {
	for i := range w.added {
		if w.added[i].id == id {
			return true
		}
	}
	return false
}

// ruleText appends the value a user rule writes for rec (a JSON value
// when json). ok is false when rec has no value for it.
func (w *Writer) ruleText(b []byte, rec *flow.Record, x *mappings.RuleOp, json bool) ([]byte, bool) {
	t, ok, err := x.AppendText(w.tmp[:0], rec)
	w.tmp = t[:0]
	if err != nil {
		w.stats.Unmapped++
		return b, false
	}
	if !ok {
		return b, false
	}
	switch {
	case x.Number():
		return append(b, t...), true
	case json:
		return appendJSONString(b, t), true
	}
	return w.appendTSVString(b, t), true
}
