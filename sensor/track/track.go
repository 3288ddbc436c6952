// Package track keeps the sensor's flow table: packets (decode.Packet) are
// folded into bidirectional flows keyed as argus keys them, and flows are
// reported as flow.Record values: a status record every StatusInterval
// while a flow is active (per-interval deltas), and a final record when it
// closes, idles out or the table is flushed (argus-clients.md §5.2).
//
// Time comes only from packet timestamps. The table has no fixed size: it
// grows with the active flows (Active reports them, MemBytes their memory)
// up to Options.MaxMemory, past which the flows nearest their idle
// timeout end early (Forced counts them).
package track

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/decode"
)

// Options mirror the argus sensor's settings (argus-clients.md §5.1); the
// zero value takes argus's code defaults.
type Options struct {
	StatusInterval time.Duration // ARGUS_FLOW_STATUS_INTERVAL (-S), default 5 s
	// Idle timeouts per protocol; zero takes argus's default.
	IPTimeout, TCPTimeout, ICMPTimeout, IGMPTimeout, FragTimeout, ARPTimeout, OtherTimeout time.Duration
	// IPOtherTimeout is the idle timeout of IP flows that are not TCP,
	// UDP, ICMP or IGMP (PIM, GRE, ...); zero takes IPTimeout, as argus
	// 3.0.8.2 does (ArgusNewFlow: ArgusIPTimeout for every IP flow).
	// Counted from the report (expiry), that is what it shows: tcpdump
	// pim-packet-assortment.pcap keeps a PIM flow through 42.4 s of
	// silence reported 15 s after its last packet, and ends one reported
	// 15 s after its last packet 62.3 s before the next.
	IPOtherTimeout time.Duration

	MAC       bool // -m: MAC addresses
	AppBytes  bool // -A: application byte counts
	Jitter    bool // -J: inter-packet time statistics
	Response  bool // -R: response time data (TCP synack/ackdat are always kept)
	PktSize   bool // -Z: packet size bounds
	UserData  int  // -U n: first n payload bytes per direction
	NoMSS     bool // leave the TCP MSS out (Argus 3 records have no place for it)
	MonitorID flow.SrcID
	HasID     bool // MonitorID is set (-e)

	// MaxMemory caps MemBytes (0: no cap). A flow that would take the
	// table past it first ends the flows nearest their idle timeout, with
	// their final records, as if they had timed out (Tracker.Forced).
	MaxMemory int64
}

func (o *Options) defaults() {
	def := func(d *time.Duration, s int) {
		if *d <= 0 {
			*d = time.Duration(s) * time.Second
		}
	}
	def(&o.StatusInterval, 5)
	def(&o.IPTimeout, 30)
	def(&o.TCPTimeout, 60)
	def(&o.ICMPTimeout, 5)
	def(&o.IGMPTimeout, 30)
	def(&o.FragTimeout, 5)
	def(&o.ARPTimeout, 5)
	def(&o.OtherTimeout, 30)
	if o.IPOtherTimeout <= 0 {
		o.IPOtherTimeout = o.IPTimeout
	}
	o.UserData = min(max(o.UserData, 0), math.MaxUint16)
}

// flow classes, for the idle timeouts.
const (
	clIP uint8 = iota
	clTCP
	clICMP
	clIGMP
	clFrag
	clARP
	clOther
	clIPOther
	numClasses
	lsClosed = numClasses // closed TCP flows: timeout at most 10 s
	numLists = numClasses + 1
)

const (
	chunkBits = 10
	chunkLen  = 1 << chunkBits
)

// wheelTick is the timing wheel's bucket width.
const wheelTick = int64(time.Second)

// key kinds.
const (
	kIP uint8 = iota + 1
	kFrag
	kARP
	kL2
)

// fkey is the flow-table key: canonical orientation (a is the lower
// address, or the requester for ICMP echo and ARP).
type fkey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
	kind   uint8
	v6     bool
	pad    uint8  // explicit, so that all 48 bytes are fields (index hashes words)
	x, y   uint32 // DNS txid; ICMP type/code/id, seq; fragment id; L2 type/SAPs
}

// slab is storage in chunks that never move, so that a slot's address
// stays valid while it is in use, with a stack of free slots. T holds no
// pointers unless said otherwise: the GC does not scan such chunks.
type slab[T any] struct {
	chunks [][]T
	used   int // slots handed out of the chunks
	free   []uint32
}

func (s *slab[T]) at(i uint32) *T { return &s.chunks[i>>chunkBits][i&(chunkLen-1)] }

// alloc returns a zeroed slot.
func (s *slab[T]) alloc() uint32 {
	var i uint32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		if s.used>>chunkBits == len(s.chunks) {
			s.chunks = append(s.chunks, make([]T, chunkLen))
		}
		i = uint32(s.used)
		s.used++
	}
	var z T
	*s.at(i) = z
	return i
}

func (s *slab[T]) release(i uint32) { s.free = append(s.free, i) }

// full says whether alloc needs a new chunk.
func (s *slab[T]) full() bool { return len(s.free) == 0 && s.used == len(s.chunks)<<chunkBits }

func (s *slab[T]) chunkBytes() int64 {
	var z T
	return chunkLen * int64(unsafe.Sizeof(z))
}

func (s *slab[T]) bytes() int64 {
	return int64(len(s.chunks))*s.chunkBytes() + int64(cap(s.free))*4 + int64(cap(s.chunks))*24
}

func (s *slab[T]) reset() { s.used, s.free = 0, s.free[:0] }

// entSlab is the entries' slab. When the option groups are on, each
// entry is followed by its [2]sideX in the same slot, so that a packet's
// flow and its option groups share cache lines (and one miss).
type entSlab struct {
	chunks [][]uint64 // chunkLen slots of stride bytes
	mem    *offHeap
	cur    []byte  // unused end of the region chunks come from
	stride uintptr // a multiple of 8
	used   int
	hwm    int // slots below it have been handed out: the rest are still zero
	free   []uint32
}

func (s *entSlab) at(i uint32) *entry {
	c := s.chunks[i>>chunkBits]
	return (*entry)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(c)), uintptr(i&(chunkLen-1))*s.stride))
}

// alloc returns a zeroed slot.
func (s *entSlab) alloc() uint32 {
	var i uint32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		if s.used>>chunkBits == len(s.chunks) {
			s.chunks = append(s.chunks, s.mem.chunk(&s.cur, int(chunkLen*s.stride/8)))
		}
		i = uint32(s.used)
		s.used++
		if s.used > s.hwm {
			// Never handed out: zero as its chunk came (and not clearing
			// it spares a store miss per new flow).
			s.hwm = s.used
			return i
		}
	}
	clear(unsafe.Slice((*uint64)(unsafe.Pointer(s.at(i))), s.stride/8))
	return i
}

func (s *entSlab) release(i uint32) { s.free = append(s.free, i) }

func (s *entSlab) full() bool { return len(s.free) == 0 && s.used == len(s.chunks)<<chunkBits }

func (s *entSlab) chunkBytes() int64 { return chunkLen * int64(s.stride) }

func (s *entSlab) bytes() int64 {
	return int64(len(s.chunks))*s.chunkBytes() + int64(cap(s.free))*4 + int64(cap(s.chunks))*24
}

func (s *entSlab) reset() { s.used, s.free = 0, s.free[:0] }

// tcpBit marks the slab indexes of TCP flows (entries.s[1]).
const tcpBit = 1 << 31

// entries are the flows: TCP flows in a slab of their own whose slots
// hold their TCP state after the entry (one miss, not two), the others
// in slots of just the entry (and option groups).
type entries struct{ s [2]entSlab }

func (x *entries) at(i uint32) *entry { return x.s[i>>31].at(i &^ tcpBit) }

func (x *entries) alloc(tcp bool) uint32 {
	if tcp {
		return x.s[1].alloc() | tcpBit
	}
	return x.s[0].alloc()
}

func (x *entries) release(i uint32) { x.s[i>>31].release(i &^ tcpBit) }
func (x *entries) bytes() int64     { return x.s[0].bytes() + x.s[1].bytes() }
func (x *entries) reset()           { x.s[0].reset(); x.s[1].reset() }

// pool is storage for few, large slots in one slice that grows by
// appending: slots move, so no pointer to one is kept across an alloc.
type pool[T any] struct {
	s    []T
	free []uint32
}

func (p *pool[T]) at(i uint32) *T { return &p.s[i] }

// alloc returns a zeroed slot.
func (p *pool[T]) alloc() uint32 {
	var z T
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		p.s[i] = z
		return i
	}
	p.s = append(p.s, z)
	return uint32(len(p.s) - 1)
}

func (p *pool[T]) release(i uint32) { p.free = append(p.free, i) }

func (p *pool[T]) reset() { p.s, p.free = p.s[:0], p.free[:0] }

func (p *pool[T]) bytes() int64 {
	var z T
	return int64(cap(p.s))*int64(unsafe.Sizeof(z)) + int64(cap(p.free))*4
}

// Tracker is the flow table. It is not safe for concurrent use; shard
// flows by key across Trackers to use several cores.
type Tracker struct {
	opt     Options
	emit    func(*flow.Record)
	idx     index           // flow key -> slab index + 1
	frags   map[fkey]uint32 // non-first fragments -> parent flow's slab index
	now     int64
	nextScn int64
	seq     uint32
	rec     flow.Record
	fragObj [52]byte      // argus's fragment network object (ARGUS_NETWORK_SUBTYPE_FRAG)
	fragDSR [1]flow.Field // r.Extra of a fragment flow's record
	scratch flow.Key
	status  int64
	tmo     [numLists]int64
	// Flow storage. An entry holds what every flow needs; a slot of the
	// entry slabs is the entry, then its option groups (-m -J -Z -U)
	// when an option is on, then, in the TCP flows' slab, its TCP state.
	// ICMP data and the rare groups are in slabs of their own, used only
	// by the flows that have them.
	ents    entries
	tcpOff  uintptr  // a TCP flow's tcpX: this far after its entry
	sortTmp []uint64 // sortBySeq's buffer
	mem     *offHeap // where entry chunks and index slots live
	icmps   slab[icmpX]
	rares   pool[rareX] // holds pointers (netip.Addr): ARP, layer 2 and ICMP-mapped flows only
	user    [2][][]byte // -U: 2 * UserData bytes per entry, chunked as ents.s
	xOn     bool        // entries carry their option groups (optsOf)
	// Timing: one wheel of one-second buckets of slab indexes. A flow's
	// word sits in the bucket of its next wake-up, no later than its
	// status record is due or its idle timeout ends; e.wb names that
	// bucket, so words a flow left behind (it moved earlier, or the slot
	// was reused) are recognised as stale. When the bucket comes up the
	// flow is reported, expired or moved on; packets touch the wheel only
	// when they make a flow's wake-up earlier (a new interval, a close).
	wheel    [][]uint32
	wmask    int64
	wheelPos int64 // bucket number (time / wheelTick) of the last scan
	wheelOn  bool
	pend     []uint32
	out      []uint64 // this scan's records: seq << 32 | slab index
	sink     int64    // what warming loads read (kept, so that they stay)
	bk       [batchLen]bkey
	hb       [warmLen]uint64 // emitOut: key hashes of flows that leave
	// Counters.
	Records uint64 // records emitted
	Created uint64 // flows created
	Forced  uint64 // flows expired early to stay under the memory cap
}

