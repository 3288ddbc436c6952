package flow

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
)

// CommunityIDLen is the length of a version 1 Community ID text: "1:" and
// the 28-character padded base64 form of a 20-byte SHA-1 digest.
const CommunityIDLen = 2 + 28

// Protocol numbers the Community ID treats specially.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// CommunityID appends to dst the version 1 Community ID
// (https://github.com/corelight/community-id-spec) of the flow k with the
// given seed (0 unless the operator chose another), and returns the
// extended slice and true; it returns dst unchanged and false when k is
// not an IP flow the spec covers, for which the spec has an ID be left
// empty. It allocates only when dst lacks CommunityIDLen bytes of spare
// capacity (about 100 ns for IPv4, 115 ns for IPv6 on one core: one SHA-1
// block).
//
// k is read as a packet sent from k.Src to k.Dst: for ICMP (protocol 1) and
// ICMPv6 (58) k.ICMPType and k.ICMPCode must hold the type and code of such
// a packet (Record.Has HasICMPKey; the ports are ignored), for TCP, UDP
// and SCTP k.SrcPort and k.DstPort its ports. k.Src and k.Dst must both be
// IPv4 or both IPv6 (an IPv4-mapped IPv6 address is hashed as IPv6, as it
// was on the wire), and k.Kind Kind5Tuple or KindNone.
//
// The SHA-1 input is, in network byte order:
//
//	seed   2 bytes
//	saddr  4 or 16 bytes
//	daddr  4 or 16 bytes
//	proto  1 byte
//	pad    1 byte, 0
//	sport  2 bytes   only for TCP, UDP, SCTP, ICMP, ICMPv6
//	dport  2 bytes   only for TCP, UDP, SCTP, ICMP, ICMPv6
//
// The endpoints are put in order so that both directions of a flow get one
// ID: (saddr, sport) is the smaller of the two address and port pairs,
// compared as big-endian bytes, addresses first. For ICMP the "ports" are
// the type and the type's counterpart when the type has one, ordered like
// ports (the code is left out); a type without a counterpart is one-way:
// its ports are type and code and its endpoints are never swapped, so an
// error from A to B and one from B to A get different IDs. The pairs are
// Zeek's: ICMP echo 8/0, timestamp 13/14, information 15/16, router
// solicitation/advertisement 10/9, address mask 17/18; ICMPv6 echo
// 128/129, multicast listener query/report 130/131, router 133/134,
// neighbour 135/136, node information 139/140, home agent address
// discovery 144/145.
func CommunityID(dst []byte, k *Key, seed uint16) (_ []byte, ok bool) {
	if k.Kind != Kind5Tuple && k.Kind != KindNone {
		return dst, false
	}
	var in [2 + 16 + 16 + 1 + 1 + 2 + 2]byte
	in[0], in[1] = byte(seed>>8), byte(seed)
	n := 2
	sa, da := k.Src, k.Dst
	switch {
	case sa.Is4() && da.Is4():
		n += 4
	case sa.Is6() && da.Is6():
		n += 16
	default:
		return dst, false
	}
	sp, dp := k.SrcPort, k.DstPort
	ports, oneWay := true, false
	switch k.Proto {
	case protoTCP, protoUDP, protoSCTP:
	case protoICMP, protoICMPv6:
		sp, dp, oneWay = icmpPorts(k.Proto, k.ICMPType, k.ICMPCode)
	default:
		ports = false
		sp, dp = 0, 0
	}
	if !oneWay {
		// Swap when (sa, sp) > (da, dp); equal pairs need no swap.
		if c := sa.Compare(da); c > 0 || c == 0 && sp > dp {
			sa, da = da, sa
			sp, dp = dp, sp
		}
	}
	alen := n - 2
	putAddr(in[2:], sa, alen)
	putAddr(in[n:], da, alen)
	n += alen
	in[n], in[n+1] = k.Proto, 0
	n += 2
	if ports {
		in[n], in[n+1], in[n+2], in[n+3] = byte(sp>>8), byte(sp), byte(dp>>8), byte(dp)
		n += 4
	}
	sum := sha1.Sum(in[:n])
	dst = append(dst, "1:"...)
	m := len(dst)
	dst = append(dst, "0123456789012345678901234567"...) // room for the base64 text
	base64.StdEncoding.Encode(dst[m:], sum[:])
	return dst, true
}

// putAddr writes a's n (4 or 16) address bytes to b.
func putAddr(b []byte, a netip.Addr, n int) {
	if n == 4 {
		v := a.As4()
		copy(b, v[:])
		return
	}
	v := a.As16()
	copy(b, v[:])
}

