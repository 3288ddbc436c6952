package nfcore

import (
	"net/netip"

	"github.com/flowgate/flowgate/flow"
)

// The encode side of the registry. An encoder asks RecordFields which
// elements a record carries, keeps one template per distinct field list
// (SameFields), writes the template with AppendTemplate and each record
// with AppendRecord. What the decoder maps onto a field, the encoder
// writes back from it; Extra fields from IPFIX or v9 go out as they came.

// EncOptions says how an encoder writes times.
type EncOptions struct {
	Version Version
	// BootNs (NetFlow v9 only) is the exporter's boot time, Unix ns. When
	// set, times go as FIRST_SWITCHED/LAST_SWITCHED (22/21), ms since
	// boot, and the header's sysUpTime must be (export time - BootNs) in
	// ms modulo 2^32. When 0, v9 times go as flowStartMilliseconds and
	// flowEndMilliseconds (152/153), as for IPFIX.
	BootNs int64
	// Nanoseconds writes IPFIX times as flowStartNanoseconds and
	// flowEndNanoseconds (156/157, NTP format) instead of milliseconds.
	Nanoseconds bool
	// Map is a user mapping (NewMapping) laid over the registry.
	Map *Mapping
	// RuleErrors counts values Map's rules could not write exactly.
	RuleErrors uint64
}

// EncField is one element of an encoder's template and where its value
// comes from.
type EncField struct {
	FieldSpec
	op  Op
	dir uint8
	// extra: the index into Record.Extra (OpExtra) or into the mapping's
	// rules (OpRule). No pointer here: RecordFields fills a list of these
	// per record, and a pointer field costs write barriers.
	extra int32
}

// Op returns what the field writes (OpExtra: an Extra value).
func (f *EncField) Op() Op { return f.op }

