package argus

import (
	"bytes"
	"net/netip"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// This file holds, for every DSR, the decoder (fields from bytes) and the
// encoder (bytes from fields) next to each other. Both sides walk the same
// shape; bytes the model gives no meaning to (pads, stale words, opaque
// objects) are "stray": the decoder appends them to the record's residue
// and the encoder takes them back from there, in the same order, or writes
// the default (zeros) when the record has no residue for that DSR.

// dec is the per-reader decoding state.
type dec struct {
	res    []byte // residue buffer; rec.Argus.Residue aliases it
	nondef bool   // current piece differs from the defaults
	ver    byte   // record-header version nibble
	units  uint8  // TCP lasttime ns bits
	// lbl holds the label's unescaped values and the user's words when
	// ours came between them (emptied per record; rec slices alias it).
	lbl   []byte
	zcols map[string]uint32 // Zeek column name -> Extra ID
}

func (d *dec) stray(b, def []byte) {
	d.res = append(d.res, b...)
	if d.nondef {
		return
	}
	if def == nil {
		d.nondef = !isZero(b)
	} else {
		d.nondef = !bytes.Equal(b, def[:min(len(def), len(b))])
	}
}

// tail makes every body byte from n on stray.
func (d *dec) tail(body []byte, n int) {
	if len(body) > n {
		d.stray(body[n:], nil)
	}
}

// enc is the per-writer encoding state.
type enc struct {
	b     []byte
	piece []byte // residue of the current DSR, nil = defaults
	pi    int
	ver   byte  // version nibble of the record being written
	units uint8 // TCP lasttime ns bits
	// lw composes a label text with carried context; lblSet says that
	// lw.b is the current record's (the Writer checked its size).
	lw     labelWriter
	lblSet bool
}

func (e *enc) take(n int) []byte {
	k := min(n, len(e.piece)-e.pi)
	p := e.piece[e.pi : e.pi+k]
	e.pi += k
	return p
}

// stray appends n stray bytes.
func (e *enc) stray(n int, def []byte) {
	if n <= 0 {
		return
	}
	if e.piece != nil {
		p := e.take(n)
		e.b = append(e.b, p...)
		n -= len(p)
	} else if def != nil {
		k := min(n, len(def))
		e.b = append(e.b, def[:k]...)
		n -= k
	}
	if n > 0 {
		e.b = append(e.b, make([]byte, n)...)
	}
}

// fill writes stray bytes into dst (a stray range inside a fixed struct).
func (e *enc) fill(dst, def []byte) {
	if e.piece != nil {
		p := e.take(len(dst))
		n := copy(dst, p)
		clear(dst[n:])
		return
	}
	n := copy(dst, def)
	clear(dst[n:])
}

// fixed appends the prefix of a that fits in bodyLen, then stray bytes.
func (e *enc) fixed(a []byte, bodyLen int) {
	n := min(len(a), bodyLen)
	e.b = append(e.b, a[:n]...)
	e.stray(bodyLen-n, nil)
}

func (e *enc) hdr(h [4]byte) { e.b = append(e.b, h[:]...) }

// known reports whether the DSR type is modelled (not an Extra).
func known(h []byte) bool {
	if h[0]&0x80 != 0 {
		return false
	}
	switch h[0] {
	case dsrTransport, dsrFlow, dsrTime, dsrFlowHash, dsrMetric, dsrPSize, dsrEncaps,
		dsrNetwork, dsrASN, dsrICMP, dsrVLAN, dsrGRE, dsrMAC, dsrVXLAN, dsrMPLS,
		dsrGeneve, dsrJitter, dsrIPAttr, dsrBehavior, dsrScore, dsrAgr, dsrCor,
		dsrCocode, dsrLabel, dsrGeo, dsrLocal:
		return h[1]&0x80 == 0 // only the data DSR may use a 16-bit length
	case dsrData:
		return true
	}
	return false
}

// groupOf returns the record group a DSR fills (0 for opaque ones).
func groupOf(h []byte) flow.Group {
	switch h[0] {
	case dsrTransport:
		return flow.HasSrcID | flow.HasSeq
	case dsrFlow:
		return flow.HasKey
	case dsrTime:
		return flow.HasTime
	case dsrFlowHash:
		return flow.HasFlowHash
	case dsrMetric:
		return flow.HasMetrics
	case dsrPSize:
		return flow.HasPktSize
	case dsrEncaps:
		return flow.HasEncaps
	case dsrNetwork:
		switch h[1] {
		case netTCPInit, netTCPStatus, netTCPPerf:
			return flow.HasTCP
		case netICMP:
			return flow.HasICMP
		case netARP:
			return flow.HasARP
		case netESP:
			return flow.HasESP
		}
	case dsrASN:
		return flow.HasASN
	case dsrICMP:
		return flow.HasICMPMap
	case dsrVLAN:
		return flow.HasVLAN
	case dsrGRE:
		return flow.HasGRE
	case dsrMAC:
		return flow.HasMAC
	case dsrVXLAN:
		return flow.HasVXLAN
	case dsrMPLS:
		return flow.HasMPLS
	case dsrGeneve:
		return flow.HasGeneve
	case dsrJitter:
		return flow.HasJitter
	case dsrIPAttr:
		return flow.HasIPAttr
	case dsrData:
		switch {
		case h[1]&0x10 != 0:
			return flow.HasSrcUser
		case h[1]&0x20 != 0:
			return flow.HasDstUser
		}
	case dsrBehavior:
		return flow.HasBehavior
	case dsrScore:
		return flow.HasScore
	case dsrAgr:
		return flow.HasAgr
	case dsrCocode:
		return flow.HasCountry
	case dsrLabel:
		return flow.HasLabel
	case dsrGeo:
		return flow.HasGeo
	case dsrLocal:
		return flow.HasLocal
	}
	return 0
}

// decodeDSR fills rec from one known DSR; h is its header, body the bytes
// after it.
func (d *dec) decodeDSR(rec *flow.Record, h, body []byte) {
	switch h[0] {
	case dsrTransport:
		d.transport(rec, h, body)
	case dsrFlow:
		d.flowKey(rec, h, body)
	case dsrTime:
		d.time(rec, h, body)
	case dsrMetric:
		d.metric(rec, h, body)
	case dsrPSize:
		d.psize(rec, h, body)
	case dsrEncaps:
		d.encaps(rec, h, body)
	case dsrNetwork:
		d.network(rec, h, body)
	case dsrIPAttr:
		d.ipattr(rec, h, body)
	case dsrMAC:
		var a [16]byte
		copy(a[:], body)
		m := &rec.MAC
		m.Dst, m.Src = [6]byte(a[0:6]), [6]byte(a[6:12])
		m.EtherType = le.Uint16(a[12:]) // host order on the wire (§7.9)
		m.DSAP, m.SSAP, m.Flags = a[14], a[15], h[2]
		d.tail(body, 16)
		rec.Has |= flow.HasMAC
	case dsrVLAN:
		var a [4]byte
		copy(a[:], body)
		rec.VLAN.TCI = [2]uint16{be.Uint16(a[0:]), be.Uint16(a[2:])}
		rec.VLAN.Present = h[2]
		d.tail(body, 4)
		rec.Has |= flow.HasVLAN
	case dsrMPLS:
		d.mpls(rec, h, body)
	case dsrJitter:
		d.jitter(rec, h, body)
	case dsrData:
		d.userData(rec, h, body)
	case dsrICMP:
		var a [28]byte
		copy(a[:], body)
		decICMPInfo(&rec.ICMPMap, a[:], false)
		rec.ICMPMap.Qual = h[2]
		d.tail(body, 24) // the 8th word has no meaning (§7.13)
		rec.Has |= flow.HasICMPMap
	case dsrAgr:
		d.agr(rec, h, body)
	case dsrCocode:
		var a [4]byte
		copy(a[:], body)
		rec.Country = [2][2]byte{{a[0], a[1]}, {a[2], a[3]}}
		d.tail(body, 4)
		rec.Has |= flow.HasCountry
	case dsrLabel:
		i := bytes.IndexByte(body, 0)
		if i < 0 {
			i = len(body)
		}
		d.label(rec, body[:i:i])
		d.tail(body, i)
	case dsrASN:
		var a [12]byte
		copy(a[:], body)
		rec.ASN = flow.ASN{Src: be.Uint32(a[0:]), Dst: be.Uint32(a[4:]), Inode: be.Uint32(a[8:]), Present: h[2], Subtype: h[1]}
		d.tail(body, 12)
		rec.Has |= flow.HasASN
	case dsrGeo:
		var a [24]byte
		copy(a[:], body)
		g := &rec.Geo
		g.Present = h[2]
		p := 0
		for i := range 3 {
			if h[2]&(1<<i) != 0 {
				g.Lat[i], g.Lon[i] = f32(a[p:]), f32(a[p+4:])
				p += 8
			}
		}
		d.tail(body, p)
		rec.Has |= flow.HasGeo
	case dsrLocal:
		var a [8]byte
		copy(a[:], body)
		rec.Local = flow.Local{Status: be.Uint16(a[0:]), SLoc: int8(a[2]), DLoc: int8(a[3]), SOrg: be.Uint16(a[4:]), DOrg: be.Uint16(a[6:])}
		d.tail(body, 8)
		rec.Has |= flow.HasLocal
	case dsrBehavior:
		var a [8]byte
		copy(a[:], body)
		rec.Behavior = [2]uint32{be.Uint32(a[0:]), be.Uint32(a[4:])}
		d.tail(body, 8)
		rec.Has |= flow.HasBehavior
	case dsrScore:
		var a [8]byte
		copy(a[:], body)
		rec.Score = a
		d.tail(body, 8)
		rec.Has |= flow.HasScore
	case dsrFlowHash:
		var a [8]byte
		copy(a[:], body)
		rec.FlowHash = flow.FlowHash{Hash: be.Uint32(a[0:]), Index: be.Uint32(a[4:])}
		d.tail(body, 8)
		rec.Has |= flow.HasFlowHash
	case dsrVXLAN:
		var a [8]byte
		copy(a[:], body)
		rec.VXLAN = [2]uint32{be.Uint32(a[0:]), be.Uint32(a[4:])}
		d.tail(body, 8)
		rec.Has |= flow.HasVXLAN
	case dsrGRE:
		var a [4]byte
		copy(a[:], body)
		rec.GRE.Flags, rec.GRE.Proto = be.Uint16(a[0:]), be.Uint16(a[2:])
		if len(body) > 4 {
			d.embedded(&rec.GRE, body[4:])
		}
		rec.Has |= flow.HasGRE
	case dsrGeneve:
		var a [8]byte
		copy(a[:], body)
		g := &rec.Geneve
		g.VerOpt, g.Flags, g.Proto, g.VNI = a[0], uint16(a[1]), be.Uint16(a[2:]), be.Uint32(a[4:])
		if len(body) > 8 {
			d.embedded(g, body[8:])
		}
		rec.Has |= flow.HasGeneve
	default: // COR and anything else known but opaque
		d.stray(body, nil)
	}
}

// encodeDSR appends one DSR with header h, built from rec.
func (e *enc) encodeDSR(rec *flow.Record, h [4]byte) {
	bodyLen := dsrLen(h[:]) - 4
	switch h[0] {
	case dsrTransport:
		e.transport(rec, h, bodyLen)
	case dsrFlow:
		e.flowKey(rec, h, bodyLen)
	case dsrTime:
		e.time(rec, h, bodyLen)
	case dsrMetric:
		e.metric(rec, h, bodyLen)
	case dsrPSize:
		e.psize(rec, h, bodyLen)
	case dsrEncaps:
		e.encaps(rec, h, bodyLen)
	case dsrNetwork:
		e.network(rec, h, bodyLen)
	case dsrIPAttr:
		e.ipattr(rec, h, bodyLen)
	case dsrMAC:
		e.hdr(h)
		var a [16]byte
		m := &rec.MAC
		copy(a[0:], m.Dst[:])
		copy(a[6:], m.Src[:])
		le.PutUint16(a[12:], m.EtherType)
		a[14], a[15] = m.DSAP, m.SSAP
		e.fixed(a[:], bodyLen)
	case dsrVLAN:
		e.hdr(h)
		var a [4]byte
		be.PutUint16(a[0:], rec.VLAN.TCI[0])
		be.PutUint16(a[2:], rec.VLAN.TCI[1])
		e.fixed(a[:], bodyLen)
	case dsrMPLS:
		e.mpls(rec, h, bodyLen)
	case dsrJitter:
		e.jitter(rec, h, bodyLen)
	case dsrData:
		e.userData(rec, h, bodyLen)
	case dsrICMP:
		e.hdr(h)
		var a [24]byte
		encICMPInfo(&rec.ICMPMap, a[:], false)
		e.fixed(a[:], bodyLen)
	case dsrAgr:
		e.agr(rec, h, bodyLen)
	case dsrCocode:
		e.hdr(h)
		c := rec.Country
		e.fixed([]byte{c[0][0], c[0][1], c[1][0], c[1][1]}, bodyLen)
	case dsrLabel:
		txt, nul := rec.Label, -1
		switch {
		case e.lblSet:
			txt = e.lw.b // escaped: no NUL
		case carries(rec):
			e.lw.lossy = true
			composeLabel(&e.lw, rec, zeek.ColumnName)
			txt = e.lw.b
		default:
			nul = bytes.IndexByte(txt, 0)
		}
		if i := nul; i >= 0 {
			txt = txt[:i]
			h = canonLabelN(len(txt))
			bodyLen = dsrLen(h[:]) - 4
			e.piece = nil
		} else if len(txt) > bodyLen {
			h = canonLabelN(len(txt))
			bodyLen = dsrLen(h[:]) - 4
			e.piece = nil
		}
		txt = txt[:min(len(txt), bodyLen)]
		e.hdr(h)
		e.b = append(e.b, txt...)
		e.stray(bodyLen-len(txt), nil)
	case dsrASN:
		e.hdr(h)
		var a [12]byte
		be.PutUint32(a[0:], rec.ASN.Src)
		be.PutUint32(a[4:], rec.ASN.Dst)
		be.PutUint32(a[8:], rec.ASN.Inode)
		e.fixed(a[:], bodyLen)
	case dsrGeo:
		e.hdr(h)
		var a [24]byte
		p := 0
		for i := range 3 {
			if h[2]&(1<<i) != 0 {
				putF32(a[p:], rec.Geo.Lat[i])
				putF32(a[p+4:], rec.Geo.Lon[i])
				p += 8
			}
		}
		e.fixed(a[:p], bodyLen)
	case dsrLocal:
		e.hdr(h)
		var a [8]byte
		l := rec.Local
		be.PutUint16(a[0:], l.Status)
		a[2], a[3] = byte(l.SLoc), byte(l.DLoc)
		be.PutUint16(a[4:], l.SOrg)
		be.PutUint16(a[6:], l.DOrg)
		e.fixed(a[:], bodyLen)
	case dsrBehavior:
		e.hdr(h)
		var a [8]byte
		be.PutUint32(a[0:], rec.Behavior[0])
		be.PutUint32(a[4:], rec.Behavior[1])
		e.fixed(a[:], bodyLen)
	case dsrScore:
		e.hdr(h)
		e.fixed(rec.Score[:], bodyLen)
	case dsrFlowHash:
		e.hdr(h)
		var a [8]byte
		be.PutUint32(a[0:], rec.FlowHash.Hash)
		be.PutUint32(a[4:], rec.FlowHash.Index)
		e.fixed(a[:], bodyLen)
	case dsrVXLAN:
		e.hdr(h)
		var a [8]byte
		be.PutUint32(a[0:], rec.VXLAN[0])
		be.PutUint32(a[4:], rec.VXLAN[1])
		e.fixed(a[:], bodyLen)
	case dsrGRE:
		e.hdr(h)
		var a [4]byte
		be.PutUint16(a[0:], rec.GRE.Flags)
		be.PutUint16(a[2:], rec.GRE.Proto)
		e.fixed(a[:], min(4, bodyLen))
		if bodyLen > 4 {
			e.embedded(&rec.GRE, bodyLen-4)
		}
	case dsrGeneve:
		e.hdr(h)
		var a [8]byte
		g := &rec.Geneve
		a[0], a[1] = g.VerOpt, byte(g.Flags)
		be.PutUint16(a[2:], g.Proto)
		be.PutUint32(a[4:], g.VNI)
		e.fixed(a[:], min(8, bodyLen))
		if bodyLen > 8 {
			e.embedded(g, bodyLen-8)
		}
	default:
		e.hdr(h)
		e.stray(bodyLen, nil)
	}
}

// ---- transport (§7.1) ----

// transportShape returns which parts a transport DSR holds.
func transportShape(ver byte, h []byte, bodyLen int) (hasID, hasInf, hasSeq bool, idLen int) {
	hasID, hasSeq = h[1]&0x01 != 0, h[1]&0x02 != 0
	if ver < 5 && bodyLen >= 8 { // 3.x: fixed id + seq (§9.1 step 3)
		hasID, hasSeq = true, true
	}
	hasInf = h[2]&0x10 != 0
	switch flow.SrcIDType(h[2] &^ 0x10) {
	case flow.SrcIDIPv6, flow.SrcIDUUID:
		idLen = 16
	case flow.SrcIDEther:
		idLen = 8
	default:
		idLen = 4
	}
	return
}

func (d *dec) transport(rec *flow.Record, h, body []byte) {
	hasID, hasInf, hasSeq, idLen := transportShape(d.ver, h, len(body))
	var a [28]byte
	copy(a[:], body)
	p := 0
	s := &rec.SrcID
	if hasID {
		s.Type = flow.SrcIDType(h[2] &^ 0x10)
		copy(s.ID[:], a[:idLen])
		p += idLen
		rec.Has |= flow.HasSrcID
	}
	if hasInf {
		s.HasInf = true
		s.Inf = [4]byte(a[p:])
		p += 4
	}
	if hasSeq {
		rec.Seq = be.Uint32(a[p:])
		p += 4
		rec.Has |= flow.HasSeq
	}
	d.tail(body, p)
}

func (e *enc) transport(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	hasID, hasInf, hasSeq, idLen := transportShape(e.ver, h[:], bodyLen)
	var a [28]byte
	p := 0
	if hasID {
		copy(a[:], rec.SrcID.ID[:idLen])
		p += idLen
	}
	if hasInf {
		copy(a[p:], rec.SrcID.Inf[:])
		p += 4
	}
	if hasSeq {
		be.PutUint32(a[p:], rec.Seq)
		p += 4
	}
	e.fixed(a[:p], bodyLen)
}

// ---- flow key (§7.2) ----

// flowShape classifies a flow DSR body layout.
type flowShape uint8

const (
	fsOpaque flowShape = iota
	fsIPv4
	fsIPv6
	fsEther
	fsARP
	fsRARP
	fsLegacyARP
)

func flowShapeOf(h []byte) flowShape {
	kind, af := h[1]&0x3F, h[2]&0x1F
	switch {
	case (kind == 1 || kind == 3) && af == 1:
		return fsIPv4
	case (kind == 1 || kind == 3) && af == 2:
		return fsIPv6
	case (kind == 1 || kind == 2) && af == 3:
		return fsEther
	case kind == 6 && af == 4:
		return fsARP
	case kind == 6 && af == 5:
		return fsRARP
	case kind == 1 && (af == 4 || af == 5):
		return fsLegacyARP
	}
	return fsOpaque
}

func (d *dec) flowKey(rec *flow.Record, h, body []byte) {
	k := &rec.Key
	k.Kind, k.AddrType = flow.KeyKind(h[1]&0x3F), flow.AddrType(h[2]&0x1F)
	k.MaskLen = h[2]&0x40 != 0
	rec.Has |= flow.HasKey
	switch flowShapeOf(h) {
	case fsIPv4:
		var a [16]byte
		copy(a[:], body)
		k.Src, k.Dst = addr4(a[0:]), addr4(a[4:])
		k.Proto, k.TpProto = a[8], a[9]
		switch {
		case h[2]&0x80 != 0: // fragment: [pad u16][ip_id LE]
			d.stray(a[10:12], nil)
			d.stray(a[12:14], nil)
			k.FragID = uint32(le.Uint16(a[14:]))
			rec.Has |= flow.HasFragKey
		case k.Proto == 1 || k.Proto == 2: // ICMP/IGMP: LE id and seq (§10.2)
			k.ICMPType, k.ICMPCode = a[10], a[11]
			k.ICMPID, k.ICMPSeq = le.Uint16(a[12:]), le.Uint16(a[14:])
			rec.Has |= flow.HasICMPKey
		case k.Proto == 50:
			d.stray(a[10:12], nil)
			k.SPI = be.Uint32(a[12:])
			rec.Has |= flow.HasESPKey
		default:
			k.SrcPort, k.DstPort = be.Uint16(a[10:]), be.Uint16(a[12:])
			k.SrcMask, k.DstMask = a[14], a[15]
		}
		d.tail(body, 16)
	case fsIPv6:
		var a [44]byte
		copy(a[:], body)
		k.Src = netip.AddrFrom16([16]byte(a[0:16]))
		k.Dst = netip.AddrFrom16([16]byte(a[16:32]))
		w9 := be.Uint32(a[32:])
		k.Proto, k.FlowLabel = byte(w9>>24), w9&0x00FFFFFF
		switch {
		case h[2]&0x80 != 0:
			k.FragID = fragID6(a[36:40], h[1]&0x40 != 0)
			rec.Has |= flow.HasFragKey
		case k.Proto == 58:
			k.ICMPType, k.ICMPCode, k.ICMPID = a[36], a[37], be.Uint16(a[38:])
			rec.Has |= flow.HasICMPKey
		case k.Proto == 50:
			k.SPI = be.Uint32(a[36:])
			rec.Has |= flow.HasESPKey
		default:
			k.SrcPort, k.DstPort = be.Uint16(a[36:]), be.Uint16(a[38:])
		}
		n := 40
		if k.MaskLen && len(body) >= 44 {
			// u16 masks in host (little-endian) order: 80 00 = 128
			d.stray(a[41:42], nil)
			d.stray(a[43:44], nil)
			k.SrcMask, k.DstMask = a[40], a[42]
			n = 44
		}
		d.tail(body, n)
	case fsEther:
		var a [16]byte
		copy(a[:], body)
		k.DstMAC, k.SrcMAC = [6]byte(a[0:6]), [6]byte(a[6:12])
		k.EtherType = be.Uint16(a[12:])
		k.DSAP, k.SSAP = a[14], a[15]
		d.tail(body, 16)
	case fsARP, fsRARP:
		var a [28]byte
		copy(a[:], body)
		k.ARPHrd, k.ARPPro = be.Uint16(a[0:]), be.Uint16(a[2:])
		k.ARPHln, k.ARPPln, k.ARPOp = a[4], a[5], be.Uint16(a[6:])
		if flowShapeOf(h) == fsARP {
			k.Src, k.Dst = addr4(a[8:]), addr4(a[12:])
			k.SrcMAC = [6]byte(a[16:22])
			d.tail(body, 22)
		} else {
			k.Dst = addr4(a[8:])
			k.SrcMAC, k.DstMAC = [6]byte(a[12:18]), [6]byte(a[18:24])
			d.tail(body, 24)
		}
	case fsLegacyARP:
		var a [16]byte
		copy(a[:], body)
		k.Src, k.Dst = addr4(a[0:]), addr4(a[4:])
		k.SrcMAC = [6]byte(a[8:14])
		d.tail(body, 14)
	default:
		d.stray(body, nil)
	}
	if h[1]&0x40 != 0 { // REVERSE: the record keeps the first-seen sender as Src
		*k = k.Reverse()
		k.RevBit = true
	}
}

func (e *enc) flowKey(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	k := rec.Key
	if k.RevBit {
		k = k.Reverse()
	}
	switch flowShapeOf(h[:]) {
	case fsIPv4:
		var a [16]byte
		put4(a[0:], k.Src)
		put4(a[4:], k.Dst)
		a[8], a[9] = k.Proto, k.TpProto
		switch {
		case h[2]&0x80 != 0:
			e.fill(a[10:12], nil)
			e.fill(a[12:14], nil)
			le.PutUint16(a[14:], uint16(k.FragID))
		case k.Proto == 1 || k.Proto == 2:
			a[10], a[11] = k.ICMPType, k.ICMPCode
			le.PutUint16(a[12:], k.ICMPID)
			le.PutUint16(a[14:], k.ICMPSeq)
		case k.Proto == 50:
			e.fill(a[10:12], nil)
			be.PutUint32(a[12:], k.SPI)
		default:
			be.PutUint16(a[10:], k.SrcPort)
			be.PutUint16(a[12:], k.DstPort)
			a[14], a[15] = k.SrcMask, k.DstMask
		}
		e.fixed(a[:], bodyLen)
	case fsIPv6:
		var a [44]byte
		put16(a[0:], k.Src)
		put16(a[16:], k.Dst)
		be.PutUint32(a[32:], uint32(k.Proto)<<24|k.FlowLabel&0x00FFFFFF)
		switch {
		case h[2]&0x80 != 0:
			putFragID6(a[36:40], k.FragID, rec.Key.RevBit)
		case k.Proto == 58:
			a[36], a[37] = k.ICMPType, k.ICMPCode
			be.PutUint16(a[38:], k.ICMPID)
		case k.Proto == 50:
			be.PutUint32(a[36:], k.SPI)
		default:
			be.PutUint16(a[36:], k.SrcPort)
			be.PutUint16(a[38:], k.DstPort)
		}
		n := 40
		if k.MaskLen && bodyLen >= 44 {
			e.fill(a[41:42], nil)
			e.fill(a[43:44], nil)
			a[40], a[42] = k.SrcMask, k.DstMask
			n = 44
		}
		e.fixed(a[:n], bodyLen)
	case fsEther:
		var a [16]byte
		copy(a[0:], k.DstMAC[:])
		copy(a[6:], k.SrcMAC[:])
		be.PutUint16(a[12:], k.EtherType)
		a[14], a[15] = k.DSAP, k.SSAP
		e.fixed(a[:], bodyLen)
	case fsARP, fsRARP:
		var a [24]byte
		be.PutUint16(a[0:], k.ARPHrd)
		be.PutUint16(a[2:], k.ARPPro)
		a[4], a[5] = k.ARPHln, k.ARPPln
		be.PutUint16(a[6:], k.ARPOp)
		if flowShapeOf(h[:]) == fsARP {
			put4(a[8:], k.Src)
			put4(a[12:], k.Dst)
			copy(a[16:], k.SrcMAC[:])
			e.fixed(a[:22], bodyLen)
		} else {
			put4(a[8:], k.Dst)
			copy(a[12:], k.SrcMAC[:])
			copy(a[18:], k.DstMAC[:])
			e.fixed(a[:24], bodyLen)
		}
	case fsLegacyARP:
		var a [14]byte
		put4(a[0:], k.Src)
		put4(a[4:], k.Dst)
		copy(a[8:], k.SrcMAC[:])
		e.fixed(a[:], bodyLen)
	default:
		e.stray(bodyLen, nil)
	}
}

// embedded decodes the outer flow DSR inside a GRE/Geneve DSR. Its
// addresses are in host (little-endian) order (§7.17); its header and the
// rest of the key are kept as stray bytes.
func (d *dec) embedded(t *flow.Tunnel, b []byte) {
	var a [20]byte
	copy(a[:], b)
	d.stray(a[0:4], embHdr[:])
	if a[2]&0x1F == 1 {
		t.Src, t.Dst = addr4LE(a[4:]), addr4LE(a[8:])
		t.IPProto = a[12]
		d.stray(a[13:20], nil)
		d.tail(b, 20)
		return
	}
	d.tail(b, 4)
}

var embHdr = [4]byte{dsrFlow, 0x01, 0x01, 0x05}

func (e *enc) embedded(t *flow.Tunnel, n int) {
	var a [20]byte
	e.fill(a[0:4], embHdr[:])
	if a[2]&0x1F == 1 {
		put4LE(a[4:], t.Src)
		put4LE(a[8:], t.Dst)
		a[12] = t.IPProto
		e.fill(a[13:20], nil)
		e.fixed(a[:], n)
		return
	}
	e.fixed(a[:4], n)
}

// ---- time (§7.3) ----

var presBits = [4]byte{0x08, 0x10, 0x20, 0x40}

// timeShape returns, for a time DSR with presence bits, whether the body is
// RELATIVE_RANGE (first timestamp absolute, the others 1-word offsets).
func timeShape(sub byte, bodyWords int) (pres byte, cnt int, rel bool) {
	pres = sub & 0x78
	for _, b := range presBits {
		if pres&b != 0 {
			cnt++
		}
	}
	rel = cnt > 1 && cnt*2 > bodyWords && bodyWords == cnt+1
	return
}

func timeUnit(qual byte) (ns bool, unit int64) {
	q := qual & 0x1F
	if q == 0x19 || q == 0x1B {
		return true, 1
	}
	return false, 1000
}

func (d *dec) time(rec *flow.Record, h, body []byte) {
	ns, unit := timeUnit(h[2])
	rec.Argus.TimeNS = ns
	rec.Has |= flow.HasTime
	nw := len(body) / 4
	pres, cnt, rel := timeShape(h[1], nw)
	if pres == 0 {
		if nw < 2 {
			d.stray(body, nil)
			return
		}
		rec.Start = tsDec(be.Uint32(body), be.Uint32(body[4:]), ns)
		rec.Last = rec.Start
		p := 8
		switch {
		case h[1]&7 == 3 && nw >= 3:
			rec.Last = rec.Start + int64(int32(be.Uint32(body[8:])))*unit
			p = 12
		case nw >= 4:
			rec.Last = tsDec(be.Uint32(body[8:]), be.Uint32(body[12:]), ns)
			p = 16
		}
		d.tail(body, p)
		return
	}
	var t [4]int64
	var have [4]bool
	p, first := 0, int64(0)
	_ = cnt
	for i, b := range presBits {
		if pres&b == 0 {
			continue
		}
		if rel && p > 0 {
			if p+4 > len(body) {
				break
			}
			t[i] = first + int64(int32(be.Uint32(body[p:])))*unit
			have[i] = true
			p += 4
			continue
		}
		if p+8 > len(body) {
			break
		}
		t[i] = tsDec(be.Uint32(body[p:]), be.Uint32(body[p+4:]), ns)
		have[i] = true
		if p == 0 {
			first = t[i]
		}
		p += 8
	}
	d.tail(body, p)
	// absent ends default to their starts
	if !have[1] {
		t[1] = t[0]
	}
	if !have[3] {
		t[3] = t[2]
	}
	if !have[0] {
		t[0] = t[1]
	}
	if !have[2] {
		t[2] = t[3]
	}
	rec.SrcStart, rec.SrcLast, rec.DstStart, rec.DstLast = t[0], t[1], t[2], t[3]
	rec.Has |= flow.HasDirTimes
	set := false
	for i := range 4 {
		if !have[i] {
			continue
		}
		if !set || t[i] < rec.Start {
			rec.Start = t[i]
		}
		if !set || t[i] > rec.Last {
			rec.Last = t[i]
		}
		set = true
	}
}

func (e *enc) time(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	ns, unit := timeUnit(h[2])
	nw := bodyLen / 4
	pres, _, rel := timeShape(h[1], nw)
	var a [36]byte
	p := 0
	put := func(t int64) {
		s, f := tsEnc(t, ns)
		be.PutUint32(a[p:], s)
		be.PutUint32(a[p+4:], f)
		p += 8
	}
	if pres == 0 {
		if nw < 2 {
			e.stray(bodyLen, nil)
			return
		}
		put(rec.Start)
		switch {
		case h[1]&7 == 3 && nw >= 3:
			be.PutUint32(a[p:], uint32(int32((rec.Last-rec.Start)/unit)))
			p += 4
		case nw >= 4:
			put(rec.Last)
		}
		e.fixed(a[:p], bodyLen)
		return
	}
	t := [4]int64{rec.SrcStart, rec.SrcLast, rec.DstStart, rec.DstLast}
	var first int64
	for i, b := range presBits {
		if pres&b == 0 {
			continue
		}
		if rel && p > 0 {
			if p+4 > bodyLen {
				break
			}
			be.PutUint32(a[p:], uint32(int32((t[i]-first)/unit)))
			p += 4
			continue
		}
		if p+8 > bodyLen {
			break
		}
		if p == 0 {
			first = t[i]
		}
		put(t[i])
	}
	e.fixed(a[:p], bodyLen)
}

// ---- metrics (§7.4) ----

func metricApp(sub byte) bool { return sub&0x01 == 0 && sub&0x04 != 0 }

func (d *dec) metric(rec *flow.Record, h, body []byte) {
	w, dirs := metricShape(h[2])
	if w == 0 || h[1]&0x05 == 0 {
		d.stray(body, nil)
		return
	}
	app := metricApp(h[1])
	var a [48]byte
	copy(a[:], body)
	p := 0
	get := func() uint64 {
		v := getUint(a[p:], w)
		p += w
		return v
	}
	for i := range 2 {
		if dirs&(1<<i) == 0 {
			continue
		}
		rec.Pkts[i], rec.Bytes[i] = get(), get()
		if app {
			rec.AppBytes[i] = get()
		}
	}
	rec.Has |= flow.HasMetrics
	if app {
		rec.Has |= flow.HasAppBytes
	}
	d.tail(body, p)
}

func (e *enc) metric(rec *flow.Record, h [4]byte, bodyLen int) {
	w, dirs := metricShape(h[2])
	if w == 0 || h[1]&0x05 == 0 {
		e.hdr(h)
		e.stray(bodyLen, nil)
		return
	}
	app := metricApp(h[1])
	fit := app == (rec.Has&flow.HasAppBytes != 0)
	for i := range 2 {
		if dirs&(1<<i) == 0 {
			fit = fit && rec.Pkts[i] == 0 && rec.Bytes[i] == 0 && rec.AppBytes[i] == 0
			continue
		}
		fit = fit && fitsIn(rec.Pkts[i], w) && fitsIn(rec.Bytes[i], w) && (!app || fitsIn(rec.AppBytes[i], w))
	}
	if !fit { // the values changed since the record was read
		h = canonMetric(rec)
		bodyLen = dsrLen(h[:]) - 4
		e.piece = nil
		w, dirs = metricShape(h[2])
		app = metricApp(h[1])
	}
	e.hdr(h)
	var a [48]byte
	p := 0
	put := func(v uint64) {
		putUint(a[p:], w, v)
		p += w
	}
	for i := range 2 {
		if dirs&(1<<i) == 0 {
			continue
		}
		put(rec.Pkts[i])
		put(rec.Bytes[i])
		if app {
			put(rec.AppBytes[i])
		}
	}
	e.fixed(a[:p], bodyLen)
}

// ---- packet size (§7.5) ----

func (d *dec) psize(rec *flow.Record, h, body []byte) {
	w, dirs := metricShape(h[2])
	if w == 0 {
		d.stray(body, nil)
		return
	}
	var a [40]byte
	copy(a[:], body)
	ps := &rec.PktSize
	p := 0
	get := func() uint16 {
		v := getUint(a[p:], w)
		p += w
		return uint16(v) // wider values do not round-trip; the verifier keeps them verbatim
	}
	for i := range 2 {
		if dirs&(1<<i) != 0 {
			ps.Min[i], ps.Max[i] = get(), get()
		}
	}
	q := (p + 3) &^ 3
	d.stray(a[p:q], nil)
	p = q
	if h[1]&0x04 != 0 {
		for i := range 2 {
			if dirs&(1<<i) != 0 {
				ps.Histo[i], ps.HasHisto[i] = be.Uint32(a[p:]), true
				p += 4
			}
		}
	}
	ps.Dirs = uint8(dirs)
	rec.Has |= flow.HasPktSize
	d.tail(body, p)
}

func (e *enc) psize(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	w, dirs := metricShape(h[2])
	if w == 0 {
		e.stray(bodyLen, nil)
		return
	}
	var a [40]byte
	ps := &rec.PktSize
	p := 0
	put := func(v uint16) {
		putUint(a[p:], w, uint64(v))
		p += w
	}
	for i := range 2 {
		if dirs&(1<<i) != 0 {
			put(ps.Min[i])
			put(ps.Max[i])
		}
	}
	q := (p + 3) &^ 3
	e.fill(a[p:q], nil)
	p = q
	if h[1]&0x04 != 0 {
		for i := range 2 {
			if dirs&(1<<i) != 0 {
				be.PutUint32(a[p:], ps.Histo[i])
				p += 4
			}
		}
	}
	e.fixed(a[:p], bodyLen)
}

// ---- encaps (§7.6) ----

func (d *dec) encaps(rec *flow.Record, h, body []byte) {
	var a [12]byte
	copy(a[:], body)
	en := &rec.Encaps
	en.Mask = [2]uint32{be.Uint32(a[0:]), be.Uint32(a[4:])}
	en.Flags = h[2]
	rec.Has |= flow.HasEncaps
	if len(body) < 12 {
		d.tail(body, 8)
		return
	}
	sl, dl := int(be.Uint16(a[8:])), int(be.Uint16(a[10:]))
	if 12+sl+dl > len(body) {
		d.stray(body[8:], nil)
		return
	}
	en.Buf[0] = body[12 : 12+sl : 12+sl]
	en.Buf[1] = body[12+sl : 12+sl+dl : 12+sl+dl]
	d.tail(body, 12+sl+dl)
}

func (e *enc) encaps(rec *flow.Record, h [4]byte, bodyLen int) {
	en := &rec.Encaps
	ext := 12 + len(en.Buf[0]) + len(en.Buf[1])
	if len(en.Buf[0])+len(en.Buf[1]) > 0 && ext > bodyLen {
		h[3] = byte(words(ext))
		bodyLen = dsrLen(h[:]) - 4
		e.piece = nil
	}
	e.hdr(h)
	var a [12]byte
	be.PutUint32(a[0:], en.Mask[0])
	be.PutUint32(a[4:], en.Mask[1])
	if bodyLen < 12 || len(en.Buf[0])+len(en.Buf[1]) == 0 && e.piece != nil {
		e.fixed(a[:8], bodyLen)
		return
	}
	be.PutUint16(a[8:], uint16(len(en.Buf[0])))
	be.PutUint16(a[10:], uint16(len(en.Buf[1])))
	e.b = append(e.b, a[:]...)
	e.b = append(e.b, en.Buf[0]...)
	e.b = append(e.b, en.Buf[1]...)
	e.stray(bodyLen-ext, nil)
}

// ---- network (§7.7) ----

// tcpSide layout: lasttime{sec,frac} status seqbase seq ack winnum bytes
// retrans ackbytes winbytes [win u16][flags][winshift] (+ v2 [maxseg][pad]).
func (d *dec) tcpSide(s *flow.TCPSide, a []byte, v2 bool, i int) {
	sec, frac := be.Uint32(a[0:]), be.Uint32(a[4:])
	ns := frac > 999999 || d.ver >= 5
	if ns {
		d.units |= 1 << i
	}
	if sec != 0 || frac != 0 {
		s.LastTime = tsDec(sec, frac, ns)
	}
	s.Status, s.SeqBase, s.Seq, s.Ack = be.Uint32(a[8:]), be.Uint32(a[12:]), be.Uint32(a[16:]), be.Uint32(a[20:])
	s.WinNum, s.Bytes, s.Retrans = be.Uint32(a[24:]), be.Uint32(a[28:]), be.Uint32(a[32:])
	s.AckBytes, s.WinBytes = be.Uint32(a[36:]), be.Uint32(a[40:])
	s.Win, s.Flags, s.WinShift = be.Uint16(a[44:]), a[46], a[47]
	if v2 {
		s.MSS = be.Uint16(a[48:])
		d.stray(a[50:52], nil)
	}
}

func (e *enc) tcpSide(s *flow.TCPSide, a []byte, v2 bool, i int) {
	if s.LastTime != 0 {
		sec, frac := tsEnc(s.LastTime, e.units&(1<<i) != 0)
		be.PutUint32(a[0:], sec)
		be.PutUint32(a[4:], frac)
	}
	be.PutUint32(a[8:], s.Status)
	be.PutUint32(a[12:], s.SeqBase)
	be.PutUint32(a[16:], s.Seq)
	be.PutUint32(a[20:], s.Ack)
	be.PutUint32(a[24:], s.WinNum)
	be.PutUint32(a[28:], s.Bytes)
	be.PutUint32(a[32:], s.Retrans)
	be.PutUint32(a[36:], s.AckBytes)
	be.PutUint32(a[40:], s.WinBytes)
	be.PutUint16(a[44:], s.Win)
	a[46], a[47] = s.Flags, s.WinShift
	if v2 {
		be.PutUint16(a[48:], s.MSS)
		e.fill(a[50:52], nil)
	}
}

func perfShape(h []byte) (v2 bool, side int, hasDst bool) {
	v2 = h[2]&0x02 != 0
	side = 48
	if v2 {
		side = 52
	}
	return v2, side, int(h[3]) > 1+(20+side)/4
}

func (d *dec) network(rec *flow.Record, h, body []byte) {
	t := &rec.TCP
	switch h[1] {
	case netTCPPerf:
		v2, side, hasDst := perfShape(h)
		var a [124]byte
		copy(a[:], body)
		t.Object, t.HasDst = flow.TCPPerf, hasDst
		t.Status, t.State, t.Options = be.Uint32(a[0:]), be.Uint32(a[4:]), be.Uint32(a[8:])
		t.SynAck, t.AckDat = be.Uint32(a[12:]), be.Uint32(a[16:])
		d.tcpSide(&t.Side[0], a[20:], v2, 0)
		d.tcpSide(&t.Side[1], a[20+side:], v2, 1)
		d.tail(body, 20+2*side)
		rec.Has |= flow.HasTCP
	case netTCPInit:
		var a [20]byte
		copy(a[:], body)
		t.Object = flow.TCPInit
		t.Status, t.Options = be.Uint32(a[0:]), be.Uint32(a[8:])
		s := &t.Side[0]
		s.SeqBase, s.Win, s.Flags, s.WinShift = be.Uint32(a[4:]), be.Uint16(a[12:]), a[14], a[15]
		n := 16
		if len(body) >= 20 { // v2 by length, not by qualifier (§7.7)
			s.MSS = be.Uint16(a[16:])
			d.stray(a[18:20], nil)
			n = 20
		}
		d.tail(body, n)
		rec.Has |= flow.HasTCP
	case netTCPStatus:
		var a [8]byte
		copy(a[:], body)
		t.Object = flow.TCPStatus
		t.Status = be.Uint32(a[0:])
		t.Side[0].Flags, t.Side[1].Flags = a[4], a[5]
		d.stray(a[6:8], nil)
		d.tail(body, 8)
		rec.Has |= flow.HasTCP
	case netICMP:
		var a [24]byte
		copy(a[:], body)
		decICMPInfo(&rec.ICMP, a[:], true)
		d.tail(body, 24)
		rec.Has |= flow.HasICMP
	case netARP:
		var a [6]byte
		copy(a[:], body)
		rec.ARPResp = a
		d.tail(body, 6)
		rec.Has |= flow.HasARP
	case netESP:
		var a [16]byte
		copy(a[:], body)
		rec.ESP = flow.ESP{Status: be.Uint32(a[0:]), SPI: be.Uint32(a[4:]), LastSeq: be.Uint32(a[8:]), LostSeq: be.Uint32(a[12:])}
		d.tail(body, 16)
		rec.Has |= flow.HasESP
	default: // empty, RTP, RTCP, UDT, fragment ...: opaque
		d.stray(body, nil)
	}
}

func (e *enc) network(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	t := &rec.TCP
	switch h[1] {
	case netTCPPerf:
		v2, side, _ := perfShape(h[:])
		var a [124]byte
		be.PutUint32(a[0:], t.Status)
		be.PutUint32(a[4:], t.State)
		be.PutUint32(a[8:], t.Options)
		be.PutUint32(a[12:], t.SynAck)
		be.PutUint32(a[16:], t.AckDat)
		e.tcpSide(&t.Side[0], a[20:], v2, 0)
		e.tcpSide(&t.Side[1], a[20+side:], v2, 1)
		e.fixed(a[:20+2*side], bodyLen)
	case netTCPInit:
		var a [20]byte
		s := &t.Side[0]
		be.PutUint32(a[0:], t.Status)
		be.PutUint32(a[4:], s.SeqBase)
		be.PutUint32(a[8:], t.Options)
		be.PutUint16(a[12:], s.Win)
		a[14], a[15] = s.Flags, s.WinShift
		n := 16
		if bodyLen >= 20 {
			be.PutUint16(a[16:], s.MSS)
			e.fill(a[18:20], nil)
			n = 20
		}
		e.fixed(a[:n], bodyLen)
	case netTCPStatus:
		var a [8]byte
		be.PutUint32(a[0:], t.Status)
		a[4], a[5] = t.Side[0].Flags, t.Side[1].Flags
		e.fill(a[6:8], nil)
		e.fixed(a[:], bodyLen)
	case netICMP:
		var a [24]byte
		encICMPInfo(&rec.ICMP, a[:], true)
		e.fixed(a[:], bodyLen)
	case netARP:
		e.fixed(rec.ARPResp[:], bodyLen)
	case netESP:
		var a [16]byte
		be.PutUint32(a[0:], rec.ESP.Status)
		be.PutUint32(a[4:], rec.ESP.SPI)
		be.PutUint32(a[8:], rec.ESP.LastSeq)
		be.PutUint32(a[12:], rec.ESP.LostSeq)
		e.fixed(a[:], bodyLen)
	default:
		e.stray(bodyLen, nil)
	}
}

// ICMP object (network subtype 0x34, host order) and ICMP-mapped DSR
// (0x34, network order): [type][code][iseq u16] + five IPv4 addresses.
func decICMPInfo(c *flow.ICMPInfo, a []byte, hostOrder bool) {
	c.Type, c.Code = a[0], a[1]
	rd := func(b []byte) netip.Addr {
		if hostOrder {
			return addr4LE(b)
		}
		return addr4(b)
	}
	if hostOrder {
		c.Seq = le.Uint16(a[2:])
	} else {
		c.Seq = be.Uint16(a[2:])
	}
	c.OSrc, c.ODst, c.ISrc, c.IDst, c.Gateway = rd(a[4:]), rd(a[8:]), rd(a[12:]), rd(a[16:]), rd(a[20:])
}

func encICMPInfo(c *flow.ICMPInfo, a []byte, hostOrder bool) {
	a[0], a[1] = c.Type, c.Code
	if hostOrder {
		le.PutUint16(a[2:], c.Seq)
	} else {
		be.PutUint16(a[2:], c.Seq)
	}
	for i, x := range [5]netip.Addr{c.OSrc, c.ODst, c.ISrc, c.IDst, c.Gateway} {
		if hostOrder {
			put4LE(a[4+4*i:], x)
		} else {
			put4(a[4+4*i:], x)
		}
	}
}

// ---- IP attributes (§7.8) ----

func (d *dec) ipattr(rec *flow.Record, h, body []byte) {
	var a [16]byte
	copy(a[:], body)
	at := &rec.IPAttr
	at.Present = h[2]
	p := 0
	for i := range 2 {
		if h[2]&(1<<i) != 0 {
			// ip_id: the big-endian reading of the wire bytes, i.e. the
			// value ra prints (the byte-swapped IP id of an x86 sensor).
			at.TTL[i], at.TOS[i], at.IPID[i] = a[p], a[p+1], be.Uint16(a[p+2:])
			p += 4
		}
		if h[2]&(4<<i) != 0 {
			at.Options[i] = be.Uint32(a[p:])
			p += 4
		}
	}
	d.tail(body, p)
	rec.Has |= flow.HasIPAttr
}

func (e *enc) ipattr(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	var a [16]byte
	at := &rec.IPAttr
	p := 0
	for i := range 2 {
		if h[2]&(1<<i) != 0 {
			a[p], a[p+1] = at.TTL[i], at.TOS[i]
			be.PutUint16(a[p+2:], at.IPID[i])
			p += 4
		}
		if h[2]&(4<<i) != 0 {
			be.PutUint32(a[p:], at.Options[i])
			p += 4
		}
	}
	e.fixed(a[:p], bodyLen)
}

// ---- MPLS (§7.10) ----

func (d *dec) mpls(rec *flow.Record, h, body []byte) {
	var a [8]byte
	copy(a[:], body)
	m := &rec.MPLS
	m.Subtype, m.Count = h[1], [2]uint8{h[2] >> 4, h[2] & 0x0F}
	p := 0
	for i := range 2 {
		if h[1]&(1<<i) != 0 {
			m.Label[i] = be.Uint32(a[p:])
			p += 4
		}
	}
	d.tail(body, p)
	rec.Has |= flow.HasMPLS
}

func (e *enc) mpls(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	var a [8]byte
	p := 0
	for i := range 2 {
		if h[1]&(1<<i) != 0 {
			be.PutUint32(a[p:], rec.MPLS.Label[i])
			p += 4
		}
	}
	e.fixed(a[:p], bodyLen)
}

// ---- jitter (§7.11) ----

// jitterShape returns the block size in words (0 = not decodable), whether
// the blocks carry fdist bytes and a histogram word.
func jitterShape(h []byte) (bw int, fdist, histo bool) {
	n := popcount4(h[2])
	body := int(h[3]) - 1
	if n == 0 || body%n != 0 {
		return 0, false, false
	}
	bw = body / n
	if bw < 5 || bw > 8 {
		return 0, false, false
	}
	histo = h[1]&0x01 != 0 && bw >= 6
	extra := bw - 5
	if histo {
		extra--
	}
	return bw, extra >= 2, histo
}

// jitter block order: src active, src idle, dst active, dst idle.
func jitterStat(j *flow.Jitter, bit int) *flow.Stat {
	switch bit {
	case 0:
		return &j.Act[0]
	case 1:
		return &j.Idle[0]
	case 2:
		return &j.Act[1]
	}
	return &j.Idle[1]
}

// jitIn and jitOut convert one jitter value between the wire float32 bits
// (µs when us, else ns) and the record's ns, exactly (see widen).
func jitIn(u uint32, us bool) float64 {
	if us {
		return usToNs(u)
	}
	return widen(u)
}

func jitOut(v float64, us bool) uint32 {
	if us {
		return nsToUs(v)
	}
	return narrow(v)
}

func (d *dec) jitter(rec *flow.Record, h, body []byte) {
	bw, fdist, histo := jitterShape(h)
	if bw == 0 || len(body) != bw*4*popcount4(h[2]) {
		d.stray(body, nil)
		return
	}
	us := bw < 7 // 5.0.3 sensor blocks (7 words) are ns, the others µs
	j := &rec.Jitter
	j.Present = h[2]
	p := 0
	for bit := range 4 {
		if h[2]&(1<<bit) == 0 {
			continue
		}
		s := jitterStat(j, bit)
		b := body[p : p+bw*4]
		s.N = be.Uint32(b)
		s.Min, s.Mean = jitIn(be.Uint32(b[4:]), us), jitIn(be.Uint32(b[8:]), us)
		s.StdDev, s.Max = jitIn(be.Uint32(b[12:]), us), jitIn(be.Uint32(b[16:]), us)
		q := 20
		if fdist {
			s.Fdist = [8]byte(b[20:28])
			q = 28
		}
		end := len(b)
		if histo {
			end -= 4
			s.Histo = be.Uint32(b[end:])
		}
		d.stray(b[q:end], nil)
		p += bw * 4
	}
	rec.Has |= flow.HasJitter
}

func (e *enc) jitter(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	bw, fdist, histo := jitterShape(h[:])
	if bw == 0 || bodyLen != bw*4*popcount4(h[2]) {
		e.stray(bodyLen, nil)
		return
	}
	us := bw < 7
	j := &rec.Jitter
	for bit := range 4 {
		if h[2]&(1<<bit) == 0 {
			continue
		}
		s := jitterStat(j, bit)
		var b [32]byte
		be.PutUint32(b[0:], s.N)
		be.PutUint32(b[4:], jitOut(s.Min, us))
		be.PutUint32(b[8:], jitOut(s.Mean, us))
		be.PutUint32(b[12:], jitOut(s.StdDev, us))
		be.PutUint32(b[16:], jitOut(s.Max, us))
		q := 20
		if fdist {
			copy(b[20:], s.Fdist[:])
			q = 28
		}
		end := bw * 4
		if histo {
			end -= 4
			be.PutUint32(b[end:], s.Histo)
		}
		e.fill(b[q:end], nil)
		e.b = append(e.b, b[:bw*4]...)
	}
}

// ---- user data (§7.12) ----

func userSlot(rec *flow.Record, sub byte) (*flow.UserData, flow.Group) {
	switch {
	case sub&0x10 != 0:
		return &rec.SrcUser, flow.HasSrcUser
	case sub&0x20 != 0:
		return &rec.DstUser, flow.HasDstUser
	}
	return nil, 0
}

func (d *dec) userData(rec *flow.Record, h, body []byte) {
	u, g := userSlot(rec, h[1])
	if u == nil || h[1]&0x80 == 0 || len(body) < 4 {
		d.stray(body, nil)
		return
	}
	u.Limit, u.Flags = be.Uint16(body), h[1]
	n := min(int(be.Uint16(body[2:])), len(body)-4)
	u.Data = body[4 : 4+n : 4+n]
	// count is normally len(Data); client-written records can claim more
	// bytes than they hold, so it is stray with that default.
	var c [2]byte
	be.PutUint16(c[:], uint16(n))
	d.stray(body[2:4], c[:])
	d.tail(body, 4+n)
	rec.Has |= g
}

func (e *enc) userData(rec *flow.Record, h [4]byte, bodyLen int) {
	u, _ := userSlot(rec, h[1])
	if u == nil || h[1]&0x80 == 0 || bodyLen < 4 {
		e.hdr(h)
		e.stray(bodyLen, nil)
		return
	}
	if 4+len(u.Data) > bodyLen {
		h = canonUser(u, h[1])
		bodyLen = dsrLen(h[:]) - 4
		e.piece = nil
	}
	e.hdr(h)
	var c, def [2]byte
	be.PutUint16(def[:], uint16(len(u.Data)))
	e.fill(c[:], def[:])
	e.b = be.AppendUint16(e.b, u.Limit)
	e.b = append(e.b, c[:]...)
	e.b = append(e.b, u.Data...)
	e.stray(bodyLen-4-len(u.Data), nil)
}

// ---- aggregation (§7.14): count BE, everything else host order ----

func statLE(s *flow.Stat, a []byte) {
	s.N = le.Uint32(a)
	s.Min, s.Mean = widen(le.Uint32(a[4:])), widen(le.Uint32(a[8:]))
	s.StdDev, s.Max = widen(le.Uint32(a[12:])), widen(le.Uint32(a[16:]))
	s.Fdist = [8]byte(a[20:28])
}

func putStatLE(a []byte, s *flow.Stat) {
	le.PutUint32(a, s.N)
	le.PutUint32(a[4:], narrow(s.Min))
	le.PutUint32(a[8:], narrow(s.Mean))
	le.PutUint32(a[12:], narrow(s.StdDev))
	le.PutUint32(a[16:], narrow(s.Max))
	copy(a[20:], s.Fdist[:])
}

func (d *dec) agr(rec *flow.Record, h, body []byte) {
	var a [76]byte
	copy(a[:], body)
	g := &rec.Agr
	g.Subtype, g.Qual = h[1], h[2]
	g.Count = be.Uint32(a[0:])
	g.LastStartTime = agrTime(a[4:])
	g.LastTime = agrTime(a[12:])
	statLE(&g.Act, a[20:])
	statLE(&g.Idle, a[48:])
	d.tail(body, 76)
	rec.Has |= flow.HasAgr
}

func agrTime(a []byte) int64 {
	s, u := le.Uint32(a), le.Uint32(a[4:])
	if s == 0 && u == 0 {
		return 0
	}
	return tsDec(s, u, false)
}

func putAgrTime(a []byte, t int64) {
	if t == 0 {
		return
	}
	s, u := tsEnc(t, false)
	le.PutUint32(a, s)
	le.PutUint32(a[4:], u)
}

func (e *enc) agr(rec *flow.Record, h [4]byte, bodyLen int) {
	e.hdr(h)
	var a [76]byte
	g := &rec.Agr
	be.PutUint32(a[0:], g.Count)
	putAgrTime(a[4:], g.LastStartTime)
	putAgrTime(a[12:], g.LastTime)
	putStatLE(a[20:], &g.Act)
	putStatLE(a[48:], &g.Idle)
	e.fixed(a[:], bodyLen)
}

// getUint reads a big-endian unsigned integer of w bytes (1, 2, 4 or 8):
// the widths of the metric and packet-size encodings.
func getUint(b []byte, w int) uint64 {
	switch w {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(be.Uint16(b))
	case 4:
		return uint64(be.Uint32(b))
	default:
		return be.Uint64(b)
	}
}

// putUint writes v as a big-endian unsigned integer of w bytes.
func putUint(b []byte, w int, v uint64) {
	switch w {
	case 1:
		b[0] = byte(v)
	case 2:
		be.PutUint16(b, uint16(v))
	case 4:
		be.PutUint32(b, uint32(v))
	default:
		be.PutUint64(b, v)
	}
}

// The sensors store the IPv6 fragment identification in host order, a
// little-endian word (identification 1 is 01 00 00 00), which ra reads
// as the key's source and destination ports (256 and 0); in a key stored
// reversed those two port halves are exchanged (00 00 01 00) like any
// ports. fragID6 and putFragID6 convert between that and the
// identification.
func fragID6(w []byte, rev bool) uint32 {
	if rev {
		return uint32(le.Uint16(w[2:])) | uint32(le.Uint16(w[0:]))<<16
	}
	return le.Uint32(w)
}

func putFragID6(w []byte, id uint32, rev bool) {
	if rev {
		le.PutUint16(w[2:], uint16(id))
		le.PutUint16(w[0:], uint16(id>>16))
		return
	}
	le.PutUint32(w, id)
}