// icmpPorts maps an ICMP or ICMPv6 type and code to the port pair the
// Community ID hashes, as Zeek does (ICMP4_counterpart/ICMP6_counterpart in
// Zeek's ICMP analyzer, which the spec adopts): a request or reply type
// pairs with its counterpart type and the code is left out; any other
// type is one-way and pairs with its code.
func icmpPorts(proto, typ, code uint8) (sp, dp uint16, oneWay bool) {
	var c uint8
	ok := true
	if proto == protoICMP {
		switch typ {
		case 8, 0: // echo request, echo reply
			c = 8 - typ
		case 13, 14: // timestamp, timestamp reply
			c = 27 - typ
		case 15, 16: // information request, reply
			c = 31 - typ
		case 10, 9: // router solicitation, advertisement
			c = 19 - typ
		case 17, 18: // address mask request, reply
			c = 35 - typ
		default:
			ok = false
		}
	} else {
		switch typ {
		case 128, 129: // echo request, reply
			c = uint8(257 - int(typ))
		case 130, 131: // multicast listener query, report
			c = uint8(261 - int(typ))
		case 133, 134: // router solicitation, advertisement
			c = uint8(267 - int(typ))
		case 135, 136: // neighbor solicitation, advertisement
			c = uint8(271 - int(typ))
		case 139, 140: // node information (who-are-you) query, reply
			c = uint8(279 - int(typ))
		case 144, 145: // home agent address discovery request, reply
			c = uint8(289 - int(typ))
		default:
			ok = false
		}
	}
	if !ok {
		return uint16(typ), uint16(code), true
	}
	return uint16(typ), uint16(c), false
}

// SetCommunityID gives r its Community ID with the given seed, unless it
// already has one (HasCommunityID: a Zeek log's community_id column, kept
// as read; clear the bit first to recompute). The text is appended to
// arena and r.CommunityID points at it, so r.CommunityID stays valid as
// long as the caller does not overwrite that part of arena: reuse one
// arena per batch of records (truncate it to [:0] when the batch has been
// written), or Detach the record. It returns the grown arena and whether r
// has an ID afterwards; it does not allocate when arena has
// CommunityIDLen bytes of spare capacity.
//
// r gets no ID when its key is not an IP flow (HasKey unset, a layer-2,
// ARP or MPLS key), when an ICMP or ICMPv6 key lacks its type and code
// (HasICMPKey unset), and when a TCP, UDP or SCTP key is a fragment key
// (HasFragKey: the ports are unknown) or an SCTP key has a port 0 (which
// SCTP forbids: the key has no ports), as the spec allows ("an empty
// string") rather than an ID no other monitor would produce.
//
// The key is read as CommunityID reads it, as NetFlow, IPFIX and Zeek
// carry it. Argus keys an echo flow by its request with Src the requester,
// which gives the right ID, but argus 3.0.8.2 and our sensor key an orphan
// ICMPv4 echo reply (type 0) oriented as its request (Src is the reply's
// destination), and an ICMPv6 router or neighbour advertisement as a
// solicitation (type 133, 135) from the advertiser: for those records the
// ID is that of the pair's other message, not of the flow's packets. A
// sensor should compute the ID from the flow's first packet instead
// (CommunityID on a Key of that packet's addresses, type and code).
func (r *Record) SetCommunityID(arena []byte, seed uint16) (_ []byte, ok bool) {
	if r.Has&HasCommunityID != 0 {
		return arena, true
	}
	if r.Has&HasKey == 0 {
		return arena, false
	}
	switch r.Key.Proto {
	case protoICMP, protoICMPv6:
		if r.Has&HasICMPKey == 0 {
			return arena, false
		}
	case protoTCP, protoUDP:
		if r.Has&HasFragKey != 0 {
			return arena, false
		}
	case protoSCTP:
		// SCTP forbids port 0 (RFC 9260 3.1): a 0 is a key without
		// ports (our sensor's and argus's SCTP keys have none).
		if r.Has&HasFragKey != 0 || r.Key.SrcPort == 0 || r.Key.DstPort == 0 {
			return arena, false
		}
	}
	n := len(arena)
	arena, ok = CommunityID(arena, &r.Key, seed)
	if !ok {
		return arena, false
	}
	r.CommunityID = arena[n:len(arena):len(arena)]
	r.Has |= HasCommunityID
	return arena, true
}

// SetCommunityIDs gives each flow record of recs that has an IP flow key
// and no Community ID its ID with seed, in arena (emptied first, and grown
// once to hold a whole batch so that the IDs of a batch never move). A
// record that carries an ID text already (the Zeek reader sets the text,
// not the bit) keeps it and gets the bit. It returns the arena, to be
// reused for the next batch.
func SetCommunityIDs(recs []Record, arena []byte, seed uint16) []byte {
	if need := len(recs) * CommunityIDLen; cap(arena) < need {
		arena = make([]byte, 0, need)
	}
	arena = arena[:0]
	for i := range recs {
		r := &recs[i]
		if r.Type == TypeMgmt {
			continue
		}
		if r.CommunityID != nil {
			r.Has |= HasCommunityID
			continue
		}
		arena, _ = r.SetCommunityID(arena, seed)
	}
	return arena
}
