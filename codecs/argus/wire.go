package argus

import (
	"encoding/binary"
	"math"
	"net/netip"
)

var (
	be = binary.BigEndian
	le = binary.LittleEndian
)

// Record-header and DSR constants (argus-format.md §4, §6.2).
const (
	cookieV3 = 0xE5712DCB
	cookieV5 = 0xE57150CB
	cookieV2 = 0xE5617ACB

	marLen = 128

	dsrTransport = 0x01
	dsrFlow      = 0x02
	dsrTime      = 0x03
	dsrFlowHash  = 0x07
	dsrMetric    = 0x10
	dsrPSize     = 0x12
	dsrEncaps    = 0x20
	dsrNetwork   = 0x30
	dsrASN       = 0x32
	dsrICMP      = 0x34
	dsrVLAN      = 0x40
	dsrGRE       = 0x41
	dsrMAC       = 0x42
	dsrVXLAN     = 0x43
	dsrMPLS      = 0x44
	dsrGeneve    = 0x45
	dsrJitter    = 0x46
	dsrIPAttr    = 0x48
	dsrData      = 0x50
	dsrBehavior  = 0x54
	dsrScore     = 0x55
	dsrAgr       = 0x60
	dsrCor       = 0x62
	dsrCocode    = 0x64
	dsrLabel     = 0x66
	dsrGeo       = 0x68
	dsrLocal     = 0x6A

	// network DSR subtypes (§7.7)
	netEmpty     = 0x00
	netTCPInit   = 0x03
	netTCPStatus = 0x04
	netTCPPerf   = 0x05
	netARP       = 0x10
	netICMP      = 0x34
	netESP       = 0x38

	// MAR status id-type field (§5.1)
	idisMask   = 0x00E00000
	idisString = 0x00200000
	idisInt    = 0x00400000
	idisIPv6   = 0x00600000
	idisIPv4   = 0x00800000
	idisUUID   = 0x00A00000
	idIncInf   = 0x00100000
)

// dsrName names a DSR type for error messages.
func dsrName(t byte) string {
	switch t & 0x7F {
	case dsrTransport:
		return "transport"
	case dsrFlow:
		return "flow"
	case dsrTime:
		return "time"
	case dsrFlowHash:
		return "flow hash"
	case dsrMetric:
		return "metric"
	case dsrPSize:
		return "psize"
	case dsrEncaps:
		return "encaps"
	case dsrNetwork:
		return "network"
	case dsrASN:
		return "asn"
	case dsrICMP:
		return "icmp"
	case dsrVLAN:
		return "vlan"
	case dsrGRE:
		return "gre"
	case dsrMAC:
		return "mac"
	case dsrVXLAN:
		return "vxlan"
	case dsrMPLS:
		return "mpls"
	case dsrGeneve:
		return "geneve"
	case dsrJitter:
		return "jitter"
	case dsrIPAttr:
		return "ipattr"
	case dsrData:
		return "user data"
	case dsrBehavior:
		return "behavior"
	case dsrScore:
		return "score"
	case dsrAgr:
		return "agr"
	case dsrCor:
		return "cor"
	case dsrCocode:
		return "cocode"
	case dsrLabel:
		return "label"
	case dsrGeo:
		return "geo"
	case dsrLocal:
		return "local"
	}
	return "unknown"
}

// dsrLen returns the length in bytes of the DSR starting with header h
// (§6.1 length rule).
func dsrLen(h []byte) int {
	switch {
	case h[0]&0x80 != 0:
		return 4
	case h[1]&0x80 != 0:
		return int(be.Uint16(h[2:])) * 4
	default:
		return int(h[3]) * 4
	}
}

// words returns the DSR length field for n body bytes (header included).
func words(bodyLen int) int { return 1 + (bodyLen+3)/4 }

// tsDec converts a {sec, frac} pair to Unix ns; frac is µs or ns. Like ra,
// an out-of-range fraction is clamped.
func tsDec(sec, frac uint32, ns bool) int64 {
	if ns {
		if frac > 999999999 {
			frac = 999999999
		}
		return int64(sec)*1e9 + int64(frac)
	}
	if frac > 999999 {
		frac = 999999
	}
	return int64(sec)*1e9 + int64(frac)*1000
}

