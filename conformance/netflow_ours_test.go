package conformance

// How the NetFlow/IPFIX tests reach our decoders and encoders. Each codec
// package registers itself here in a netflow_ours_<pkg>_test.go file once it
// has landed (codecs/netflow5, codecs/netflow9, codecs/ipfix); until then the
// tests that need it skip with a message naming the package, and the
// reference-side checks (goldens vs calmh/ipfix and tehmaze/netflow, nfdump
// vs tshark, softflowd through nfcapd) run alone.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// ourDecoders maps a datagram's version (5, 9, 10) to a constructor of our
// decoder for it; ourEncoders maps it to an export-packet encoder.
var (
	ourDecoders = map[uint16]func() codecs.PacketDecoder{}
	ourEncoders = map[uint16]func() ourPacketEncoder{}
)

// ourPacketEncoder is the packet side of B's encoders (codecs.Encoder plus
// AppendPacket, issue4-plan.md).
type ourPacketEncoder interface {
	AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error)
}

// ourStream decodes a stream of datagrams from any number of exporters with
// one decoder per version, as the gateway does.
type ourStream struct {
	decs map[uint16]codecs.PacketDecoder
	recs []flow.Record
}

func newOurStream(tb testing.TB, versions ...uint16) *ourStream {
	tb.Helper()
	s := &ourStream{decs: map[uint16]codecs.PacketDecoder{}}
	for _, v := range versions {
		mk := ourDecoders[v]
		if mk == nil {
			tb.Skipf("our decoder for version %d has not landed (codecs/%s); reference checks run in the other tests", v, map[uint16]string{5: "netflow5", 9: "netflow9", 10: "ipfix"}[v])
		}
		s.decs[v] = mk()
	}
	return s
}

// decode decodes one datagram and returns the records it gave (a fresh
// slice, detached, so they outlive the next call).
func (s *ourStream) decode(b []byte, from netip.AddrPort) ([]flow.Record, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("short datagram")
	}
	d := s.decs[binary.BigEndian.Uint16(b)]
	if d == nil {
		return nil, fmt.Errorf("no decoder for version %d", binary.BigEndian.Uint16(b))
	}
	n := len(s.recs)
	var err error
	s.recs, err = d.DecodePacket(b, from, s.recs)
	out := make([]flow.Record, len(s.recs)-n)
	copy(out, s.recs[n:])
	for i := range out {
		out[i].Detach()
	}
	s.recs = s.recs[:0]
	return out, err
}

// recordFlow reduces one of our records to the fields the tools print.
func recordFlow(r *flow.Record) nfFlow {
	f := nfFlow{
		Src: r.Key.Src.Unmap(), Dst: r.Key.Dst.Unmap(),
		SrcPort: r.Key.SrcPort, DstPort: r.Key.DstPort, Proto: r.Key.Proto,
		Pkts: r.Pkts[flow.Src], Bytes: r.Bytes[flow.Src],
		RevPkts: r.Pkts[flow.Dst], RevBytes: r.Bytes[flow.Dst],
		Flags: r.TCP.Side[flow.Src].Flags, RevFlags: r.TCP.Side[flow.Dst].Flags,
		Start: r.Start, End: r.Last,
	}
	if r.Has&flow.HasICMPKey != 0 && (f.Proto == 1 || f.Proto == 58) {
		// nfdump and tshark print ICMP type/code in the destination port.
		f.SrcPort, f.DstPort = 0, uint16(r.Key.ICMPType)<<8|uint16(r.Key.ICMPCode)
	}
	return f
}

// recordElem returns an element value of one of our records in ieValue's
// text form: from Extra when the decoder kept it opaque, else from the
// canonical field it fills. hdr is the datagram the record came from (v9
// and IPFIX sysUpTime elements are checked against the absolute times we
// computed from it); initMS is the exporter's systemInitTimeMilliseconds
// (IE 160, options data) when known, else -1: IPFIX uptime elements count
// from it. ok is false when the record does not carry it.
func recordElem(r *flow.Record, d ieDef, hdr []byte, initMS int64) (string, bool) {
	return recordElemN(r, d, hdr, initMS, 0)
}

