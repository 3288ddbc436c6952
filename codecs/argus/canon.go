package argus

import (
	"bytes"

	"github.com/flowgate/flowgate/flow"
)

// Canonical encodings, used when a record carries no Argus layout (it came
// from another decoder) or when a group was added after decoding. They
// follow the sensor (argus-format.md §13): DSR order of the sensor index,
// narrowest metric width by max(pkts, bytes), zero padding.

func maxv(vs ...uint64) uint64 {
	var m uint64
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}

func widthCode(m uint64, allowByte bool) byte {
	switch {
	case allowByte && m <= 0xFF:
		return 1
	case m <= 0xFFFF:
		return 2
	case m <= 0xFFFFFFFF:
		return 3
	}
	return 4
}

func canonMetric(r *flow.Record) [4]byte {
	app := r.Has&flow.HasAppBytes != 0
	sub := byte(0x01)
	nv := 2
	if app {
		sub, nv = 0x04, 3
	}
	src := r.Pkts[0] != 0 || r.Bytes[0] != 0 || r.AppBytes[0] != 0
	dst := r.Pkts[1] != 0 || r.Bytes[1] != 0 || r.AppBytes[1] != 0
	var code byte
	ndirs := 2
	switch {
	case src && dst || !src && !dst:
		code = widthCode(maxv(r.Pkts[0], r.Pkts[1], r.Bytes[0], r.Bytes[1], r.AppBytes[0], r.AppBytes[1]), true)
	case src:
		code, ndirs = 4+widthCode(maxv(r.Pkts[0], r.Bytes[0], r.AppBytes[0]), false), 1
	default:
		code, ndirs = 8+widthCode(maxv(r.Pkts[1], r.Bytes[1], r.AppBytes[1]), false), 1
	}
	w, _ := metricShape(code)
	return [4]byte{dsrMetric, sub, code, byte(words(w * nv * ndirs))}
}

// canonKey4DSR appends an IPv4 5-tuple key DSR (header h, not reversed,
// not a fragment, ports: not ICMP, IGMP or ESP) straight into e.b, as
// encodeDSR's flowKey does.
func (e *enc) canonKey4DSR(r *flow.Record, h [4]byte) {
	k := &r.Key
	at := len(e.b)
	e.b = append(e.b, make([]byte, 20)...)
	b := e.b[at : at+20 : at+20]
	copy(b, h[:])
	put4(b[4:], k.Src)
	put4(b[8:], k.Dst)
	b[12], b[13] = k.Proto, k.TpProto
	be.PutUint16(b[14:], k.SrcPort)
	be.PutUint16(b[16:], k.DstPort)
	b[18], b[19] = k.SrcMask, k.DstMask
}

// canonTimeDSR appends the time DSR of a record without per-direction
// times straight into e.b, as encodeDSR's time does for the headers
// {time, 1, q, 3} (start only, when last is the same) and {time, 2, q, 5}
// (start and last, absolute).
func (e *enc) canonTimeDSR(r *flow.Record, q byte) {
	ns, _ := timeUnit(q)
	n := 20
	h := [4]byte{dsrTime, 2, q, 5}
	if r.Start == r.Last {
		n, h = 12, [4]byte{dsrTime, 1, q, 3}
	}
	at := len(e.b)
	e.b = append(e.b, make([]byte, n)...)
	b := e.b[at : at+n : at+n]
	copy(b, h[:])
	s, f := tsEnc(r.Start, ns)
	be.PutUint32(b[4:], s)
	be.PutUint32(b[8:], f)
	if n == 20 {
		s, f = tsEnc(r.Last, ns)
		be.PutUint32(b[12:], s)
		be.PutUint32(b[16:], f)
	}
}