// RecordFields appends to dst the fields r carries, in a fixed order, so
// records that carry the same things give equal lists (SameFields).
//
// Which: the key (addresses, ports, protocol, masks, ICMP type/code, IPv6
// flow label) when HasKey; counts of the source direction when
// HasMetrics; start and end times; TCP flags (TCP with HasTCP); TOS and
// TTL (HasIPAttr); interfaces, next hops, AS numbers, VLAN, MACs, first
// MPLS label, sampling interval when their Has bit is set; then the Extra
// fields whose Source is IPFIX or NetFlow v9 (IPFIX: element ids below
// 0x8000; v9: no enterprise elements). IPFIX biflows (counts in [Dst])
// add RFC 5103 reverse elements (PEN 29305) for the reverse counts, TCP
// flags, TOS and VLAN. NetFlow v9 has no reverse elements: a v9 encoder
// sends a biflow as two records (see SplitBiflow).
func RecordFields(dst []EncField, r *flow.Record, o *EncOptions) []EncField {
	ipfix := o.Version == IPFIX
	start := len(dst)
	add := func(op Op, id uint16, n uint16) {
		dst = append(dst, EncField{FieldSpec: FieldSpec{ID: id, Len: n}, op: op})
	}
	addRev := func(op Op, id uint16, n uint16) {
		dst = append(dst, EncField{FieldSpec: FieldSpec{PEN: PENReverse, ID: id, Len: n}, op: op, dir: flow.Dst})
	}
	h := r.Has
	k := &r.Key
	v6 := false
	if h&flow.HasKey != 0 {
		v6 = k.Src.Is6() && !k.Src.Is4In6() || k.AddrType == flow.AddrIPv6
		if v6 {
			add(OpSrcAddr6, 27, 16)
			add(OpDstAddr6, 28, 16)
		} else {
			add(OpSrcAddr4, 8, 4)
			add(OpDstAddr4, 12, 4)
		}
		add(OpSrcPort, 7, 2)
		add(OpDstPort, 11, 2)
		add(OpProto, 4, 1)
		if k.MaskLen {
			if v6 {
				add(OpSrcMask, 29, 1)
				add(OpDstMask, 30, 1)
			} else {
				add(OpSrcMask, 9, 1)
				add(OpDstMask, 13, 1)
			}
		}
		if h&flow.HasICMPKey != 0 && (k.Proto == 1 || k.Proto == 58) {
			if v6 {
				add(OpICMPTypeCode6, 139, 2)
			} else {
				add(OpICMPTypeCode4, 32, 2)
			}
		}
		if v6 && k.FlowLabel != 0 {
			add(OpFlowLabel, 31, 4)
		}
	}
	bi := ipfix && (r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0)
	if h&flow.HasMetrics != 0 {
		add(OpOctets, 1, 8)
		add(OpPackets, 2, 8)
		if bi {
			addRev(OpOctets, 1, 8)
			addRev(OpPackets, 2, 8)
		}
	}
	switch {
	case o.Version == V9 && o.BootNs != 0:
		add(OpStartUptime, 22, 4)
		add(OpEndUptime, 21, 4)
	case ipfix && o.Nanoseconds:
		add(OpStartNs, 156, 8)
		add(OpEndNs, 157, 8)
	default:
		add(OpStartMs, 152, 8)
		add(OpEndMs, 153, 8)
	}
	if h&flow.HasTCP != 0 && k.Proto == 6 {
		n := uint16(2) // tcpControlBits is 16 bits in IPFIX (RFC 7125)
		if !ipfix {
			n = 1 // v9 TCP_FLAGS
		}
		add(OpTCPFlags, 6, n)
		if bi {
			addRev(OpTCPFlags, 6, n)
		}
	}
	if h&flow.HasIPAttr != 0 {
		if r.IPAttr.Present&1 != 0 {
			add(OpTOS, 5, 1)
			if r.IPAttr.TTL[0] != 0 {
				add(OpTTL, 192, 1)
			}
		}
		if bi && r.IPAttr.Present&2 != 0 {
			addRev(OpTOS, 5, 1)
			if r.IPAttr.TTL[1] != 0 {
				addRev(OpTTL, 192, 1) // reverseIpTTL, as the forward one
			}
		}
	}
	if ipfix && h&flow.HasExporter != 0 && r.Exporter.Addr().IsValid() && !r.Exporter.Addr().IsUnspecified() {
		// The record's Exporter (RFC 7011 §2: the collector learns it
		// from the transport, which a re-export hides): the decoder
		// reads it back as the record's.
		if r.Exporter.Addr().Unmap().Is4() {
			add(OpExporter4, 130, 4)
		} else {
			add(OpExporter6, 131, 16)
		}
	}
	if h&flow.HasIfaces != 0 {
		add(OpInIf, 10, 4)
		add(OpOutIf, 14, 4)
	}
	if h&flow.HasNextHop != 0 {
		if r.NextHop.IsValid() {
			if r.NextHop.Is4() {
				add(OpNextHop4, 15, 4)
			} else {
				add(OpNextHop6, 62, 16)
			}
		}
		if r.BGPNextHop.IsValid() {
			if r.BGPNextHop.Is4() {
				add(OpBGPNextHop4, 18, 4)
			} else {
				add(OpBGPNextHop6, 63, 16)
			}
		}
	}
	if h&flow.HasASN != 0 {
		add(OpSrcAS, 16, 4)
		add(OpDstAS, 17, 4)
	}
	if h&flow.HasVLAN != 0 {
		if r.VLAN.Present&1 != 0 {
			add(OpVLAN, 58, 2)
		}
		if bi && r.VLAN.Present&2 != 0 {
			addRev(OpVLAN, 58, 2)
		}
	}
	if h&flow.HasMAC != 0 {
		add(OpSrcMAC, 56, 6)
		add(OpDstMAC, 80, 6)
	}
	if h&flow.HasMPLS != 0 && r.MPLS.Count[0] != 0 {
		add(OpMPLS1, 70, 3)
	}
	if h&flow.HasSampling != 0 && r.SamplingRate != 0 && !hasExtra(r, 34) {
		add(OpSamplingInterval, 34, 4)
	}
	for i := range r.Extra {
		x := &r.Extra[i]
		if x.Source != flow.SourceIPFIX && x.Source != flow.SourceNetFlow9 {
			continue
		}
		n := len(x.Value)
		spec := FieldSpec{PEN: x.Enterprise, ID: uint16(x.ID), Len: uint16(n)}
		switch {
		case x.ID > 0xFFFF:
			continue
		case ipfix:
			if x.ID >= 0x8000 {
				continue // a v9 vendor type: no IPFIX id to give it
			}
			if x.Offset == VarLen {
				spec.Len = VarLen
			} else if n >= VarLen {
				continue
			}
		default:
			if x.Enterprise != 0 || n == 0 || n >= VarLen {
				continue
			}
		}
		dst = append(dst, EncField{FieldSpec: spec, op: OpExtra, extra: int32(i)})
	}
	if o.Map != nil {
		dst = o.Map.remap(dst, start, r)
	}
	return dst
}

