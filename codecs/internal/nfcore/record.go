package nfcore

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowgate/flowgate/flow"
)

var be = binary.BigEndian

// RecordType is the flow.RecordType decoded records carry (chosen by what
// Debian ra 3.0.8.2 prints correctly from codecs/argus output; see doc.go).
var RecordType = flow.TypeFlow

// msgCtx is what a data record needs from its message header and the
// exporter's state.
type msgCtx struct {
	ver       Version
	src       flow.FieldSource
	from      netip.AddrPort
	exportSec uint32
	sysUp     uint32 // v9 header sysUpTime, ms
	seq       uint32
	domain    uint32
	dom       *domainState
	renorm    bool
	defRate   uint32 // Config.DefaultSamplingRate
	forceRate bool
	stats     *Stats
	recLimit  int // len(dst) past which records are refused (Config.MaxRecords)
}

// time-accumulator flags, per direction.
const (
	tStart = 1 << iota
	tEnd
	tUpStart
	tUpEnd
	tDeltaStart
	tDeltaEnd
	tDur
)

// recAcc gathers values that need the whole record before they land.
type recAcc struct {
	tflags         [2]uint8
	start, end     [2]int64  // absolute ns
	upStart, upEnd [2]uint32 // ms since boot
	dStart, dEnd   [2]uint64 // µs before export
	dur            [2]int64  // ns
	obs            int64     // observation time, ns (0: none)
	sysInit        int64     // ms, record's own IE 160
	hasSysInit     bool
	exporter       bool     // exporterIPv4Address/exporterIPv6Address came: in rec.Exporter
	delta          [2]uint8 // 1 octets, 2 packets present
	totOct, totPkt [2]uint64
	hasTot         [2]uint8
	flags          [2]uint16
	hasFlags       uint8
	rate           uint64
	samplerID      uint64
	hasSamplerID   bool
	interval       uint64
	space          uint64
	has            flow.Group
	ttlSet         [2]bool
	tcpMore        bool  // TCP window or sequence seen
	endReason      uint8 // flowEndReason
}

