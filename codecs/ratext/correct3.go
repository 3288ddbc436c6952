package ratext

import "github.com/flowgate/flowgate/flow"

// ra 3.0.8.2 reads records differently from ra 5.0.3 before it prints
// them (ArgusGenerateRecordStruct in 3.x argus_client.c):
//
//   - It undoes the flow key's REVERSE bit only for IPv4 and IPv6 keys.
//     Ethernet, 802.11, MPLS, VLAN, ISIS and ARP keys are copied as
//     stored, so a layer-2 flow the sensor keyed in reverse prints with
//     its stored (responder-first) addresses.
//   - Its client-side direction correction (ArgusPerformCorrection) is on
//     by default and -X does not turn it off: an IPv4 TCP record whose
//     handshake shows the SYN/ACK sender as source (SYN_SENT without SYN,
//     the source sent a SYN and the destination no RST, and more than 5
//     packets each way, or a one-way SYN+FIN source with more than 60
//     bytes a packet), an IPv4 TCP record the sensor marked with the
//     DIRECTION qualifier, and (without -n) an IPv4 TCP record without
//     handshake from a named port <= 1024 to a port > 1024 are
//     reversed whole (ArgusReverseRecord); a one-way IPv4 ICMP record with
//     the DIRECTION qualifier takes its type and code from the ICMP network
//     object and is reversed when that type is a reply.
//
// prepare3 returns the record ra 3.0.8.2 prints for r (r itself, or the
// Printer's scratch copy) and whether it was reversed.
func (p *Printer) prepare3(r *flow.Record) (*flow.Record, bool) {
	if r.Type == flow.TypeMgmt || r.Has&flow.HasKey == 0 {
		return r, false
	}
	k := &r.Key
	if k.RevBit && k.AddrType != flow.AddrIPv4 && k.AddrType != flow.AddrIPv6 {
		s := p.scratch3(r)
		s.Key = k.Reverse()
		return s, false
	}
	if k.AddrType != flow.AddrIPv4 || k.Kind != flow.Kind5Tuple {
		return r, false
	}
	direction := flowQual(r)&0x20 != 0 // ARGUS_DIRECTION
	switch k.Proto {
	case 6:
		n := 0
		if direction {
			n++
		}
		if tcpShouldReverse3(p, r) {
			n++
		}
		if n&1 == 0 {
			return r, false
		}
		s := p.scratch3(r)
		reverse3(s)
		return s, true
	case 1:
		if !direction || r.Pkts[0] == 0 || r.Pkts[1] != 0 {
			return r, false
		}
		s := p.scratch3(r)
		s.Key.ICMPType, s.Key.ICMPCode = r.ICMP.Type, r.ICMP.Code
		switch r.ICMP.Type {
		case 0, 14, 16, 18: // echo, timestamp, info and mask replies
			reverse3(s)
			return s, true
		}
		return s, false
	}
	return r, false
}

func (p *Printer) scratch3(r *flow.Record) *flow.Record {
	if p.rec3 == nil {
		p.rec3 = new(flow.Record)
	}
	*p.rec3 = *r
	return p.rec3
}

// flowQual is the qualifier byte of the record's Argus flow DSR (0 when
// the record did not come from Argus).
func flowQual(r *flow.Record) uint8 {
	L := &r.Argus
	for i := 0; i < int(L.N) && i < flow.MaxArgusDSRs; i++ {
		if L.Hdr[i][0] == 0x02 {
			return L.Hdr[i][2]
		}
	}
	return 0
}

const (
	thFIN = 0x01
	thSYN = 0x02
	thRST = 0x04
)

func tcpShouldReverse3(p *Printer, r *flow.Record) bool {
	st := uint32(0)
	if r.Has&flow.HasTCP != 0 {
		st = r.TCP.Status
	}
	if st&(tcpSawSyn|tcpSawSynSent) == 0 {
		k := &r.Key
		if p.o.NFlag != 0 || k.SrcPort > 1024 || k.DstPort <= 1024 || k.SrcPort == 20 {
			return false
		}
		_, ok := tcpServices[k.SrcPort]
		return ok
	}
	if st&tcpSawSyn != 0 || (r.TCP.Object != flow.TCPStatus && r.TCP.Object != flow.TCPPerf) {
		return false
	}
	src, dst := r.TCP.Side[0].Flags, r.TCP.Side[1].Flags
	if src&thSYN == 0 || dst&thRST != 0 {
		return false
	}
	sp, dp := r.Pkts[0], r.Pkts[1]
	if sp > 5 && dp > 5 {
		return true
	}
	return sp > 0 && dp == 0 && src&thFIN != 0 && r.Bytes[0]/sp > 60
}