// hasExtra reports whether r keeps IANA element id in Extra (the decoder
// keeps sampling elements of data records there).
func hasExtra(r *flow.Record, id uint32) bool {
	for i := range r.Extra {
		if x := &r.Extra[i]; x.ID == id && x.Enterprise == 0 && (x.Source == flow.SourceIPFIX || x.Source == flow.SourceNetFlow9) {
			return true
		}
	}
	return false
}

// SameFields reports whether two field lists make the same template.
func SameFields(a, b []EncField) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TemplateLen returns the bytes AppendTemplate adds for fields.
func TemplateLen(v Version, fields []EncField) int {
	n := 4
	for i := range fields {
		n += 4
		if v == IPFIX && fields[i].PEN != 0 {
			n += 4
		}
	}
	return n
}

// AppendTemplate appends a template record (template id, field count,
// field specifiers; IPFIX enterprise bit and PEN where needed). The set
// header (v9 flowset 0, IPFIX set 2) is the encoder's.
func AppendTemplate(dst []byte, v Version, id uint16, fields []EncField) []byte {
	dst = be.AppendUint16(dst, id)
	dst = be.AppendUint16(dst, uint16(len(fields)))
	for i := range fields {
		f := &fields[i].FieldSpec
		if v == IPFIX && f.PEN != 0 {
			dst = be.AppendUint16(dst, f.ID|0x8000)
			dst = be.AppendUint16(dst, f.Len)
			dst = be.AppendUint32(dst, f.PEN)
			continue
		}
		dst = be.AppendUint16(dst, f.ID)
		dst = be.AppendUint16(dst, f.Len)
	}
	return dst
}

// DataLen returns the bytes AppendRecord adds for r.
func DataLen(fields []EncField, r *flow.Record, o *EncOptions) int {
	n := 0
	for i := range fields {
		f := &fields[i]
		if f.Len != VarLen {
			n += int(f.Len)
			continue
		}
		var l int
		if f.op == OpRule {
			l = ruleValueLen(f, r, o)
		} else {
			l = len(r.Extra[f.extra].Value)
		}
		n += l + 1
		if l >= 255 {
			n += 2
		}
	}
	return n
}

