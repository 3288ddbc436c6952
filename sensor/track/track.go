// Package track keeps the sensor's flow table: packets (decode.Packet) are
// folded into bidirectional flows keyed as argus keys them, and flows are
// reported as flow.Record values: a status record every StatusInterval
// while a flow is active (per-interval deltas), and a final record when it
// closes, idles out or the table is flushed (argus-clients.md §5.2).
//
// Time comes only from packet timestamps. The table has no fixed size: it
// grows with the active flows (Active reports them).
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
	// UDP, ICMP or IGMP (PIM, GRE, ...): argus 3.0.8.2 keeps such a flow
	// through 37 s of silence and ends it by 62 s (observed; default 60 s).
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
	def(&o.IPOtherTimeout, 60)
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

// wheelTick is the idle-expiry wheel's bucket width.
const wheelTick = int64(time.Second)

// dueEnt is a status-schedule slot: e had unreported packets from start.
// It is stale once e was reported, expired or reused (start differs).
type dueEnt struct {
	e     *entry
	start int64
}

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

// Tracker is the flow table. It is not safe for concurrent use; shard
// flows by key across Trackers to use several cores.
type Tracker struct {
	opt     Options
	emit    func(*flow.Record)
	idx     index           // flow key -> slab index + 1
	frags   map[fkey]*entry // non-first fragments -> parent flow
	now     int64
	nextScn int64
	seq     uint32
	rec     flow.Record
	fragObj [52]byte      // argus's fragment network object (ARGUS_NETWORK_SUBTYPE_FRAG)
	fragDSR [1]flow.Field // r.Extra of a fragment flow's record
	scratch flow.Key
	status  int64
	tmo     [numLists]int64
	// Flow storage: slab chunks that never move (entry pointers stay
	// valid while a flow is in the table), and a free list through next.
	chunks [][]entry
	used   int // slots handed out of the chunks
	free   *entry
	// Timing. Idle expiry: a wheel of one-second buckets of (slab index,
	// generation) words; a flow sits in the bucket of a time no later than
	// its lastPkt + timeout and, when that bucket comes up while it was
	// active since, moves to the bucket of its new expiry time, so packets
	// never touch the wheel. Status records: a FIFO of flows by the start
	// of their unreported interval.
	wheel    [][]uint64
	wheelPos int64 // bucket number (time / wheelTick) of the last scan
	wheelOn  bool
	pend     []uint64
	out      []uint64 // this scan's records: seq << 32 | slab index
	due      []dueEnt
	dueHd    int
	late     []dueEnt // intervals started out of order (packets from the past): every scan checks them
	// Counters.
	Records uint64 // records emitted
	Created uint64 // flows created
	Forced  uint64 // flows expired early to stay under the memory cap
}

// MemBytes returns the bytes the table holds: flow storage, index and
// timing structures (the figure the memory cap applies to).
func (t *Tracker) MemBytes() int64 {
	n := int64(len(t.chunks)) * chunkLen * int64(unsafe.Sizeof(entry{}))
	n += int64(len(t.idx.slots)) * 8
	n += int64(cap(t.due)+cap(t.late)) * int64(unsafe.Sizeof(dueEnt{}))
	for _, w := range t.wheel {
		n += int64(cap(w)) * 8
	}
	return n
}

// New returns a Tracker that calls emit for every record. The record
// passed to emit is reused after emit returns (Detach or copy to keep it).
func New(opt Options, emit func(*flow.Record)) *Tracker {
	opt.defaults()
	t := &Tracker{opt: opt, emit: emit, frags: make(map[fkey]*entry)}
	t.idx.init(1024)
	t.idx.seed = uint64(time.Now().UnixNano()) | 1
	t.status = int64(opt.StatusInterval)
	defer func() {
		n := 1
		for int64(n) < slices.Max(t.tmo[:])/wheelTick+4 {
			n *= 2
		}
		t.wheel = make([][]uint64, n)
	}()
	t.tmo = [numLists]int64{int64(opt.IPTimeout), int64(opt.TCPTimeout), int64(opt.ICMPTimeout), int64(opt.IGMPTimeout),
		int64(opt.FragTimeout), int64(opt.ARPTimeout), int64(opt.OtherTimeout), int64(opt.IPOtherTimeout), min(int64(opt.TCPTimeout), int64(10*time.Second))}
	return t
}