// reverse3 is 3.x ArgusReverseRecord: the key, counters, per-direction
// times, IP attributes, TCP sides, packet sizes, MACs, VLAN and MPLS
// labels, country codes, AS numbers and user data change sides. Jitter is
// swapped by the caller (rctx), encapsulation and ICMP-mapped data stay.
func reverse3(r *flow.Record) {
	k := &r.Key
	k.Src, k.Dst = k.Dst, k.Src
	switch k.Proto {
	case 6, 17:
		k.SrcPort, k.DstPort = k.DstPort, k.SrcPort
	}
	r.Pkts[0], r.Pkts[1] = r.Pkts[1], r.Pkts[0]
	r.Bytes[0], r.Bytes[1] = r.Bytes[1], r.Bytes[0]
	r.AppBytes[0], r.AppBytes[1] = r.AppBytes[1], r.AppBytes[0]
	if r.Has&flow.HasDirTimes != 0 {
		r.SrcStart, r.DstStart = r.DstStart, r.SrcStart
		r.SrcLast, r.DstLast = r.DstLast, r.SrcLast
	}
	a := &r.IPAttr
	a.TTL[0], a.TTL[1] = a.TTL[1], a.TTL[0]
	a.TOS[0], a.TOS[1] = a.TOS[1], a.TOS[0]
	a.IPID[0], a.IPID[1] = a.IPID[1], a.IPID[0]
	a.Options[0], a.Options[1] = a.Options[1], a.Options[0]
	a.Present = a.Present&^0x0f | a.Present&0x05<<1 | a.Present&0x0a>>1
	r.TCP.Side[0], r.TCP.Side[1] = r.TCP.Side[1], r.TCP.Side[0]
	ps := &r.PktSize
	ps.Min[0], ps.Min[1] = ps.Min[1], ps.Min[0]
	ps.Max[0], ps.Max[1] = ps.Max[1], ps.Max[0]
	ps.Histo[0], ps.Histo[1] = ps.Histo[1], ps.Histo[0]
	ps.HasHisto[0], ps.HasHisto[1] = ps.HasHisto[1], ps.HasHisto[0]
	ps.Dirs = ps.Dirs&^3 | ps.Dirs&1<<1 | ps.Dirs&2>>1
	m := &r.MAC
	m.Src, m.Dst = m.Dst, m.Src
	m.SSAP, m.DSAP = m.DSAP, m.SSAP
	v := &r.VLAN
	v.TCI[0], v.TCI[1] = v.TCI[1], v.TCI[0]
	v.Present = v.Present&^3 | v.Present&1<<1 | v.Present&2>>1
	l := &r.MPLS
	l.Label[0], l.Label[1] = l.Label[1], l.Label[0]
	l.Count[0], l.Count[1] = l.Count[1], l.Count[0]
	l.Subtype = l.Subtype&^3 | l.Subtype&1<<1 | l.Subtype&2>>1
	r.Country[0], r.Country[1] = r.Country[1], r.Country[0]
	r.ASN.Src, r.ASN.Dst = r.ASN.Dst, r.ASN.Src
	r.SrcUser, r.DstUser = r.DstUser, r.SrcUser
	hs, hd := r.Has&flow.HasSrcUser != 0, r.Has&flow.HasDstUser != 0
	r.Has &^= flow.HasSrcUser | flow.HasDstUser
	if hs {
		r.Has |= flow.HasDstUser
	}
	if hd {
		r.Has |= flow.HasSrcUser
	}
}

// reverse3 swaps the sides of what ra 3.0.8.2 derived from the record
// before its correction reversed it: times, durations, counters and
// rates (computed again when printed) change sides, the loads (computed
// on read) do not, and the jitter sides are swapped when loaded.
func (c *rctx) reverse3() {
	c.src, c.dst = c.dst, c.src
	c.sdur, c.ddur = c.ddur, c.sdur
	c.srate, c.drate = c.drate, c.srate
	c.spkts, c.dpkts = c.dpkts, c.spkts
	c.sbytes, c.dbytes = c.dbytes, c.sbytes
	c.rev3 = true
}
