package mappings

import (
	"net/netip"

	"github.com/flowgate/flowgate/flow"
)

// Kind is the value type of a canonical field as a mapping sees it.
type Kind uint8

const (
	KindUint    Kind = iota + 1 // unsigned integer of Bits bits
	KindTime                    // instant, Unix ns
	KindDur                     // duration, ns (Last-Start)
	KindAddr                    // IPv4 or IPv6 address
	KindMAC                     // 6-byte hardware address
	KindText                    // bytes that alias the input (uid, service ...)
	KindCountry                 // 2-letter code
)

func (k Kind) String() string {
	switch k {
	case KindUint:
		return "uint"
	case KindTime:
		return "time"
	case KindDur:
		return "duration"
	case KindAddr:
		return "addr"
	case KindMAC:
		return "mac"
	case KindText:
		return "text"
	case KindCountry:
		return "country"
	}
	return "?"
}

// value is one canonical value in transit. Only the member of the
// accessor's Kind is meaningful; it lives on the stack so Apply does not
// allocate.
type value struct {
	u    uint64 // KindUint; KindTime/KindDur as int64 bits
	addr netip.Addr
	mac  [6]byte
	b    []byte // KindText, KindCountry (2 bytes)
}

// accessor reads and writes one canonical field of a flow.Record. get
// reports false when the record does not carry the field (its Has group is
// unset or the value is the zero address).
type accessor struct {
	name     string
	kind     Kind
	bits     uint8 // KindUint width
	readOnly bool  // derived (totals): written out, never read in
	get      func(r *flow.Record) (value, bool)
	set      func(r *flow.Record, v value)
}

func uintAcc(name string, bits uint8, get func(r *flow.Record) (uint64, bool), set func(r *flow.Record, u uint64)) *accessor {
	return &accessor{name: name, kind: KindUint, bits: bits,
		get: func(r *flow.Record) (v value, ok bool) { u, ok := get(r); v.u = u; return v, ok },
		set: func(r *flow.Record, v value) { set(r, v.u) },
	}
}

func textAcc(name string, g flow.Group, p func(r *flow.Record) *[]byte) *accessor {
	return &accessor{name: name, kind: KindText,
		get: func(r *flow.Record) (v value, ok bool) { b := *p(r); v.b = b; return v, r.Has&g != 0 && len(b) > 0 },
		set: func(r *flow.Record, v value) { *p(r) = v.b; r.Has |= g },
	}
}

func addrAcc(name string, g flow.Group, key bool, p func(r *flow.Record) *netip.Addr) *accessor {
	return &accessor{name: name, kind: KindAddr,
		get: func(r *flow.Record) (v value, ok bool) { v.addr = *p(r); return v, r.Has&g != 0 && v.addr.IsValid() },
		set: func(r *flow.Record, v value) {
			*p(r) = v.addr
			r.Has |= g
			if key {
				// The key's family follows its addresses; a 5-tuple is
				// the only key a mapped record can describe.
				r.Key.Kind = flow.Kind5Tuple
				if v.addr.Is4() {
					r.Key.AddrType = flow.AddrIPv4
				} else {
					r.Key.AddrType = flow.AddrIPv6
				}
			}
		},
	}
}

func counterAcc(name string, g flow.Group, p func(r *flow.Record) *uint64) *accessor {
	return uintAcc(name, 64,
		func(r *flow.Record) (uint64, bool) { return *p(r), r.Has&g != 0 },
		func(r *flow.Record, u uint64) { *p(r) = u; r.Has |= g })
}

func timeAcc(name string, p func(r *flow.Record) *int64, g flow.Group) *accessor {
	return &accessor{name: name, kind: KindTime,
		get: func(r *flow.Record) (v value, ok bool) { v.u = uint64(*p(r)); return v, r.Has&g != 0 },
		set: func(r *flow.Record, v value) { *p(r) = int64(v.u); r.Has |= g },
	}
}

// accessors is the table of canonical fields a mapping can name. The
// names are flow/fields.csv's (ra's columns and the RecordFields ra has no
// column for); the code is written by hand because fields.go describes
// names and external columns, not Record paths.
var accessors = map[string]*accessor{}

func reg(a *accessor) { accessors[a.name] = a }