// Active returns the number of flows in the table.
func (t *Tracker) Active() int { return t.idx.n }

// side is one direction of a flow.
type side struct {
	pkts, bytes, app uint64
	tlast            int64 // TCP
	ipopts           uint32
	mpls             uint32
	encaps           uint32
	ipid             uint16
	vlan             uint16
	ttl, tos         uint8
	frag             bool
	ipSeen           bool // ttl/tos/ipid hold a packet of this side (argus keeps them across records)
	vlanSeen         bool
	mplsSeen         bool
	// TCP
	tflags  uint8
	seqSet  bool
	wscale  uint8
	finSeen bool
	win     uint16
	mss     uint16
	seqBase uint32
	nextSeq uint32 // highest seq+len seen
	ack     uint32
	tbytes  uint32
	retrans uint32
	finSeq  uint32
}

// sideX holds one direction's optional groups (-J, -U, -Z), out of line:
// allocated only when one of those options is on.
type sideX struct {
	last         int64 // last packet (jitter)
	psMin, psMax uint16
	mac, dmac    [6]byte // -m: sender and receiver MAC of the first packet
	macN         uint8   // 0 none, 1 one, 2 several
	// jitter (active inter-packet times, ns)
	jn               uint32
	jmin, jmax, jsum float64
	jsq              float64
	user             []byte
}

// icmpX holds the ICMP data of ICMP flows and flows an ICMP error maps
// to, and the record key of ARP and layer-2 flows.
type icmpX struct {
	icmp, icmpMap flow.ICMPInfo
	key           flow.Key
}

// keyX holds the record key fields of IP flows that the table key does
// not give (recKey makes the rest).
type keyX struct {
	icmpType, icmpCode        uint8
	icmpID, icmpSeq           uint16
	tpProto, srcMask, dstMask uint8
}

type entry struct {
	key      fkey
	next     *entry // free list
	x        *[2]sideX
	ic       *icmpX
	s        [2]side
	start    int64
	lastPkt  int64
	seq      uint32
	idx      uint32 // slab index
	kx       keyX   // record key (recKey), first-seen orientation
	arpResp  [6]byte
	gen      uint32 // wheel generation: older wheel words are stale
	exp      int64  // wheel time, no later than lastPkt + timeout
	class    uint8
	live     bool // in the table
	fromA    bool // first packet travelled a -> b
	hasICMP  bool
	hasMap   bool
	hasARP   bool
	started  bool // a record was emitted already
	dirty    bool // packets since the last record
	fragSeen bool
	fragRef  bool // a frags entry points here
	expiring bool // idle: its record is in this scan's output
	// TCP (whole flow).
	tcp     bool
	closed  bool
	tstatus uint32
	topts   uint32
	synAck  uint32
	ackDat  uint32
	synT    int64
	synAckT int64
}

