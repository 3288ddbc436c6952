package filter

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/flow"
)

// class is the lexical class of a value word.
type class uint8

const (
	clName class = iota
	clNum
	clFloat
	clIPv4
	clIPv6
	clMAC
	clUUID
	clRange
	clString
)

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// classOf classifies a value word the way ra's scanner does.
func classOf(s string) class {
	if _, ok := parseNum(s); ok {
		return clNum
	}
	if isFloat(s) {
		return clFloat
	}
	if strings.Count(s, ".") == 3 && !strings.Contains(s, ":") {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return clIPv4
		}
	}
	if parts := strings.Split(s, ":"); len(parts) == 6 {
		ok := true
		for _, p := range parts {
			if len(p) < 1 || len(p) > 2 || !allHex(p) {
				ok = false
			}
		}
		if ok {
			return clMAC
		}
	}
	if strings.Contains(s, ":") {
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() && a.Zone() == "" {
			return clIPv6
		}
	}
	if parts := strings.Split(s, "-"); len(parts) == 5 && len(parts[0]) == 8 && len(parts[1]) == 4 &&
		len(parts[2]) == 4 && len(parts[3]) == 4 && len(parts[4]) == 12 && allHex(strings.Join(parts, "")) {
		return clUUID
	}
	if a, b, ok := strings.Cut(s, "-"); ok && allDigits(a) && allDigits(b) {
		return clRange
	}
	return clName
}

// parseNum parses a signed decimal or 0x-hex integer.
func parseNum(s string) (int64, bool) {
	neg := false
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		s, neg = s[1:], true
	}
	var v uint64
	var err error
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") && allHex(s[2:]) {
		v, err = strconv.ParseUint(s[2:], 16, 64)
	} else if allDigits(s) {
		v, err = strconv.ParseUint(s, 10, 64)
	} else {
		return 0, false
	}
	if err != nil || v > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// isFloat reports N.N or .N (optionally signed).
func isFloat(s string) bool {
	s = strings.TrimLeft(s, "+-")
	a, b, ok := strings.Cut(s, ".")
	return ok && (a == "" || allDigits(a)) && allDigits(b)
}

// ---- combinators ----

func andNode(a, b node) node { return func(r *flow.Record) bool { return a(r) && b(r) } }
func orNode(a, b node) node  { return func(r *flow.Record) bool { return a(r) || b(r) } }
func notNode(a node) node    { return func(r *flow.Record) bool { return !a(r) } }

// sides applies a per-direction test according to d: src (0), dst (1),
// both, or either (the default).
func sides(d dir, f func(r *flow.Record, i int) bool) node {
	switch d {
	case dirSrc:
		return func(r *flow.Record) bool { return f(r, 0) }
	case dirDst:
		return func(r *flow.Record) bool { return f(r, 1) }
	case dirAnd:
		return func(r *flow.Record) bool { return f(r, 0) && f(r, 1) }
	}
	return func(r *flow.Record) bool { return f(r, 0) || f(r, 1) }
}

// andProto restricts n to records of protocol qualifier k (none: n).
func andProto(k kw, n node) node {
	if k == kwNone || k == kwLink {
		return n
	}
	pn, err := pnameNode(k)
	if err != nil {
		return n
	}
	return andNode(pn, n)
}

func cmpI(op relop, x, v int64) bool {
	switch op {
	case opNE:
		return x != v
	case opLT:
		return x < v
	case opLE:
		return x <= v
	case opGT:
		return x > v
	case opGE:
		return x >= v
	}
	return x == v
}

func cmpU(op relop, x uint64, v int64) bool {
	if x > math.MaxInt64 {
		return cmpI(op, 1, 0) // x is larger than any v
	}
	return cmpI(op, int64(x), v)
}

// cmpF compares in float32, as ra does.
func cmpF(op relop, x float64, v float32) bool {
	a := float32(x)
	switch op {
	case opNE:
		return a != v
	case opLT:
		return a < v
	case opLE:
		return a <= v
	case opGT:
		return a > v
	case opGE:
		return a >= v
	}
	return a == v
}

// ---- record helpers ----

func family(r *flow.Record) flow.AddrType {
	if r.Key.AddrType != 0 {
		return r.Key.AddrType
	}
	switch {
	case r.Key.Src.Is4():
		return flow.AddrIPv4
	case r.Key.Src.Is6():
		return flow.AddrIPv6
	}
	return 0
}

func isIP(r *flow.Record) bool {
	f := family(r)
	return f == flow.AddrIPv4 || f == flow.AddrIPv6
}

func isProto(r *flow.Record, p uint8) bool { return isIP(r) && r.Key.Proto == p }
func isTCP(r *flow.Record) bool            { return isProto(r, 6) }