func init() {
	reg(timeAcc("start_time", func(r *flow.Record) *int64 { return &r.Start }, flow.HasTime))
	reg(timeAcc("last_time", func(r *flow.Record) *int64 { return &r.Last }, flow.HasTime))
	reg(timeAcc("src_start_time", func(r *flow.Record) *int64 { return &r.SrcStart }, flow.HasDirTimes))
	reg(timeAcc("src_last_time", func(r *flow.Record) *int64 { return &r.SrcLast }, flow.HasDirTimes))
	reg(timeAcc("dst_start_time", func(r *flow.Record) *int64 { return &r.DstStart }, flow.HasDirTimes))
	reg(timeAcc("dst_last_time", func(r *flow.Record) *int64 { return &r.DstLast }, flow.HasDirTimes))
	// duration is Last-Start; setting it needs Start, so Compile orders
	// duration ops after every other op.
	reg(&accessor{name: "duration", kind: KindDur,
		// Last 0 is "no end time" (a Zeek conn with duration "-"), not
		// a negative duration.
		get: func(r *flow.Record) (v value, ok bool) {
			v.u = uint64(r.Last - r.Start)
			return v, r.Has&flow.HasTime != 0 && r.Last != 0 && r.Last >= r.Start
		},
		set: func(r *flow.Record, v value) { r.Last = r.Start + int64(v.u); r.Has |= flow.HasTime },
	})
	reg(addrAcc("src_addr", flow.HasKey, true, func(r *flow.Record) *netip.Addr { return &r.Key.Src }))
	reg(addrAcc("dst_addr", flow.HasKey, true, func(r *flow.Record) *netip.Addr { return &r.Key.Dst }))
	reg(uintAcc("protocol", 8, func(r *flow.Record) (uint64, bool) { return uint64(r.Key.Proto), r.Has&flow.HasKey != 0 },
		func(r *flow.Record, u uint64) { r.Key.Proto = uint8(u); r.Has |= flow.HasKey }))
	reg(uintAcc("src_port", 16, func(r *flow.Record) (uint64, bool) { return uint64(r.Key.SrcPort), r.Has&flow.HasKey != 0 },
		func(r *flow.Record, u uint64) { r.Key.SrcPort = uint16(u); r.Has |= flow.HasKey }))
	reg(uintAcc("dst_port", 16, func(r *flow.Record) (uint64, bool) { return uint64(r.Key.DstPort), r.Has&flow.HasKey != 0 },
		func(r *flow.Record, u uint64) { r.Key.DstPort = uint16(u); r.Has |= flow.HasKey }))
	for d, pre := range [2]string{"src_", "dst_"} {
		reg(counterAcc(pre+"bytes", flow.HasMetrics, func(r *flow.Record) *uint64 { return &r.Bytes[d] }))
		reg(counterAcc(pre+"pkts", flow.HasMetrics, func(r *flow.Record) *uint64 { return &r.Pkts[d] }))
		reg(counterAcc(pre+"app_bytes", flow.HasAppBytes, func(r *flow.Record) *uint64 { return &r.AppBytes[d] }))
		ipBit := uint8(1 << d)
		reg(uintAcc(pre+"tos", 8, func(r *flow.Record) (uint64, bool) {
			return uint64(r.IPAttr.TOS[d]), r.Has&flow.HasIPAttr != 0 && r.IPAttr.Present&ipBit != 0
		}, func(r *flow.Record, u uint64) {
			r.IPAttr.TOS[d] = uint8(u)
			r.IPAttr.Present |= ipBit
			r.Has |= flow.HasIPAttr
		}))
		reg(uintAcc(pre+"ttl", 8, func(r *flow.Record) (uint64, bool) {
			return uint64(r.IPAttr.TTL[d]), r.Has&flow.HasIPAttr != 0 && r.IPAttr.Present&ipBit != 0
		}, func(r *flow.Record, u uint64) {
			r.IPAttr.TTL[d] = uint8(u)
			r.IPAttr.Present |= ipBit
			r.Has |= flow.HasIPAttr
		}))
		reg(uintAcc(pre+"vid", 12, func(r *flow.Record) (uint64, bool) {
			return uint64(r.VLAN.TCI[d] & 0xfff), r.Has&flow.HasVLAN != 0 && r.VLAN.Present&ipBit != 0
		}, func(r *flow.Record, u uint64) {
			r.VLAN.TCI[d] = r.VLAN.TCI[d]&^0xfff | uint16(u)&0xfff
			r.VLAN.Present |= ipBit
			r.Has |= flow.HasVLAN
		}))
		reg(uintAcc(pre+"tcp_flags", 8, func(r *flow.Record) (uint64, bool) {
			return uint64(r.TCP.Side[d].Flags), r.Has&flow.HasTCP != 0
		}, func(r *flow.Record, u uint64) { r.TCP.Side[d].Flags = uint8(u); r.Has |= flow.HasTCP }))
		reg(&accessor{name: pre + "mac", kind: KindMAC,
			get: func(r *flow.Record) (v value, ok bool) {
				if d == 0 {
					v.mac = r.MAC.Src
				} else {
					v.mac = r.MAC.Dst
				}
				return v, r.Has&flow.HasMAC != 0
			},
			set: func(r *flow.Record, v value) {
				if d == 0 {
					r.MAC.Src = v.mac
				} else {
					r.MAC.Dst = v.mac
				}
				r.Has |= flow.HasMAC
			}})
		reg(&accessor{name: pre + "country", kind: KindCountry,
			get: func(r *flow.Record) (v value, ok bool) {
				v.b = r.Country[d][:]
				return v, r.Has&flow.HasCountry != 0 && r.Country[d] != [2]byte{}
			},
			set: func(r *flow.Record, v value) { copy(r.Country[d][:], v.b); r.Has |= flow.HasCountry }})
	}
	reg(uintAcc("src_as", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.ASN.Src), r.Has&flow.HasASN != 0 },
		func(r *flow.Record, u uint64) { r.ASN.Src = uint32(u); r.Has |= flow.HasASN }))
	reg(uintAcc("dst_as", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.ASN.Dst), r.Has&flow.HasASN != 0 },
		func(r *flow.Record, u uint64) { r.ASN.Dst = uint32(u); r.Has |= flow.HasASN }))
	// Totals are derived: a format that only has totals cannot split them,
	// so they are written out and never read in.
	tot := func(name string, g flow.Group, p func(r *flow.Record) *[2]uint64) *accessor {
		a := uintAcc(name, 64, func(r *flow.Record) (uint64, bool) { t := p(r); return t[0] + t[1], r.Has&g != 0 }, nil)
		a.readOnly = true
		a.set = nil
		return a
	}
	reg(tot("bytes", flow.HasMetrics, func(r *flow.Record) *[2]uint64 { return &r.Bytes }))
	reg(tot("pkts", flow.HasMetrics, func(r *flow.Record) *[2]uint64 { return &r.Pkts }))
	reg(tot("app_bytes", flow.HasAppBytes, func(r *flow.Record) *[2]uint64 { return &r.AppBytes }))
	reg(uintAcc("seq", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.Seq), r.Has&flow.HasSeq != 0 },
		func(r *flow.Record, u uint64) { r.Seq = uint32(u); r.Has |= flow.HasSeq }))
	reg(uintAcc("src_mss", 16, func(r *flow.Record) (uint64, bool) { return uint64(r.TCP.Side[0].MSS), r.Has&flow.HasTCP != 0 },
		func(r *flow.Record, u uint64) { r.TCP.Side[0].MSS = uint16(u); r.Has |= flow.HasTCP }))
	reg(textAcc("label", flow.HasLabel, func(r *flow.Record) *[]byte { return &r.Label }))
	reg(textAcc("zeek_uid", flow.HasZeek, func(r *flow.Record) *[]byte { return &r.Zeek.UID }))
	reg(textAcc("zeek_service", flow.HasZeek, func(r *flow.Record) *[]byte { return &r.Zeek.Service }))
	reg(textAcc("zeek_history", flow.HasZeek, func(r *flow.Record) *[]byte { return &r.Zeek.History }))
	reg(textAcc("zeek_conn_state", flow.HasZeek, func(r *flow.Record) *[]byte { return &r.Zeek.State }))
	reg(textAcc("community_id", flow.HasCommunityID, func(r *flow.Record) *[]byte { return &r.CommunityID }))
	reg(uintAcc("in_if", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.InIf), r.Has&flow.HasIfaces != 0 },
		func(r *flow.Record, u uint64) { r.InIf = uint32(u); r.Has |= flow.HasIfaces }))
	reg(uintAcc("out_if", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.OutIf), r.Has&flow.HasIfaces != 0 },
		func(r *flow.Record, u uint64) { r.OutIf = uint32(u); r.Has |= flow.HasIfaces }))
	reg(addrAcc("next_hop", flow.HasNextHop, false, func(r *flow.Record) *netip.Addr { return &r.NextHop }))
	reg(addrAcc("bgp_next_hop", flow.HasNextHop, false, func(r *flow.Record) *netip.Addr { return &r.BGPNextHop }))
	reg(uintAcc("sampling_rate", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.SamplingRate), r.Has&flow.HasSampling != 0 },
		func(r *flow.Record, u uint64) { r.SamplingRate = uint32(u); r.Has |= flow.HasSampling }))
	reg(uintAcc("obs_domain", 32, func(r *flow.Record) (uint64, bool) { return uint64(r.ObsDomain), r.Has&flow.HasExporter != 0 },
		func(r *flow.Record, u uint64) { r.ObsDomain = uint32(u); r.Has |= flow.HasExporter }))
	reg(&accessor{name: "exporter_addr", kind: KindAddr,
		get: func(r *flow.Record) (v value, ok bool) {
			v.addr = r.Exporter.Addr()
			return v, r.Has&flow.HasExporter != 0 && v.addr.IsValid()
		},
		set: func(r *flow.Record, v value) {
			r.Exporter = netip.AddrPortFrom(v.addr, r.Exporter.Port())
			r.Has |= flow.HasExporter
		}})
}

// canonicalKnown reports whether name is a canonical field of
// flow/fields.csv.
func canonicalKnown(name string) bool {
	_, ok := flow.FieldByName(name)
	return ok
}