// MemBytes returns the bytes the table holds: flow storage, index and
// timing structures (the figure the memory cap applies to).
func (t *Tracker) MemBytes() int64 {
	n := t.ents.bytes() + t.icmps.bytes() + t.rares.bytes()
	n += int64(len(t.user[0])+len(t.user[1])) * chunkLen * 2 * int64(t.opt.UserData)
	n += int64(len(t.idx.slots)) * 8
	n += int64(cap(t.pend))*4 + int64(cap(t.out))*8 + int64(len(t.wheel))*24
	for _, w := range t.wheel {
		n += int64(cap(w)) * 4
	}
	// A Go map costs about twice its keys and values.
	n += int64(len(t.frags)) * 2 * int64(unsafe.Sizeof(fkey{})+4)
	return n
}

// New returns a Tracker that calls emit for every record. The record
// passed to emit is reused after emit returns (Detach or copy to keep it).
func New(opt Options, emit func(*flow.Record)) *Tracker {
	opt.defaults()
	t := &Tracker{opt: opt, emit: emit, frags: make(map[fkey]uint32)}
	t.idx.init(1024)
	t.idx.setSeed(uint64(time.Now().UnixNano()))
	t.status = int64(opt.StatusInterval)
	t.xOn = opt.Jitter || opt.PktSize || opt.UserData > 0 || opt.MAC
	t.tcpOff = unsafe.Sizeof(entry{})
	if t.xOn {
		t.tcpOff += unsafe.Sizeof([2]sideX{})
	}
	t.mem = new(offHeap)
	freeWhenUnreachable(t, t.mem)
	t.ents.s[0].stride, t.ents.s[0].mem = t.tcpOff, t.mem
	t.ents.s[1].mem = t.mem
	t.ents.s[1].stride = t.tcpOff + unsafe.Sizeof(tcpX{})
	t.tmo = [numLists]int64{int64(opt.IPTimeout), int64(opt.TCPTimeout), int64(opt.ICMPTimeout), int64(opt.IGMPTimeout),
		int64(opt.FragTimeout), int64(opt.ARPTimeout), int64(opt.OtherTimeout), int64(opt.IPOtherTimeout), min(int64(opt.TCPTimeout), int64(10*time.Second))}
	// The wheel spans the longest wait: a timeout or the status interval.
	n := 1
	for int64(n) < max(slices.Max(t.tmo[:]), t.status)/wheelTick+4 {
		n *= 2
	}
	t.wheel = make([][]uint32, n)
	t.wmask = int64(n - 1)
	return t
}

// Active returns the number of flows in the table.
func (t *Tracker) Active() int { return t.idx.n }

// side is one direction of a flow. Counters are per interval: a flow is
// reported before pkts could wrap.
type side struct {
	bytes, app uint64
	pkts       uint32
	encaps     uint32
	mpls       uint32
	// first is this side's first packet of the interval, in ns after
	// the entry's start when in the same second, else 0 (see report).
	first    uint32
	vlan     uint16
	ipid     uint16
	ttl, tos uint8
	ipopts   uint8 // decode.IPOpt... bits (7)
	fl       uint8 // sFrag...
}

const (
	sFrag     = 1 << iota
	sIPSeen   // ttl/tos/ipid hold a packet of this side (argus keeps them across records)
	sVLANSeen //
	sMPLSSeen
)

// tside is one direction's TCP state.
type tside struct {
	tlast   int64
	seqBase uint32
	nextSeq uint32 // highest seq+len seen
	ack     uint32
	tbytes  uint32
	retrans uint32
	finSeq  uint32
	win     uint16
	mss     uint16
	tflags  uint8
	wscale  uint8
	sf      uint8 // tsSeq...
	// argus 3.0.8.2's own view of the sequence (ArgusUpdateTCPSequence),
	// which decides its retransmission, out-of-order and window-shut
	// flags and the -J active/idle filing (argusSeq).
	aseq, aack uint32
	awinb      uint32 // winbytes: data sent and not yet acknowledged
	awin       uint16
	aipid      uint16 // ip_id of the last data segment, as argus stores it
}

// tside.sf bits.
const (
	tsSeq  = 1 << iota // seqBase is set
	tsFin              // a FIN was sent (finSeq)
	tsASeq             // aseq is set (argus's seqbase != 0)
)

// tcpX is a TCP flow's state: only the TCP flows' slots have it (tcpOf).
type tcpX struct {
	s       [2]tside
	synT    int64
	synAckT int64
	tstatus uint32
	topts   uint32
	synAck  uint32
	ackDat  uint32
}

// sideX holds one direction's optional groups (-m, -J, -Z, -U), after
// the entry in its slot (optsOf): present only when one of those is on.
type sideX struct {
	last         int64 // last packet (jitter)
	psMin, psMax uint16
	mac, dmac    [6]byte // -m: sender and receiver MAC of the first packet
	macN         uint8   // 0 none, 1 one, 2 several
	ulen         uint16  // -U bytes held (in Tracker.user)
	// -J: inter-packet times (µs) filed active or idle (argus's
	// ArgusInProtocol, see argusSeq).
	jit [2]jstat // active, idle
}

// jstat is argus 3.0.8.2's ArgusTimeStats, with its types: a float32
// sum and extremes, an integer sum of squares, in µs.
type jstat struct {
	n             uint32
	min, max, sum float32
	sq            int64
}

// add files an inter-packet time of iv µs.
func (j *jstat) add(iv int64) {
	if j.n == 0 || float32(iv) < j.min {
		j.min = float32(iv)
	}
	j.max = max(j.max, float32(iv))
	j.sum += float32(iv)
	j.sq = int64(float64(j.sq) + float64(iv)*float64(iv))
	j.n++
}

// stat is the DSR's statistics object as ArgusGenerateRecord computes it
// (mean in float32, the variance from the integer quotient of the sum of
// squares: NaN when that rounds below the squared mean), in ns.
func (j *jstat) stat() flow.Stat {
	mean := j.sum / float32(j.n)
	sd := float32(math.Sqrt(float64(j.sq/int64(j.n)) - math.Pow(float64(mean), 2)))
	return flow.Stat{N: j.n, Min: float64(j.min) * 1e3, Max: float64(j.max) * 1e3,
		Mean: float64(mean) * 1e3, StdDev: float64(sd) * 1e3}
}

// argusSeq follows argus 3.0.8.2's TCP sequence tracking
// (ArgusUpdateTCPState's first packet, ArgusUpdateTCPSequence) for
// direction d of TCP flow x: it sets the direction's retransmission,
// out-of-order and window-shut status bits as argus does, and returns
// ArgusInProtocol, which files a packet's inter-packet time (-J) as active
// (true) or idle: a data packet is active when the window is open, data of
// its side were outstanding already and it is no retransmission; pure
// ACKs, the first segment after everything was acknowledged and
// retransmissions are idle. Its tflags already hold p's flags.
func argusSeq(x *tcpX, p *decode.Packet, d int, first bool) bool {
	src, dst := &x.s[d], &x.s[1-d]
	f := p.TCPFlags
	seq, ack, ln := p.Seq, p.Ack, uint32(p.AppLen)
	ipid := uint16(p.IPID)<<8 | uint16(p.IPID)>>8 // argus compares ip_id as stored, unswapped
	const syn, ack_, fin, rst, psh, urg = decode.TCPSyn, decode.TCPAck, decode.TCPFin, decode.TCPRst, decode.TCPPsh, decode.TCPUrg
	if first {
		src.sf |= tsASeq
		if f&rst != 0 {
			if seq != 0 {
				src.aseq = seq + ln
			} else {
				src.aseq = ack - 1
			}
			dst.aack = ack - 1
			return true
		}
		switch f & (syn | ack_ | fin | psh | urg) {
		case syn:
			src.aseq = seq
		case syn | ack_:
			src.aseq = seq
			dst.aack = ack - 1
		case ack_, psh | ack_, urg | ack_, psh | urg | ack_:
			dst.aack = ack - 1
			src.aseq = seq + ln
		default:
			src.aseq = seq + ln
		}
		src.awin = p.Win
		return true
	}
	if f == syn { // "we started over"
		return true
	}
	retrans, ooo := uint32(stSrcRetrans)<<d, uint32(stSrcOOO)<<d
	in := true
	if p.Win == 0 && f&(fin|rst) == 0 {
		x.tstatus |= stSrcWinShut << d
		in = false
	} else if f&(fin|rst) == 0 {
		src.awin = p.Win
	}
	if ln > 0 && dst.awin != 0 {
		if src.awinb == 0 {
			in = false
		}
		if src.tflags&fin != 0 {
			// Data after this side's FIN: behind its sequence a
			// retransmission, else out of order (unless it is the FIN).
			if seq < src.aseq {
				x.tstatus |= retrans
				src.retrans++
			} else if f&fin == 0 {
				x.tstatus |= ooo
			}
		}
		if f&syn == 0 {
			src.awinb += ln
		}
	} else {
		in = false
	}
	newseq := seq + ln
	switch {
	case newseq < seq:
		src.aseq = newseq
	case src.sf&tsASeq == 0:
		src.sf |= tsASeq
		src.aseq = newseq
	case ln > 0:
		if dst.awin != 0 {
			if seq < dst.aack {
				if dst.aack-seq < uint32(src.awin>>min(src.wscale, 14)) {
					x.tstatus |= retrans
					src.retrans++
					in = false
					src.awinb -= ln
				}
			} else {
				maxseq := max(newseq, src.aseq)
				if src.awin != 0 {
					dip := int(ipid) - int(src.aipid)
					switch {
					case dip < 0 && dip > -5000:
						x.tstatus |= ooo
					case src.awinb > (maxseq-1)-dst.aack:
						x.tstatus |= retrans
						src.retrans++
						in = false
						src.awinb -= ln
					case newseq < src.aseq:
						if seq == dst.aack+1 {
							x.tstatus |= retrans
							src.retrans++
							src.awinb -= ln
						} else {
							x.tstatus |= ooo
						}
					}
				}
				src.aseq = maxseq
			}
		}
		src.aipid = ipid
	}
	if ack != 0 && f&ack_ != 0 {
		if src.aack != 0 && dst.aseq > src.aack {
			dst.awinb = (dst.aseq - 1) - src.aack
		}
		if src.aack != ack-1 {
			if src.aack == 0 || dst.aseq == ack {
				dst.awinb = 0
			} else if f&syn == 0 {
				dst.awinb -= min(dst.awinb, (ack-1)-src.aack)
			}
			src.aack = ack - 1
		}
	}
	return in
}

// icmpX holds an ICMP flow's ICMP data when its addresses are IPv4 (all
// argus keeps for ICMPv6 is the type and code); other flows use rareX.
type icmpX struct {
	typ, code uint8
	seq       uint16
	v4        bool       // ICMPv4: the addresses are set
	quote     bool       // an error quoting a packet: i is set
	o, i      [2][4]byte // outer and quoted source and destination
}