// recordElemN is recordElem for the n-th occurrence of an element a
// template repeats: only Extra can hold more than one.
func recordElemN(r *flow.Record, d ieDef, hdr []byte, initMS int64, n int) (string, bool) {
	for _, x := range r.Extra {
		if (x.Source == flow.SourceIPFIX || x.Source == flow.SourceNetFlow9) && x.Enterprise == d.Key.PEN && x.ID == uint32(d.Key.ID) {
			if n == 0 {
				return ieValue(d, x.Value), true
			}
			n--
		}
	}
	if n > 0 {
		return "", false
	}
	u := func(v uint64) (string, bool) { return fmt.Sprint(v), true }
	a := func(v netip.Addr) (string, bool) { return v.Unmap().String(), v.IsValid() }
	dir := flow.Src
	id := d.Key.ID
	switch d.Key.PEN {
	case 0:
	case reversePEN:
		dir = flow.Dst
	default:
		return "", false
	}
	switch id {
	case 1, 85, 231: // octetDeltaCount, octetTotalCount, initiatorOctets
		if id == 231 {
			dir = flow.Src
		}
		return u(r.Bytes[dir])
	case 232: // responderOctets
		return u(r.Bytes[flow.Dst])
	case 2, 86, 298:
		if id == 298 {
			dir = flow.Src
		}
		return u(r.Pkts[dir])
	case 299:
		return u(r.Pkts[flow.Dst])
	case 4:
		return u(uint64(r.Key.Proto))
	case 6:
		return u(uint64(r.TCP.Side[dir].Flags))
	case 7:
		return u(uint64(r.Key.SrcPort))
	case 11:
		return u(uint64(r.Key.DstPort))
	case 180, 181, 182, 183:
		// udp/tcpSource/DestinationPort: the key's port for a flow of
		// that protocol, 0 (as exporters send them) for another.
		if (id <= 181) != (r.Key.Proto == 17) || (id >= 182) != (r.Key.Proto == 6) {
			return "0", true
		}
		if id == 180 || id == 182 {
			return u(uint64(r.Key.SrcPort))
		}
		return u(uint64(r.Key.DstPort))
	case 8, 12, 27, 28:
		// A template may carry both families (Procera, Mikrotik) with
		// the unused one zero: the record keeps the used one.
		v := r.Key.Src
		if id == 12 || id == 28 {
			v = r.Key.Dst
		}
		if v4 := id == 8 || id == 12; v4 != v.Unmap().Is4() {
			if v4 {
				return "0.0.0.0", true
			}
			return "::", true
		}
		return a(v)
	case 32, 139: // icmpTypeCode: type<<8 | code
		return u(uint64(r.Key.ICMPType)<<8 | uint64(r.Key.ICMPCode))
	case 176, 178:
		return u(uint64(r.Key.ICMPType))
	case 177, 179:
		return u(uint64(r.Key.ICMPCode))
	case 195: // ipDiffServCodePoint: the TOS byte's upper six bits
		return u(uint64(r.IPAttr.TOS[dir] >> 2))
	case 52, 53: // minimumTTL, maximumTTL (the record keeps one TTL)
		return u(uint64(r.IPAttr.TTL[dir]))
	case 243: // dot1qVlanId
		return u(uint64(r.VLAN.TCI[dir] & 0xfff))
	case 34, 305: // samplingInterval, samplingPacketInterval
		return u(uint64(r.SamplingRate))
	case 161: // flowDurationMilliseconds
		return u(uint64((r.Last - r.Start) / 1e6))
	case 9, 29:
		return u(uint64(r.Key.SrcMask))
	case 13, 30:
		return u(uint64(r.Key.DstMask))
	case 10:
		return u(uint64(r.InIf))
	case 14:
		return u(uint64(r.OutIf))
	case 15, 62:
		return a(r.NextHop)
	case 18, 63:
		return a(r.BGPNextHop)
	case 16:
		return u(uint64(r.ASN.Src))
	case 17:
		return u(uint64(r.ASN.Dst))
	case 5:
		return u(uint64(r.IPAttr.TOS[dir]))
	case 192:
		return u(uint64(r.IPAttr.TTL[dir]))
	case 31:
		return u(uint64(r.Key.FlowLabel))
	case 56:
		return ieValue(d, r.MAC.Src[:]), true
	case 80:
		return ieValue(d, r.MAC.Dst[:]), true
	case 58:
		return u(uint64(r.VLAN.TCI[dir] & 0xfff))
	case 150, 152, 154, 156: // flowStart{Seconds,Milli,Micro,Nano}
		return fmt.Sprint(truncTime(r.Start, id-150)), true
	case 151, 153, 155, 157:
		return fmt.Sprint(truncTime(r.Last, id-151)), true
	case 22, 21: // flowStartSysUpTime / flowEndSysUpTime: back to uptime ms
		t := r.Start
		if id == 21 {
			t = r.Last
		}
		if len(hdr) >= 12 && binary.BigEndian.Uint16(hdr) == 9 {
			up, secs := int64(binary.BigEndian.Uint32(hdr[4:])), int64(binary.BigEndian.Uint32(hdr[8:]))
			return fmt.Sprint(uint32(up - (secs*1e9-t)/1e6)), true
		}
		if initMS >= 0 {
			return fmt.Sprint(uint32(t/1e6 - initMS)), true
		}
	}
	return "", false
}

// truncTime cuts ns to the precision of flowStart*/flowEnd* element kind k
// (0 s, 2 ms, 4 us, 6 ns) as its golden prints it.
func truncTime(ns int64, k uint16) int64 {
	switch k {
	case 0:
		return ns / 1e9 * 1e9
	case 2:
		return ns / 1e6 * 1e6
	case 4:
		return ns / 1e3 * 1e3
	}
	return ns
}

// ourTemplateID is the template a record was decoded with, as flowbeat's
// goldens name it; -1 when our records do not say (then pairing is by
// values alone, see TestNetflowFlowbeat).
var ourTemplateID = func(r *flow.Record) int { return -1 }
