package track

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"

	"github.com/flowgate/flowgate/sensor/decode"
)

// Sharding: a sensor that runs one Tracker per core must send every packet
// of a flow to the same Tracker. The hash below covers the addresses keyOf
// keys a flow on, and nothing else, so it is the same for both directions
// and for every packet a flow can hold:
//
//   - IP: the innermost address pair (tunnels are keyed on the inner
//     packet), IGMP on the source and the group address as keyOf does;
//   - fragments: the address pair, which the parent flow has too (ports
//     are not hashed: non-first fragments have none);
//   - ARP: the sender and target protocol addresses;
//   - other link-layer frames: the MAC pair.
//
// The address pair is hashed as an unordered pair (a sum of per-address
// hashes), which is what makes it symmetric.

// Shard returns the shard, in [0, n), of the flow p belongs to.
func Shard(p *decode.Packet, n int) int {
	if n <= 1 {
		return 0
	}
	var h uint64
	switch p.Net {
	case decode.NetIPv4, decode.NetIPv6:
		b := p.Dst
		if p.Proto == 2 {
			if g, ok := igmpGroup(p); ok {
				b = g
			}
		}
		h = addrHash(p.Src) + addrHash(b)
	case decode.NetARP:
		h = addrHash(p.Src) + addrHash(p.Dst)
	default:
		h = macHash(p.SrcMAC) + macHash(p.DstMAC)
	}
	return reduce(h, n)
}

// PairShard returns the shard of an IP flow keyed on the address pair
// src, dst (no tunnel, not IGMP): Shard of its packets, from their raw
// addresses.
func PairShard(src, dst netip.Addr, n int) int {
	if n <= 1 {
		return 0
	}
	return reduce(addrHash(src)+addrHash(dst), n)
}

// QuoteShard returns the shard of the flow an ICMP error quotes
// (QuotesFlow), where MapICMP must run: mapICMP looks the quoted flow up
// on the quoted address pair.
func QuoteShard(p *decode.Packet, n int) int {
	if n <= 1 {
		return 0
	}
	return reduce(addrHash(p.QSrc)+addrHash(p.QDst), n)
}

// addrHash hashes an address: IPv4 as its 4 bytes, anything else as 16
// (any one form will do, as long as every packet of a flow gets the same:
// an IPv4-mapped IPv6 address hashes as the IPv4 address). IPv4 does not go
// through As16, whose 16-byte result is stored as two 8-byte halves and
// read back whole, a store-forwarding stall that cost 25 ns a call.
// Two multiplies: reduce mixes the pair's sum once more.
func addrHash(a netip.Addr) uint64 {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return uint64(binary.LittleEndian.Uint32(b[:])) * 0x9e3779b97f4a7c15
	}
	b := a.As16()
	x := binary.LittleEndian.Uint64(b[:8])
	y := binary.LittleEndian.Uint64(b[8:])
	return bits.RotateLeft64(x*0x9e3779b97f4a7c15, 31) ^ y*0xc2b2ae3d27d4eb4f
}

func macHash(m [6]byte) uint64 {
	return (uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40) * 0x9e3779b97f4a7c15
}

// mix is the splitmix64 finalizer: every input bit reaches every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// reduce maps h onto [0, n) without a division.
func reduce(h uint64, n int) int {
	hi, _ := bits.Mul64(mix(h), uint64(n))
	return int(hi)
}

// ScanClock follows the times at which a Tracker fed the same packet times
// scans its table (status records and idle expiry: Advance scans at its
// first call's time + 1 s, then at the first time at least 1 s after its
// previous scan). A sharded sensor runs one on the whole packet stream and
// sends every scan time to every shard, so that each Tracker scans at the
// same times as a single Tracker would and reports the same records.
type ScanClock struct {
	now, next int64
}

// scanEvery is Advance's scan period.
const scanEvery = int64(time.Second)

// Tick moves the clock to ts and says whether a Tracker moved to ts would
// scan (or, on its first call, start its schedule).
func (c *ScanClock) Tick(ts int64) bool {
	if ts <= c.now {
		return false
	}
	c.now = ts
	if ts < c.next {
		return false
	}
	c.next = ts + scanEvery
	return true
}