// info returns x as the record's ICMP group (what buildKey's rareX path
// would store).
func (x *icmpX) info() flow.ICMPInfo {
	ic := flow.ICMPInfo{Type: x.typ, Code: x.code}
	if x.v4 {
		ic.Seq = x.seq
		ic.OSrc, ic.ODst = netip.AddrFrom4(x.o[0]), netip.AddrFrom4(x.o[1])
		ic.Gateway = netip.AddrFrom4([4]byte{})
		ic.ISrc, ic.IDst = ic.Gateway, ic.Gateway
		if x.quote {
			ic.ISrc, ic.IDst = netip.AddrFrom4(x.i[0]), netip.AddrFrom4(x.i[1])
		}
	}
	return ic
}

// rareX holds what few flows need: the ICMP data of a flow an ICMP error
// maps to (or of an ICMP flow that icmpX cannot hold), and the record key
// of ARP and layer-2 flows.
type rareX struct {
	icmp, icmpMap flow.ICMPInfo
	key           flow.Key
	arpResp       [6]byte
}

// keyX holds the record key fields of IP flows that the table key does
// not give (recKey makes the rest).
type keyX struct {
	icmpType, icmpCode        uint8
	icmpID, icmpSeq           uint16
	tpProto, srcMask, dstMask uint8
}

// entry is a flow. It holds no pointers, so that the GC never scans the
// table; the other groups are slab indexes.
type entry struct {
	key     fkey
	start   int64 // of the unreported interval; reported: the report's time (expiry)
	lastPkt int64
	s       [2]side
	seq     uint32 // creation order
	idx     uint32 // slab index
	ext     uint32 // icmps index (fICMPX)
	rare    uint32 // rares index + 1, 0: none
	wb      uint32 // wheel bucket number (low bits) of its live word
	kx      keyX   // record key (recKey), first-seen orientation
	fl      uint16 // fLive... and the flow class << clShift
}

// entry flags.
const (
	fLive     = 1 << iota // in the table
	fFromA                // first packet travelled a -> b
	fHasICMP              // ICMP data: icmps[ext] if fICMPX, else rares
	fICMPX                //
	fHasMap               // an ICMP error maps to it (rares)
	fHasARP               //
	fStarted              // a record was emitted already
	fDirty                // packets since the last record
	fFragSeen             //
	fFragRef              // a frags entry points here
	fExpiring             // idle: its record is in this scan's output
	fTCP                  // in ents.s[1], with its tcpX (tcpOf)
	fClosed               // TCP close seen
	clShift   = 13        // fl >> clShift: the flow class (3 bits)
)

func (e *entry) class() uint8 { return uint8(e.fl >> clShift) }

var _ [1]struct{} = [1 - unsafe.Sizeof(entry{})/177]struct{}{} // entry stays at most 176 bytes

const (
	stSawSyn     = 0x1
	stSynSent    = 0x2
	stEst        = 0x4
	stFin        = 0x8
	stFinAck     = 0x10
	stClose      = 0x20
	stSrcRetrans = 0x100
	stSrcWinShut = 0x400
	stSrcReset   = 0x1000
	stSrcOOO     = 0x10000
	stSrcCong    = 0x4000     // ECN congestion echoed (ARGUS_SRC_CONGESTED)
	optSrcECN    = 0x40000000 // ARGUS_TCP_SRC_ECN: the first packet, a SYN, set ECE and CWR
	optDstECN    = 0x80000000 // ARGUS_TCP_DST_ECN: the first packet, a SYN-ACK, set ECE alone
)

func addr16(a netip.Addr) [16]byte {
	if a.Is4() {
		var b [16]byte
		v := a.As4()
		copy(b[:], v[:])
		return b
	}
	return a.As16()
}

// put16 stores addr16(a) in *d with word stores: building the array in
// bytes and copying it stalls store forwarding on the key's word loads.
func put16(d *[16]byte, a netip.Addr) {
	w := (*[2]uint64)(unsafe.Pointer(d))
	if a.Is4() {
		v := a.As4()
		w[0], w[1] = uint64(binary.LittleEndian.Uint32(v[:])), 0
		return
	}
	v := a.As16()
	w[0], w[1] = binary.LittleEndian.Uint64(v[:8]), binary.LittleEndian.Uint64(v[8:])
}

// after16 says whether a sorts after b, byte by byte (bytes.Compare > 0).
func after16(a, b *[16]byte) bool {
	a0, b0 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	return a0 > b0 || a0 == b0 && binary.BigEndian.Uint64(a[8:]) > binary.BigEndian.Uint64(b[8:])
}

// keyOf builds the table key of p and says whether p travels a -> b.
func (t *Tracker) keyOf(p *decode.Packet) (k fkey, fwd bool, class uint8) {
	switch p.Net {
	case decode.NetIPv4, decode.NetIPv6:
	case decode.NetARP:
		k.kind, class = kARP, clARP
		k.x = uint32(p.ARPHrd)<<16 | uint32(p.ARPPro)
		src, dst := addr16(p.Src), addr16(p.Dst)
		if p.ARPOp == 2 || p.ARPOp == 4 { // reply: requester is the target
			k.a, k.b = dst, src
			return k, false, class
		}
		k.a, k.b = src, dst
		return k, true, class
	default:
		k.kind, class = kL2, clOther
		copy(k.a[:], p.SrcMAC[:])
		copy(k.b[:], p.DstMAC[:])
		k.x = uint32(p.EtherType)<<16 | uint32(p.DSAP)<<8 | uint32(p.SSAP)
		fwd = true
		if bytes.Compare(k.a[:6], k.b[:6]) > 0 {
			k.a, k.b = k.b, k.a
			fwd = false
		}
		return k, fwd, class
	}
	k.kind = kIP
	k.v6 = p.Net == decode.NetIPv6
	k.proto = p.Proto
	put16(&k.a, p.Src)
	put16(&k.b, p.Dst)
	class = clIP
	if p.Frag && !p.FirstFrag {
		k.kind, class = kFrag, clFrag
		k.x = p.IPID
		fwd = true
		if after16(&k.a, &k.b) {
			k.a, k.b = k.b, k.a
			fwd = false
		}
		return k, fwd, class
	}
	switch p.Proto {
	default:
		class = clIPOther
	case 6:
		class = clTCP
	case 1, 58:
		class = clICMP
		if p.Proto == 58 && (p.ICMPType == 136 || p.ICMPType == 135) {
			// argus 3.0.8.2 keys neighbour advertisements as solicitations.
			k.x = 135 << 24
			break
		}
		if p.Proto == 58 && (p.ICMPType == 134 || p.ICMPType == 133) {
			// and router advertisements as solicitations.
			k.x = 133 << 24
			break
		}
		if decode.IsICMPEcho(p.Proto, p.ICMPType) {
			rt, reply := echoRequest(p.Proto, p.ICMPType)
			k.x = uint32(rt) << 24
			if p.Proto == 1 { // argus 3.0.8.2 keys ICMPv6 echo without id/seq
				k.x |= uint32(p.ICMPID)
				k.y = uint32(p.ICMPSeq)
			}
			if reply {
				k.a, k.b = k.b, k.a
				return k, false, class
			}
			return k, true, class
		}
		k.x = uint32(p.ICMPType)<<24 | uint32(p.ICMPCode)<<16
		if p.HasQuote && !(p.Proto == 58 && p.ICMPType <= 4) {
			k.x |= uint32(icmpErrID(p))
			k.y = uint32(p.QProto)
		}
	case 17: // UDP: IPTimeout
	case 2:
		class = clIGMP
		if g, ok := igmpGroup(p); ok {
			put16(&k.b, g)
		}
	}
	if p.HasL4 && p.Proto != 1 && p.Proto != 58 {
		k.pa, k.pb = p.SrcPort, p.DstPort
		if p.Proto == 17 && (p.SrcPort == 53 || p.DstPort == 53) && len(p.Payload) >= 2 {
			k.x = uint32(p.Payload[0])<<8 | uint32(p.Payload[1]) | 1<<16
		}
	}
	fwd = true
	// Same address at both ends (loopback): argus does not reorder by
	// port, each direction is its own flow.
	if after16(&k.a, &k.b) {
		k.a, k.b = k.b, k.a
		k.pa, k.pb = k.pb, k.pa
		fwd = false
	}
	return k, fwd, class
}

// igmpGroup returns the group field of an IGMP header: argus keys IGMP
// on it, not on the IP destination.
func igmpGroup(p *decode.Packet) (netip.Addr, bool) {
	if p.Proto != 2 || p.Net != decode.NetIPv4 || p.Frag || len(p.Payload) < 8 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(p.Payload[4:8])), true
}

// icmpErrID is the id argus 3.0.8.2 keys an ICMPv4 error on: the quoted
// destination port for port unreachable, the first 16 bits of the quoted
// destination address for net/host unreachable, 0 for other unreachable
// codes and time exceeded, the quoted destination port otherwise.
func icmpErrID(p *decode.Packet) uint16 {
	switch p.ICMPType {
	case 3:
		switch p.ICMPCode {
		case 3:
			return p.QDstPort
		case 0, 1:
			if p.QDst.Is4() {
				a := p.QDst.As4()
				return uint16(a[1])<<8 | uint16(a[0]) // ra prints it byte-swapped
			}
		}
		return 0
	case 11:
		return 0
	}
	return p.QDstPort
}

// orphanReply reports whether p is an ICMPv4 echo reply, which when it
// starts a flow argus keys with type 0 oriented as its request.
func orphanReply(p *decode.Packet) bool {
	return p.Proto == 1 && p.ICMPType == 0 && p.Net == decode.NetIPv4 && !(p.Frag && !p.FirstFrag)
}

// echoRequest maps an ICMP id/seq type to its request type.
func echoRequest(proto, t uint8) (req uint8, reply bool) {
	if proto == 58 {
		if t == 129 {
			return 128, true
		}
		return t, false
	}
	switch t {
	case 0:
		return 8, true
	case 14, 16, 18:
		return t - 1, true
	}
	return t, false
}

// Packet folds one decoded packet into the table: Account, then MapICMP
// for an ICMP error.
//
// A packet is accounted before the scan its time brings (Advance), as
// argus 3.0.8.2 runs ArgusQueueManager after the packet: a flow whose
// idle timeout ended since the last scan is still there for it (tcpdump
// pim-packet-assortment.pcap: a PIM packet 0.16 s after its flow's
// timeout ended, the first packet since that flow's last scan, continues
// it). A due status record of the packet's own flow goes out first
// (accountKey), as argus's packet path reports it.
func (t *Tracker) Packet(p *decode.Packet) {
	due := t.clock(p.TS)
	k, fwd, class := t.keyOf(p)
	t.accountKey(p, &k, 0, fwd, class)
	if QuotesFlow(p) {
		t.mapICMP(p)
	}
	if due {
		t.scan(t.now)
	}
}

// QuotesFlow says whether p is an ICMP error quoting a packet, which
// MapICMP attaches to the flow the quote belongs to.
func QuotesFlow(p *decode.Packet) bool {
	return p.HasQuote && (p.Net == decode.NetIPv4 && p.Proto == 1 || p.Net == decode.NetIPv6 && p.Proto == 58)
}