// canonMetricDSR appends r's metric DSR in its canonical shape
// (canonMetric), straight into e.b: what encodeDSR's metric does for a
// header made from r itself (it fits, there is no residue), without its
// checks and copies (a conn.log record's metric DSR cost ~40 ns).
func (e *enc) canonMetricDSR(r *flow.Record) {
	h := canonMetric(r)
	w, dirs := metricShape(h[2])
	app := metricApp(h[1])
	n := dsrLen(h[:])
	at := len(e.b)
	e.b = append(e.b, make([]byte, n)...)
	b := e.b[at : at+n : at+n]
	copy(b, h[:])
	p := 4
	for i := range 2 {
		if dirs&(1<<i) == 0 {
			continue
		}
		putUint(b[p:], w, r.Pkts[i])
		putUint(b[p+w:], w, r.Bytes[i])
		p += 2 * w
		if app {
			putUint(b[p:], w, r.AppBytes[i])
			p += w
		}
	}
}

func canonUser(u *flow.UserData, sub byte) [4]byte {
	dir := sub & 0x30
	s := u.Flags
	if s&0x80 == 0 || s&0x30 != dir {
		s = 0x80 | dir
	}
	n := words(4 + len(u.Data))
	return [4]byte{dsrData, s, byte(n >> 8), byte(n)}
}

// canonLabelN is the header of a label DSR of n text bytes (at most
// labelMax: the Writer refuses or cuts longer ones).
func canonLabelN(n int) [4]byte {
	return [4]byte{dsrLabel, 0, 0, byte(min(words(n), 255))}
}

// onlyFlags reports whether a TCP side holds nothing but its flags (what
// TCP_STATUS keeps of it).
func onlyFlags(s *flow.TCPSide) bool {
	// field by field: the struct comparison called memeqbody
	return s.LastTime == 0 && s.Status|s.SeqBase|s.Seq|s.Ack|s.WinNum|s.Bytes|s.Retrans|s.AckBytes|s.WinBytes == 0 &&
		s.Win|s.MSS == 0 && s.WinShift == 0
}

// sideEmpty reports whether a TCP side holds nothing.
func sideEmpty(s *flow.TCPSide) bool { return s.Flags == 0 && onlyFlags(s) }

func subUs(ts ...int64) bool {
	for _, t := range ts {
		if t%1000 != 0 {
			return true
		}
	}
	return false
}

