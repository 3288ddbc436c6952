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
	// getU is get for integers, times and durations (value.u only),
	// without building a value: Plan.Encode's fast path.
	getU func(r *flow.Record) (uint64, bool)
	// getA and getB are the same for addresses and texts: get's 64-byte
	// value copied through the stack was a fifth of Plan.Encode.
	getA func(r *flow.Record) (netip.Addr, bool)
	getB func(r *flow.Record) ([]byte, bool)
	setU func(r *flow.Record, u uint64) // set for the same kinds (nil: derived)

	// id is the field's index in CanonicalFields and its bit in a FieldSet.
	id int
	// group: get is false unless r.Has has one of these bits, so that
	// Plan.EncodeUnwritten skips the field without calling get.
	group flow.Group
	// derived: the value follows from other fields (totals, duration), so
	// a record never carries it on its own: it is never unwritten.
	derived bool
	// reverse: a counter of the reverse direction, which a one-way
	// mapping cannot write (a zero one is not lost).
	reverse bool
	// writes: the fields a written value of this one carries: its own bit,
	// the alias that holds the same value (src_port and icmp_type of an
	// ICMP flow), last_time for duration.
	writes FieldSet
}

func uintAcc(name string, bits uint8, get func(r *flow.Record) (uint64, bool), set func(r *flow.Record, u uint64)) *accessor {
	return &accessor{name: name, kind: KindUint, bits: bits, getU: get, setU: set,
		get: func(r *flow.Record) (v value, ok bool) { u, ok := get(r); v.u = u; return v, ok },
		set: func(r *flow.Record, v value) { set(r, v.u) },
	}
}

func textAcc(name string, g flow.Group, p func(r *flow.Record) *[]byte) *accessor {
	return &accessor{name: name, kind: KindText,
		get:  func(r *flow.Record) (v value, ok bool) { b := *p(r); v.b = b; return v, r.Has&g != 0 && len(b) > 0 },
		getB: func(r *flow.Record) ([]byte, bool) { b := *p(r); return b, r.Has&g != 0 && len(b) > 0 },
		set:  func(r *flow.Record, v value) { *p(r) = v.b; r.Has |= g },
	}
}

func addrAcc(name string, g flow.Group, key bool, p func(r *flow.Record) *netip.Addr) *accessor {
	return &accessor{name: name, kind: KindAddr,
		get:  func(r *flow.Record) (v value, ok bool) { v.addr = *p(r); return v, r.Has&g != 0 && v.addr.IsValid() },
		getA: func(r *flow.Record) (netip.Addr, bool) { a := *p(r); return a, r.Has&g != 0 && a.IsValid() },
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
		get:  func(r *flow.Record) (v value, ok bool) { v.u = uint64(*p(r)); return v, r.Has&g != 0 },
		getU: func(r *flow.Record) (uint64, bool) { return uint64(*p(r)), r.Has&g != 0 },
		setU: func(r *flow.Record, u uint64) { *p(r) = int64(u); r.Has |= g },
		set:  func(r *flow.Record, v value) { *p(r) = int64(v.u); r.Has |= g },
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
		// a negative duration; a rule with time zero: true writes 0 for
		// it, as ra prints dur (op.zeroDur).
		get: func(r *flow.Record) (v value, ok bool) {
			v.u = uint64(r.Last - r.Start)
			return v, r.Has&flow.HasTime != 0 && r.Last != 0 && r.Last >= r.Start
		},
		getU: func(r *flow.Record) (uint64, bool) {
			return uint64(r.Last - r.Start), r.Has&flow.HasTime != 0 && r.Last != 0 && r.Last >= r.Start
		},
		set:  func(r *flow.Record, v value) { r.Last = r.Start + int64(v.u); r.Has |= flow.HasTime },
		setU: func(r *flow.Record, u uint64) { r.Last = r.Start + int64(u); r.Has |= flow.HasTime },
	})
	reg(addrAcc("src_addr", flow.HasKey, true, func(r *flow.Record) *netip.Addr { return &r.Key.Src }))
	reg(addrAcc("dst_addr", flow.HasKey, true, func(r *flow.Record) *netip.Addr { return &r.Key.Dst }))
	reg(uintAcc("protocol", 8, func(r *flow.Record) (uint64, bool) { return uint64(r.Key.Proto), r.Has&flow.HasKey != 0 },
		func(r *flow.Record, u uint64) { r.Key.Proto = uint8(u); r.Has |= flow.HasKey }))
	// The ports of an ICMP flow are its type and code, as ra prints them
	// (sport, dport) and Zeek writes them (id.orig_p, id.resp_p): the
	// Record keeps them in Key.ICMPType/ICMPCode (HasICMPKey), as the
	// Argus decoder does, and a port read for an ICMP flow sets them, not
	// the ports (Compile reads protocol first).
	reg(uintAcc("src_port", 16, func(r *flow.Record) (uint64, bool) {
		if isICMP(r) {
			return uint64(r.Key.ICMPType), true
		}
		return uint64(r.Key.SrcPort), r.Has&flow.HasKey != 0
	}, func(r *flow.Record, u uint64) {
		r.Has |= flow.HasKey
		if icmpProto(r) && u <= 0xff {
			r.Key.ICMPType = uint8(u)
			r.Has |= flow.HasICMPKey
			return
		}
		r.Key.SrcPort = uint16(u)
	}))
	reg(uintAcc("dst_port", 16, func(r *flow.Record) (uint64, bool) {
		if isICMP(r) {
			return uint64(r.Key.ICMPCode), true
		}
		return uint64(r.Key.DstPort), r.Has&flow.HasKey != 0
	}, func(r *flow.Record, u uint64) {
		r.Has |= flow.HasKey
		if icmpProto(r) && u <= 0xff {
			r.Key.ICMPCode = uint8(u)
			r.Has |= flow.HasICMPKey
			return
		}
		r.Key.DstPort = uint16(u)
	}))
	// icmp_type and icmp_code are for formats with keys of their own
	// (nfdump's icmp_type, IPFIX icmpTypeIPv4 ...); read for a flow that is
	// not ICMP they are ignored.
	reg(uintAcc("icmp_type", 8, func(r *flow.Record) (uint64, bool) { return uint64(r.Key.ICMPType), isICMP(r) },
		func(r *flow.Record, u uint64) {
			if icmpProto(r) {
				r.Key.ICMPType = uint8(u)
				r.Has |= flow.HasICMPKey
			}
		}))
	reg(uintAcc("icmp_code", 8, func(r *flow.Record) (uint64, bool) { return uint64(r.Key.ICMPCode), isICMP(r) },
		func(r *flow.Record, u uint64) {
			if icmpProto(r) {
				r.Key.ICMPCode = uint8(u)
				r.Has |= flow.HasICMPKey
			}
		}))
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
		}, func(r *flow.Record, u uint64) {
			// as the NetFlow/IPFIX decoders do: flags are Argus's
			// TCP_PERF object, whose dst side is there only with HasDst
			r.TCP.Side[d].Flags = uint8(u)
			if r.TCP.Object == 0 {
				r.TCP.Object = flow.TCPPerf
			}
			if d == 1 {
				r.TCP.HasDst = true
			}
			r.Has |= flow.HasTCP
		}))
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
	finish()
}