// uintN reads a big-endian unsigned integer of 1-8 bytes.
func uintN(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(be.Uint16(b))
	case 4:
		return uint64(be.Uint32(b))
	case 8:
		return be.Uint64(b)
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// ntpToUnixNs converts an NTP timestamp (RFC 7011 §6.1.9/10) to Unix ns.
func ntpToUnixNs(v uint64) int64 {
	const ntpEpoch = 2208988800
	sec := int64(v>>32) - ntpEpoch
	frac := (v & 0xFFFFFFFF) * 1_000_000_000 >> 32
	return sec*1_000_000_000 + int64(frac)
}

// ntpMicroToUnixNs converts a dateTimeMicroseconds value: RFC 7011
// §6.1.9 says its fraction's lower 11 bits are to be ignored, and the
// value is whole microseconds: truncated. softflowd writes the fraction of
// the microsecond plus 4294 (read to the nanosecond, 0 µs is .000000999
// s, as tshark prints it); truncation gives its microsecond back. (An
// exporter writing the fraction rounded down would lose one µs; none in
// the corpus does.)
func ntpMicroToUnixNs(v uint64) int64 {
	const ntpEpoch = 2208988800
	sec := int64(v>>32) - ntpEpoch
	us := (v & 0xFFFFF800) * 1_000_000 >> 32
	return sec*1_000_000_000 + int64(us)*1000
}

// decodeRecord decodes one data record of t from b into rec (already
// reset) and returns the bytes it used, or -1 when a variable-length field
// runs past the end of b.
func decodeRecord(t *Template, b []byte, m *msgCtx, rec *flow.Record) int {
	var a recAcc
	p := 0
	for i := range t.ops {
		o := &t.ops[i]
		n := int(o.len)
		if o.vlen {
			if p >= len(b) {
				return -1
			}
			n = int(b[p])
			p++
			if n == 255 {
				if p+2 > len(b) {
					return -1
				}
				n = int(be.Uint16(b[p:]))
				p += 2
			}
		}
		if p+n > len(b) {
			return -1
		}
		v := b[p : p+n : p+n]
		p += n
		d := o.dir
		if o.keep {
			rec.Extra = append(rec.Extra, flow.Field{Source: m.src, Enterprise: o.pen, ID: uint32(o.id), Offset: uint32(o.len), Value: v})
		}
		switch o.op {
		case OpSkip:
		case OpExtra:
			rec.Extra = append(rec.Extra, flow.Field{Source: m.src, Enterprise: o.pen, ID: uint32(o.id), Offset: uint32(o.len), Value: v})
		case OpRule:
			if !applyRule(t.rules[o.rule], v, &a, rec) {
				m.stats.Unmapped++
				rec.Extra = append(rec.Extra, flow.Field{Source: m.src, Enterprise: o.pen, ID: uint32(o.id), Offset: uint32(o.len), Value: v})
			}
		case OpSrcAddr4:
			setAddr(&rec.Key.Src, netip.AddrFrom4([4]byte(v)), &a)
		case OpDstAddr4:
			setAddr(&rec.Key.Dst, netip.AddrFrom4([4]byte(v)), &a)
		case OpSrcAddr6:
			setAddr(&rec.Key.Src, netip.AddrFrom16([16]byte(v)), &a)
		case OpDstAddr6:
			setAddr(&rec.Key.Dst, netip.AddrFrom16([16]byte(v)), &a)
		case OpSrcPort:
			// Templates with several port elements (transport, TCP, UDP)
			// fill the unused ones with 0: a 0 does not replace a port.
			if p := uint16(uintN(v)); p != 0 {
				rec.Key.SrcPort = p
			}
			a.has |= flow.HasKey
		case OpDstPort:
			if p := uint16(uintN(v)); p != 0 {
				rec.Key.DstPort = p
			}
			a.has |= flow.HasKey
		case OpProto:
			// A key even without addresses (Cisco AVC sends them in
			// enterprise elements), so the protocol is written back.
			rec.Key.Proto = uint8(uintN(v))
			a.has |= flow.HasKey
		case OpOctets:
			rec.Bytes[d] = uintN(v)
			a.delta[d] |= 1
			a.has |= flow.HasMetrics
		case OpPackets:
			rec.Pkts[d] = uintN(v)
			a.delta[d] |= 2
			a.has |= flow.HasMetrics
		case OpOctetsTotal:
			a.totOct[d] = uintN(v)
			a.hasTot[d] |= 1
		case OpPacketsTotal:
			a.totPkt[d] = uintN(v)
			a.hasTot[d] |= 2
		case OpInitOctets:
			rec.Bytes[flow.Src] = uintN(v)
			a.delta[flow.Src] |= 1
			a.has |= flow.HasMetrics
		case OpRespOctets:
			rec.Bytes[flow.Dst] = uintN(v)
			a.delta[flow.Dst] |= 1
			a.has |= flow.HasMetrics
		case OpInitPackets:
			rec.Pkts[flow.Src] = uintN(v)
			a.delta[flow.Src] |= 2
			a.has |= flow.HasMetrics
		case OpRespPackets:
			rec.Pkts[flow.Dst] = uintN(v)
			a.delta[flow.Dst] |= 2
			a.has |= flow.HasMetrics
		case OpTCPFlags:
			a.flags[d] = uint16(uintN(v))
			a.hasFlags |= 1 << d
		case OpTOS:
			rec.IPAttr.TOS[d] = uint8(uintN(v))
			rec.IPAttr.Present |= 1 << d
			a.has |= flow.HasIPAttr
		case OpDSCP:
			if rec.IPAttr.Present&(1<<d) == 0 || rec.IPAttr.TOS[d] == 0 {
				rec.IPAttr.TOS[d] = uint8(uintN(v)) << 2
			}
			rec.IPAttr.Present |= 1 << d
			a.has |= flow.HasIPAttr
		case OpTTL:
			rec.IPAttr.TTL[d] = uint8(uintN(v))
			a.ttlSet[d] = true
			rec.IPAttr.Present |= 1 << d
			a.has |= flow.HasIPAttr
		case OpMinTTL, OpMaxTTL:
			if !a.ttlSet[d] {
				rec.IPAttr.TTL[d] = uint8(uintN(v))
				a.ttlSet[d] = o.op == OpMinTTL
			}
			rec.IPAttr.Present |= 1 << d
			a.has |= flow.HasIPAttr
		case OpInIf:
			rec.InIf = uint32(uintN(v))
			a.has |= flow.HasIfaces
		case OpOutIf:
			rec.OutIf = uint32(uintN(v))
			a.has |= flow.HasIfaces
		case OpExporter4:
			rec.Exporter, a.exporter = netip.AddrPortFrom(netip.AddrFrom4([4]byte(v)), 0), true
		case OpExporter6:
			rec.Exporter, a.exporter = netip.AddrPortFrom(netip.AddrFrom16([16]byte(v)).Unmap(), 0), true
		case OpNextHop4:
			rec.NextHop = netip.AddrFrom4([4]byte(v))
			a.has |= flow.HasNextHop
		case OpNextHop6:
			rec.NextHop = netip.AddrFrom16([16]byte(v))
			a.has |= flow.HasNextHop
		case OpBGPNextHop4:
			rec.BGPNextHop = netip.AddrFrom4([4]byte(v))
			a.has |= flow.HasNextHop
		case OpBGPNextHop6:
			rec.BGPNextHop = netip.AddrFrom16([16]byte(v))
			a.has |= flow.HasNextHop
		case OpSrcAS:
			rec.ASN.Src = uint32(uintN(v))
			rec.ASN.Present |= 1
			a.has |= flow.HasASN
		case OpDstAS:
			rec.ASN.Dst = uint32(uintN(v))
			rec.ASN.Present |= 2
			a.has |= flow.HasASN
		case OpSrcMask:
			rec.Key.SrcMask = uint8(uintN(v))
			rec.Key.MaskLen = true
		case OpDstMask:
			rec.Key.DstMask = uint8(uintN(v))
			rec.Key.MaskLen = true
		case OpVLAN:
			rec.VLAN.TCI[d] = rec.VLAN.TCI[d]&0xF000 | uint16(uintN(v))&0x0FFF
			rec.VLAN.Present |= 1 << d
			a.has |= flow.HasVLAN
		case OpDot1qVLAN:
			if rec.VLAN.Present&(1<<d) == 0 {
				rec.VLAN.TCI[d] = uint16(uintN(v)) & 0x0FFF
				rec.VLAN.Present |= 1 << d
				a.has |= flow.HasVLAN
			}
		case OpSrcMAC:
			rec.MAC.Src = [6]byte(v)
			a.has |= flow.HasMAC
		case OpDstMAC:
			rec.MAC.Dst = [6]byte(v)
			a.has |= flow.HasMAC
		case OpMPLS1:
			// The section is the label stack entry without its TTL byte.
			lse := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8
			if len(v) == 4 {
				lse |= uint32(v[3])
			}
			rec.MPLS.Label[d] = lse
			rec.MPLS.Count[d] = 1
			a.has |= flow.HasMPLS
		case OpICMPTypeCode4, OpICMPTypeCode6:
			rec.Key.ICMPType, rec.Key.ICMPCode = v[0], v[1]
			a.has |= flow.HasICMPKey
		case OpICMPType:
			rec.Key.ICMPType = uint8(uintN(v))
			a.has |= flow.HasICMPKey
		case OpICMPCode:
			rec.Key.ICMPCode = uint8(uintN(v))
			a.has |= flow.HasICMPKey
		case OpFlowLabel:
			rec.Key.FlowLabel = uint32(uintN(v)) & 0xFFFFF
		case OpStartSec:
			a.start[d] = int64(uintN(v)) * 1e9
			a.tflags[d] |= tStart
		case OpEndSec:
			a.end[d] = int64(uintN(v)) * 1e9
			a.tflags[d] |= tEnd
		case OpStartMs:
			a.start[d] = int64(uintN(v)) * 1e6
			a.tflags[d] |= tStart
		case OpEndMs:
			a.end[d] = int64(uintN(v)) * 1e6
			a.tflags[d] |= tEnd
		case OpStartUs:
			a.start[d] = ntpMicroToUnixNs(be.Uint64(v))
			a.tflags[d] |= tStart
		case OpEndUs:
			a.end[d] = ntpMicroToUnixNs(be.Uint64(v))
			a.tflags[d] |= tEnd
		case OpStartNs:
			a.start[d] = ntpToUnixNs(be.Uint64(v))
			a.tflags[d] |= tStart
		case OpEndNs:
			a.end[d] = ntpToUnixNs(be.Uint64(v))
			a.tflags[d] |= tEnd
		case OpStartUptime:
			a.upStart[d] = uint32(uintN(v))
			a.tflags[d] |= tUpStart
		case OpEndUptime:
			a.upEnd[d] = uint32(uintN(v))
			a.tflags[d] |= tUpEnd
		case OpStartDeltaUs:
			a.dStart[d] = uintN(v)
			a.tflags[d] |= tDeltaStart
		case OpEndDeltaUs:
			a.dEnd[d] = uintN(v)
			a.tflags[d] |= tDeltaEnd
		case OpDurMs:
			a.dur[d] = int64(uintN(v)) * 1e6
			a.tflags[d] |= tDur
		case OpDurUs:
			a.dur[d] = int64(uintN(v)) * 1e3
			a.tflags[d] |= tDur
		case OpSysInit:
			a.sysInit = int64(uintN(v))
			a.hasSysInit = true
		case OpMinLen:
			rec.PktSize.Min[d] = uint16(min(uintN(v), 0xFFFF))
			rec.PktSize.Dirs |= 1 << d
			a.has |= flow.HasPktSize
		case OpMaxLen:
			rec.PktSize.Max[d] = uint16(min(uintN(v), 0xFFFF))
			rec.PktSize.Dirs |= 1 << d
			a.has |= flow.HasPktSize
		case OpIPID:
			rec.IPAttr.IPID[d] = uint16(uintN(v))
			rec.IPAttr.Present |= 1 << d
			a.has |= flow.HasIPAttr
		case OpTCPWin:
			rec.TCP.Side[d].Win = uint16(uintN(v))
			a.tcpMore = true
		case OpTCPSeq:
			rec.TCP.Side[d].SeqBase = uint32(uintN(v))
			a.tcpMore = true
		case OpEtherType:
			rec.MAC.EtherType = uint16(uintN(v))
			a.has |= flow.HasMAC
		case OpVLANPrio:
			rec.VLAN.TCI[d] = rec.VLAN.TCI[d]&0x1FFF | uint16(uintN(v)&7)<<13
			rec.VLAN.Present |= 1 << d
			a.has |= flow.HasVLAN
		case OpEndReason:
			a.endReason = uint8(uintN(v))
		case OpObsSec, OpObsMs, OpObsUs, OpObsNs:
			switch o.op {
			case OpObsSec:
				a.obs = int64(uintN(v)) * 1e9
			case OpObsMs:
				a.obs = int64(uintN(v)) * 1e6
			default:
				a.obs = ntpToUnixNs(be.Uint64(v))
			}
		case OpSamplingInterval, OpSamplerRandom:
			a.rate = uintN(v)
		case OpSamplerID:
			a.samplerID = uintN(v)
			a.hasSamplerID = true
		case OpPacketInterval:
			a.interval = uintN(v)
		case OpPacketSpace:
			a.space = uintN(v)
		case OpSamplingAlgo, OpSamplerMode, OpSelectorAlgo:
			// Algorithm/mode values do not change the rate we apply.
		}
	}
	finishRecord(&a, m, rec)
	return p
}

// setAddr sets a key address. Templates that carry both IPv4 and IPv6
// addresses (Procera, Mikrotik) zero the unused family: an unspecified
// address does not replace a specified one.
func setAddr(dst *netip.Addr, v netip.Addr, a *recAcc) {
	if dst.IsValid() && !dst.IsUnspecified() && v.IsUnspecified() {
		return
	}
	*dst = v
	a.has |= flow.HasKey
}

// finishRecord fills what depends on several elements: counters from
// totals, times, TCP state, sampling, header context.
func finishRecord(a *recAcc, m *msgCtx, rec *flow.Record) {
	// A user mapping's rules set fields themselves (with their Has bits);
	// the key and counters below take those into account too.
	a.has |= rec.Has
	rec.Type = RecordType
	rec.Cause = flow.CauseStatus
	// flowEndReason: idle timeout is an Argus timeout; end of flow (FIN,
	// RST) and forced end a stop. (Argus causes are bit sets: ra reads
	// the timeout bit, which CauseClosed and CauseShutdown also have, as
	// "TIM".)
	switch a.endReason {
	case 1:
		rec.Cause = flow.CauseTimeout
	case 3, 4:
		rec.Cause = flow.CauseStop
	}
	for d := range 2 {
		// Delta counts win; a total stands in when no delta came or the
		// delta is zero (Barracuda sends delta 0 with the total).
		if a.hasTot[d]&1 != 0 && (a.delta[d]&1 == 0 || rec.Bytes[d] == 0) {
			rec.Bytes[d] = a.totOct[d]
			a.has |= flow.HasMetrics
		}
		if a.hasTot[d]&2 != 0 && (a.delta[d]&2 == 0 || rec.Pkts[d] == 0) {
			rec.Pkts[d] = a.totPkt[d]
			a.has |= flow.HasMetrics
		}
	}
	if a.has&flow.HasKey != 0 {
		rec.Key.Kind = flow.Kind5Tuple
		rec.Key.AddrType = flow.AddrIPv4
		if rec.Key.Src.Is6() || rec.Key.Dst.Is6() {
			rec.Key.AddrType = flow.AddrIPv6
		}
		if (rec.Key.Proto == 1 || rec.Key.Proto == 58) && a.has&flow.HasICMPKey == 0 {
			// NetFlow convention (Cisco, softflowd v9): type*256+code in
			// the destination port.
			rec.Key.ICMPType, rec.Key.ICMPCode = uint8(rec.Key.DstPort>>8), uint8(rec.Key.DstPort)
			a.has |= flow.HasICMPKey
		}
		if rec.Key.Proto != 1 && rec.Key.Proto != 58 {
			a.has &^= flow.HasICMPKey
		}
	}
	if a.hasFlags != 0 || a.tcpMore && rec.Key.Proto == 6 {
		for d := range 2 {
			rec.TCP.Side[d].Flags = uint8(a.flags[d])
		}
		if rec.Key.Proto == 6 {
			rec.TCP.Object = flow.TCPPerf
			rec.TCP.HasDst = a.hasFlags&2 != 0
			rec.TCP.Status = TCPStatus(uint8(a.flags[0]), uint8(a.flags[1]))
			a.has |= flow.HasTCP
		}
	}
	finishTimes(a, m, rec)
	// Sampling: the record's own interval (Huawei puts IE 34 in data
	// records), else its sampler's, else the exporter's default.
	rate := a.rate
	if rate == 0 && a.interval != 0 {
		rate = (a.interval + a.space) / a.interval
	}
	if rate == 0 && m.dom != nil {
		rate = uint64(m.dom.samplingRate(a.samplerID, a.hasSamplerID))
	}
	if m.defRate != 0 && (rate == 0 || m.forceRate) {
		rate = uint64(m.defRate)
	}
	if rate > 0 && rate <= 1<<31 {
		rec.SamplingRate = uint32(rate)
		a.has |= flow.HasSampling
		if m.renorm && rate > 1 {
			for d := range 2 {
				rec.Pkts[d] *= rate
				rec.Bytes[d] *= rate
			}
		}
	}
	if !a.exporter || !m.ownExporter(rec.Exporter.Addr()) {
		rec.Exporter = m.from
	}
	if a := rec.Exporter.Addr().Unmap(); a.Is4() {
		// The Argus monitor id is the exporter, so ra prints it as
		// srcid. (Argus 3 has no IPv6 id: IPv6 exporters leave it unset.)
		rec.SrcID = flow.SrcID{Type: flow.SrcIDIPv4}
		b := a.As4()
		copy(rec.SrcID.ID[:4], b[:])
		rec.Has |= flow.HasSrcID
	}
	rec.ObsDomain = m.domain
	rec.ExportSeq = m.seq
	rec.Has |= a.has | flow.HasExporter | flow.HasTime
}

// ownExporter reports whether a record's exporterIPv4Address/
// exporterIPv6Address (x) is its Exporter: a proxy or a collector
// re-exporting names the Exporter it speaks for (its port is not the
// transport's, the proxy's); the transport's own address or 0.0.0.0 says
// nothing more than the transport.
func (m *msgCtx) ownExporter(x netip.Addr) bool {
	return !x.IsUnspecified() && x != m.from.Addr().Unmap()
}

// finishTimes turns the time elements into Unix ns. Every encoding is
// resolved per direction; a missing end (or start) is derived from the
// duration; a record with no time at all takes the export time.
func finishTimes(a *recAcc, m *msgCtx, rec *flow.Record) {
	exportNs := int64(m.exportSec) * 1e9
	var sysInit int64 // ms
	hasInit := false
	switch {
	case a.hasSysInit:
		sysInit, hasInit = a.sysInit, true
	case m.dom != nil && m.dom.hasSysInit:
		sysInit, hasInit = m.dom.sysInit, true
	}
	var s, e [2]int64
	var ok [2]uint8
	for d := range 2 {
		f := a.tflags[d]
		if f == 0 {
			continue
		}
		if f&tStart != 0 {
			s[d], ok[d] = a.start[d], ok[d]|1
		} else if f&tUpStart != 0 {
			s[d], ok[d] = uptimeNs(a.upStart[d], sysInit, hasInit, m, a, d), ok[d]|1
		} else if f&tDeltaStart != 0 {
			s[d], ok[d] = exportNs-int64(a.dStart[d])*1e3, ok[d]|1
		}
		if f&tEnd != 0 {
			e[d], ok[d] = a.end[d], ok[d]|2
		} else if f&tUpEnd != 0 {
			e[d], ok[d] = uptimeNs(a.upEnd[d], sysInit, hasInit, m, a, d), ok[d]|2
		} else if f&tDeltaEnd != 0 {
			e[d], ok[d] = exportNs-int64(a.dEnd[d])*1e3, ok[d]|2
		}
		if f&tDur != 0 {
			switch ok[d] {
			case 1:
				e[d], ok[d] = s[d]+a.dur[d], 3
			case 2:
				s[d], ok[d] = e[d]-a.dur[d], 3
			}
		}
		if ok[d] == 1 {
			e[d] = s[d]
		} else if ok[d] == 2 {
			s[d] = e[d]
		}
		// Uptimes far past the header's (FortiOS 5.2.1 sends record
		// uptimes 601,349 s past its sysUpTime) would put the flow in
		// the future: keep its duration, ending at the export time.
		if f&(tUpStart|tUpEnd) != 0 && e[d] > exportNs+maxFuture {
			shift := e[d] - exportNs
			s[d], e[d] = s[d]-shift, e[d]-shift
			m.stats.TimeClamped++
		}
	}
	switch {
	case ok[0] != 0 && ok[1] != 0:
		rec.Start, rec.Last = min(s[0], s[1]), max(e[0], e[1])
		rec.SrcStart, rec.SrcLast, rec.DstStart, rec.DstLast = s[0], e[0], s[1], e[1]
		rec.Has |= flow.HasDirTimes
	case ok[0] != 0:
		rec.Start, rec.Last = s[0], e[0]
	case ok[1] != 0:
		rec.Start, rec.Last = s[1], e[1]
	case a.obs != 0:
		rec.Start, rec.Last = a.obs, a.obs
	default:
		rec.Start, rec.Last = exportNs, exportNs
		m.stats.NoTime++
	}
}

// maxFuture is how far past the export time an uptime-derived time may be
// (an exporter samples sysUpTime for the header before it writes the last
// records) before it is taken for an exporter bug.
const maxFuture = 10 * 1e9

// uptimeNs converts a sysUpTime-relative time (ms since the exporter
// booted) to Unix ns. With systemInitTimeMilliseconds the boot time is
// known, and the 32-bit uptime's wraps (every 49.7 days) are placed by the
// export time. A v9 header gives sysUpTime and the export time: the age is
// their difference modulo 2^32, read as signed (a flow can end a little
// after the header's sysUpTime was taken). IPFIX with neither is counted
// and anchored at the export time (the flow's end is taken to be then).
func uptimeNs(up uint32, sysInit int64, hasInit bool, m *msgCtx, a *recAcc, d int) int64 {
	exportMs := int64(m.exportSec) * 1000
	switch {
	case hasInit:
		t := sysInit + int64(up)
		if age := exportMs - t; age > 1<<31 {
			t += (age + 1<<31) >> 32 << 32
		}
		return t * 1e6
	case m.ver == V9:
		return (exportMs - int64(int32(m.sysUp-up))) * 1e6
	}
	m.stats.NoSysInit++
	ref := up
	if a.tflags[d]&tUpEnd != 0 {
		ref = a.upEnd[d]
	}
	return (exportMs - int64(int32(ref-up))) * 1e6
}

// Argus TCP status bits (argus_def.h), as codecs/ratext reads them.
const (
	tcpSawSyn      = 0x00000001
	tcpSawSynSent  = 0x00000002
	tcpEstablished = 0x00000004
	tcpFin         = 0x00000008
	tcpFinAck      = 0x00000010
	tcpNormalClose = 0x00000020
	tcpSrcReset    = 0x00001000
	tcpDstReset    = 0x00002000
)

// TCP flag bits.
const (
	flFIN = 0x01
	flSYN = 0x02
	flRST = 0x04
	flACK = 0x10
)

// TCPStatus derives an Argus TCP status from the OR of the TCP flags seen
// in each direction (all an exporter tells): SYN from the source is a
// request, SYN-ACK an accepted one, ACK with a handshake (or without one:
// a mid-stream flow) established; FIN closing, FIN both ways a normal
// close; RST a reset of the side that sent it. ra prints these as REQ,
// ACC, CON, FIN and RST (a handshake closed both ways prints FIN, as for
// argus's own record of the same traffic).
func TCPStatus(src, dst uint8) uint32 {
	var st uint32
	all := src | dst
	if src&flSYN != 0 {
		st |= tcpSawSyn
	}
	if dst&flSYN != 0 && dst&flACK != 0 {
		st |= tcpSawSynSent
	}
	if all&flACK != 0 && (src&flACK != 0 && (dst == 0 || dst&flACK != 0)) {
		st |= tcpEstablished
	}
	if all&flFIN != 0 {
		st |= tcpFin
		if src&flFIN != 0 && dst&flFIN != 0 {
			st |= tcpFinAck | tcpNormalClose
		}
	}
	if src&flRST != 0 {
		st |= tcpSrcReset
	}
	if dst&flRST != 0 {
		st |= tcpDstReset
	}
	return st
}
