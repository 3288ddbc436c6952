package netflow5

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// window bounds the time span of one datagram's flows (ms) so that every
// flow time is within a signed 32-bit distance of the export time.
const window = 1<<31 - 1

// EncStats counts what an Encoder did.
type EncStats struct {
	Records   uint64 // flow.Records encoded
	Flows     uint64 // v5 flow records written (a biflow makes two)
	Datagrams uint64 // datagrams made
	Refused   uint64 // records refused with a NotRepresentableError
	Skipped   uint64 // management records skipped
	SubMs     uint64 // records whose times lost a sub-millisecond part (v5 holds ms)
}

// subMs reports whether r's times have a part finer than a millisecond.
func subMs(r *flow.Record) bool {
	return r.Has&flow.HasTime != 0 && (r.Start%1e6 != 0 || r.Last%1e6 != 0)
}

// v5rec is one flow record before its times become uptimes.
type v5rec struct {
	first, last       int64 // Unix ms
	pkts, octs        uint32
	src, dst, nh      [4]byte
	in, out, sp, dp   uint16
	sas, das          uint16
	flags, proto, tos uint8
	smask, dmask      uint8
	timed             bool
}

// packer gathers the records of one datagram.
type packer struct {
	n             int
	dom, sampling uint16
	minMs, maxMs  int64
	timed         bool
	recs          [MaxRecords]v5rec
}

// fits says whether the records in add can join the datagram.
func (p *packer) fits(add []v5rec, dom, sampling uint16) bool {
	if p.n == 0 {
		return true
	}
	if p.n+len(add) > MaxRecords || dom != p.dom || sampling != p.sampling {
		return false
	}
	lo, hi := p.minMs, p.maxMs
	for i := range add {
		if !add[i].timed {
			continue
		}
		if !p.timed {
			lo, hi = add[i].first, add[i].last
		}
		lo, hi = min(lo, add[i].first), max(hi, add[i].last)
	}
	return hi-lo <= window
}

func (p *packer) add(add []v5rec, dom, sampling uint16) {
	if p.n == 0 {
		p.dom, p.sampling = dom, sampling
	}
	for i := range add {
		a := &add[i]
		if a.timed {
			if !p.timed {
				p.minMs, p.maxMs, p.timed = a.first, a.last, true
			}
			p.minMs, p.maxMs = min(p.minMs, a.first), max(p.maxMs, a.last)
		}
		p.recs[p.n] = *a
		p.n++
	}
}

// Encoder writes NetFlow v5 datagrams, one Write per datagram. It is not
// safe for concurrent use.
type Encoder struct {
	w     io.Writer
	p     packer
	buf   []byte
	seq   map[uint16]uint32 // flow_sequence per engine
	now   func() time.Time
	stats EncStats
	err   error
}

// NewEncoder returns an Encoder writing to w (a UDP socket: one Write is
// one datagram). now gives the export time of datagrams whose records
// carry no times (nil: time.Now).
func NewEncoder(w io.Writer, now func() time.Time) *Encoder {
	if now == nil {
		now = time.Now
	}
	return &Encoder{w: w, buf: make([]byte, 0, MaxPacket), seq: make(map[uint16]uint32), now: now}
}

var _ codecs.Encoder = (*Encoder)(nil)

// Stats returns the counts so far.
func (e *Encoder) Stats() EncStats { return e.stats }

func notRep(field, reason string) error {
	return &codecs.NotRepresentableError{Format: "netflow5", Field: field, Reason: reason}
}

// convert makes the one or two v5 records of r. n == 0 with a nil error
// means a record with no flow (a MAR), skipped.
func (e *Encoder) convert(r *flow.Record, out *[2]v5rec) (n int, dom, sampling uint16, err error) {
	if r.Type&0x80 != 0 || r.Type == flow.TypeMgmt {
		e.stats.Skipped++
		return 0, 0, 0, nil
	}
	n, dom, sampling, err = conv(r, out)
	if err != nil {
		e.stats.Refused++
	}
	return n, dom, sampling, err
}