// MapICMP attaches the ICMP error p to the flow it quotes, if that flow is
// in the table (flag U/R/T), without accounting p as its own ICMP flow. A
// sharded sensor calls it on the shard that holds the quoted flow and
// Account on the shard of p's own flow; Packet does both.
func (t *Tracker) MapICMP(p *decode.Packet) {
	due := t.clock(p.TS)
	if QuotesFlow(p) {
		t.mapICMP(p)
	}
	if due {
		t.scan(t.now)
	}
}

// batchLen is how many packets Packets looks up ahead.
const batchLen = 32

// bkey is a packet's table key, computed ahead by Packets.
type bkey struct {
	k     fkey
	h     uint64 // index hash of k
	fwd   bool
	class uint8
}

// Packets folds packets into the table as Packet does, one after the
// other. It first computes the keys of a few packets and loads the index
// slots and flows they lead to, so that those cache misses overlap rather
// than follow one another (the table's main cost).
func (t *Tracker) Packets(ps []decode.Packet) {
	for len(ps) > 0 {
		b := ps[:min(len(ps), batchLen)]
		ps = ps[len(b):]
		for i := range b {
			q := &t.bk[i]
			q.k, q.fwd, q.class = t.keyOf(&b[i])
			q.h = t.idx.keyHash(&q.k)
		}
		t.warmKeys(t.bk[:len(b)])
		for i := range b {
			p, q := &b[i], &t.bk[i]
			due := t.clock(p.TS)
			t.accountKey(p, &q.k, q.h, q.fwd, q.class)
			if QuotesFlow(p) {
				t.mapICMP(p)
			}
			if due {
				t.scan(t.now) // after the packet, as Packet
			}
		}
	}
}

// warmKeys loads the index slots of keys, then the flows they hold (and
// their TCP state), with loads that do not wait for one another.
func (t *Tracker) warmKeys(bk []bkey) {
	x := &t.idx
	var sink uint64
	for i := range bk {
		sink += x.slots[bk[i].h>>32&x.mask]
	}
	for i := range bk {
		tag := bk[i].h >> 32
		for j := tag & x.mask; ; j = (j + 1) & x.mask {
			s := x.slots[j]
			if s == 0 {
				break
			}
			if s>>32 == tag {
				sink += t.warmSlot(uint32(s) - 1)
				break
			}
		}
	}
	t.sink += int64(sink)
}

// Account folds p into its own flow only (see MapICMP).
func (t *Tracker) Account(p *decode.Packet) {
	due := t.clock(p.TS)
	k, fwd, class := t.keyOf(p)
	t.accountKey(p, &k, 0, fwd, class)
	if due {
		t.scan(t.now) // after the packet, as Packet
	}
}

// accountKey is Account after Advance, with p's key k (and its hash h,
// or 0 for none yet).
func (t *Tracker) accountKey(p *decode.Packet, k *fkey, h uint64, fwd bool, class uint8) {
	if k.kind == kFrag && !k.v6 { // argus keeps IPv6 fragments in their own flow
		if i, ok := t.frags[*k]; ok {
			e := t.ents.at(i)
			t.account(e, p, e.fl&fFromA != 0 == fwd)
			e.fl |= fFragSeen
			return
		}
	}
	if h == 0 {
		h = t.idx.keyHash(k)
	}
	var e *entry
	if i := t.getH(k, h); i != 0 {
		e = t.ents.at(i - 1)
	}
	if e != nil && e.fl&fTCP != 0 && p.Proto == 6 && p.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn &&
		(e.fl&fClosed != 0 || t.tcpOf(e).tstatus&(stSrcReset|stSrcReset<<1) != 0) && !refusedSyn(t.tcpOf(e)) {
		t.finish(e, flow.CauseStop)
		t.remove(e)
		e = nil
	}
	if e == nil {
		// argus orients a flow an echo reply starts as the request would
		// be: the reply is a destination packet (buildKey keeps type 0).
		e = t.create(k, h, fwd || orphanReply(p), class, p)
	} else if e.fl&fDirty != 0 && p.TS-e.start >= t.status {
		t.report(e, flow.CauseStatus)
	}
	dir := e.fl&fFromA != 0 != fwd
	t.account(e, p, !dir)
	if p.Frag && p.FirstFrag && !k.v6 {
		fk := *k
		fk.kind = kFrag
		put16(&fk.a, p.Src)
		put16(&fk.b, p.Dst)
		fk.pa, fk.pb, fk.y = 0, 0, 0
		fk.x = p.IPID
		if after16(&fk.a, &fk.b) {
			fk.a, fk.b = fk.b, fk.a
		}
		if _, ok := t.frags[fk]; !ok {
			t.frags[fk] = e.idx
			e.fl |= fFragRef
		}
	}
}

// refusedSyn reports a flow whose only exchange is a SYN answered by a RST
// that acknowledges it. argus 3.0.8.2's state machine moves that flow to
// TCPS_LISTEN, which it never stores, so the flow stays in SYN_SENT and a
// SYN sent again continues it as a retransmission (zeek pop3.pcap: SYN,
// RST-ACK three times is one record of 3+3 packets with flag s).
func refusedSyn(x *tcpX) bool {
	return x.tstatus&(stSynSent|stEst|stSrcReset) == 0 && x.tstatus&(stSawSyn|stSrcReset<<1) == stSawSyn|stSrcReset<<1 &&
		x.s[0].sf&tsSeq != 0 && x.s[1].ack == x.s[0].seqBase+1
}

func (t *Tracker) create(k *fkey, h uint64, fwd bool, class uint8, p *decode.Packet) *entry {
	if t.opt.MaxMemory > 0 {
		t.makeRoom(k)
	}
	tcp := k.kind == kIP && k.proto == 6
	i := t.ents.alloc(tcp)
	if u := &t.user[i>>31]; t.opt.UserData > 0 && len(*u) < len(t.ents.s[i>>31].chunks) {
		*u = append(*u, make([]byte, chunkLen*2*t.opt.UserData))
	}
	e := t.ents.at(i)
	t.seq++
	t.Created++
	e.idx = i
	e.key, e.seq = *k, t.seq
	e.fl = fLive | uint16(class)<<clShift
	if fwd {
		e.fl |= fFromA
	}
	e.start = p.TS
	e.lastPkt = p.TS
	// No wheel word yet: the first packet's interval (dirty) places it.
	e.wb = uint32(t.wheelPos) + 1<<31
	if tcp {
		e.fl |= fTCP
	}
	t.buildKey(e, p)
	t.putH(h, i+1)
	return e
}

// lookup returns the flow keyed k, or nil.
func (t *Tracker) lookup(k *fkey) *entry {
	i := t.get(k)
	if i == 0 {
		return nil
	}
	return t.ents.at(i - 1)
}

// tcpOf returns TCP flow e's TCP state.
func (t *Tracker) tcpOf(e *entry) *tcpX { return (*tcpX)(unsafe.Add(unsafe.Pointer(e), t.tcpOff)) }

// optsOf returns the option groups of entry i (xOn).
func (t *Tracker) optsOf(i uint32) *[2]sideX {
	return (*[2]sideX)(unsafe.Add(unsafe.Pointer(t.ents.at(i)), unsafe.Sizeof(entry{})))
}

func (t *Tracker) rareOf(e *entry) *rareX {
	if e.rare == 0 {
		e.rare = t.rares.alloc() + 1
	}
	return t.rares.at(e.rare - 1)
}

// userOf returns the -U buffer of e's direction d (capacity UserData).
func (t *Tracker) userOf(e *entry, d int) []byte {
	n := t.opt.UserData
	i := e.idx &^ tcpBit
	c := t.user[e.idx>>31][i>>chunkBits]
	o := (int(i&(chunkLen-1))*2 + d) * n
	return c[o : o+n : o+n]
}

// dirty starts e's unreported interval at ts: its status record is due
// at ts + status.
func (t *Tracker) dirty(e *entry, ts int64) {
	e.start = ts
	e.fl |= fDirty
	t.wakeBy(e, ts+t.status)
}

// wakeBy moves e's wheel word to the bucket of at if that is earlier.
func (t *Tracker) wakeBy(e *entry, at int64) {
	b := max(at/wheelTick, t.wheelPos)
	if int32(uint32(b)-e.wb) < 0 || !t.wheelOn {
		t.schedule(e, at)
	}
}

// timeout returns e's idle timeout.
func (t *Tracker) timeout(e *entry) int64 {
	if e.fl&fClosed != 0 {
		return t.tmo[lsClosed]
	}
	return t.tmo[e.class()]
}

// schedule puts e's word in the wheel bucket of time at (or of the last
// scan, if at is before it). Words e left elsewhere become stale.
func (t *Tracker) schedule(e *entry, at int64) {
	b := at / wheelTick
	if !t.wheelOn {
		t.wheelPos, t.wheelOn = b, true
		if t.now > 0 {
			t.wheelPos = min(b, t.now/wheelTick)
		}
	}
	b = max(b, t.wheelPos)
	// A time past one turn goes to the turn's last bucket, to be checked
	// again there: wrapped, it could land in the bucket a scan is walking,
	// whose words the scan replaces (the word would be lost).
	b = min(b, t.wheelPos+t.wmask)
	e.wb = uint32(b)
	w := &t.wheel[b&t.wmask]
	*w = append(*w, e.idx)
}

// touch keeps e's wheel word no later than its idle expiry (a flow that
// closed, or a packet from the past).
func (t *Tracker) touch(e *entry) {
	t.wakeBy(e, t.expiry(e))
}

// expiry is when e times out. argus 3.0.8.2 counts the idle timeout from
// the queue scan that reported the flow's interval, not from its last
// packet: ArgusProcessQueueTimeout sends the record of a flow due in the
// status queue and moves it to a timeout queue with qtime = now, and only
// that queue deletes it, timeout seconds later. So a flow with an
// unreported interval waits for its status report first (zeek
// pppoe-over-qinq.pcap: a packet 235 s after the last one, the first
// since, still continues the TCP flow: the scan it starts reports the
// flow and then finds it fresh in its timeout queue). A reported flow's
// start holds the report's scan time (report), until its next packet.
func (t *Tracker) expiry(e *entry) int64 {
	if e.fl&fDirty != 0 {
		return max(e.start+t.status, t.now) + t.timeout(e)
	}
	return e.start + t.timeout(e)
}

// buildKey fills the record key in first-seen orientation: the rare
// group's for ARP and layer-2 flows; for IP flows, the fields recKey does
// not derive from the table key.
func (t *Tracker) buildKey(e *entry, p *decode.Packet) {
	if e.key.kind == kARP || e.key.kind == kL2 {
		t.makeKey(t.rareOf(e), e, p) // rareOf may move the pool: key pointer after it
		return
	}
	r := &t.scratch
	*r = flow.Key{}
	t.makeKey(nil, e, p)
	// Field by field: a keyX built on the stack and copied stalls store
	// forwarding (its bytes are stored one by one and loaded as words).
	x := &e.kx
	x.icmpType, x.icmpCode, x.icmpID, x.icmpSeq = r.ICMPType, r.ICMPCode, r.ICMPID, r.ICMPSeq
	x.tpProto, x.srcMask, x.dstMask = r.TpProto, r.SrcMask, r.DstMask
	if checkKeys && t.recKey(e) != *r {
		panic(fmt.Sprintf("recKey %+v, want %+v", t.recKey(e), *r))
	}
}