const (
	stSawSyn     = 0x1
	stSynSent    = 0x2
	stEst        = 0x4
	stFin        = 0x8
	stFinAck     = 0x10
	stClose      = 0x20
	stSrcRetrans = 0x100
	stSrcReset   = 0x1000
	stSrcOOO     = 0x10000
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
	k.a, k.b = addr16(p.Src), addr16(p.Dst)
	class = clIP
	if p.Frag && !p.FirstFrag {
		k.kind, class = kFrag, clFrag
		k.x = p.IPID
		fwd = true
		if bytes.Compare(k.a[:], k.b[:]) > 0 {
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
			k.b = addr16(g)
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
	if bytes.Compare(k.a[:], k.b[:]) > 0 {
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
func (t *Tracker) Packet(p *decode.Packet) {
	t.Account(p)
	if QuotesFlow(p) {
		t.mapICMP(p)
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
	t.Advance(p.TS)
	if QuotesFlow(p) {
		t.mapICMP(p)
	}
}

// Account folds p into its own flow only (see MapICMP).
func (t *Tracker) Account(p *decode.Packet) {
	t.Advance(p.TS)
	k, fwd, class := t.keyOf(p)
	if k.kind == kFrag && !k.v6 { // argus keeps IPv6 fragments in their own flow
		if e := t.frags[k]; e != nil {
			t.account(e, p, e.fromA == fwd)
			e.fragSeen = true
			return
		}
	}
	e := t.lookup(k)
	if e != nil && e.tcp && p.Proto == 6 && p.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn &&
		(e.closed || e.tstatus&(stSrcReset|stSrcReset<<1) != 0) {
		t.finish(e, flow.CauseStop)
		t.remove(e)
		e = nil
	}
	if e == nil {
		// argus orients a flow an echo reply starts as the request would
		// be: the reply is a destination packet (buildKey keeps type 0).
		e = t.create(k, fwd || orphanReply(p), class, p)
	} else if e.dirty && p.TS-e.start >= t.status {
		t.report(e, flow.CauseStatus)
	}
	dir := e.fromA != fwd
	t.account(e, p, !dir)
	if p.Frag && p.FirstFrag && !k.v6 {
		fk := k
		fk.kind = kFrag
		fk.a, fk.b = addr16(p.Src), addr16(p.Dst)
		fk.pa, fk.pb, fk.y = 0, 0, 0
		fk.x = p.IPID
		if bytes.Compare(fk.a[:], fk.b[:]) > 0 {
			fk.a, fk.b = fk.b, fk.a
		}
		if _, ok := t.frags[fk]; !ok {
			t.frags[fk] = e
			e.fragRef = true
		}
	}
}

func (t *Tracker) create(k fkey, fwd bool, class uint8, p *decode.Packet) *entry {
	var e *entry
	var idx uint32
	if e = t.free; e != nil {
		t.free = e.next
		x, ic, i := e.x, e.ic, e.idx
		*e = entry{}
		e.x, e.ic, idx = x, ic, i
		if x != nil {
			u0, u1 := x[0].user[:0], x[1].user[:0]
			*x = [2]sideX{}
			x[0].user, x[1].user = u0, u1
		}
		if ic != nil {
			*ic = icmpX{}
		}
	} else {
		c := t.used >> chunkBits
		if c == len(t.chunks) {
			t.chunks = append(t.chunks, make([]entry, chunkLen))
		}
		e = &t.chunks[c][t.used&(chunkLen-1)]
		idx = uint32(t.used)
		t.used++
		if t.opt.Jitter || t.opt.PktSize || t.opt.UserData > 0 || t.opt.MAC {
			e.x = new([2]sideX)
		}
	}
	t.seq++
	t.Created++
	e.idx = idx
	e.key, e.fromA, e.class, e.seq = k, fwd, class, t.seq
	e.start = p.TS
	e.lastPkt = p.TS
	e.live = true
	e.tcp = k.kind == kIP && k.proto == 6
	t.buildKey(e, p)
	t.put(&k, idx+1)
	t.schedule(e, p.TS+t.tmo[class])
	return e
}

// lookup returns the flow keyed k, or nil.
func (t *Tracker) lookup(k fkey) *entry {
	i := t.get(&k)
	if i == 0 {
		return nil
	}
	i--
	return &t.chunks[i>>chunkBits][i&(chunkLen-1)]
}

func (t *Tracker) icmpOf(e *entry) *icmpX {
	if e.ic == nil {
		e.ic = new(icmpX)
	}
	return e.ic
}

// dirty starts e's unreported interval at ts and schedules its status record.
func (t *Tracker) dirty(e *entry, ts int64) {
	e.start = ts
	e.dirty = true
	if n := len(t.due); n > t.dueHd && ts < t.due[n-1].start {
		t.late = append(t.late, dueEnt{e, ts})
		return
	}
	if t.dueHd > 0 && t.dueHd >= len(t.due)/2 {
		n := copy(t.due, t.due[t.dueHd:])
		clear(t.due[n:])
		t.due = t.due[:n]
		t.dueHd = 0
	}
	t.due = append(t.due, dueEnt{e, ts})
}

// timeout returns e's idle timeout.
func (t *Tracker) timeout(e *entry) int64 {
	if e.closed {
		return t.tmo[lsClosed]
	}
	return t.tmo[e.class]
}

// schedule puts e in the wheel bucket of time at (stale words of e stay
// behind and are skipped).
func (t *Tracker) schedule(e *entry, at int64) {
	e.gen++
	e.exp = at
	b := at / wheelTick
	if !t.wheelOn {
		t.wheelPos, t.wheelOn = b, true
		if t.now > 0 {
			t.wheelPos = min(b, t.now/wheelTick)
		}
	}
	b = max(b, t.wheelPos)
	w := &t.wheel[b&int64(len(t.wheel)-1)]
	*w = append(*w, uint64(e.idx)<<32|uint64(e.gen))
}

// touch keeps e's wheel time no later than its expiry (a flow that closed,
// or a packet from the past).
func (t *Tracker) touch(e *entry) {
	if at := e.lastPkt + t.timeout(e); at < e.exp {
		t.schedule(e, at)
	}
}

// buildKey fills the record key in first-seen orientation.
func (t *Tracker) buildKey(e *entry, p *decode.Packet) {
	var r *flow.Key
	if e.key.kind == kARP || e.key.kind == kL2 {
		r = &t.icmpOf(e).key
	} else {
		r = &t.scratch
		*r = flow.Key{}
		defer func() {
			e.kx = keyX{r.ICMPType, r.ICMPCode, r.ICMPID, r.ICMPSeq, r.TpProto, r.SrcMask, r.DstMask}
			if checkKeys && t.recKey(e) != *r {
				panic(fmt.Sprintf("recKey %+v, want %+v", t.recKey(e), *r))
			}
		}()
	}
	r.RevBit = !e.fromA
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
		e.hasICMP = true
		ic := &t.icmpOf(e).icmp
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
		return e.ic.key
	}
	r := flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, RevBit: !e.fromA, Proto: k.proto}
	var a, b netip.Addr
	if k.v6 {
		r.AddrType = flow.AddrIPv6
		a, b = netip.AddrFrom16(k.a), netip.AddrFrom16(k.b)
	} else {
		a, b = netip.AddrFrom4([4]byte(k.a[:4])), netip.AddrFrom4([4]byte(k.b[:4]))
	}
	if e.fromA {
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
	if t.opt.Jitter && s.pkts > 0 {
		x := &e.x[d]
		v := float64(p.TS - x.last)
		if x.jn == 0 || v < x.jmin {
			x.jmin = v
		}
		x.jmax = max(x.jmax, v)
		x.jsum += v
		x.jsq += v * v
		x.jn++
	}
	if !e.dirty {
		t.dirty(e, p.TS)
	}
	s.pkts++
	s.bytes += uint64(p.WireLen)
	if t.opt.Jitter {
		e.x[d].last = p.TS
	}
	e.lastPkt = p.TS
	if p.Net == decode.NetIPv4 || p.Net == decode.NetIPv6 {
		s.ttl, s.tos, s.ipSeen = p.TTL, p.TOS, true
		s.ipid = uint16(p.IPID)
		s.ipopts |= p.IPOpts
		if p.Frag && p.Net == decode.NetIPv4 { // argus marks no IPv6 fragments
			s.frag = true
			e.fragSeen = true
		}
		if p.HasL4 || p.Frag && !p.FirstFrag {
			if p.Frag && !p.FirstFrag {
				s.app += uint64(max(p.IPLen-p.IPHdrLen, 0))
			} else {
				s.app += uint64(p.AppLen)
			}
		}
	}
	if p.HasMAC && t.opt.MAC {
		x := &e.x[d]
		switch {
		case x.macN == 0:
			x.mac, x.dmac, x.macN = p.SrcMAC, p.DstMAC, 1
		case x.mac != p.SrcMAC:
			x.macN = 2
		}
	}
	if p.NVLAN > 0 {
		s.vlan, s.vlanSeen = p.VLAN, true
	}
	if p.NMPLS > 0 {
		s.mpls, s.mplsSeen = p.MPLS, true
	}
	s.encaps |= p.Encaps
	if t.opt.PktSize {
		x := &e.x[d]
		l := uint16(min(p.WireLen, 65535))
		if x.psMin == 0 || l < x.psMin {
			x.psMin = l
		}
		x.psMax = max(x.psMax, l)
	}
	if n := t.opt.UserData; n > 0 && len(e.x[d].user) < n && len(p.Payload) > 0 {
		x := &e.x[d]
		if x.user == nil {
			x.user = make([]byte, 0, n)
		}
		m := min(n-len(x.user), len(p.Payload))
		x.user = append(x.user, p.Payload[:m]...)
	}
	if e.key.kind == kARP {
		e.hasARP = true
		if p.ARPOp == 2 {
			e.arpResp = p.ARPSha
		}
	}
	if e.tcp && p.HasL4 {
		t.tcp(e, p, d)
	}
	t.touch(e)
}

func (t *Tracker) tcp(e *entry, p *decode.Packet, d int) {
	s, o := &e.s[d], &e.s[1-d]
	f := p.TCPFlags
	s.tflags |= f
	s.win = p.Win
	s.tlast = p.TS
	e.topts |= p.TCPOpts
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
	retrans := false // argus does not count the FIN in the sequence space
	switch {
	case f&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn:
		if e.tstatus&stSawSyn != 0 && s.seqSet && p.Seq == s.seqBase {
			retrans = true
		} else {
			s.seqBase, s.seqSet = p.Seq, true
			s.nextSeq = p.Seq
		}
		e.tstatus |= stSawSyn
		if e.synT == 0 {
			e.synT = p.TS
		}
	case f&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck:
		if e.tstatus&stSynSent != 0 && s.seqSet && p.Seq == s.seqBase {
			retrans = true
		} else {
			s.seqBase, s.seqSet = p.Seq, true
			s.nextSeq = p.Seq
		}
		e.tstatus |= stSynSent
		if e.synT != 0 && e.synAckT == 0 {
			e.synAck = uint32((p.TS - e.synT) / 1000)
		}
		if e.synAckT == 0 {
			e.synAckT = p.TS
		}
	default:
		if !s.seqSet {
			s.seqBase, s.seqSet = p.Seq-1, true
			s.nextSeq = p.Seq
		}
		if e.tstatus&stEst == 0 && f&decode.TCPRst == 0 {
			e.tstatus |= stEst
			if e.synAckT != 0 && f&decode.TCPAck != 0 && e.ackDat == 0 {
				e.ackDat = uint32((p.TS - e.synAckT) / 1000)
			}
		}
		if seg > 0 && int32(p.Seq+seg-s.nextSeq) <= 0 && s.pkts > 1 {
			retrans = true
		}
	}
	if retrans {
		s.retrans++
		e.tstatus |= stSrcRetrans << d
	}
	if end := p.Seq + seg; seg > 0 && int32(end-s.nextSeq) > 0 {
		s.nextSeq = end
	}
	if f&decode.TCPAck != 0 {
		s.ack = p.Ack
		if o.finSeen && int32(p.Ack-o.finSeq) > 0 {
			e.tstatus |= stFinAck
			if s.finSeen {
				e.closed = true
			}
		}
	}
	if !retrans && f&(decode.TCPSyn) == 0 {
		s.tbytes += uint32(p.AppLen)
	}
	if f&decode.TCPFin != 0 {
		e.tstatus |= stFin
		s.finSeen = true
		s.finSeq = p.Seq + uint32(p.AppLen)
	}
	if f&decode.TCPRst != 0 {
		e.tstatus |= stSrcReset << d
		e.closed = true
	}
}

// mapICMP attaches an ICMP error to the flow it quotes (flag U/R/T).
func (t *Tracker) mapICMP(p *decode.Packet) {
	var k fkey
	k.kind, k.proto, k.v6 = kIP, p.QProto, p.Net == decode.NetIPv6
	k.a, k.b = addr16(p.QSrc), addr16(p.QDst)
	k.pa, k.pb = p.QSrcPort, p.QDstPort
	// Same address at both ends (loopback): argus does not reorder by
	// port, each direction is its own flow.
	if bytes.Compare(k.a[:], k.b[:]) > 0 {
		k.a, k.b, k.pa, k.pb = k.b, k.a, k.pb, k.pa
	}
	e := t.lookup(k)
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
	e.hasMap = true
	ic := t.icmpOf(e)
	ic.icmpMap = flow.ICMPInfo{Qual: q, Type: p.ICMPType, Code: p.ICMPCode, OSrc: p.Src, ODst: p.Dst, ISrc: p.QSrc, IDst: p.QDst}
	if p.Net == decode.NetIPv4 {
		ic.icmpMap.Gateway = netip.AddrFrom4([4]byte{})
	}
	if !e.dirty {
		t.dirty(e, p.TS)
	}
	if p.TS > e.lastPkt {
		e.lastPkt = p.TS
	}
	if t.opt.Jitter {
		e.x[0].last = max(e.x[0].last, p.TS)
	}
}

// Advance moves the table's clock to now (packet time): it emits status
// records and removes idle flows. Packet calls it; call it directly when
// time passes without packets.
func (t *Tracker) Advance(now int64) {
	if now <= t.now {
		return
	}
	t.now = now
	if now < t.nextScn {
		return
	}
	if t.nextScn == 0 {
		t.nextScn = now + int64(time.Second)
		return
	}
	t.nextScn = now + int64(time.Second)
	// Idle flows: the buckets up to now.
	last := now / wheelTick
	// After a gap longer than the wheel every word is due: one turn.
	for b := max(t.wheelPos, last-int64(len(t.wheel))+1); t.wheelOn && b <= last; b++ {
		w := &t.wheel[b&int64(len(t.wheel)-1)]
		t.wheelPos = b
		for _, v := range *w {
			i := uint32(v >> 32)
			e := &t.chunks[i>>chunkBits][i&(chunkLen-1)]
			if !e.live || e.gen != uint32(v) {
				continue
			}
			at := e.lastPkt + t.timeout(e)
			switch {
			case now >= at:
				e.expiring = true
				t.out = append(t.out, uint64(e.seq)<<32|uint64(e.idx))
			case at/wheelTick <= b:
				e.gen++ // still due in this bucket
				e.exp = at
				t.pend = append(t.pend, uint64(e.idx)<<32|uint64(e.gen))
			default:
				t.schedule(e, at)
			}
		}
		clear(*w)
		*w = append((*w)[:0], t.pend...)
		t.pend = t.pend[:0]
	}
	// Status records: the schedule is in interval-start order.
	for t.dueHd < len(t.due) {
		d := t.due[t.dueHd]
		if now-d.start < t.status {
			break
		}
		t.due[t.dueHd] = dueEnt{}
		t.dueHd++
		if e := d.e; e.live && !e.expiring && e.dirty && e.start == d.start {
			t.out = append(t.out, uint64(e.seq)<<32|uint64(e.idx))
		}
	}
	if t.dueHd == len(t.due) {
		t.due, t.dueHd = t.due[:0], 0
	}
	if len(t.late) > 0 {
		keep := t.late[:0]
		for _, d := range t.late {
			e := d.e
			switch {
			case !e.live || e.expiring || !e.dirty || e.start != d.start:
			case now-d.start >= t.status:
				t.out = append(t.out, uint64(e.seq)<<32|uint64(e.idx))
			default:
				keep = append(keep, d)
			}
		}
		clear(t.late[len(keep):])
		t.late = keep
	}
	// Emit in flow creation order, as argus walks its flow queue.
	slices.Sort(t.out)
	for j, v := range t.out {
		if j > 0 && v == t.out[j-1] {
			continue // twice due (a stale schedule word matching a reused slot)
		}
		i := uint32(v)
		e := &t.chunks[i>>chunkBits][i&(chunkLen-1)]
		if e.expiring {
			e.expiring = false
			if e.dirty {
				t.report(e, flow.CauseTimeout)
			}
			t.remove(e)
		} else {
			t.report(e, flow.CauseStatus)
		}
	}
	t.out = t.out[:0]
	for k, e := range t.frags {
		if now-e.lastPkt >= t.tmo[clFrag] {
			delete(t.frags, k)
		}
	}
}

func (t *Tracker) remove(e *entry) {
	t.del(&e.key, e.idx+1)
	if e.fragRef {
		for k, v := range t.frags {
			if v == e {
				delete(t.frags, k)
			}
		}
	}
	e.live, e.dirty = false, false
	e.next = t.free
	t.free = e
}

func (t *Tracker) finish(e *entry, cause flow.Cause) {
	if e.dirty {
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
			i--
			order = append(order, uint64(t.chunks[i>>chunkBits][i&(chunkLen-1)].seq)<<32|uint64(i))
		}
	}
	slices.Sort(order)
	for _, v := range order {
		i := uint32(v)
		t.finish(&t.chunks[i>>chunkBits][i&(chunkLen-1)], flow.CauseStop)
	}
	for _, v := range order {
		i := uint32(v)
		e := &t.chunks[i>>chunkBits][i&(chunkLen-1)]
		e.live, e.dirty, e.fragRef = false, false, false
		e.next = t.free
		t.free = e
	}
	clear(t.idx.slots)
	t.idx.n = 0
	for i := range t.wheel {
		t.wheel[i] = t.wheel[i][:0]
	}
	clear(t.frags)
	t.due, t.dueHd = t.due[:0], 0
	clear(t.late)
	t.late = t.late[:0]
}

// report emits e's record for the current interval and starts the next.
func (t *Tracker) report(e *entry, cause flow.Cause) {
	r := &t.rec
	ud0, ud1 := r.SrcUser.Data[:0], r.DstUser.Data[:0]
	*r = flow.Record{}
	r.Type = flow.TypeFlow
	// argus 3.0.8.2 labels a flow's first record START and later ones STATUS.
	r.Cause = flow.CauseStatus
	if !e.started {
		r.Cause = flow.CauseStart
	}
	if cause == flow.CauseTimeout && e.started {
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
	for i, s := range []*side{s0, s1} {
		r.Pkts[i], r.Bytes[i], r.AppBytes[i] = s.pkts, s.bytes, s.app
	}
	if t.opt.AppBytes {
		r.Has |= flow.HasAppBytes
	}
	ip := e.key.kind == kIP || e.key.kind == kFrag
	if ip {
		r.Has |= flow.HasIPAttr
		a := &r.IPAttr
		for i, s := range []*side{s0, s1} {
			if !s.ipSeen {
				continue
			}
			a.Present |= 1 << i
			a.TTL[i], a.TOS[i] = s.ttl, s.tos
			a.IPID[i] = s.ipid>>8 | s.ipid<<8 // ra's reading of argus's host-order bytes
			if s.ipopts != 0 {
				a.Present |= 4 << i
				a.Options[i] = s.ipopts
			}
			if s.frag {
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
	if s0.vlanSeen || s1.vlanSeen {
		r.Has |= flow.HasVLAN
		for i, s := range []*side{s0, s1} {
			if s.vlanSeen {
				r.VLAN.Present |= 1 << i
				r.VLAN.TCI[i] = s.vlan
			}
		}
	}
	if s0.mplsSeen || s1.mplsSeen {
		r.Has |= flow.HasMPLS
		for i, s := range []*side{s0, s1} {
			if s.mplsSeen {
				r.MPLS.Subtype |= 1 << i
				r.MPLS.Count[i] = 1
				r.MPLS.Label[i] = s.mpls
			}
		}
	}
	if x := e.x; t.opt.MAC && (x[0].macN > 0 || x[1].macN > 0) {
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
				r.PktSize.Min[i], r.PktSize.Max[i] = e.x[i].psMin, e.x[i].psMax
			}
		}
	}
	if t.opt.Jitter {
		for i, s := range []*side{s0, s1} {
			if s.pkts == 0 {
				continue
			}
			x := &e.x[i]
			st := &r.Jitter.Act[i]
			r.Jitter.Present |= 1 << (2 * i)
			st.N = x.jn
			if x.jn > 0 {
				n := float64(x.jn)
				st.Min, st.Max, st.Mean = x.jmin, x.jmax, x.jsum/n
				st.StdDev = math.Sqrt(max(x.jsq/n-st.Mean*st.Mean, 0))
			} else {
				st.N = 1
				st.StdDev = math.NaN()
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
			u.Data = append(u.Data, e.x[i].user...)
		}
	}
	switch {
	case e.tcp:
		r.Has |= flow.HasTCP
		tc := &r.TCP
		tc.Object, tc.HasDst = flow.TCPPerf, true
		tc.Status, tc.Options = e.tstatus, e.topts
		tc.SynAck, tc.AckDat = e.synAck, e.ackDat
		for i, s := range []*side{s0, s1} {
			ts := &tc.Side[i]
			ts.LastTime, ts.SeqBase, ts.Seq, ts.Ack = s.tlast, s.seqBase, s.nextSeq, s.ack
			ts.Bytes, ts.Retrans, ts.Win, ts.Flags, ts.WinShift, ts.MSS = s.tbytes, s.retrans, s.win, s.tflags, s.wscale, s.mss
		}
	case e.hasICMP:
		r.Has |= flow.HasICMP
		r.ICMP = e.ic.icmp
	case e.hasARP:
		r.Has |= flow.HasARP
		r.ARPResp = e.arpResp
	}
	if e.hasMap {
		r.Has |= flow.HasICMPMap
		r.ICMPMap = e.ic.icmpMap
	}
	t.Records++
	t.emit(r)
	// Next interval: counters restart, cumulative TCP state stays.
	e.started, e.dirty, e.hasMap = true, false, false
	for i := range e.s {
		s := &e.s[i]
		s.pkts, s.bytes, s.app, s.tbytes, s.retrans, s.tflags = 0, 0, 0, 0, 0, 0
		if x := e.x; x != nil {
			x[i].jn, x[i].jmin, x[i].jmax, x[i].jsum, x[i].jsq = 0, 0, 0, 0, 0
			x[i].psMin, x[i].psMax, x[i].macN = 0, 0, 0
		}
		if s.seqSet {
			s.seqBase = s.nextSeq // argus restarts the sequence base every report
		}
		s.ipopts, s.frag, s.vlanSeen, s.mplsSeen, s.encaps = 0, false, false, false, 0
	}
}