// canonical appends canonical DSRs for every group of r not in skip.
func (e *enc) canonical(r *flow.Record, tv int, skip flow.Group) {
	has := r.Has &^ skip
	e.piece, e.pi = nil, 0
	put := func(h [4]byte) {
		e.piece, e.pi = nil, 0
		e.encodeDSR(r, h)
	}
	if has&(flow.HasSrcID|flow.HasSeq) != 0 && skip&(flow.HasSrcID|flow.HasSeq) == 0 {
		t := r.SrcID.Type
		if tv >= 5 {
			var sub byte
			n := 1
			if r.Has&flow.HasSrcID != 0 {
				sub |= 1
				if t == flow.SrcIDNone {
					t = flow.SrcIDIPv4 // §9.3 step 3 (see convHdr)
				}
				switch t {
				case flow.SrcIDIPv6, flow.SrcIDUUID:
					n += 4
				case flow.SrcIDEther:
					n += 2
				default:
					n++
				}
			}
			q := byte(t)
			if r.SrcID.HasInf {
				q |= 0x10
				n++
			}
			if r.Has&flow.HasSeq != 0 {
				sub |= 2
				n++
			}
			put([4]byte{dsrTransport, sub, q, byte(n)})
		} else {
			put([4]byte{dsrTransport, 0x03, byte(t), 3})
		}
	}
	if has&flow.HasKey != 0 {
		if h, ok := canonKey(r); ok {
			if k := &r.Key; h[3] == 5 && flowShapeOf(h[:]) == fsIPv4 && h[1]&0x40 == 0 && h[2]&0x80 == 0 &&
				k.Proto != 1 && k.Proto != 2 && k.Proto != 50 {
				e.canonKey4DSR(r, h)
			} else {
				put(h)
			}
		}
	}
	if has&flow.HasTime != 0 {
		ns := tv >= 5 && subUs(r.Start, r.Last, r.SrcStart, r.SrcLast, r.DstStart, r.DstLast)
		q := byte(0x18)
		if ns {
			q = 0x19
		}
		switch {
		case r.Has&flow.HasDirTimes != 0:
			var pres byte
			n := 0
			if r.SrcStart != 0 || r.SrcLast != 0 {
				pres |= 0x18
				n += 2
			}
			if r.DstStart != 0 || r.DstLast != 0 {
				pres |= 0x60
				n += 2
			}
			put([4]byte{dsrTime, pres | 2, q, byte(1 + 2*n)})
		default:
			e.canonTimeDSR(r, q)
		}
	}
	if has&flow.HasMetrics != 0 {
		e.canonMetricDSR(r)
	}
	if has&flow.HasAgr != 0 {
		s, q := r.Agr.Subtype, r.Agr.Qual
		if s == 0 && q == 0 {
			s, q = 0x04, 0x01
		}
		put([4]byte{dsrAgr, s, q, 20})
	}
	v2 := byte(0)
	if tv >= 5 {
		v2 = 2
	}
	switch {
	case has&flow.HasTCP != 0:
		// A record from elsewhere (a NetFlow/IPFIX biflow's reverse
		// flags, a mapping's dst_tcp_flags) may hold values its object
		// has no place for: TCP_INIT has no dst side, TCP_STATUS only the
		// flags, TCP_PERF without HasDst no dst side. TCP_PERF with the
		// dst side holds all of them, so the record is written as that
		// rather than losing them.
		t := &r.TCP
		obj := t.Object
		switch obj {
		case flow.TCPInit:
			if !sideEmpty(&t.Side[1]) {
				obj = flow.TCPPerf
			}
		case flow.TCPStatus:
			if t.State|t.Options|t.SynAck|t.AckDat != 0 || !onlyFlags(&t.Side[0]) || !onlyFlags(&t.Side[1]) {
				obj = flow.TCPPerf
			}
		}
		switch obj {
		case flow.TCPInit:
			put([4]byte{dsrNetwork, netTCPInit, v2, 5 + v2/2})
		case flow.TCPStatus:
			put([4]byte{dsrNetwork, netTCPStatus, 0, 3})
		default:
			n := byte(18) + v2/2
			if t.HasDst || !sideEmpty(&t.Side[1]) {
				n = 30 + v2
			}
			put([4]byte{dsrNetwork, netTCPPerf, v2, n})
		}
	case has&flow.HasICMP != 0:
		put([4]byte{dsrNetwork, netICMP, 0, 7})
	case has&flow.HasARP != 0:
		put([4]byte{dsrNetwork, netARP, 0, 3})
	case has&flow.HasESP != 0:
		put([4]byte{dsrNetwork, netESP, 0, 5})
	}
	if has&flow.HasVLAN != 0 {
		p := r.VLAN.Present
		if p&3 == 0 {
			p |= 3
		}
		put([4]byte{dsrVLAN, 0, p, 2})
	}
	if has&flow.HasMPLS != 0 {
		m := &r.MPLS
		sub := m.Subtype & 3
		if sub == 0 {
			for i := range 2 {
				if m.Count[i] > 0 || m.Label[i] != 0 {
					sub |= 1 << i
				}
			}
		}
		q := min(m.Count[0], 15)<<4 | min(m.Count[1], 15)
		put([4]byte{dsrMPLS, m.Subtype&^3 | sub, q, byte(1 + int(sub&1) + int(sub>>1&1))})
	}
	if has&flow.HasJitter != 0 {
		j := &r.Jitter
		q := j.Present & 0x0F
		if q == 0 {
			for bit := range 4 {
				if jitterStat(j, bit).N != 0 {
					q |= 1 << bit
				}
			}
		}
		if q != 0 {
			bw, sub := 5, byte(0)
			if tv >= 5 {
				bw = 7
			}
			for bit := range 4 {
				if q&(1<<bit) != 0 && jitterStat(j, bit).Histo != 0 {
					sub = 1
				}
			}
			bw += int(sub)
			put([4]byte{dsrJitter, sub, q, byte(1 + bw*popcount4(q))})
		}
	}
	if has&flow.HasIPAttr != 0 {
		q := r.IPAttr.Present & 0x3F
		if q&0x0F == 0 {
			q |= 3
		}
		put([4]byte{dsrIPAttr, 0, q, byte(1 + popcount4(q))})
	}
	if has&flow.HasPktSize != 0 {
		ps := &r.PktSize
		dirs := ps.Dirs & 3
		if dirs == 0 {
			dirs = 3
		}
		code := [4]byte{0, 6, 10, 2}[dirs]
		n := 2
		if dirs == 3 {
			n = 3
		}
		sub := byte(0)
		if tv >= 5 {
			sub = dirs
			if ps.HasHisto[0] || ps.HasHisto[1] {
				sub |= 4
				n += int(dirs&1) + int(dirs>>1)
			}
		}
		put([4]byte{dsrPSize, sub, code, byte(n)})
	}
	if has&flow.HasSrcUser != 0 {
		put(canonUser(&r.SrcUser, 0x10))
	}
	if has&flow.HasDstUser != 0 {
		put(canonUser(&r.DstUser, 0x20))
	}
	if has&flow.HasMAC != 0 {
		put([4]byte{dsrMAC, 0, r.MAC.Flags, 5})
	}
	if has&flow.HasICMPMap != 0 {
		put([4]byte{dsrICMP, 0, r.ICMPMap.Qual, 8})
	}
	if has&flow.HasEncaps != 0 {
		n := 3
		if b := len(r.Encaps.Buf[0]) + len(r.Encaps.Buf[1]); b > 0 {
			n = words(12 + b)
		}
		put([4]byte{dsrEncaps, 0, r.Encaps.Flags, byte(n)})
	}
	if has&flow.HasBehavior != 0 {
		put([4]byte{dsrBehavior, 0x01, 0, 3})
	}
	if has&flow.HasCountry != 0 {
		put([4]byte{dsrCocode, 0, 0, 2})
	}
	if has&flow.HasLabel != 0 || e.lblSet && skip&flow.HasLabel == 0 {
		n := len(r.Label)
		if e.lblSet {
			// the composed text (no NUL, within labelMax), straight
			// into the output
			txt := e.lw.b
			h := canonLabelN(len(txt))
			at, dl := len(e.b), dsrLen(h[:])
			e.b = append(e.b, make([]byte, dl)...)
			copy(e.b[at:], h[:])
			copy(e.b[at+4:at+dl], txt)
		} else {
			if i := bytes.IndexByte(r.Label, 0); i >= 0 {
				n = i
			}
			put(canonLabelN(n))
		}
	}
	if has&flow.HasASN != 0 {
		q := r.ASN.Present
		if q == 0 {
			q = 3
		}
		n := byte(3)
		if tv >= 5 && (r.ASN.Inode != 0 || q&4 != 0) {
			n = 4
		}
		put([4]byte{dsrASN, r.ASN.Subtype, q, n})
	}
	if tv < 5 {
		return
	}
	if has&flow.HasGRE != 0 {
		n := byte(2)
		if r.GRE.Src.Is4() {
			n = 7
		}
		put([4]byte{dsrGRE, 0, 0, n})
	}
	if has&flow.HasVXLAN != 0 {
		put([4]byte{dsrVXLAN, 0, 3, 3})
	}
	if has&flow.HasGeneve != 0 {
		n := byte(3)
		if r.Geneve.Src.Is4() {
			n = 8
		}
		put([4]byte{dsrGeneve, 0, 0, n})
	}
	if has&flow.HasScore != 0 {
		put([4]byte{dsrScore, 0, 0, 3})
	}
	if has&flow.HasGeo != 0 {
		q := r.Geo.Present & 7
		if q == 0 {
			q = 3
		}
		put([4]byte{dsrGeo, 0, q, byte(1 + 2*(int(q&1)+int(q>>1&1)+int(q>>2&1)))})
	}
	if has&flow.HasLocal != 0 {
		put([4]byte{dsrLocal, 0, 0, 3})
	}
	if has&flow.HasFlowHash != 0 {
		put([4]byte{dsrFlowHash, 0, 0, 3})
	}
}