// makeKey builds e's record key from its first packet p, in rx's key or,
// if rx is nil, in t.scratch.
func (t *Tracker) makeKey(rx *rareX, e *entry, p *decode.Packet) {
	r := &t.scratch
	if rx != nil {
		r = &rx.key
	}
	r.RevBit = e.fl&fFromA == 0
	switch e.key.kind {
	case kL2:
		r.Kind, r.AddrType = flow.Kind5Tuple, flow.AddrEther
		r.SrcMAC, r.DstMAC = p.SrcMAC, p.DstMAC
		r.EtherType, r.DSAP, r.SSAP = p.EtherType, p.DSAP, p.SSAP
		return
	case kARP:
		r.Kind, r.AddrType = flow.KindARP, flow.AddrARP
		r.ARPHrd, r.ARPPro, r.ARPHln, r.ARPPln, r.ARPOp = p.ARPHrd, p.ARPPro, p.ARPHln, p.ARPPln, 1
		// Wire order is requester first; the record is first-seen first.
		req, tgt := p.Src, p.Dst
		reqMAC := p.ARPSha
		if p.ARPOp == 2 || p.ARPOp == 4 {
			req, tgt = p.Dst, p.Src
			reqMAC = p.ARPTha
		}
		r.Src, r.Dst, r.SrcMAC = req, tgt, reqMAC
		if r.RevBit {
			*r = r.Reverse()
		}
		return
	}
	r.Kind = flow.Kind5Tuple
	r.AddrType = flow.AddrIPv4
	if e.key.v6 {
		r.AddrType = flow.AddrIPv6
	}
	r.Src, r.Dst, r.Proto = p.Src, p.Dst, p.Proto
	if g, ok := igmpGroup(p); ok {
		r.Dst = g
	}
	if e.key.kind == kFrag {
		r.FragID = p.IPID
		return
	}
	switch p.Proto {
	case 1, 58:
		if decode.IsICMPEcho(p.Proto, p.ICMPType) {
			rt, _ := echoRequest(p.Proto, p.ICMPType)
			r.ICMPType = rt
			if orphanReply(p) {
				r.ICMPType = p.ICMPType
				r.Src, r.Dst = p.Dst, p.Src
			}
			if p.Proto == 1 {
				r.ICMPID, r.ICMPSeq = p.ICMPID, p.ICMPSeq
			}
		} else {
			r.ICMPType, r.ICMPCode = p.ICMPType, p.ICMPCode
			if p.Proto == 58 && (p.ICMPType == 136 || p.ICMPType == 134) {
				r.ICMPType--
			}
			if p.HasQuote {
				r.TpProto = p.QProto
				if p.Proto == 1 {
					r.ICMPID = icmpErrID(p)
				}
			}
		}
		e.fl |= fHasICMP
		if p.Proto != 1 || p.Src.Is4() && p.Dst.Is4() && (!p.HasQuote || p.QSrc.Is4() && p.QDst.Is4()) {
			// Compact: ICMPv4 over IPv4, or ICMPv6 (type and code only).
			e.fl |= fICMPX
			e.ext = t.icmps.alloc()
			x := t.icmps.at(e.ext)
			x.typ, x.code = r.ICMPType, r.ICMPCode
			if p.Proto == 1 {
				x.v4, x.quote = true, p.HasQuote
				x.o = [2][4]byte{p.Src.As4(), p.Dst.As4()}
				if p.HasQuote {
					x.i = [2][4]byte{p.QSrc.As4(), p.QDst.As4()}
				} else {
					x.seq = p.ICMPSeq
				}
			}
			return
		}
		ic := &t.rareOf(e).icmp
		ic.Type, ic.Code = r.ICMPType, r.ICMPCode
		if p.Proto == 1 {
			ic.Seq = p.ICMPSeq
			ic.OSrc, ic.ODst = p.Src, p.Dst
			if p.HasQuote {
				ic.Seq = 0
				ic.ISrc, ic.IDst = p.QSrc, p.QDst
			}
			ic.Gateway = netip.AddrFrom4([4]byte{})
			if !p.HasQuote {
				ic.ISrc, ic.IDst = ic.Gateway, ic.Gateway
			}
		}
		return
	}
	r.SrcPort, r.DstPort = p.SrcPort, p.DstPort
	if e.key.x&(1<<16) != 0 && !e.key.v6 {
		// DNS txid in the mask bytes, little-endian, in wire (canonical) order.
		lo, hi := uint8(e.key.x), uint8(e.key.x>>8)
		if r.RevBit {
			lo, hi = hi, lo
		}
		r.SrcMask, r.DstMask = lo, hi
	}
}

// checkKeys makes buildKey check recKey against the full record key
// (the tests set it).
var checkKeys = false

// recKey returns e's record key.
func (t *Tracker) recKey(e *entry) flow.Key {
	k := &e.key
	if k.kind == kARP || k.kind == kL2 {
		return t.rares.at(e.rare - 1).key
	}
	fromA := e.fl&fFromA != 0
	r := flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, RevBit: !fromA, Proto: k.proto}
	var a, b netip.Addr
	if k.v6 {
		r.AddrType = flow.AddrIPv6
		a, b = netip.AddrFrom16(k.a), netip.AddrFrom16(k.b)
	} else {
		a, b = netip.AddrFrom4([4]byte(k.a[:4])), netip.AddrFrom4([4]byte(k.b[:4]))
	}
	if fromA {
		r.Src, r.Dst, r.SrcPort, r.DstPort = a, b, k.pa, k.pb
	} else {
		r.Src, r.Dst, r.SrcPort, r.DstPort = b, a, k.pb, k.pa
	}
	if k.kind == kFrag {
		r.FragID = k.x
	}
	x := &e.kx
	r.ICMPType, r.ICMPCode, r.ICMPID, r.ICMPSeq = x.icmpType, x.icmpCode, x.icmpID, x.icmpSeq
	r.TpProto, r.SrcMask, r.DstMask = x.tpProto, x.srcMask, x.dstMask
	return r
}

// account adds p to direction s2d (true: source to destination).
func (t *Tracker) account(e *entry, p *decode.Packet, s2d bool) {
	d := 0
	if !s2d {
		d = 1
	}
	s := &e.s[d]
	if s.pkts == math.MaxUint32 && e.fl&fDirty != 0 {
		t.report(e, flow.CauseStatus) // before the interval's packet count wraps
	}
	if e.fl&fDirty == 0 {
		t.dirty(e, p.TS)
	}
	in := true
	if e.fl&fTCP != 0 && p.HasL4 {
		x := t.tcpOf(e)
		x.s[d].tflags |= p.TCPFlags
		in = argusSeq(x, p, d, e.s[0].pkts+e.s[1].pkts == 0 && e.fl&fStarted == 0)
	}
	if t.xOn {
		x := &t.optsOf(e.idx)[d]
		if t.opt.Jitter && !(p.Frag && !p.FirstFrag && e.key.kind != kFrag) {
			// argus 3.0.8.2 (ArgusTallyStats) files the time since this side's
			// previous packet, also across records, if it is under twice the
			// status interval, as active or idle by ArgusInProtocol (TCP:
			// jitTCP; other protocols: active); time only moves forward.
			// Non-first IPv4 fragments it tallies in their fragment flow, not the datagram's.
			if p.TS/1000 > x.last/1000 {
				if iv := p.TS/1000 - x.last/1000; x.last > 0 && iv < 2*t.status/1000 {
					if in {
						x.jit[0].add(iv)
					} else {
						x.jit[1].add(iv)
					}
				}
				x.last = p.TS
			}
		}
		if p.HasMAC && t.opt.MAC {
			switch {
			case x.macN == 0:
				x.mac, x.dmac, x.macN = p.SrcMAC, p.DstMAC, 1
			case x.mac != p.SrcMAC || x.dmac != p.DstMAC:
				x.macN = 2
			}
		}
		// argus 3.0.8.2 adds a datagram's non-first fragments to its flow's
		// counters only (ArgusUpdateParentFlow): not to its packet sizes,
		// user data or application bytes (generated ipv4_frag.pcap: ICMP
		// echo in 1514+1514+82-byte fragments, sminsz 1514, sappbytes 1480).
		folded := p.Frag && !p.FirstFrag && e.key.kind != kFrag
		if t.opt.PktSize && !folded {
			l := uint16(min(p.WireLen, 65535))
			if x.psMin == 0 || l < x.psMin {
				x.psMin = l
			}
			x.psMax = max(x.psMax, l)
		}
		if n := t.opt.UserData; n > 0 && int(x.ulen) < n && !folded {
			// argus copies from its upper-layer pointer: the ICMP message
			// from its header, the bytes after an ARP body or after the
			// headers of a layer-2 frame (decode.Packet.UserData).
			ud := p.Payload
			if p.UserData != nil {
				ud = p.UserData
			}
			if q, ok := icmpQuote(p); ok {
				ud = p.Payload[q:] // an ICMPv4 error: from the quoted transport header
			}
			m := copy(t.userOf(e, d)[x.ulen:], ud)
			x.ulen += uint16(m)
		}
	}
	if s.pkts == 0 {
		s.first = 0
		if p.TS > e.start && p.TS/1e9 == e.start/1e9 {
			s.first = uint32(p.TS - e.start)
		}
	}
	s.pkts++
	s.bytes += uint64(p.WireLen)
	e.lastPkt = p.TS
	if p.Net == decode.NetIPv4 || p.Net == decode.NetIPv6 {
		s.ttl, s.tos = p.TTL, p.TOS
		if p.Net == decode.NetIPv6 {
			// argus 3.0.8.2 reads an IPv6 packet's TOS from the wrong
			// half of the first header word (ntohs of its low 16 bits,
			// >> 4): flow label bits 4-11, not the traffic class
			// (zeek ftp/ipv6.pcap: label 0x01cef gives dtos 206).
			s.tos = uint8(p.FlowLbl >> 4)
		}
		s.fl |= sIPSeen
		s.ipid = uint16(p.IPID)
		s.ipopts |= uint8(p.IPOpts)
		if p.Frag && p.Net == decode.NetIPv4 { // argus marks no IPv6 fragments
			s.fl |= sFrag
			e.fl |= fFragSeen
		}
		switch {
		case p.Frag && !p.FirstFrag:
			if e.key.kind == kFrag { // not in the datagram's flow (folded, above)
				s.app += uint64(max(p.IPLen-p.IPHdrLen, 0))
			}
		case !p.HasL4:
			if p.Proto != 6 && p.Proto != 17 && p.Proto != 1 && p.Proto != 58 {
				// Other IP protocols (PIM, GRE, ...): argus counts the
				// whole IP payload (tcpdump pim-packet-assortment.pcap:
				// 14 for a 48-byte hello).
				s.app += uint64(p.AppLen)
			}
		case p.Proto == 1 && p.HasQuote:
			// For an ICMPv4 error argus moves on to the quoted datagram
			// (ArgusCreateFlow on it): its application bytes are the
			// quoted IP length less its header (generated
			// icmp_unreach.pcap: 28 for a quoted 48-byte UDP datagram).
			if q, ok := icmpQuote(p); ok {
				s.app += uint64(max(int(binary.BigEndian.Uint16(p.Payload[2:]))-q, 0))
			}
		case p.Proto == 1 || p.Proto == 58:
			// argus 3.0.8.2 counts the whole ICMP message as
			// application bytes, header included (zeek
			// communityid/icmp.pcap: 40 per 74-byte echo).
			s.app += uint64(p.AppLen + p.L4HdrLen)
		default:
			s.app += uint64(p.AppLen)
		}
	} else if e.key.kind == kARP {
		// argus takes the frame length less its ARP body (28) as
		// application bytes (ArgusCreateArpFlow then ArgusUpdateArpState:
		// zeek communityid/arp.pcap: 14 for a 42-byte frame, 32 for 60).
		s.app += uint64(max(p.WireLen-28, 0))
	} else {
		// A layer-2 flow's application bytes are its frame length
		// (tcpdump LLDP_and_CDP.pcap: 388 for a 388-byte CDP frame).
		s.app += uint64(p.WireLen)
	}
	if p.NVLAN > 0 {
		s.vlan = p.VLAN
		s.fl |= sVLANSeen
	}
	if p.NMPLS > 0 {
		s.mpls = p.MPLS
		s.fl |= sMPLSSeen
	}
	s.encaps |= p.Encaps
	if e.key.kind == kARP {
		e.fl |= fHasARP
		if p.ARPOp == 2 {
			t.rareOf(e).arpResp = p.ARPSha
		}
	}
	if e.fl&fTCP != 0 && p.HasL4 {
		t.tcp(e, p, d)
	}
	t.touch(e)
}

