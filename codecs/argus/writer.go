package argus

import (
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// Report counts what a Writer did, for a --report flag.
type Report struct {
	Records   int64 // records written (MARs included)
	Mgmt      int64 // MARs written (the synthesised one included)
	Converted int64 // records written in the other Argus version
	Verbatim  int64 // DSRs the model could not reproduce, written from the layout residue
	Refused   int64 // records refused with a NotRepresentableError
	// Lossy counts, per ra field name, the values dropped or converted
	// because the target could not hold them (WithLossy only).
	Lossy map[string]int64
}

// Writer encodes flow records as an Argus 3.x or 5.x stream. The first
// record written is a MAR: the first record given if it is one, else one
// synthesised from the first flow record.
type Writer struct {
	// out holds the records not yet written to dst: the encoder appends
	// each record to it directly (no copy through a bufio.Writer), and a
	// refused record is not committed (out's length stays).
	dst     io.Writer
	out     []byte
	ver     int
	lossy   bool
	lossFn  func(field, reason string)
	started bool
	closed  bool
	err     error
	e       enc
	tmp     flow.Record
	rep     Report
}

// NewWriter returns a Writer of Argus version 3 or 5 records.
func NewWriter(w io.Writer, version int, opts ...Option) (*Writer, error) {
	if version != 3 && version != 5 {
		return nil, fmt.Errorf("argus: version %d: %w", version, codecs.ErrUnsupported)
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	return &Writer{dst: w, out: make([]byte, 0, outSize+outSize/4), ver: version, lossy: o.lossy, lossFn: o.lossFn,
		rep: Report{Lossy: map[string]int64{}}}, nil
}

// Report returns the counts so far.
func (w *Writer) Report() Report {
	r := w.rep
	r.Lossy = maps.Clone(w.rep.Lossy)
	return r
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.out) > 0 {
		_, err := w.dst.Write(w.out)
		w.out = w.out[:0]
		if err != nil {
			w.err = err
		}
	}
	return w.err
}

// Close flushes the Writer; it does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.Flush()
	w.closed = true
	if w.err == nil {
		w.err = errors.New("argus: writer closed")
	}
	return err
}

// notRep reports a value version 3 cannot hold: an error, or with
// WithLossy a count and nil (the caller then drops or converts it).
func (w *Writer) notRep(field, reason string) error {
	if !w.lossy {
		return &codecs.NotRepresentableError{Format: fmt.Sprintf("argus%d", w.ver), Field: field, Reason: reason}
	}
	w.rep.Lossy[field]++
	if w.lossFn != nil {
		w.lossFn(field, reason)
	}
	return nil
}

// Encode writes one record. A *codecs.NotRepresentableError leaves the
// stream unchanged, and the next record may be written.
func (w *Writer) Encode(rec *flow.Record) error {
	if w.err != nil {
		return w.err
	}
	if !w.started {
		if rec.Type&0x80 == 0 {
			var m flow.Record
			synthMar(&m, rec)
			b, err := w.encodeMar(&m)
			if err != nil {
				w.rep.Refused++
				return err
			}
			if err := w.write(b); err != nil {
				return err
			}
		}
		w.started = true
	}
	var b []byte
	var err error
	if rec.Type&0x80 != 0 {
		b, err = w.encodeMar(rec)
	} else {
		b, err = w.encodeFlow(rec)
	}
	if err != nil {
		var nr *codecs.NotRepresentableError
		if errors.As(err, &nr) {
			w.rep.Refused++
		}
		return err
	}
	return w.write(b)
}

// outSize is the buffered size past which records are written out.
const outSize = 64 << 10