// etherType returns the Ethernet type of the flow's network layer.
func etherType(r *flow.Record) (uint16, bool) {
	switch family(r) {
	case flow.AddrIPv4:
		return 0x0800, true
	case flow.AddrIPv6:
		return 0x86dd, true
	case flow.AddrARP:
		return 0x0806, true
	case flow.AddrRARP:
		return 0x8035, true
	case flow.AddrEther:
		return r.Key.EtherType, true
	}
	switch r.Key.Kind {
	case flow.KindARP:
		return 0x0806, true
	case flow.KindMPLS:
		return 0x8847, true
	case flow.KindVLAN:
		return 0x8100, true
	}
	return 0, false
}

// icmpTC returns the ICMP type and code of an ICMP (or ICMPv6) flow.
func icmpTC(r *flow.Record) (typ, code uint8, v6, ok bool) {
	if !isIP(r) || r.Key.Proto != 1 && r.Key.Proto != 58 {
		return 0, 0, false, false
	}
	v6 = r.Key.Proto == 58
	switch {
	case r.Has&flow.HasICMPKey != 0:
		return r.Key.ICMPType, r.Key.ICMPCode, v6, true
	case r.Has&flow.HasICMP != 0:
		return r.ICMP.Type, r.ICMP.Code, v6, true
	}
	return 0, 0, v6, false
}

// macs returns the flow's source and destination hardware addresses.
func macs(r *flow.Record) (src, dst [6]byte, ok bool) {
	if r.Has&flow.HasMAC != 0 {
		return r.MAC.Src, r.MAC.Dst, true
	}
	if family(r) == flow.AddrEther || r.Key.Kind == flow.KindL2Matrix {
		return r.Key.SrcMAC, r.Key.DstMAC, true
	}
	return src, dst, false
}

func addrOf(r *flow.Record, i int) netip.Addr {
	if i == 0 {
		return r.Key.Src
	}
	return r.Key.Dst
}

// TCP status bits (argus-format.md §7.7).
const (
	stSawSyn     = 0x1
	stSynSent    = 0x2
	stEstab      = 0x4
	stFin        = 0x8
	stFinAck     = 0x10
	stNormal     = 0x20
	stCloseWait  = 0x40
	stPortReuse  = 0x80
	stSrcRetrans = 0x100
	stSrcWinShut = 0x400
	stSrcCong    = 0x4000
	stSrcOOO     = 0x10000
	stSrcDup     = 0x40000
	stSrcGap     = 0x400000
)

func tcpStatus(r *flow.Record, bit uint32) bool {
	return isTCP(r) && r.Has&flow.HasTCP != 0 && r.TCP.Status&bit != 0
}

// tcpSide reports whether the TCP object carries side i.
func tcpSide(r *flow.Record, i int) bool {
	return isTCP(r) && r.Has&flow.HasTCP != 0 && (i == 0 || r.TCP.HasDst || r.TCP.Object == flow.TCPStatus)
}

// tcpOptions returns the TCP option bits seen at SYN (argus-format.md
// §7.7); 0 for flows that are not TCP, whatever the record holds.
func tcpOptions(r *flow.Record) uint32 {
	if !isTCP(r) || r.Has&flow.HasTCP == 0 {
		return 0
	}
	return r.TCP.Options
}

// gapBytes returns the bytes missing from direction i of a TCP flow (ra's
// sgap/dgap, ArgusFetchSrcGap): computed from the TCP_PERF sequence
// counters. Records with only a TCP init or status object carry no
// counters: their gap is 0 unless the status has the direction's GAP bit,
// in which case the amount is unknown (ok false).
func gapBytes(r *flow.Record, i int) (g uint64, ok bool) {
	if !tcpSide(r, i) {
		return 0, false
	}
	if r.TCP.Object != flow.TCPPerf {
		return 0, r.TCP.Status&(stSrcGap<<uint(i)) == 0
	}
	s := &r.TCP.Side[i]
	if s.SeqBase == s.AckBytes || s.Seq == 0 || s.Retrans != 0 {
		return 0, true
	}
	d := int64(s.Seq - s.SeqBase)
	if d == int64(s.Bytes) || d == int64(s.Bytes-s.WinBytes) {
		return 0, true
	}
	if d -= int64(s.Bytes); d <= 0 {
		return 0, true
	}
	return uint64(d - 1), true
}

// inodeAddr returns the ICMP intermediate node of a flow: the sender of an
// ICMP error mapped onto an IPv4 or IPv6 flow (the ICMP-mapped DSR's
// osrcaddr, argus-format.md §7.13; what ra prints as inode).
func inodeAddr(r *flow.Record) (netip.Addr, bool) {
	if r.Has&flow.HasICMPMap == 0 || r.ICMPMap.Qual&7 == 0 || !isIP(r) {
		return netip.Addr{}, false
	}
	return r.ICMPMap.OSrc, r.ICMPMap.OSrc.IsValid()
}