func (t *Tracker) tcp(e *entry, p *decode.Packet, d int) {
	x := t.tcpOf(e)
	s, o := &x.s[d], &x.s[1-d]
	pk := e.s[d].pkts
	f := p.TCPFlags
	s.tflags |= f
	prevWin := s.win
	// The window argus reports: the flow's first packet sets it unless it
	// is a RST; later, ArgusUpdateTCPSequence takes a non-zero window from
	// any packet but a bare SYN, a FIN or a RST (a RST-ACK refusing a SYN
	// leaves that side's window 0: generated RST flows, dwin 0).
	first := e.s[0].pkts+e.s[1].pkts == 1 && e.fl&fStarted == 0
	switch {
	case first:
		if f&decode.TCPRst == 0 {
			s.win = p.Win
		}
	case f == decode.TCPSyn, p.Win == 0, f&(decode.TCPFin|decode.TCPRst) != 0:
	default:
		s.win = p.Win
	}
	s.tlast = p.TS
	x.topts |= p.TCPOpts
	// argus 3.0.8.2 notes ECN from the flow's first packet only; after
	// that, an ACK echoing congestion (ECE) marks its side congested, for
	// the rest of the flow (zeek gre-sample.pcap 40264: flgs 't').
	const ece, cwr = decode.TCPEce, decode.TCPCwr
	if e.s[0].pkts+e.s[1].pkts == 1 && e.fl&fStarted == 0 {
		switch {
		case f&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn && f&(ece|cwr) == ece|cwr:
			x.topts |= optSrcECN
		case f&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck && f&(ece|cwr) == ece:
			x.topts |= optDstECN
		}
	} else if x.topts&(optSrcECN|optDstECN) != 0 && f&(ece|decode.TCPAck) == ece|decode.TCPAck {
		x.tstatus |= stSrcCong << d
	}
	if p.TCPOpts&decode.TCPOptWScale != 0 {
		s.wscale = p.WScale
	}
	if p.TCPOpts&decode.TCPOptMSS != 0 && !t.opt.NoMSS {
		s.mss = p.MSS
	}
	seg := uint32(p.AppLen)
	if f&decode.TCPSyn != 0 {
		seg++
	}
	// retrans: argus's state machine sees a SYN sent again (flag s/d);
	// data retransmissions are argusSeq's. dup: a segment behind what
	// this side sent, which adds no TCP bytes. argus does not count the
	// FIN in the sequence space.
	retrans, dup := false, false
	switch {
	case f&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn:
		// A SYN in SYN_SENT, SYN_RECEIVED or ESTABLISHED (a SYN, SYN-ACK
		// or data seen, no FIN yet): a retransmission, in every record
		// it falls in.
		if x.tstatus&(stSawSyn|stSynSent|stEst) != 0 && x.tstatus&stFin == 0 && f&(decode.TCPRst|decode.TCPFin) == 0 {
			retrans = true
		}
		dup = synBase(s, p.Seq, x.tstatus&stSawSyn != 0)
		x.tstatus |= stSawSyn
		// argus times the SYN-ACK from the SYN side's last packet, so
		// from the last of retransmitted SYNs (zeek pop3.pcap 26284:
		// synack 0.049931, not 3.045773 from the first SYN).
		if x.synAckT == 0 {
			x.synT = p.TS
		}
	case f&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck:
		// In SYN_RECEIVED or ESTABLISHED a SYN-ACK is a retransmission.
		if x.tstatus&(stSynSent|stEst) != 0 && x.tstatus&stFin == 0 {
			retrans = true
		}
		dup = synBase(s, p.Seq, x.tstatus&stSynSent != 0)
		if f&decode.TCPEce != 0 {
			// argus 3.0.8.2 does not take a SYN-ACK that carries ECE
			// for one: its record has no SAW_SYN_SENT and synack and
			// ackdat 0 (zeek tunnels/gre-sample.pcap 40264, slips test7
			// 51529; the same capture with that ECE bit cleared gives
			// status 0x1f, synack 0.045904, ackdat 0.000072, as ours).
			break
		}
		x.tstatus |= stSynSent
		if x.synT != 0 && x.synAckT == 0 {
			x.synAck = uint32((p.TS - x.synT) / 1000)
		}
		// argus times the ACK from the SYN-ACK side's last packet: the
		// last of retransmitted SYN-ACKs (zeek ssh.pcap 51489: ackdat
		// 0.000995 after the third SYN-ACK, not 0.214690 from the first).
		if x.tstatus&stEst == 0 {
			x.synAckT = p.TS
		}
	default:
		// The sequence base as argus sets it: on the flow's first packet
		// seq - 1 (a RST with seq 0: its ack - 1); on a later packet of a
		// side that has none, seq itself (ArgusUpdateTCPSequence, where
		// 0 means none: a RST-ACK with seq 0 leaves it unset, ra prints
		// dtcpb empty).
		switch {
		case s.sf&tsSeq != 0 && s.seqBase != 0:
		case !first: // (a base of 0, from a SYN with ISN 0, is none to argus)
			s.seqBase, s.nextSeq = p.Seq, p.Seq
			if p.Seq != 0 {
				s.sf |= tsSeq
			}
		case f&decode.TCPRst != 0 && p.Seq == 0:
			s.seqBase, s.nextSeq = p.Ack-1, p.Ack-1
			s.sf |= tsSeq
		default:
			s.seqBase, s.nextSeq = p.Seq-1, p.Seq
			s.sf |= tsSeq
		}
		if x.tstatus&stEst == 0 && f&decode.TCPRst == 0 {
			x.tstatus |= stEst
			// argus (SYN_RECEIVED -> ESTABLISHED) times it only when
			// this side's sequence is what the SYN-ACK acknowledged, in
			// its own view (argusSeq): not after data, not when the flow
			// began with the SYN-ACK (zeek tcp/missing-syn.pcap: 0).
			if x.synAckT != 0 && f&(decode.TCPAck|decode.TCPFin) == decode.TCPAck && x.ackDat == 0 && s.aseq == o.aack {
				x.ackDat = uint32((p.TS - x.synAckT) / 1000)
			}
		}
		if seg > 0 && int32(p.Seq+seg-s.nextSeq) <= 0 && pk > 1 {
			dup = true
		}
	}
	if retrans {
		s.retrans++
		x.tstatus |= stSrcRetrans << d
	}
	if end := p.Seq + seg; seg > 0 && int32(end-s.nextSeq) > 0 {
		s.nextSeq = end
	}
	if f&decode.TCPAck != 0 {
		s.ack = p.Ack
		if o.sf&tsFin != 0 && int32(p.Ack-o.finSeq) > 0 {
			x.tstatus |= stFinAck
			if s.sf&tsFin != 0 {
				e.fl |= fClosed
			}
		}
	}
	if !dup && f&(decode.TCPSyn) == 0 {
		s.tbytes += uint32(p.AppLen)
	}
	if f&decode.TCPFin != 0 {
		x.tstatus |= stFin
		s.sf |= tsFin
		s.finSeq = p.Seq + uint32(p.AppLen)
	}
	if f&decode.TCPRst != 0 {
		x.tstatus |= stSrcReset << d
		// argus 3.0.8.2 closes the flow (TCPS_CLOSED: 10 s timeout) on a
		// RST only outside SYN_SENT and with the RST's sequence number
		// within the window above its sender's own ack - 1; otherwise the
		// state is CLOSING and the flow keeps the TCP timeout (zeek
		// Teredo.pcap: the server's RST 18 s after the client's joins
		// the same flow).
		ack := s.ack
		if ack != 0 {
			ack--
		}
		sh := prevWin >> min(s.wscale, 14)
		if x.tstatus&(stSynSent|stEst) != 0 && p.Seq >= ack && p.Seq < ack+uint32(sh) {
			e.fl |= fClosed
		}
	}
}

// synBase takes a SYN's or SYN-ACK's sequence number as the side's base,
// unless it repeats the base a SYN of that kind already gave (seen): then
// the packet is a duplicate that adds no TCP bytes.
func synBase(s *tside, seq uint32, seen bool) (dup bool) {
	if seen && s.sf&tsSeq != 0 && seq == s.seqBase {
		return true
	}
	s.seqBase, s.nextSeq = seq, seq
	s.sf |= tsSeq
	return false
}

// icmpQuote returns the header length of the IPv4 datagram an ICMPv4
// error p quotes, if it is captured.
func icmpQuote(p *decode.Packet) (int, bool) {
	if p.Proto != 1 || !p.HasQuote || p.Net != decode.NetIPv4 || len(p.Payload) < 20 {
		return 0, false
	}
	q := int(p.Payload[0]&0x0F) * 4
	return q, q >= 20 && q <= len(p.Payload)
}

// mapICMP attaches an ICMP error to the flow it quotes (flag U/R/T).
func (t *Tracker) mapICMP(p *decode.Packet) {
	var k fkey
	k.kind, k.proto, k.v6 = kIP, p.QProto, p.Net == decode.NetIPv6
	put16(&k.a, p.QSrc)
	put16(&k.b, p.QDst)
	k.pa, k.pb = p.QSrcPort, p.QDstPort
	if p.QProto == 17 && (p.QSrcPort == 53 || p.QDstPort == 53) {
		// DNS flows are keyed with the transaction id (keyOf): take it
		// from the quoted datagram (zeek tunnels/gre-sample.pcap: argus
		// maps the port unreachable to 37675->53, flag U).
		o := 40
		if p.Net == decode.NetIPv4 && len(p.Payload) > 0 {
			o = int(p.Payload[0]&0x0F) * 4
		}
		if len(p.Payload) >= o+10 {
			k.x = uint32(p.Payload[o+8])<<8 | uint32(p.Payload[o+9]) | 1<<16
		}
	}
	// Same address at both ends (loopback): argus does not reorder by
	// port, each direction is its own flow.
	if after16(&k.a, &k.b) {
		k.a, k.b, k.pa, k.pb = k.b, k.a, k.pb, k.pa
	}
	e := t.lookup(&k)
	if e == nil {
		return
	}
	var q uint8
	if p.Proto == 1 {
		switch p.ICMPType {
		case 3:
			q = 1
		case 5:
			q = 2
		case 11:
			q = 4
		}
	} else {
		switch p.ICMPType {
		case 1:
			q = 1
		case 3:
			q = 4
		}
	}
	if q == 0 {
		return
	}
	e.fl |= fHasMap
	ic := t.rareOf(e)
	ic.icmpMap = flow.ICMPInfo{Qual: q, Type: p.ICMPType, Code: p.ICMPCode, OSrc: p.Src, ODst: p.Dst, ISrc: p.QSrc, IDst: p.QDst}
	if p.Net == decode.NetIPv4 {
		ic.icmpMap.Gateway = netip.AddrFrom4([4]byte{})
	}
	if e.fl&fDirty == 0 {
		t.dirty(e, p.TS)
	}
	if p.TS > e.lastPkt {
		e.lastPkt = p.TS
	}
}