func icmpProto(r *flow.Record) bool {
	return r.Has&flow.HasKey != 0 && (r.Key.Proto == 1 || r.Key.Proto == 58)
}

// isICMP reports whether r is an ICMP or ICMPv6 flow with its type and
// code in the key.
func isICMP(r *flow.Record) bool { return r.Has&flow.HasICMPKey != 0 && icmpProto(r) }

// finish gives every accessor its id (CanonicalFields order), Has group,
// and what a written value carries.
func finish() {
	groups := map[string]flow.Group{
		"start_time": flow.HasTime, "last_time": flow.HasTime, "duration": flow.HasTime,
		"src_start_time": flow.HasDirTimes, "src_last_time": flow.HasDirTimes,
		"dst_start_time": flow.HasDirTimes, "dst_last_time": flow.HasDirTimes,
		"src_addr": flow.HasKey, "dst_addr": flow.HasKey, "protocol": flow.HasKey,
		"src_port": flow.HasKey | flow.HasICMPKey, "dst_port": flow.HasKey | flow.HasICMPKey,
		"icmp_type": flow.HasICMPKey, "icmp_code": flow.HasICMPKey,
		"bytes": flow.HasMetrics, "pkts": flow.HasMetrics, "app_bytes": flow.HasAppBytes,
		"src_tos": flow.HasIPAttr, "dst_tos": flow.HasIPAttr, "src_ttl": flow.HasIPAttr, "dst_ttl": flow.HasIPAttr,
		"src_vid": flow.HasVLAN, "dst_vid": flow.HasVLAN,
		"src_tcp_flags": flow.HasTCP, "dst_tcp_flags": flow.HasTCP, "src_mss": flow.HasTCP,
		"src_mac": flow.HasMAC, "dst_mac": flow.HasMAC,
		"src_country": flow.HasCountry, "dst_country": flow.HasCountry,
		"src_as": flow.HasASN, "dst_as": flow.HasASN, "seq": flow.HasSeq, "label": flow.HasLabel,
		"zeek_uid": flow.HasZeek, "zeek_service": flow.HasZeek, "zeek_history": flow.HasZeek,
		"zeek_conn_state": flow.HasZeek, "community_id": flow.HasCommunityID,
		"in_if": flow.HasIfaces, "out_if": flow.HasIfaces, "next_hop": flow.HasNextHop,
		"bgp_next_hop": flow.HasNextHop, "sampling_rate": flow.HasSampling,
		"obs_domain": flow.HasExporter, "exporter_addr": flow.HasExporter,
	}
	for _, d := range [2]string{"src_", "dst_"} {
		groups[d+"bytes"], groups[d+"pkts"], groups[d+"app_bytes"] = flow.HasMetrics, flow.HasMetrics, flow.HasAppBytes
	}
	order := canonicalOrder()
	if len(order) > MaxFields {
		panic("mappings: more canonical fields than a FieldSet holds")
	}
	for i, n := range order {
		a := accessors[n]
		a.id, a.group = i, groups[n]
		a.writes.Add(i)
	}
	fieldNames = order
	for _, n := range [...]string{"bytes", "pkts", "app_bytes", "duration"} {
		accessors[n].derived = true
	}
	for _, n := range [...]string{"dst_pkts", "dst_bytes", "dst_app_bytes"} {
		accessors[n].reverse = true
	}
	alias := func(a, b string) {
		accessors[a].writes.Add(accessors[b].id)
		accessors[b].writes.Add(accessors[a].id)
	}
	alias("src_port", "icmp_type")
	alias("dst_port", "icmp_code")
	accessors["duration"].writes.Add(accessors["last_time"].id)
}

// canonicalKnown reports whether name is a canonical field of
// flow/fields.csv.
func canonicalKnown(name string) bool {
	_, ok := flow.FieldByName(name)
	return ok
}