// cocodeNode is "cocode" alone: the record carries a country code (for
// the direction d).
func cocodeNode(d dir) node {
	return sides(d, func(r *flow.Record, i int) bool {
		return r.Has&flow.HasCountry != 0 && r.Country[i] != [2]byte{}
	})
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// ---- primitive nodes ----

// pnameNode is a protocol name used alone ("tcp", "ip", "vlan").
func pnameNode(k kw) (node, error) {
	ipProto := func(p uint8) node { return func(r *flow.Record) bool { return isProto(r, p) } }
	ether := func(t uint16) node {
		return func(r *flow.Record) bool { e, ok := etherType(r); return ok && e == t }
	}
	switch k {
	case kwIP:
		return isIP, nil
	case kwIPv4:
		return func(r *flow.Record) bool { return family(r) == flow.AddrIPv4 }, nil
	case kwIPv6:
		return func(r *flow.Record) bool { return family(r) == flow.AddrIPv6 }, nil
	case kwARP:
		return func(r *flow.Record) bool {
			return family(r) == flow.AddrARP || r.Key.Kind == flow.KindARP && family(r) != flow.AddrRARP
		}, nil
	case kwRARP:
		return func(r *flow.Record) bool { return family(r) == flow.AddrRARP }, nil
	case kwTCP:
		return ipProto(6), nil
	case kwUDP:
		return ipProto(17), nil
	case kwICMP:
		return ipProto(1), nil
	case kwICMP6:
		return ipProto(58), nil
	case kwIGMP:
		return ipProto(2), nil
	case kwESP:
		return ipProto(50), nil
	case kwRTP:
		return func(r *flow.Record) bool { return isProto(r, 17) && r.Key.TpProto == 0x0A }, nil
	case kwRTCP:
		return func(r *flow.Record) bool { return isProto(r, 17) && (r.Key.TpProto == 0x09 || r.Key.TpProto == 0xCB) }, nil
	case kwUDT:
		return func(r *flow.Record) bool { return isProto(r, 17) && r.Key.TpProto == 0x0D }, nil
	case kwMPLS:
		return func(r *flow.Record) bool { return r.Has&flow.HasMPLS != 0 || r.Key.Kind == flow.KindMPLS }, nil
	case kwVLAN:
		return func(r *flow.Record) bool { return r.Has&flow.HasVLAN != 0 || r.Key.Kind == flow.KindVLAN }, nil
	case kwVXLAN:
		return func(r *flow.Record) bool { return r.Has&flow.HasVXLAN != 0 }, nil
	case kwGRE:
		return func(r *flow.Record) bool { return r.Has&flow.HasGRE != 0 }, nil
	case kwGeneve:
		return func(r *flow.Record) bool { return r.Has&flow.HasGeneve != 0 }, nil
	case kwDECnet:
		return ether(0x6003), nil
	case kwLAT:
		return ether(0x6004), nil
	case kwMOPDL:
		return ether(0x6001), nil
	case kwMOPRC:
		return ether(0x6002), nil
	case kwLink:
		return nil, fmt.Errorf("%w: a link-layer qualifier needs host, proto, broadcast or multicast", ErrSyntax)
	}
	return nil, ErrUnsupported
}

func snameNode(k kw) node {
	cause := func(c flow.Cause) node { return func(r *flow.Record) bool { return r.Cause&0xF0 == c } }
	status := func(bit uint32) node { return func(r *flow.Record) bool { return tcpStatus(r, bit) } }
	switch k {
	case kwStart:
		return cause(flow.CauseStart)
	case kwStatus:
		return cause(flow.CauseStatus)
	case kwStop:
		return cause(flow.CauseStop)
	case kwTimeout:
		return cause(flow.CauseTimeout)
	case kwShut:
		return cause(flow.CauseShutdown)
	case kwError:
		return cause(flow.CauseError)
	case kwMan:
		return func(r *flow.Record) bool { return r.Type&0xF0 == flow.TypeMgmt }
	case kwFar:
		return func(r *flow.Record) bool {
			t := r.Type & 0xF0
			return t == flow.TypeFlow || t == flow.TypeNetFlow || t == flow.TypeAFlow
		}
	case kwEvent:
		return func(r *flow.Record) bool { return r.Type&0xF0 == flow.TypeEvent }
	case kwIndex:
		return func(r *flow.Record) bool { return r.Type&0xF0 == flow.TypeIndex }
	case kwNormal:
		return status(stNormal)
	case kwWait:
		return status(stCloseWait)
	case kwSynAck:
		return status(stSynSent)
	case kwFinAck:
		return status(stFinAck)
	case kwEst:
		return func(r *flow.Record) bool {
			if isTCP(r) {
				return tcpStatus(r, stEstab)
			}
			return isIP(r) && r.Pkts[0] > 0 && r.Pkts[1] > 0
		}
	case kwICMPMap:
		return func(r *flow.Record) bool { return r.Has&flow.HasICMPMap != 0 && r.ICMPMap.Qual&7 != 0 }
	case kwEcho:
		return func(r *flow.Record) bool {
			t, _, v6, ok := icmpTC(r)
			if !ok {
				return false
			}
			if v6 {
				return t == 128 || t == 129
			}
			return t == 8 || t == 0
		}
	case kwUnreach:
		return icmpKind(3, 1, 1)
	case kwRedirect:
		return icmpKind(5, 137, 2)
	case kwTimexed:
		return icmpKind(11, 3, 4)
	case kwRtr, kwMbr, kwLvg:
		return func(r *flow.Record) bool {
			if !isProto(r, 2) {
				return false
			}
			t := r.Key.ICMPType
			switch k {
			case kwRtr:
				return t == 0x11
			case kwLvg:
				return t == 0x17
			}
			return t != 0x11
		}
	}
	if k >= kwTCPOpt && k <= kwDECN {
		bit := tcpOptBits[k-kwTCPOpt]
		return func(r *flow.Record) bool { return tcpOptions(r)&bit != 0 }
	}
	if k >= kwUnrNet && k <= kwUnrNetPre {
		code := uint8(k - kwUnrNet)
		return func(r *flow.Record) bool {
			if t, c, v6, ok := icmpTC(r); ok && !v6 && t == 3 && c == code {
				return true
			}
			return r.Has&flow.HasICMPMap != 0 && r.ICMPMap.Qual&1 != 0 && r.ICMPMap.Code == code
		}
	}
	return func(*flow.Record) bool { return false }
}

// icmpKind matches ICMP flows of type t4 (ICMPv6 t6) and flows carrying a
// mapped ICMP error with qualifier bit q.
func icmpKind(t4, t6, q uint8) node {
	return func(r *flow.Record) bool {
		if t, _, v6, ok := icmpTC(r); ok && (!v6 && t == t4 || v6 && t == t6) {
			return true
		}
		return r.Has&flow.HasICMPMap != 0 && r.ICMPMap.Qual&q != 0
	}
}

// tnameNode builds a directional TCP/IP indicator.
func tnameNode(k kw, d dir) (node, error) {
	flag := func(bit uint8) node {
		return sides(d, func(r *flow.Record, i int) bool {
			return tcpSide(r, i) && r.TCP.Side[i].Flags&bit != 0
		})
	}
	status := func(srcBit uint32) node {
		return sides(d, func(r *flow.Record, i int) bool { return tcpStatus(r, srcBit<<uint(i)) })
	}
	switch k {
	case kwFin:
		return flag(0x01), nil
	case kwSyn:
		return flag(0x02), nil
	case kwRst:
		return flag(0x04), nil
	case kwPush:
		return flag(0x08), nil
	case kwAck:
		return flag(0x10), nil
	case kwUrg:
		return flag(0x20), nil
	case kwEce:
		return flag(0x40), nil
	case kwCwr:
		return flag(0x80), nil
	case kwRetrans:
		return sides(d, func(r *flow.Record, i int) bool {
			if tcpStatus(r, stSrcRetrans<<uint(i)) {
				return true
			}
			return isProto(r, 50) && r.Has&flow.HasESP != 0 && r.ESP.Status&(0x10<<uint(i)) != 0
		}), nil
	case kwOOO:
		return status(stSrcOOO), nil
	case kwDup:
		return status(stSrcDup), nil
	case kwWinShut:
		return status(stSrcWinShut), nil
	case kwECN:
		return status(stSrcCong), nil
	case kwMultipath:
		return sides(d, func(r *flow.Record, i int) bool {
			return r.Has&flow.HasMAC != 0 && r.MAC.Flags&(1<<uint(i)) != 0
		}), nil
	case kwFrag:
		return sides(d, func(r *flow.Record, i int) bool {
			return isIP(r) && r.Has&flow.HasIPAttr != 0 && r.IPAttr.Present&(0x10<<uint(i)) != 0
		}), nil
	case kwFragOnly:
		return func(r *flow.Record) bool { return r.Has&flow.HasFragKey != 0 }, nil
	case kwReuse:
		return func(r *flow.Record) bool { return tcpStatus(r, stPortReuse) }, nil
	}
	return nil, ErrUnsupported
}

func castNode(k kw, proto kw) node {
	bcastMAC := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	bcastIP := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	mac := func(r *flow.Record) bool {
		s, d, ok := macs(r)
		if !ok {
			return false
		}
		if k == kwBroadcast {
			return s == bcastMAC || d == bcastMAC
		}
		return s[0]&1 != 0 || d[0]&1 != 0
	}
	ip := func(r *flow.Record) bool {
		if !isIP(r) {
			return false
		}
		if k == kwBroadcast {
			return r.Key.Src == bcastIP || r.Key.Dst == bcastIP
		}
		return r.Key.Src.IsMulticast() || r.Key.Dst.IsMulticast()
	}
	switch proto {
	case kwLink:
		return mac
	case kwNone:
		if k == kwBroadcast {
			return func(r *flow.Record) bool { return ip(r) || mac(r) }
		}
		return ip
	}
	return andProto(proto, ip)
}

// ---- values ----

// genValue builds the test for one value under qualifiers q.
func (p *parser) genValue(q qual, op relop, rel bool, t token) (node, error) {
	cls := clName
	if t.kind == tString {
		cls = clString
	} else if !t.escaped {
		cls = classOf(t.text)
	}
	switch q.attr {
	case kwNone, kwHost, kwNet:
		if rel {
			return nil, p.errAt(t, nil, "relational operator applied to an address")
		}
		return p.genAddr(q, cls, t)
	case kwPort:
		return p.genPort(q, op, rel, cls, t)
	case kwProto:
		return p.genProto(q, cls, t)
	case kwSrcID, kwInf:
		if rel {
			return nil, p.errAt(t, nil, "relational operator applied to %s", map[kw]string{kwSrcID: "srcid", kwInf: "inf"}[q.attr])
		}
		return p.genSrcID(q, cls, t)
	case kwCo:
		if rel && op != opEQ && op != opNE {
			return nil, p.errAt(t, nil, "a country code compares with eq or neq only")
		}
		if len(t.text) != 2 || cls != clName && cls != clString {
			return nil, p.errAt(t, nil, "%q is not a two-letter country code", t.text)
		}
		// ISO 3166 codes: compared without regard to case
		cc := [2]byte{upper(t.text[0]), upper(t.text[1])}
		ne := op == opNE
		return andProto(q.proto, sides(q.dir, func(r *flow.Record, i int) bool {
			if r.Has&flow.HasCountry == 0 || r.Country[i] == [2]byte{} {
				return false
			}
			c := r.Country[i]
			return ([2]byte{upper(c[0]), upper(c[1])} == cc) != ne
		})), nil
	}
	if isFqual(q.attr) {
		if cls != clNum && cls != clFloat {
			return nil, p.errAt(t, nil, "%q is not a number", t.text)
		}
		v, err := strconv.ParseFloat(t.text, 32)
		if err != nil {
			return nil, p.errAt(t, nil, "%q is not a number", t.text)
		}
		return andProto(q.proto, genFloat(q.attr, q.dir, op, float32(v))), nil
	}
	if cls != clNum {
		return nil, p.errAt(t, nil, "%q is not an integer", t.text)
	}
	v, _ := parseNum(t.text)
	if q.inode { // inode as N
		return andProto(q.proto, func(r *flow.Record) bool {
			return r.Has&flow.HasASN != 0 && (r.ASN.Present&4 != 0 || r.ASN.Inode != 0) && cmpU(op, uint64(r.ASN.Inode), v)
		}), nil
	}
	return andProto(q.proto, genInt(q.attr, q.dir, op, v)), nil
}

func (p *parser) genAddr(q qual, cls class, t token) (node, error) {
	switch cls {
	case clIPv4, clIPv6:
		a := netip.MustParseAddr(t.text)
		bits := -1
		var mask netip.Addr
		switch c := p.peek(); {
		case c.kind == tSlash:
			p.next()
			n := p.next()
			v, ok := parseNum(n.text)
			if n.kind != tWord || !ok || v < 0 || int(v) > a.BitLen() {
				return nil, p.errAt(n, nil, "bad prefix length %q", n.text)
			}
			bits = int(v)
		case keyword(c) == kwMask:
			p.next()
			n := p.next()
			m, err := netip.ParseAddr(n.text)
			if n.kind != tWord || err != nil || m.BitLen() != a.BitLen() {
				return nil, p.errAt(n, nil, "bad mask %q", n.text)
			}
			mask = m
		}
		if q.attr == kwNet && bits < 0 && !mask.IsValid() {
			bits = a.BitLen()
		}
		var test func(netip.Addr) bool
		switch {
		case mask.IsValid():
			ab, mb := a.As16(), mask.As16()
			is4 := a.Is4()
			test = func(x netip.Addr) bool {
				if x.Is4() != is4 {
					return false
				}
				xb := x.As16()
				for i := range xb {
					if xb[i]&mb[i] != ab[i]&mb[i] {
						return false
					}
				}
				return true
			}
		case bits >= 0:
			pfx := netip.PrefixFrom(a, bits).Masked()
			test = pfx.Contains
		default:
			test = func(x netip.Addr) bool { return x == a }
		}
		if q.inode {
			return andProto(q.proto, func(r *flow.Record) bool { a, ok := inodeAddr(r); return ok && test(a) }), nil
		}
		return andProto(q.proto, sides(q.dir, func(r *flow.Record, i int) bool { return test(addrOf(r, i)) })), nil
	case clMAC:
		if q.inode {
			return nil, p.errAt(t, nil, "inode needs an IP address, not %q", t.text)
		}
		if q.proto != kwNone && q.proto != kwLink || q.attr == kwNet {
			return nil, p.errAt(t, nil, "a MAC address needs \"ether host\"")
		}
		var m [6]byte
		for i, s := range strings.Split(t.text, ":") {
			b, _ := strconv.ParseUint(s, 16, 8)
			m[i] = byte(b)
		}
		return sides(q.dir, func(r *flow.Record, i int) bool {
			s, d, ok := macs(r)
			if i == 0 {
				return ok && s == m
			}
			return ok && d == m
		}), nil
	case clName, clString:
		if q.attr == kwNet {
			return nil, p.errAt(t, ErrUnknownName, "unknown network %q", t.text)
		}
		if p.cfg.resolve == nil {
			return nil, p.errAt(t, ErrUnknownName, "unknown host %q", t.text)
		}
		addrs, err := p.cfg.resolve(t.text)
		if err != nil || len(addrs) == 0 {
			return nil, p.errAt(t, ErrUnknownName, "unknown host %q", t.text)
		}
		addrs = append([]netip.Addr(nil), addrs...)
		if q.inode {
			return andProto(q.proto, func(r *flow.Record) bool {
				x, ok := inodeAddr(r)
				return ok && slices.Contains(addrs, x)
			}), nil
		}
		return andProto(q.proto, sides(q.dir, func(r *flow.Record, i int) bool {
			x := addrOf(r, i)
			for _, a := range addrs {
				if a == x {
					return true
				}
			}
			return false
		})), nil
	}
	return nil, p.errAt(t, nil, "%q is not an address", t.text)
}

func (p *parser) genPort(q qual, op relop, rel bool, cls class, t token) (node, error) {
	var lo, hi int64
	tcp, udp := true, true
	switch cls {
	case clNum:
		v, _ := parseNum(t.text)
		lo, hi = v, v
	case clRange:
		if rel {
			return nil, p.errAt(t, nil, "relational operator applied to a port range")
		}
		a, b, _ := strings.Cut(t.text, "-")
		lo, _ = parseNum(a)
		hi, _ = parseNum(b)
		if lo > hi {
			lo, hi = hi, lo
		}
	case clName:
		if rel {
			return nil, p.errAt(t, nil, "%q is not a number", t.text)
		}
		s, ok := services[t.text]
		if !ok {
			return nil, p.errAt(t, ErrUnknownName, "unknown service %q", t.text)
		}
		lo, hi = int64(s.port), int64(s.port)
		tcp, udp = s.tcp, s.udp
	default:
		return nil, p.errAt(t, nil, "%q is not a port", t.text)
	}
	switch q.proto {
	case kwNone, kwIP, kwIPv4, kwIPv6:
	case kwTCP:
		udp = false
	case kwUDP, kwRTP, kwRTCP, kwUDT:
		tcp = false
	default:
		return nil, p.errAt(t, nil, "port applied to a protocol without ports")
	}
	if !tcp && !udp {
		return nil, p.errAt(t, ErrUnknownName, "service %q is not defined for this protocol", t.text)
	}
	test := func(r *flow.Record, i int) bool {
		if !isIP(r) || !(tcp && r.Key.Proto == 6 || udp && r.Key.Proto == 17) {
			return false
		}
		x := int64(r.Key.SrcPort)
		if i == 1 {
			x = int64(r.Key.DstPort)
		}
		if lo != hi {
			return x >= lo && x <= hi
		}
		return cmpI(op, x, lo)
	}
	n := sides(q.dir, test)
	switch q.proto {
	case kwIPv4, kwIPv6, kwRTP, kwRTCP, kwUDT:
		n = andProto(q.proto, n)
	}
	return n, nil
}

func (p *parser) genProto(q qual, cls class, t token) (node, error) {
	if q.proto == kwLink {
		var v uint16
		switch cls {
		case clNum:
			n, _ := parseNum(t.text)
			if n < 0 || n > 0xffff {
				return nil, p.errAt(t, nil, "ether type %q out of range", t.text)
			}
			v = uint16(n)
		default:
			e, ok := etherTypes[t.text]
			if !ok {
				return nil, p.errAt(t, ErrUnknownName, "unknown ether type %q", t.text)
			}
			v = e
		}
		return func(r *flow.Record) bool { e, ok := etherType(r); return ok && e == v }, nil
	}
	var v uint8
	switch cls {
	case clNum:
		n, _ := parseNum(t.text)
		if n < 0 || n > 255 {
			return nil, p.errAt(t, nil, "protocol %q out of range", t.text)
		}
		v = uint8(n)
	default:
		n, ok := ipProtos[t.text]
		if !ok {
			return nil, p.errAt(t, ErrUnknownName, "unknown protocol %q", t.text)
		}
		v = n
	}
	switch q.proto {
	case kwNone, kwIP:
		return func(r *flow.Record) bool { return isProto(r, v) }, nil
	case kwIPv4:
		return func(r *flow.Record) bool { return family(r) == flow.AddrIPv4 && r.Key.Proto == v }, nil
	case kwIPv6:
		return func(r *flow.Record) bool { return family(r) == flow.AddrIPv6 && r.Key.Proto == v }, nil
	}
	return nil, p.errAt(t, nil, "proto applied to a protocol that does not encapsulate another")
}

func (p *parser) genSrcID(q qual, cls class, t token) (node, error) {
	if q.attr == kwInf {
		if len(t.text) == 0 || len(t.text) > 4 {
			return nil, p.errAt(t, nil, "interface name %q must have 1 to 4 characters", t.text)
		}
		var inf [4]byte
		copy(inf[:], t.text)
		return func(r *flow.Record) bool {
			return r.Has&flow.HasSrcID != 0 && r.SrcID.HasInf && r.SrcID.Inf == inf
		}, nil
	}
	var id [16]byte
	wide := false // 16-byte id (IPv6, UUID)
	var inf [4]byte
	hasInf := false
	switch cls {
	case clIPv4:
		a := netip.MustParseAddr(t.text).As4()
		copy(id[:], a[:])
	case clNum:
		v, _ := parseNum(t.text)
		if v < 0 || v > math.MaxUint32 {
			return nil, p.errAt(t, nil, "srcid %q out of range", t.text)
		}
		binary.BigEndian.PutUint32(id[:], uint32(v))
	case clIPv6:
		id = netip.MustParseAddr(t.text).As16()
		wide = true
	case clUUID:
		b, _ := hex.DecodeString(strings.ReplaceAll(t.text, "-", ""))
		copy(id[:], b)
		wide = true
	case clName, clString:
		if len(t.text) == 0 {
			return nil, p.errAt(t, nil, "empty srcid")
		}
		copy(id[:4], t.text) // ids are cut to 4 bytes on the wire
	default:
		return nil, p.errAt(t, nil, "%q is not a source id", t.text)
	}
	// optional "/inf" suffix
	if c := p.peek(); c.kind == tSlash {
		p.next()
		n := p.next()
		if n.kind != tWord || len(n.text) == 0 || len(n.text) > 4 {
			return nil, p.errAt(n, nil, "bad interface name %q", n.text)
		}
		copy(inf[:], n.text)
		hasInf = true
	}
	return func(r *flow.Record) bool {
		if r.Has&flow.HasSrcID == 0 {
			return false
		}
		s := &r.SrcID
		w := s.Type == flow.SrcIDIPv6 || s.Type == flow.SrcIDUUID
		if w != wide || s.ID != id {
			return false
		}
		return !hasInf || s.HasInf && s.Inf == inf
	}, nil
}

// genInt builds an integer attribute comparison.
func genInt(k kw, d dir, op relop, v int64) node {
	var get func(r *flow.Record, i int) (uint64, bool)
	switch k {
	case kwPkts:
		get = func(r *flow.Record, i int) (uint64, bool) { return r.Pkts[i], r.Has&flow.HasMetrics != 0 }
	case kwBytes:
		get = func(r *flow.Record, i int) (uint64, bool) { return r.Bytes[i], r.Has&flow.HasMetrics != 0 }
	case kwAppBytes:
		get = func(r *flow.Record, i int) (uint64, bool) {
			return r.AppBytes[i], r.Has&(flow.HasMetrics|flow.HasAppBytes) != 0
		}
	case kwTTL, kwTOS, kwDSB, kwIPID:
		get = func(r *flow.Record, i int) (uint64, bool) {
			if r.Has&flow.HasIPAttr == 0 || r.IPAttr.Present&(1<<uint(i)) == 0 {
				return 0, false
			}
			switch k {
			case kwTTL:
				return uint64(r.IPAttr.TTL[i]), true
			case kwTOS:
				return uint64(r.IPAttr.TOS[i]), true
			case kwDSB:
				return uint64(r.IPAttr.TOS[i] >> 2), true
			}
			return uint64(r.IPAttr.IPID[i]), true
		}
	case kwVID, kwVPRI:
		get = func(r *flow.Record, i int) (uint64, bool) {
			if r.Has&flow.HasVLAN == 0 || r.VLAN.Present&(1<<uint(i)) == 0 {
				return 0, false
			}
			if k == kwVID {
				return uint64(r.VLAN.TCI[i] & 0x0fff), true
			}
			return uint64(r.VLAN.TCI[i] >> 13), true
		}
	case kwMID:
		get = func(r *flow.Record, i int) (uint64, bool) {
			return uint64(r.MPLS.Label[i] >> 12), r.Has&flow.HasMPLS != 0 && r.MPLS.Count[i] > 0
		}
	case kwTCPBase:
		get = func(r *flow.Record, i int) (uint64, bool) { return uint64(r.TCP.Side[i].SeqBase), tcpSide(r, i) }
	case kwMaxSeg:
		get = func(r *flow.Record, i int) (uint64, bool) { return uint64(r.TCP.Side[i].MSS), tcpSide(r, i) }
	case kwLoss:
		get = func(r *flow.Record, i int) (uint64, bool) {
			if tcpSide(r, i) {
				return uint64(r.TCP.Side[i].Retrans), true
			}
			if i == 0 && isProto(r, 50) && r.Has&flow.HasESP != 0 {
				return uint64(r.ESP.LostSeq), true
			}
			return 0, false
		}
	case kwGap:
		get = gapBytes
	case kwASN:
		get = func(r *flow.Record, i int) (uint64, bool) {
			if i == 0 {
				return uint64(r.ASN.Src), r.Has&flow.HasASN != 0
			}
			return uint64(r.ASN.Dst), r.Has&flow.HasASN != 0
		}
	case kwNStroke:
		get = func(r *flow.Record, i int) (uint64, bool) { return uint64(r.Behavior[i]), r.Has&flow.HasBehavior != 0 }
	case kwSeq:
		return func(r *flow.Record) bool { return r.Has&flow.HasSeq != 0 && cmpU(op, uint64(r.Seq), v) }
	case kwSPI:
		return func(r *flow.Record) bool {
			switch {
			case r.Has&flow.HasESPKey != 0:
				return cmpU(op, uint64(r.Key.SPI), v)
			case r.Has&flow.HasESP != 0:
				return cmpU(op, uint64(r.ESP.SPI), v)
			}
			return false
		}
	case kwTrans:
		return func(r *flow.Record) bool {
			n := uint64(1)
			if r.Has&flow.HasAgr != 0 {
				n = uint64(r.Agr.Count)
			}
			return cmpU(op, n, v)
		}
	default:
		return func(*flow.Record) bool { return false }
	}
	return sides(d, func(r *flow.Record, i int) bool {
		x, ok := get(r, i)
		return ok && cmpU(op, x, v)
	})
}

// sideDur returns the duration of direction i in seconds, falling back to
// the record duration as ra does.
func sideDur(r *flow.Record, i int) float64 {
	if r.Has&flow.HasDirTimes != 0 {
		s, l := r.SrcStart, r.SrcLast
		if i == 1 {
			s, l = r.DstStart, r.DstLast
		}
		if d := float64(l-s) / 1e9; d > 0 {
			return d
		}
	}
	return float64(r.Last-r.Start) / 1e9
}

// genFloat builds a float attribute comparison. Units follow ra's
// printing: seconds for dur and tcprtt, packets/s for rate, bits/s for
// load, milliseconds for jitter and intpkt.
func genFloat(k kw, d dir, op relop, v float32) node {
	switch k {
	case kwDur:
		return func(r *flow.Record) bool {
			return r.Has&flow.HasTime != 0 && cmpF(op, float64(r.Last-r.Start)/1e9, v)
		}
	case kwAvgDur:
		return func(r *flow.Record) bool {
			if r.Has&flow.HasTime == 0 {
				return false
			}
			n := uint32(1)
			if r.Has&flow.HasAgr != 0 && r.Agr.Count > 0 {
				n = r.Agr.Count
			}
			return cmpF(op, float64(r.Last-r.Start)/1e9/float64(n), v)
		}
	case kwTCPRTT:
		return func(r *flow.Record) bool {
			return r.Has&flow.HasTCP != 0 && isTCP(r) && cmpF(op, float64(r.TCP.SynAck+r.TCP.AckDat)/1e6, v)
		}
	case kwRate, kwLoad:
		return sides(d, func(r *flow.Record, i int) bool {
			if r.Has&flow.HasMetrics == 0 {
				return false
			}
			x := 0.0
			if secs := sideDur(r, i); secs > 0 && r.Pkts[i] > 1 {
				pk := r.Pkts[i]
				if k == kwRate {
					x = float64(pk-1) / secs
				} else {
					x = float64(r.Bytes[i]-r.Bytes[i]/pk) * 8 / secs
				}
			}
			return cmpF(op, x, v)
		})
	case kwJitter, kwIntPkt:
		return sides(d, func(r *flow.Record, i int) bool {
			if r.Has&flow.HasJitter == 0 || r.Jitter.Present&(1<<uint(2*i)) == 0 {
				return false
			}
			s := &r.Jitter.Act[i]
			x := s.Mean // ns
			if k == kwJitter {
				x = s.StdDev
			}
			return cmpF(op, x/1e6, v)
		})
	}
	return func(*flow.Record) bool { return false }
}