// Advance moves the table's clock to now (packet time): it emits status
// records and removes idle flows. Packet calls it; call it directly when
// time passes without packets.
func (t *Tracker) Advance(now int64) {
	if t.clock(now) {
		t.scan(now)
	}
}

// clock moves the table's clock to now and says whether a scan is due.
func (t *Tracker) clock(now int64) bool {
	if now <= t.now {
		return false
	}
	t.now = now
	if now < t.nextScn {
		return false
	}
	if t.nextScn == 0 {
		t.nextScn = now + int64(time.Second)
		return false
	}
	t.nextScn = now + int64(time.Second)
	return true
}

// scan emits the status records due by now and removes the flows idle
// by now.
func (t *Tracker) scan(now int64) {
	// The buckets up to now. After a gap longer than the wheel every word
	// is due: one turn.
	last := now / wheelTick
	for b := max(t.wheelPos, last-t.wmask); t.wheelOn && b <= last; b++ {
		w := &t.wheel[b&t.wmask]
		t.wheelPos = b
		for j, i := range *w {
			if j&(warmLen-1) == 0 {
				t.warmEnts((*w)[j:min(j+warmLen, len(*w))])
			}
			e := t.ents.at(i)
			if e.fl&(fLive|fExpiring) != fLive || int64(e.wb)&t.wmask != b&t.wmask {
				continue // stale
			}
			at := t.expiry(e)
			if now >= at {
				e.fl |= fExpiring
				t.out = append(t.out, uint64(e.seq)<<32|uint64(i))
				continue
			}
			next := at
			if e.fl&fDirty != 0 {
				if due := e.start + t.status; now >= due {
					t.out = append(t.out, uint64(e.seq)<<32|uint64(i))
					// Reported below: it wakes at its expiry, or after
					// one more interval if it is busy (so that its next
					// interval need not move it).
					if now-e.lastPkt < wheelTick {
						next = min(at, now+t.status)
					}
				} else {
					next = min(at, due)
				}
			}
			// next > now: a later bucket, at least the next scan's.
			nb := max(next/wheelTick, last+1)
			e.wb = uint32(nb)
			if nb&t.wmask == b&t.wmask {
				t.pend = append(t.pend, i) // a turn ahead: the bucket being read
			} else {
				t.wheel[nb&t.wmask] = append(t.wheel[nb&t.wmask], i)
			}
		}
		if n := max(len(*w), len(t.pend)); cap(*w) > 4096 && cap(*w) > 4*n {
			// A bucket keeps the capacity of its busiest second: give
			// back what a burst left once this turn used a quarter of
			// it at most, so that the wheel's memory follows the flows
			// (gen-5000000: 28.5 -> 4.6 bytes per flow at the peak).
			*w = make([]uint32, 0, 2*n)
		}
		*w = append((*w)[:0], t.pend...)
		t.pend = t.pend[:0]
	}
	t.emitOut(flow.CauseTimeout)
	for k, i := range t.frags {
		if now-t.ents.at(i).lastPkt >= t.tmo[clFrag] {
			delete(t.frags, k)
		}
	}
}

// warmSlot loads every cache line of slot i (entry, option groups and
// TCP state): one load per line, none waiting for another, so that a
// packet's or a report's misses overlap. Slots are not line-aligned,
// hence the load of the last byte.
func (t *Tracker) warmSlot(i uint32) uint64 {
	e := unsafe.Pointer(t.ents.at(i))
	n := t.ents.s[0].stride
	if i&tcpBit != 0 {
		n = t.ents.s[1].stride
	}
	var sink uint64
	for o := uintptr(0); o < n; o += 64 {
		sink += uint64(*(*byte)(unsafe.Add(e, o)))
	}
	return sink + uint64(*(*byte)(unsafe.Add(e, n-1)))
}