// AppendRecord appends r's data record for fields (from RecordFields of r
// or of a record with the same field list).
func AppendRecord(dst []byte, fields []EncField, r *flow.Record, o *EncOptions) []byte {
	k := &r.Key
	for i := range fields {
		f := &fields[i]
		d := f.dir
		switch f.op {
		case OpSrcAddr4:
			dst = append4(dst, k.Src)
		case OpDstAddr4:
			dst = append4(dst, k.Dst)
		case OpSrcAddr6:
			dst = append16(dst, k.Src)
		case OpDstAddr6:
			dst = append16(dst, k.Dst)
		case OpSrcPort:
			dst = be.AppendUint16(dst, k.SrcPort)
		case OpDstPort:
			dst = be.AppendUint16(dst, k.DstPort)
		case OpProto:
			dst = append(dst, k.Proto)
		case OpSrcMask:
			dst = append(dst, k.SrcMask)
		case OpDstMask:
			dst = append(dst, k.DstMask)
		case OpICMPTypeCode4, OpICMPTypeCode6:
			dst = append(dst, k.ICMPType, k.ICMPCode)
		case OpFlowLabel:
			dst = be.AppendUint32(dst, k.FlowLabel)
		case OpOctets:
			dst = be.AppendUint64(dst, r.Bytes[d])
		case OpPackets:
			dst = be.AppendUint64(dst, r.Pkts[d])
		case OpStartMs:
			dst = be.AppendUint64(dst, uint64(r.Start/1e6))
		case OpEndMs:
			dst = be.AppendUint64(dst, uint64(r.Last/1e6))
		case OpStartNs:
			dst = be.AppendUint64(dst, UnixNsToNTP(r.Start))
		case OpEndNs:
			dst = be.AppendUint64(dst, UnixNsToNTP(r.Last))
		case OpStartUptime:
			dst = be.AppendUint32(dst, uint32((r.Start-o.BootNs)/1e6))
		case OpEndUptime:
			dst = be.AppendUint32(dst, uint32((r.Last-o.BootNs)/1e6))
		case OpTCPFlags:
			if f.Len == 1 {
				dst = append(dst, r.TCP.Side[d].Flags)
			} else {
				dst = be.AppendUint16(dst, uint16(r.TCP.Side[d].Flags))
			}
		case OpTOS:
			dst = append(dst, r.IPAttr.TOS[d])
		case OpTTL:
			dst = append(dst, r.IPAttr.TTL[d])
		case OpInIf:
			dst = be.AppendUint32(dst, r.InIf)
		case OpOutIf:
			dst = be.AppendUint32(dst, r.OutIf)
		case OpExporter4:
			dst = append4(dst, r.Exporter.Addr())
		case OpExporter6:
			dst = append16(dst, r.Exporter.Addr())
		case OpNextHop4:
			dst = append4(dst, r.NextHop)
		case OpNextHop6:
			dst = append16(dst, r.NextHop)
		case OpBGPNextHop4:
			dst = append4(dst, r.BGPNextHop)
		case OpBGPNextHop6:
			dst = append16(dst, r.BGPNextHop)
		case OpSrcAS:
			dst = be.AppendUint32(dst, r.ASN.Src)
		case OpDstAS:
			dst = be.AppendUint32(dst, r.ASN.Dst)
		case OpVLAN:
			dst = be.AppendUint16(dst, r.VLAN.TCI[d]&0x0FFF)
		case OpSrcMAC:
			dst = append(dst, r.MAC.Src[:]...)
		case OpDstMAC:
			dst = append(dst, r.MAC.Dst[:]...)
		case OpMPLS1:
			l := r.MPLS.Label[d]
			dst = append(dst, byte(l>>24), byte(l>>16), byte(l>>8))
		case OpSamplingInterval:
			dst = be.AppendUint32(dst, r.SamplingRate)
		case OpRule:
			dst = appendRule(dst, f, r, o)
		case OpExtra:
			v := r.Extra[f.extra].Value
			if f.Len == VarLen {
				if len(v) < 255 {
					dst = append(dst, byte(len(v)))
				} else {
					dst = append(dst, 255)
					dst = be.AppendUint16(dst, uint16(len(v)))
				}
			}
			dst = append(dst, v...)
		default:
			// Not produced by RecordFields; keep the record length right.
			for range f.Len {
				dst = append(dst, 0)
			}
		}
	}
	return dst
}