func conv(r *flow.Record, out *[2]v5rec) (n int, dom, sampling uint16, err error) {
	k := &r.Key
	if r.Has&flow.HasKey == 0 || k.Kind != flow.Kind5Tuple {
		return 0, 0, 0, notRep("saddr", "v5 holds IPv4 5-tuple flows only")
	}
	src, dst := k.Src.Unmap(), k.Dst.Unmap() // an IPv4-mapped IPv6 address is IPv4
	if !src.Is4() || !dst.Is4() {
		return 0, 0, 0, notRep("saddr", "v5 holds IPv4 addresses only: "+k.Src.String())
	}
	if r.Has&flow.HasExporter != 0 {
		if r.ObsDomain > math.MaxUint16 {
			return 0, 0, 0, notRep("obsdomain", fmt.Sprintf("%d over engine type/id's 16 bits", r.ObsDomain))
		}
		dom = uint16(r.ObsDomain)
	}
	if r.Has&flow.HasSampling != 0 {
		if r.SamplingRate > 0x3fff {
			return 0, 0, 0, notRep("sampling", fmt.Sprintf("interval %d over 14 bits", r.SamplingRate))
		}
		if r.SamplingRate != 0 {
			sampling = 1<<14 | uint16(r.SamplingRate) // mode 01: packet interval
		}
	}
	var inIf, outIf uint32
	if r.Has&flow.HasIfaces != 0 {
		inIf, outIf = r.InIf, r.OutIf
		if inIf > math.MaxUint16 || outIf > math.MaxUint16 {
			return 0, 0, 0, notRep("inif", fmt.Sprintf("interface %d/%d over 16 bits", inIf, outIf))
		}
	}
	var sas, das uint32
	if r.Has&flow.HasASN != 0 {
		sas, das = r.ASN.Src, r.ASN.Dst
		if sas > math.MaxUint16 || das > math.MaxUint16 {
			return 0, 0, 0, notRep("sas", fmt.Sprintf("AS %d/%d over 16 bits", sas, das))
		}
	}
	var smask, dmask uint8
	if k.MaskLen {
		if k.SrcMask > 32 || k.DstMask > 32 {
			return 0, 0, 0, notRep("smask", "prefix length over 32")
		}
		smask, dmask = k.SrcMask, k.DstMask
	}
	var nh [4]byte
	if r.Has&flow.HasNextHop != 0 && r.NextHop.IsValid() {
		if !r.NextHop.Unmap().Is4() {
			return 0, 0, 0, notRep("nexthop", "v5 holds an IPv4 next hop only")
		}
		nh = r.NextHop.Unmap().As4()
	}
	var sp, dp uint16
	if r.Has&flow.HasICMPKey != 0 && k.Proto == 1 {
		sp, dp = k.SrcPort, uint16(k.ICMPType)<<8|uint16(k.ICMPCode)
	} else {
		sp, dp = k.SrcPort, k.DstPort
	}
	dirs := 1
	if r.Has&flow.HasMetrics != 0 && (r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0) {
		dirs = 2
	}
	for d := 0; d < dirs; d++ {
		o := &out[d]
		*o = v5rec{proto: k.Proto}
		if r.Has&flow.HasMetrics != 0 {
			if r.Pkts[d] > math.MaxUint32 || r.Bytes[d] > math.MaxUint32 {
				f := [2]string{"spkts", "dpkts"}[d]
				if r.Pkts[d] <= math.MaxUint32 {
					f = [2]string{"sbytes", "dbytes"}[d]
				}
				return 0, 0, 0, notRep(f, fmt.Sprintf("%d packets / %d bytes over 32 bits", r.Pkts[d], r.Bytes[d]))
			}
			o.pkts, o.octs = uint32(r.Pkts[d]), uint32(r.Bytes[d])
		}
		if r.Has&flow.HasTime != 0 {
			st, la := r.Start, r.Last
			if d == 1 && r.Has&flow.HasDirTimes != 0 && r.DstStart != 0 {
				st, la = r.DstStart, r.DstLast
			} else if d == 0 && r.Has&flow.HasDirTimes != 0 && r.SrcStart != 0 {
				st, la = r.SrcStart, r.SrcLast
			}
			o.first, o.last, o.timed = floorMs(st), floorMs(la), true
			if o.last < o.first {
				o.last = o.first
			}
			if o.last-o.first > window {
				return 0, 0, 0, notRep("dur", "longer than 24.8 days of sysUptime")
			}
			if o.last < 0 || o.last/1000 > math.MaxUint32 {
				return 0, 0, 0, notRep("ltime", "outside unix_secs' range")
			}
		}
		if r.Has&flow.HasTCP != 0 && k.Proto == 6 {
			o.flags = r.TCP.Side[d].Flags
		}
		if r.Has&flow.HasIPAttr != 0 && r.IPAttr.Present&(1<<d) != 0 {
			o.tos = r.IPAttr.TOS[d]
		}
		if d == 0 {
			o.src, o.dst, o.nh = src.As4(), dst.As4(), nh
			o.in, o.out, o.sp, o.dp = uint16(inIf), uint16(outIf), sp, dp
			o.sas, o.das, o.smask, o.dmask = uint16(sas), uint16(das), smask, dmask
		} else {
			// The reverse direction: the next hop is unknown.
			o.src, o.dst = dst.As4(), src.As4()
			o.in, o.out, o.sp, o.dp = uint16(outIf), uint16(inIf), dp, sp
			if r.Has&flow.HasICMPKey != 0 && k.Proto == 1 {
				o.sp, o.dp = 0, uint16(icmpReply(k.ICMPType))<<8|uint16(k.ICMPCode)
			}
			o.sas, o.das, o.smask, o.dmask = uint16(das), uint16(sas), dmask, smask
		}
	}
	return dirs, dom, sampling, nil
}