// sortBySeq sorts words seq<<32|slab index by seq: a least-significant
// digit radix sort on the seq half, which is stable, so that equal words
// (a flow due twice) stay side by side as a full sort leaves them. It
// skips the digits all words share; tmp is its reused buffer. A large
// scan or the final flush sort 100k words this way about 5 times faster
// than slices.Sort.
func sortBySeq(v []uint64, tmp *[]uint64) {
	if len(v) < 256 {
		slices.Sort(v)
		return
	}
	if cap(*tmp) < len(v) {
		*tmp = make([]uint64, len(v))
	}
	src, dst := v, (*tmp)[:len(v)]
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	var count [256]int
	for shift := uint(32); shift < 64; shift += 8 {
		if (lo^hi)>>shift == 0 {
			break // no higher digit differs
		}
		count = [256]int{}
		for _, x := range src {
			count[byte(x>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue // every word has this digit
		}
		n := 0
		for d, c := range count {
			count[d] = n
			n += c
		}
		for _, x := range src {
			d := byte(x >> shift)
			dst[count[d]] = x
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &v[0] {
		copy(v, src)
	}
}

// warmLen is how many flows warmEnts loads ahead.
const warmLen = 32

// warmEnts loads the entries of slab indexes ws into the cache, with loads
// that do not wait for one another (Go has no prefetch instruction), so
// that their misses overlap instead of following one another.
func (t *Tracker) warmEnts(ws []uint32) {
	var sink int64
	for _, i := range ws {
		e := t.ents.at(i)
		sink += e.lastPkt + int64(e.fl)
	}
	t.sink += sink
}

// emitOut emits the records of t.out in flow creation order, as argus
// walks its flow queue: final records (cause) for the expiring flows,
// which leave the table, status records for the others.
func (t *Tracker) emitOut(cause flow.Cause) {
	sortBySeq(t.out, &t.sortTmp)
	x := &t.idx
	for j, v := range t.out {
		if j&(warmLen-1) == 0 {
			// Hash the next flows that leave and load their index
			// slots, so that those misses overlap.
			var sink uint64
			for k, v := range t.out[j:min(j+warmLen, len(t.out))] {
				sink += t.warmSlot(uint32(v)) // what report reads
				if e := t.ents.at(uint32(v)); e.fl&fExpiring != 0 {
					h := x.keyHash(&e.key)
					t.hb[k] = h
					sink += x.slots[h>>32&x.mask]
				}
			}
			t.sink += int64(sink)
		}
		if j > 0 && v == t.out[j-1] {
			continue // twice due (a stale word matching a reused slot)
		}
		e := t.ents.at(uint32(v))
		if e.fl&fExpiring != 0 {
			e.fl &^= fExpiring
			if e.fl&fDirty != 0 {
				t.report(e, cause)
			}
			t.removeH(e, t.hb[j&(warmLen-1)])
		} else {
			t.report(e, flow.CauseStatus)
		}
	}
	t.out = t.out[:0]
}

// makeRoom keeps the table under MaxMemory: if creating a flow keyed k
// would need memory past the cap, the flows nearest their idle timeout
// end first, with final records as on a timeout, until there is room.
func (t *Tracker) makeRoom(k *fkey) {
	for range 64 { // each round ends 1/16 of the flows
		var need int64
		// End only flows with fl&mask == val: those that free a slot of
		// the slabs that are full.
		var mask, val uint16
		tcp := k.kind == kIP && k.proto == 6
		es := &t.ents.s[0]
		if tcp {
			es, val = &t.ents.s[1], fTCP
		}
		if es.full() {
			mask = fTCP
			need += es.chunkBytes() + chunkLen*8 // and its wheel words
			need += chunkLen * 2 * int64(t.opt.UserData)
			if (t.idx.n+chunkLen)*4 > len(t.idx.slots)*3 {
				need += int64(len(t.idx.slots)) * 8 * 2 // the index doubles
			}
		}
		if k.kind == kIP && (k.proto == 1 || k.proto == 58) && t.icmps.full() {
			need += t.icmps.chunkBytes()
			mask, val = mask|fICMPX, val|fICMPX
		}
		if need == 0 || t.MemBytes()+need <= t.opt.MaxMemory || t.idx.n == 0 {
			return
		}
		if !t.force(mask, val&mask) {
			return
		}
	}
}

// force ends 1/16 of the flows (at least one) with fl&mask == val,
// walking the wheel from its nearest bucket: first the words that are
// idle expiries, then any. It reports whether it ended any.
func (t *Tracker) force(mask, val uint16) bool {
	goal := max(t.idx.n/16, 1)
	for pass := 0; pass < 2 && len(t.out) < goal; pass++ {
		for d := int64(0); d <= t.wmask && len(t.out) < goal; d++ {
			b := t.wheelPos + d
			for _, i := range t.wheel[b&t.wmask] {
				e := t.ents.at(i)
				if e.fl&(fLive|fExpiring) != fLive || int64(e.wb)&t.wmask != b&t.wmask || e.fl&mask != val {
					continue
				}
				if pass == 0 && t.expiry(e)/wheelTick > b {
					continue // its wake-up here is a status record
				}
				e.fl |= fExpiring
				t.out = append(t.out, uint64(e.seq)<<32|uint64(i))
				if len(t.out) >= goal {
					break
				}
			}
		}
	}
	n := len(t.out)
	t.Forced += uint64(n)
	t.emitOut(flow.CauseTimeout)
	// Drop the words of the flows that left (and any stale ones), which
	// would otherwise stay until their buckets come up, and give back
	// bucket space they took.
	for j := range t.wheel {
		w := t.wheel[j]
		keep := w[:0]
		for _, i := range w {
			if e := t.ents.at(i); e.fl&fLive != 0 && int64(e.wb)&t.wmask == int64(j) {
				keep = append(keep, i)
			}
		}
		if cap(w) > 64 && cap(w) > 4*len(keep) {
			keep = append(make([]uint32, 0, 2*len(keep)), keep...)
		}
		t.wheel[j] = keep
	}
	return n > 0
}

func (t *Tracker) remove(e *entry) { t.removeH(e, t.idx.keyHash(&e.key)) }

// removeH is remove with the hash h of e's key.
func (t *Tracker) removeH(e *entry, h uint64) {
	t.delH(h, e.idx+1)
	if e.fl&fFragRef != 0 {
		for k, v := range t.frags {
			if v == e.idx {
				delete(t.frags, k)
			}
		}
	}
	t.release(e)
}

// release frees e's slots.
func (t *Tracker) release(e *entry) {
	if e.fl&fICMPX != 0 {
		t.icmps.release(e.ext)
	}
	if e.rare != 0 {
		t.rares.release(e.rare - 1)
	}
	e.fl, e.rare = 0, 0
	t.ents.release(e.idx)
}

func (t *Tracker) finish(e *entry, cause flow.Cause) {
	if e.fl&fDirty != 0 {
		t.report(e, cause)
	}
}

// Flush emits a final record for every flow with unreported packets, in
// flow creation order, and empties the table.
func (t *Tracker) Flush() {
	// Creation order: sort seq << 32 | slab index.
	order := make([]uint64, 0, t.idx.n)
	for _, s := range t.idx.slots {
		if i := uint32(s); i != 0 {
			order = append(order, uint64(t.ents.at(i-1).seq)<<32|uint64(i-1))
		}
	}
	sortBySeq(order, &t.sortTmp)
	for _, v := range order {
		t.finish(t.ents.at(uint32(v)), flow.CauseStop)
	}
	for _, v := range order {
		t.ents.at(uint32(v)).fl = 0
	}
	t.ents.reset()
	t.icmps.reset()
	t.rares.reset()
	clear(t.idx.slots)
	t.idx.n = 0
	for i := range t.wheel {
		t.wheel[i] = t.wheel[i][:0]
	}
	clear(t.frags)
}

// report emits e's record for the current interval and starts the next.
func (t *Tracker) report(e *entry, cause flow.Cause) {
	r := &t.rec
	ud0, ud1 := r.SrcUser.Data[:0], r.DstUser.Data[:0]
	*r = flow.Record{}
	r.Type = flow.TypeFlow
	// argus 3.0.8.2 labels a flow's first record START and later ones STATUS.
	r.Cause = flow.CauseStatus
	started := e.fl&fStarted != 0
	if !started {
		r.Cause = flow.CauseStart
	}
	if cause == flow.CauseTimeout && started {
		r.Cause = flow.CauseStatus
	}
	r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasSeq
	if t.opt.HasID {
		r.Has |= flow.HasSrcID
		r.SrcID = t.opt.MonitorID
	}
	r.Seq = e.seq
	r.Key = t.recKey(e)
	if e.key.kind == kFrag {
		r.Has |= flow.HasFragKey
		// argus writes its in-memory fragment object (52 bytes, host
		// order) for a fragment-only flow; ra prints flag f from it.
		o := &t.fragObj
		*o = [52]byte{}
		n := e.s[0].pkts + e.s[1].pkts
		b := e.s[0].app + e.s[1].app
		binary.LittleEndian.PutUint32(o[0:], uint32(n))
		binary.LittleEndian.PutUint32(o[12:], uint32(b))
		binary.LittleEndian.PutUint32(o[16:], uint32(b))
		t.fragDSR[0] = flow.Field{Source: flow.SourceArgusDSR, ID: 0x3045000e, Value: o[:]}
		r.Extra = t.fragDSR[:]
	}
	if r.Key.Proto == 1 && e.key.kind == kIP || r.Key.Proto == 58 && e.key.kind == kIP {
		r.Has |= flow.HasICMPKey
	}
	s0, s1 := &e.s[0], &e.s[1]
	r.Start, r.Last = e.start, e.lastPkt
	// argus 3.0.8.2 (and 5.0.3) take the record's start as the minimum of
	// the side start/end times comparing whole seconds only (its tmin
	// test reads tv_sec twice), first of src start, src end, dst start,
	// dst end on a tie: when the destination spoke first in the same
	// second, the source's first packet is the start (zeek
	// tcp/miss_end_data.pcap: 1331764481.712243, not the FIN at .712014).
	if s0.pkts > 0 {
		r.Start += int64(s0.first)
	}
	for i, s := range []*side{s0, s1} {
		r.Pkts[i], r.Bytes[i] = uint64(s.pkts), s.bytes
	}
	if t.opt.AppBytes {
		// Without -A argus's record has no application byte counts
		// (ra 5.0.3 prints sappbytes 0 from its v5 goldens).
		r.Has |= flow.HasAppBytes
		r.AppBytes = [2]uint64{s0.app, s1.app}
	}
	ip := e.key.kind == kIP || e.key.kind == kFrag
	if ip {
		r.Has |= flow.HasIPAttr
		a := &r.IPAttr
		for i, s := range []*side{s0, s1} {
			if s.fl&sIPSeen == 0 {
				continue
			}
			a.Present |= 1 << i
			a.TTL[i], a.TOS[i] = s.ttl, s.tos
			a.IPID[i] = s.ipid>>8 | s.ipid<<8 // ra's reading of argus's host-order bytes
			if s.ipopts != 0 {
				a.Present |= 4 << i
				a.Options[i] = uint32(s.ipopts)
			}
			if s.fl&sFrag != 0 {
				a.Present |= 0x10 << i
			}
		}
		if e.key.v6 {
			a.IPID = [2]uint16{}
		}
	}
	if s0.encaps|s1.encaps != 0 {
		r.Has |= flow.HasEncaps
		r.Encaps.Mask = [2]uint32{s0.encaps, s1.encaps}
	}
	if (s0.fl|s1.fl)&sVLANSeen != 0 {
		r.Has |= flow.HasVLAN
		for i, s := range []*side{s0, s1} {
			if s.fl&sVLANSeen != 0 {
				r.VLAN.Present |= 1 << i
				r.VLAN.TCI[i] = s.vlan
			}
		}
	}
	if (s0.fl|s1.fl)&sMPLSSeen != 0 {
		r.Has |= flow.HasMPLS
		for i, s := range []*side{s0, s1} {
			if s.fl&sMPLSSeen != 0 {
				r.MPLS.Subtype |= 1 << i
				r.MPLS.Count[i] = 1
				r.MPLS.Label[i] = s.mpls
			}
		}
	}
	var x *[2]sideX
	if t.xOn {
		x = t.optsOf(e.idx)
	}
	if t.opt.MAC && (x[0].macN > 0 || x[1].macN > 0) {
		r.Has |= flow.HasMAC
		if x[0].macN > 0 {
			r.MAC.Src, r.MAC.Dst = x[0].mac, x[0].dmac
		} else {
			r.MAC.Src, r.MAC.Dst = x[1].dmac, x[1].mac
		}
		if x[0].macN > 1 {
			r.MAC.Flags |= 1
		}
		if x[1].macN > 1 {
			r.MAC.Flags |= 2
		}
	}
	if t.opt.PktSize {
		r.Has |= flow.HasPktSize
		for i, s := range []*side{s0, s1} {
			if s.pkts > 0 {
				r.PktSize.Dirs |= 1 << i
				r.PktSize.Min[i], r.PktSize.Max[i] = x[i].psMin, x[i].psMax
			}
		}
	}
	if t.opt.Jitter {
		// A group goes out only when it holds an interval (argus 3.0.8.2
		// ArgusGenerateRecord), so no jitter DSR for single packets.
		for i := range x {
			x := &x[i]
			if x.jit[0].n > 0 {
				r.Jitter.Present |= 1 << (2 * i)
				r.Jitter.Act[i] = x.jit[0].stat()
			}
			if x.jit[1].n > 0 {
				r.Jitter.Present |= 2 << (2 * i)
				r.Jitter.Idle[i] = x.jit[1].stat()
			}
		}
		if r.Jitter.Present != 0 {
			r.Has |= flow.HasJitter
		}
	}
	if t.opt.UserData > 0 {
		r.SrcUser.Data, r.DstUser.Data = ud0, ud1
		for i, s := range []*side{s0, s1} {
			if s.pkts == 0 {
				continue
			}
			u := &r.SrcUser
			g := flow.HasSrcUser
			if i == 1 {
				u, g = &r.DstUser, flow.HasDstUser
			}
			r.Has |= g
			u.Limit = uint16(t.opt.UserData)
			u.Data = append(u.Data, t.userOf(e, i)[:x[i].ulen]...)
		}
	}
	var tx *tcpX
	switch {
	case e.fl&fTCP != 0:
		tx = t.tcpOf(e)
		r.Has |= flow.HasTCP
		tc := &r.TCP
		tc.Object, tc.HasDst = flow.TCPPerf, true
		tc.Status, tc.Options = tx.tstatus, tx.topts
		tc.SynAck, tc.AckDat = tx.synAck, tx.ackDat
		for i := range tx.s {
			s, ts := &tx.s[i], &tc.Side[i]
			ts.LastTime, ts.SeqBase, ts.Seq, ts.Ack = s.tlast, s.seqBase, s.nextSeq, s.ack
			ts.Bytes, ts.Retrans, ts.Win, ts.Flags, ts.WinShift, ts.MSS = s.tbytes, s.retrans, s.win, s.tflags, s.wscale, s.mss
		}
	case e.fl&fHasICMP != 0:
		r.Has |= flow.HasICMP
		if e.fl&fICMPX != 0 {
			r.ICMP = t.icmps.at(e.ext).info()
		} else {
			r.ICMP = t.rares.at(e.rare - 1).icmp
		}
	case e.fl&fHasARP != 0:
		r.Has |= flow.HasARP
		if e.rare != 0 {
			r.ARPResp = t.rares.at(e.rare - 1).arpResp
		}
	}
	if e.fl&fHasMap != 0 {
		r.Has |= flow.HasICMPMap
		r.ICMPMap = t.rares.at(e.rare - 1).icmpMap
	}
	t.Records++
	t.emit(r)
	if tx != nil {
		// argus's retransmission, window-shut and out-of-order flags
		// say what happened in the record's interval (ArgusTCPFlowRecord
		// derives them from side status the report clears).
		tx.tstatus &^= (stSrcRetrans | stSrcWinShut | stSrcOOO) * 3
	}
	// Next interval: counters restart, cumulative TCP state stays.
	e.fl = e.fl&^(fDirty|fHasMap) | fStarted
	e.start = t.now // the report's scan: the idle timeout counts from it (expiry)
	for i := range e.s {
		s := &e.s[i]
		s.pkts, s.bytes, s.app = 0, 0, 0
		if x != nil {
			x[i].jit = [2]jstat{}
			// The MAC group stays: argus sets it from the flow's first
			// packet and never clears it (ArgusZeroRecord skips it).
			x[i].psMin, x[i].psMax = 0, 0
			x[i].ulen = 0 // argus's user data buffer restarts every record (ArgusZeroRecord)
		}
		if tx != nil {
			ts := &tx.s[i]
			ts.tbytes, ts.retrans, ts.tflags = 0, 0, 0
			ts.awinb, ts.aipid = 0, 0 // argus restarts winbytes and the ip_id it compares every report
			// argus restarts the sequence base every report from its own
			// view of the sequence (ArgusZeroRecord: seqbase = seq), which
			// leaves out the SYN and moves only on data it accepts
			// (argusSeq); 0 means none, set by the side's next packet.
			ts.seqBase = ts.aseq
			if ts.aseq == 0 {
				ts.sf &^= tsSeq
			} else {
				ts.sf |= tsSeq
			}
		}
		s.ipopts, s.encaps = 0, 0
		s.fl &^= sFrag | sVLANSeen | sMPLSSeen
	}
}