// write commits the record b that the encoder appended to w.out (w.e.b
// is w.out grown by b), writing out a full buffer.
func (w *Writer) write(b []byte) error {
	w.out = w.e.b
	if len(w.out) >= outSize {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	w.rep.Records++
	if isMarBytes(b) {
		w.rep.Mgmt++
	}
	return nil
}

func isMarBytes(b []byte) bool {
	for len(b) >= 4 && be.Uint16(b[2:]) == 0 {
		b = b[4:]
	}
	return len(b) > 0 && b[0]&0x80 != 0
}

// synthMar builds the initial MAR for a stream whose first record is a flow.
func synthMar(m, rec *flow.Record) {
	m.Type, m.Cause, m.Has = flow.TypeMgmt, flow.CauseStart, flow.HasMgmt
	g := &m.Mgmt
	g.NextSeq, g.StartTime, g.Now, g.RecordLen = 1, rec.Start, rec.Start, -1
	if rec.Has&flow.HasSrcID != 0 {
		g.Status = idisOf(rec.SrcID.Type)
		if rec.SrcID.HasInf {
			g.Status |= idIncInf
		}
		switch rec.SrcID.Type {
		case flow.SrcIDIPv6, flow.SrcIDUUID:
			g.ID = rec.SrcID.ID
		default:
			copy(g.ID[:4], rec.SrcID.ID[:4])
		}
	}
}

func residue(L *flow.ArgusLayout, i int) (piece []byte, verbatim bool) {
	if i >= flow.MaxArgusDSRs || L.Aux[i] == 0 {
		return nil, false
	}
	s := int(L.Aux[i]) - 1
	e := s + int(L.AuxLen[i])
	if e > len(L.Residue) || e < s || e == s && L.Verbatim&(1<<i) == 0 {
		return nil, false
	}
	return L.Residue[s:e:e], L.Verbatim&(1<<i) != 0
}

func (w *Writer) encodeMar(rec *flow.Record) ([]byte, error) {
	L := &rec.Argus
	sv := int(L.Major)
	same := sv == w.ver
	ver := byte(w.ver)
	if same {
		ver = L.Version
	}
	e := &w.e
	e.b = w.out
	start := len(e.b)
	if same {
		for range L.Lead {
			e.b = append(e.b, 0, 0, 0, 0)
		}
	}
	typ := byte(rec.Type)&0xF0 | 0x80
	cause := byte(rec.Cause) & 0xF0
	hdr := [4]byte{typ | ver&0x0F, cause | L.Opt&0x0F, 0, 32}
	if piece, verb := residue(L, 0); verb && (same || len(piece) != marLen-4) {
		be.PutUint16(hdr[2:], uint16(1+len(piece)/4))
		e.b = append(e.b, hdr[:]...)
		e.b = append(e.b, piece...)
		w.rep.Verbatim++
		return e.b[start:], nil
	}
	m := rec.Mgmt
	if !same {
		if err := w.convMgmt(&m, sv); err != nil {
			return nil, err
		}
		w.rep.Converted++
	}
	e.b = append(e.b, hdr[:]...)
	e.b = appendMgmt(e.b, &m)
	return e.b[start:], nil
}

// convMgmt rewrites a MAR body for the writer's version (§9.3 step 1, §9.4).
// sv is the version it was read in (0: built elsewhere, ids in 5.x place).
func (w *Writer) convMgmt(m *flow.Mgmt, sv int) error {
	if m.RecordLen == 0 {
		m.RecordLen = -1
	}
	if w.ver == 5 {
		if m.Cookie == cookieV3 || sv == 0 && m.Cookie == 0 {
			m.Cookie = cookieV5
		}
		if m.Major < 5 {
			m.Major = 5
		}
		if sv == 3 {
			var id [4]byte
			copy(id[:], m.ID[12:16])
			if m.Status&idisMask == idisString {
				id = [4]byte{id[3], id[2], id[1], id[0]}
			}
			m.ID = [16]byte{}
			copy(m.ID[:], id[:])
		}
		return nil
	}
	if m.Cookie == cookieV5 || sv == 0 && m.Cookie == 0 {
		m.Cookie = cookieV3
	}
	if m.Major == 0 || m.Major >= 5 {
		m.Major = 3
	}
	id := [4]byte(m.ID[0:4])
	if isZero(id[:]) {
		id = [4]byte(m.ID[12:16])
	}
	switch t := m.Status & idisMask; {
	case !isZero(m.ID[4:12]) || t == idisIPv6 || t == idisUUID:
		if err := w.notRep("srcid", "a 16-byte (IPv6/UUID) monitor id needs Argus 5"); err != nil {
			return err
		}
		id = [4]byte{m.ID[3], m.ID[2], m.ID[1], m.ID[0]}
		switch t {
		case idisIPv6:
			m.Status = m.Status&^idisMask | idisIPv4
		case idisUUID:
			m.Status = m.Status&^idisMask | idisInt
		}
	case t == idisString:
		id = [4]byte{id[3], id[2], id[1], id[0]} // the 3.x MAR quirk (§5.1)
	}
	if m.Status&idIncInf != 0 {
		if err := w.notRep("inf", "interface names need Argus 5"); err != nil {
			return err
		}
		m.Status &^= idIncInf
	}
	m.ID = [16]byte{}
	copy(m.ID[12:], id[:])
	return nil
}

func (w *Writer) encodeFlow(rec *flow.Record) ([]byte, error) {
	w.e.lblSet = false
	carry := carries(rec)
	if (carry || len(rec.Label) > labelMax) && !verbatimLabel(rec, w.ver) {
		if err := w.label(rec); err != nil {
			return nil, err
		}
	}
	L := &rec.Argus
	tv := w.ver
	sv := int(L.Major)
	valid := sv != 0
	conv := valid && sv != tv
	r := rec
	if tv == 3 && (!valid || conv) && !fitsV3(rec) {
		w.tmp = *rec
		r = &w.tmp
		if err := w.fitV3(r); err != nil {
			return nil, err
		}
	}
	e := &w.e
	e.b = w.out
	start := len(e.b)
	ver := byte(tv)
	switch {
	case valid && !conv:
		ver = L.Version
		e.units = L.Units
		for range L.Lead {
			e.b = append(e.b, 0, 0, 0, 0)
		}
	case tv >= 5:
		e.units = 3
	default:
		e.units = 0
	}
	e.ver = ver
	at := len(e.b)
	e.b = append(e.b, 0, 0, 0, 0)
	var emitted flow.Group
	var usedExtra uint64
	if valid {
		for i := 0; i < int(L.N); i++ {
			h := L.Hdr[i]
			if h[0] == 0 && dsrLen(h[:]) == 4 { // transport placeholder
				if !conv {
					e.b = append(e.b, h[:]...)
				}
				continue
			}
			if !known(h[:]) {
				for j := range r.Extra {
					f := &r.Extra[j]
					if f.Source == flow.SourceArgusDSR && int(f.Offset) == i && (j >= 64 || usedExtra&(1<<j) == 0) {
						e.extra(f)
						if j < 64 {
							usedExtra |= 1 << j
						}
						break
					}
				}
				continue
			}
			g := groupOf(h[:])
			if g != 0 && r.Has&g == 0 && !(g == flow.HasLabel && carry) {
				if h[0] != dsrTransport {
					continue // the group was removed from the record
				}
				if hasID, _, hasSeq, _ := transportShape(L.Version, h[:], dsrLen(h[:])-4); hasID || hasSeq {
					continue
				}
			}
			piece, verb := residue(L, i)
			h2 := h
			if conv {
				var drop bool
				if h2, drop = convHdr(h, tv, r); drop {
					continue
				}
				if h2[0] == dsrCor {
					if err := w.convCor(piece, verb, h, h2); err != nil {
						return nil, err
					}
					continue
				}
				if h2 != h {
					piece, verb = nil, false
				}
			}
			emitted |= g
			if verb {
				e.b = append(e.b, piece...)
				w.rep.Verbatim++
				continue
			}
			e.piece, e.pi = piece, 0
			e.encodeDSR(r, h2)
		}
		if !conv && L.Trail > 0 {
			piece, _ := residue(L, int(L.N))
			e.piece, e.pi = piece, 0
			e.stray(int(L.Trail), nil)
		}
	}
	e.canonical(r, tv, emitted)
	for j := range r.Extra {
		f := &r.Extra[j]
		if f.Source == flow.SourceArgusDSR && (j >= 64 || usedExtra&(1<<j) == 0) {
			e.extra(f)
		}
	}
	n := (len(e.b) - at) / 4
	if n > 0xFFFF {
		return nil, &codecs.NotRepresentableError{Format: fmt.Sprintf("argus%d", tv), Field: "record", Reason: "longer than 65535 words"}
	}
	typ, cause, opt := byte(r.Type)&0xF0, byte(r.Cause)&0xF0, byte(0)
	if typ == 0 && !valid {
		typ = byte(flow.TypeFlow)
	}
	if valid {
		opt = L.Opt
	} else if cause == 0 {
		cause = byte(flow.CauseStart)
	}
	e.b[at], e.b[at+1] = typ|ver&0x0F, cause|opt&0x0F
	be.PutUint16(e.b[at+2:], uint16(n))
	if conv {
		w.rep.Converted++
	}
	return e.b[start:], nil
}

// label composes rec's label text with its carried context (label.go)
// into w.e.lw. Words past the DSR's size are an error naming the first,
// or with WithLossy left out and counted.
func (w *Writer) label(rec *flow.Record) error {
	l := &w.e.lw
	l.lossy = w.lossy
	if l.keys == nil {
		l.keys = new(keyCache)
	}
	composeLabel(l, rec, zeek.ColumnName)
	for _, k := range l.over {
		if err := w.notRep(k, "does not fit in the label DSR (1016 bytes)"); err != nil {
			return err
		}
	}
	w.e.lblSet = true
	return nil
}

// verbatimLabel reports whether rec's label DSR will be written as read
// (the writer then needs no text of its own).
func verbatimLabel(rec *flow.Record, tv int) bool {
	L := &rec.Argus
	if int(L.Major) != tv {
		return false
	}
	for i := 0; i < int(L.N); i++ {
		if L.Hdr[i][0] == dsrLabel && L.Verbatim&(1<<i) != 0 {
			return true
		}
	}
	return false
}

// extra appends an unknown DSR kept in rec.Extra.
func (e *enc) extra(f *flow.Field) {
	var h [4]byte
	be.PutUint32(h[:], f.ID)
	switch {
	case h[0]&0x80 != 0:
		e.b = append(e.b, h[:]...)
		return
	case h[1]&0x80 != 0:
		be.PutUint16(h[2:], uint16(words(len(f.Value))))
	default:
		h[3] = byte(min(words(len(f.Value)), 255))
	}
	n := dsrLen(h[:]) - 4
	e.b = append(e.b, h[:]...)
	e.b = append(e.b, f.Value[:min(n, len(f.Value))]...)
	e.stray(n-min(n, len(f.Value)), nil)
}

// convCor converts the correlation DSR's entries between the 3.x (24 B,
// 4-byte srcid) and 5.x (40 B, 16-byte id + inf) forms (§7.15).
func (w *Writer) convCor(piece []byte, verb bool, h, h2 [4]byte) error {
	e := &w.e
	body := make([]byte, dsrLen(h[:])-4)
	switch {
	case verb:
		copy(body, piece[4:])
	case piece != nil:
		copy(body, piece)
	}
	e.b = append(e.b, h2[:]...)
	if w.ver >= 5 {
		for p := 0; p+24 <= len(body); p += 24 {
			e.b = append(e.b, body[p:p+4]...)
			e.b = append(e.b, make([]byte, 16)...)
			e.b = append(e.b, body[p+4:p+24]...)
		}
		return nil
	}
	for p := 0; p+40 <= len(body); p += 40 {
		if !isZero(body[p+4 : p+20]) {
			if err := w.notRep("cor", "a correlated 16-byte monitor id or interface needs Argus 5"); err != nil {
				return err
			}
		}
		e.b = append(e.b, body[p:p+4]...)
		e.b = append(e.b, body[p+20:p+40]...)
	}
	return nil
}

var v5Only = [...]struct {
	g    flow.Group
	name string
}{
	{flow.HasGRE, "gre"}, {flow.HasVXLAN, "vxlan"}, {flow.HasGeneve, "geneve"}, {flow.HasScore, "score"},
	{flow.HasGeo, "geo"}, {flow.HasLocal, "local"}, {flow.HasFlowHash, "hash"},
}

// fitsV3 reports whether r holds nothing fitV3 would refuse or change,
// so that the writer can encode it without its private copy (a sensor's
// records in -3 mode, the common case: the copy was 2.3 KB a record).
// It may say false when in doubt, never true.
func fitsV3(r *flow.Record) bool {
	if r.Has&flow.HasSrcID != 0 {
		switch r.SrcID.Type {
		case flow.SrcIDIPv6, flow.SrcIDUUID, flow.SrcIDEther:
			return false
		}
	}
	if r.SrcID.HasInf {
		return false
	}
	if r.Has&flow.HasTime != 0 {
		for _, t := range [...]int64{r.Start, r.Last, r.SrcStart, r.SrcLast, r.DstStart, r.DstLast} {
			if t%1000 != 0 {
				return false
			}
		}
	}
	if r.Has&flow.HasTCP != 0 {
		for i := range r.TCP.Side {
			if s := &r.TCP.Side[i]; s.MSS != 0 || s.LastTime%1000 != 0 {
				return false
			}
		}
	}
	if r.Has&flow.HasPktSize != 0 && (r.PktSize.HasHisto[0] || r.PktSize.HasHisto[1]) {
		return false
	}
	if r.Has&flow.HasEncaps != 0 && len(r.Encaps.Buf[0])+len(r.Encaps.Buf[1]) > 0 {
		return false
	}
	if r.Has&flow.HasASN != 0 && (r.ASN.Inode != 0 || r.ASN.Present&4 != 0) {
		return false
	}
	if r.Has&flow.HasJitter != 0 {
		j := &r.Jitter
		for _, s := range [...]*flow.Stat{&j.Act[0], &j.Idle[0], &j.Act[1], &j.Idle[1]} {
			if s.Fdist != [8]byte{} {
				return false
			}
		}
	}
	for _, x := range v5Only {
		if r.Has&x.g != 0 {
			return false
		}
	}
	return true
}

// fitV3 checks r for values Argus 3.x cannot hold; with WithLossy it drops
// or converts them (r is the writer's private copy).
func (w *Writer) fitV3(r *flow.Record) error {
	const ns = "nanosecond precision needs Argus 5"
	if r.Has&flow.HasSrcID != 0 {
		switch r.SrcID.Type {
		case flow.SrcIDIPv6, flow.SrcIDUUID, flow.SrcIDEther:
			if err := w.notRep("srcid", "a 16-byte (IPv6/UUID) or Ethernet monitor id needs Argus 5"); err != nil {
				return err
			}
			id := r.SrcID.ID
			r.SrcID.ID = [16]byte{id[3], id[2], id[1], id[0]}
			if r.SrcID.Type == flow.SrcIDIPv6 {
				r.SrcID.Type = flow.SrcIDIPv4
			} else {
				r.SrcID.Type = flow.SrcIDInt
			}
		}
	}
	if r.SrcID.HasInf {
		if err := w.notRep("inf", "interface names need Argus 5"); err != nil {
			return err
		}
		r.SrcID.HasInf, r.SrcID.Inf = false, [4]byte{}
	}
	if r.Has&flow.HasTime != 0 {
		if subUs(r.Start, r.SrcStart, r.DstStart) {
			if err := w.notRep("stime", ns); err != nil {
				return err
			}
		}
		if subUs(r.Last, r.SrcLast, r.DstLast) {
			if err := w.notRep("ltime", ns); err != nil {
				return err
			}
		}
		for _, t := range []*int64{&r.Start, &r.Last, &r.SrcStart, &r.SrcLast, &r.DstStart, &r.DstLast} {
			*t -= *t % 1000
		}
	}
	if r.Has&flow.HasTCP != 0 {
		for i, name := range [2]string{"smss", "dmss"} {
			s := &r.TCP.Side[i]
			if s.MSS != 0 {
				if err := w.notRep(name, "TCP MSS needs Argus 5"); err != nil {
					return err
				}
				s.MSS = 0
			}
			if s.LastTime%1000 != 0 {
				if err := w.notRep([2]string{"slasttime", "dlasttime"}[i], ns); err != nil {
					return err
				}
				s.LastTime -= s.LastTime % 1000
			}
		}
	}
	if r.Has&flow.HasPktSize != 0 && (r.PktSize.HasHisto[0] || r.PktSize.HasHisto[1]) {
		if err := w.notRep("psizehisto", "packet size histograms need Argus 5"); err != nil {
			return err
		}
		r.PktSize.HasHisto, r.PktSize.Histo = [2]bool{}, [2]uint32{}
	}
	if r.Has&flow.HasEncaps != 0 && len(r.Encaps.Buf[0])+len(r.Encaps.Buf[1]) > 0 {
		if err := w.notRep("encbuf", "captured encapsulation headers need Argus 5"); err != nil {
			return err
		}
		r.Encaps.Buf = [2][]byte{}
	}
	if r.Has&flow.HasASN != 0 && (r.ASN.Inode != 0 || r.ASN.Present&4 != 0) {
		if err := w.notRep("inode", "the inode ASN needs Argus 5"); err != nil {
			return err
		}
		r.ASN.Inode, r.ASN.Present = 0, r.ASN.Present&^4
	}
	if r.Has&flow.HasJitter != 0 {
		j := &r.Jitter
		for _, s := range []*flow.Stat{&j.Act[0], &j.Idle[0], &j.Act[1], &j.Idle[1]} {
			if s.Fdist != [8]byte{} {
				if err := w.notRep("jitterdist", "jitter distributions need Argus 5"); err != nil {
					return err
				}
				s.Fdist = [8]byte{}
			}
		}
	}
	for _, x := range v5Only {
		if r.Has&x.g != 0 {
			if err := w.notRep(x.name, "this DSR exists only in Argus 5"); err != nil {
				return err
			}
			r.Has &^= x.g
		}
	}
	return nil
}