// icmpReply gives the ICMP type answering a query type (RFC 792, 950).
func icmpReply(t uint8) uint8 {
	switch t {
	case 8: // echo
		return 0
	case 13, 15, 17: // timestamp, information, address mask
		return t + 1
	}
	return t
}

func floorMs(ns int64) int64 {
	if ns < 0 {
		return -((-ns + 999999) / 1e6)
	}
	return ns / 1e6
}

// appendPacket serialises p as one datagram onto dst and advances the
// engine's flow_sequence.
func (e *Encoder) appendPacket(dst []byte, p *packer) []byte {
	var expMs int64
	var uptime uint32
	if p.timed {
		expMs, uptime = p.maxMs, uint32(p.maxMs-p.minMs)
	} else {
		expMs = e.now().UnixMilli()
	}
	seq := e.seq[p.dom]
	var h [HeaderLen]byte
	be.PutUint16(h[0:], Version)
	be.PutUint16(h[2:], uint16(p.n))
	be.PutUint32(h[4:], uptime)
	be.PutUint32(h[8:], uint32(expMs/1000))
	be.PutUint32(h[12:], uint32(expMs%1000)*1e6)
	be.PutUint32(h[16:], seq)
	be.PutUint16(h[20:], p.dom)
	be.PutUint16(h[22:], p.sampling)
	dst = append(dst, h[:]...)
	for i := 0; i < p.n; i++ {
		o := &p.recs[i]
		var b [RecordLen]byte
		copy(b[0:], o.src[:])
		copy(b[4:], o.dst[:])
		copy(b[8:], o.nh[:])
		be.PutUint16(b[12:], o.in)
		be.PutUint16(b[14:], o.out)
		be.PutUint32(b[16:], o.pkts)
		be.PutUint32(b[20:], o.octs)
		f, l := uptime, uptime
		if o.timed {
			f, l = uptime-uint32(expMs-o.first), uptime-uint32(expMs-o.last)
		}
		be.PutUint32(b[24:], f)
		be.PutUint32(b[28:], l)
		be.PutUint16(b[32:], o.sp)
		be.PutUint16(b[34:], o.dp)
		b[37], b[38], b[39] = o.flags, o.proto, o.tos
		be.PutUint16(b[40:], o.sas)
		be.PutUint16(b[42:], o.das)
		b[44], b[45] = o.smask, o.dmask
		dst = append(dst, b[:]...)
	}
	e.seq[p.dom] = seq + uint32(p.n)
	e.stats.Datagrams++
	e.stats.Flows += uint64(p.n)
	p.n, p.timed = 0, false
	return dst
}

// AppendPacket appends one datagram made from the first records of recs
// to dst and returns how many records it took (up to 30 v5 records; a
// biflow takes two). It stops before a record that needs a new datagram
// (full, another engine or sampling interval, times too far apart). If
// recs[n] cannot be represented it returns the datagram made of recs[:n]
// (nothing appended when n == 0) and a *codecs.NotRepresentableError for
// recs[n]: the caller skips that record and goes on with recs[n+1:].
// Management records are skipped and count as taken.
func (e *Encoder) AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error) {
	var p packer
	var two [2]v5rec
	i := 0
	var err error
	for ; i < len(recs); i++ {
		var n int
		var dom, sampling uint16
		n, dom, sampling, err = e.convert(&recs[i], &two)
		if err != nil {
			break
		}
		if n == 0 {
			continue
		}
		if !p.fits(two[:n], dom, sampling) {
			break
		}
		p.add(two[:n], dom, sampling)
		e.stats.Records++
		if subMs(&recs[i]) {
			e.stats.SubMs++
		}
	}
	if p.n > 0 {
		dst = e.appendPacket(dst, &p)
	}
	return dst, i, err
}

// Encode adds one record to the current datagram, writing the datagram
// first when the record does not fit in it. A *codecs.NotRepresentableError
// leaves the datagram unchanged.
func (e *Encoder) Encode(r *flow.Record) error {
	if e.err != nil {
		return e.err
	}
	var two [2]v5rec
	n, dom, sampling, err := e.convert(r, &two)
	if err != nil || n == 0 {
		return err
	}
	if !e.p.fits(two[:n], dom, sampling) {
		if err := e.Flush(); err != nil {
			return err
		}
	}
	e.p.add(two[:n], dom, sampling)
	e.stats.Records++
	if subMs(r) {
		e.stats.SubMs++
	}
	if e.p.n == MaxRecords {
		return e.Flush()
	}
	return nil
}

// Flush writes the current datagram, if any. Callers on a live link call
// it periodically so that records do not wait for a full datagram.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if e.p.n == 0 {
		return nil
	}
	e.buf = e.appendPacket(e.buf[:0], &e.p)
	if _, err := e.w.Write(e.buf); err != nil {
		e.err = err
	}
	return e.err
}

// Close flushes the Encoder; it does not close the underlying writer.
func (e *Encoder) Close() error {
	err := e.Flush()
	if e.err == nil {
		e.err = errors.New("netflow5: encoder closed")
	}
	return err
}