// append4 appends an IPv4 address; a missing (or IPv6) one is 0.0.0.0.
func append4(dst []byte, a netip.Addr) []byte {
	a = a.Unmap()
	if !a.Is4() {
		return append(dst, 0, 0, 0, 0)
	}
	b := a.As4()
	return append(dst, b[:]...)
}

// append16 appends an IPv6 address (IPv4 ones mapped); a missing one is ::.
func append16(dst []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(dst, make([]byte, 16)...)
	}
	b := a.As16()
	return append(dst, b[:]...)
}

// UnixNsToNTP converts Unix ns to an NTP timestamp, rounding the fraction
// up so that decoding (which rounds down) gives the same ns back.
func UnixNsToNTP(ns int64) uint64 {
	const ntpEpoch = 2208988800
	sec := ns / 1e9
	rem := ns % 1e9
	if rem < 0 {
		sec--
		rem += 1e9
	}
	frac := (uint64(rem)<<32 + 1e9 - 1) / 1e9
	return uint64(sec+ntpEpoch)<<32 | frac
}

// SplitBiflow writes into rev the reverse direction of a biflow (key
// reversed, [Dst] counters, flags, TOS, VLAN and times moved to [Src]) and
// clears r's [Dst] values, for formats with no reverse elements (v9, v5).
// It returns false, leaving both alone, when r has no reverse traffic.
func SplitBiflow(r, rev *flow.Record) bool {
	if r.Pkts[flow.Dst] == 0 && r.Bytes[flow.Dst] == 0 {
		return false
	}
	extra := rev.Extra[:0]
	*rev = *r
	rev.Extra = append(extra, r.Extra...)
	rev.Key = r.Key.Reverse()
	rev.InIf, rev.OutIf = r.OutIf, r.InIf
	rev.MAC.Src, rev.MAC.Dst = r.MAC.Dst, r.MAC.Src
	rev.ASN.Src, rev.ASN.Dst = r.ASN.Dst, r.ASN.Src
	sw := func(a *[2]uint64) { a[0], a[1] = a[1], 0 }
	sw(&rev.Pkts)
	sw(&rev.Bytes)
	sw(&rev.AppBytes)
	rev.TCP.Side[0], rev.TCP.Side[1] = r.TCP.Side[1], flow.TCPSide{}
	rev.IPAttr.TOS = [2]uint8{r.IPAttr.TOS[1]}
	rev.IPAttr.TTL = [2]uint8{r.IPAttr.TTL[1]}
	rev.IPAttr.Present = r.IPAttr.Present >> 1 & 1
	rev.VLAN.TCI = [2]uint16{r.VLAN.TCI[1]}
	rev.VLAN.Present = r.VLAN.Present >> 1 & 1
	rev.MPLS.Label = [2]uint32{r.MPLS.Label[1]}
	rev.MPLS.Count = [2]uint8{r.MPLS.Count[1]}
	if r.Has&flow.HasDirTimes != 0 {
		rev.Start, rev.Last = r.DstStart, r.DstLast
		rev.SrcStart, rev.SrcLast, rev.DstStart, rev.DstLast = r.DstStart, r.DstLast, 0, 0
		r.Start, r.Last = r.SrcStart, r.SrcLast
		r.DstStart, r.DstLast = 0, 0
		r.Has &^= flow.HasDirTimes
		rev.Has &^= flow.HasDirTimes
	}
	r.Pkts[flow.Dst], r.Bytes[flow.Dst], r.AppBytes[flow.Dst] = 0, 0, 0
	r.TCP.Side[flow.Dst] = flow.TCPSide{}
	r.IPAttr.TOS[1], r.IPAttr.TTL[1] = 0, 0
	r.IPAttr.Present &^= 2
	r.VLAN.TCI[1] = 0
	r.VLAN.Present &^= 2
	r.MPLS.Label[1], r.MPLS.Count[1] = 0, 0
	return true
}