// tsEnc converts Unix ns to a {sec, frac} pair (frac floored to µs unless ns).
func tsEnc(t int64, ns bool) (uint32, uint32) {
	s, f := t/1e9, t%1e9
	if f < 0 {
		s--
		f += 1e9
	}
	if !ns {
		f /= 1000
	}
	return uint32(s), uint32(f)
}

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

// addr4LE reads an IPv4 address stored in little-endian host order.
func addr4LE(b []byte) netip.Addr {
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]})
}

func put4(b []byte, a netip.Addr) {
	if a.Is4() || a.Is4In6() {
		x := a.As4()
		copy(b, x[:])
		return
	}
	clear(b[:4])
}

func put4LE(b []byte, a netip.Addr) {
	var x [4]byte
	if a.Is4() || a.Is4In6() {
		x = a.As4()
	}
	b[0], b[1], b[2], b[3] = x[3], x[2], x[1], x[0]
}

func put16(b []byte, a netip.Addr) {
	if a.IsValid() {
		x := a.As16()
		copy(b, x[:])
		return
	}
	clear(b[:16])
}

func f32(b []byte) float32            { return math.Float32frombits(be.Uint32(b)) }
func putF32(b []byte, f float32)      { be.PutUint32(b, math.Float32bits(f)) }
func popcount4(q byte) int            { return int((q&1)+(q>>1&1)) + int((q>>2&1)+(q>>3&1)) }
func isZero(b []byte) bool            { return allEq(b, 0) }
func minInt(a, b int) int             { return min(a, b) }
func fitsIn(v uint64, width int) bool { return width >= 8 || v < 1<<(8*uint(width)) }

func allEq(b []byte, c byte) bool {
	for _, x := range b {
		if x != c {
			return false
		}
	}
	return true
}

// metricShape decodes a metric/psize qualifier code: value width in bytes
// and which directions are present (bit 0 src, bit 1 dst).
func metricShape(code byte) (width int, dirs int) {
	code &= 0x0F
	if code == 0 || code > 12 {
		return 0, 0
	}
	widths := [4]int{1, 2, 4, 8}
	w := widths[(code-1)%4]
	switch {
	case code <= 4:
		return w, 3
	case code <= 8:
		return w, 1
	default:
		return w, 2
	}
}

// Stat values (§7.11, §7.14) are float32 on the wire and float64 in the
// record. widen and narrow convert between the two exactly: every float32
// is a float64, and a µs float32 times 1000 has at most 34 significant
// bits, so the ns value is exact and dividing by 1000 gives the float32
// back. NaNs are converted by bits, not by the FPU, so the sign and the
// payload survive whatever the architecture does to signalling NaNs.

// widen returns the float32 with bits u as a float64; a NaN keeps its sign
// and its 23 payload bits, at the top of the float64 payload.
func widen(u uint32) float64 {
	if u&0x7f800000 == 0x7f800000 && u&0x007fffff != 0 {
		return math.Float64frombits(uint64(u>>31)<<63 | 0x7ff<<52 | uint64(u&0x007fffff)<<29)
	}
	return float64(math.Float32frombits(u))
}

// narrow returns the bits of the float32 nearest v (round to nearest
// even, overflow to infinity); a NaN keeps its sign and the top 23 bits
// of its payload (the quiet NaN when those are all zero).
func narrow(v float64) uint32 {
	if v != v {
		b := math.Float64bits(v)
		m := uint32(b>>29) & 0x007fffff
		if m == 0 {
			m = 0x00400000
		}
		return uint32(b>>63)<<31 | 0x7f800000 | m
	}
	return math.Float32bits(float32(v))
}

// usToNs reads a µs float32 (bits u) as ns; nsToUs is its inverse.
func usToNs(u uint32) float64 {
	v := widen(u)
	if v == v {
		v *= 1000
	}
	return v
}

func nsToUs(v float64) uint32 {
	if v == v {
		v /= 1000
	}
	return narrow(v)
}