func canonKey(r *flow.Record) ([4]byte, bool) {
	k := &r.Key
	af, kind := k.AddrType, k.Kind
	if af == 0 {
		switch {
		case k.Src.Is4() || k.Src.Is4In6():
			af = flow.AddrIPv4
		case k.Src.Is6():
			af = flow.AddrIPv6
		default:
			return [4]byte{}, false
		}
	}
	if kind == 0 {
		kind = flow.Kind5Tuple
		if af == flow.AddrARP || af == flow.AddrRARP {
			kind = flow.KindARP
		}
	}
	sub := byte(kind)
	if k.RevBit {
		sub |= 0x40
	}
	q := byte(af)
	if k.MaskLen {
		q |= 0x40
	}
	if r.Has&flow.HasFragKey != 0 {
		q |= 0x80
	}
	h := [4]byte{dsrFlow, sub, q, 0}
	switch flowShapeOf(h[:]) {
	case fsIPv4, fsEther, fsLegacyARP:
		h[3] = 5
	case fsIPv6:
		h[3] = 11
		if k.MaskLen {
			h[3] = 12
		}
	case fsARP:
		h[3] = byte(words(22))
	case fsRARP:
		h[3] = byte(words(24))
	default:
		return h, false
	}
	return h, true
}

// convHdr rewrites a layout header from the record's version to tv
// (argus-format.md §9.3, §9.4). drop means the DSR has no 3.x form.
func convHdr(h [4]byte, tv int, r *flow.Record) (out [4]byte, drop bool) {
	n := int(h[3])
	if tv >= 5 { // 3.x -> 5.x
		switch h[0] {
		case dsrTransport:
			if h[2]&^0x10 == 0 {
				// §9.3 step 3: 5.x needs a type for the id. ra, 3.x
				// and 5.x, prints an untyped 3.x id as an IPv4
				// address, so IPv4 it is: it prints the same in both.
				h[2] |= byte(flow.SrcIDIPv4)
			}
			if n >= 3 {
				h[1] |= 0x03
			}
		case dsrNetwork:
			switch h[1] {
			case netTCPInit:
				if n == 5 {
					h[2], h[3] = h[2]|2, 6
				}
			case netTCPPerf:
				if h[2]&2 == 0 {
					_, _, hasDst := perfShape(h[:])
					h[2], h[3] = h[2]|2, 19
					if hasDst {
						h[3] = 32
					}
				}
			}
		case dsrCor:
			h[3] = byte(min(1+(n-1)/6*10, 255))
		}
		return h, false
	}
	switch h[0] { // 5.x -> 3.x
	case 0, dsrFlowHash, dsrGRE, dsrVXLAN, dsrGeneve, dsrScore, dsrGeo, dsrLocal:
		return h, true
	case dsrTransport:
		h = [4]byte{dsrTransport, 0x03, byte(r.SrcID.Type), 3} // fitV3 narrowed the id
	case dsrTime:
		if q := h[2] & 0x1F; q == 0x19 || q == 0x1B {
			h[2]--
		}
	case dsrNetwork:
		switch h[1] {
		case netTCPInit:
			if n >= 6 {
				h[2], h[3] = h[2]&^2, 5
			}
		case netTCPPerf:
			if h[2]&2 != 0 {
				_, _, hasDst := perfShape(h[:])
				h[2], h[3] = h[2]&^2, 18
				if hasDst {
					h[3] = 30
				}
			}
		}
	case dsrPSize:
		w, dirs := metricShape(h[2])
		if w != 0 {
			nd := int(dirs&1) + int(dirs>>1)
			h[1], h[3] = 0, byte(words(w*2*nd))
		}
	case dsrEncaps:
		h[3] = 3
	case dsrJitter:
		if bw, _, histo := jitterShape(h[:]); bw != 0 {
			nb := 5
			if histo {
				nb++
			}
			h[3] = byte(1 + nb*popcount4(h[2]))
		}
	case dsrASN:
		if n > 3 {
			h[2], h[3] = h[2]&^4, 3
		}
	case dsrCor:
		h[3] = byte(1 + (n-1)/10*6)
	}
	return h, false
}
