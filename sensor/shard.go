package sensor

import (
	"net/netip"
	"sync/atomic"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/track"
)

// Several shards. The caller's goroutine (Frames) only copies a batch
// into a free slot, counts it and follows the scan clock
// (track.ScanClock: the times at which a single table would have scanned,
// so every shard scans when one table would and reports the same
// records). Every shard gets every slot, in order, and decodes its
// frames, keeping the packets of the flows it holds (track.Shard), the
// ICMP errors that quote one of its flows (track.QuoteShard) and the scan
// times. Plain TCP and UDP frames are placed from their raw addresses
// (rawShard) and decoded by their shard only; every shard decodes the
// others (~70 ns a frame, in parallel): decoding on the caller's goroutine
// made it the bottleneck (2 shards were 8% faster than 1 in wall time). The last
// shard to finish a slot hands it back. Shards emit their records under
// one lock (emit is never called concurrently), where they are made:
// copying them to a writer goroutine cost more CPU than the lock (a
// record is 2.3 kB).

// slotsPerShard is how many batches a shard may have queued or in hand.
const slotsPerShard = 4

// slotLen is the most frames a slot holds: reading a file, the frames of
// several Frames calls go in one slot, so that handing it to the shards
// (channel sends, wake-ups) is paid once per slotLen frames.
const slotLen = 8 * batchLen

// slotBytes is a slot's room for frame data; a slot goes to the shards
// when less than batchRoom is left, so that the next batch (of
// full-size Ethernet frames at most, in practice) does not grow it.
const (
	slotBytes = 1 << 20
	batchRoom = batchLen * 1536
)

// slot is one batch on its way through the shards.
type slot struct {
	frames []capture.Frame
	n      int                         // frames in the batch
	arena  []byte                      // the frames' data (the source reuses its buffer)
	scan   [slotLen / 64]uint64        // frame i is at a scan time (bit i)
	tick   int64                       // after its frames, every shard advances to this time (Tick); 0: none
	flush  bool                        // then flushes its table (Close)
	mar    marReq                      // a status MAR goes out once every shard is done with this slot
	bad    [][decode.NumReasons]uint64 // per shard: frames it found undecodable, up to this slot
	refs   atomic.Int32
}

// marReq is a MAR to emit, with the caller-side counters as they were
// when it was due.
type marReq struct {
	ok    bool
	cause flow.Cause
	now   int64
	st    Stats
}

// shard is one flow table on its own goroutine.
type shard struct {
	s       *Sensor
	id      int
	tr      *track.Tracker
	dec     decode.Decoder
	pkts    []decode.Packet           // the batch's packets of this shard's flows
	bad     [decode.NumReasons]uint64 // frames this shard counts (see run) that did not decode
	in      chan *slot
	records uint64 // records this shard emitted
	pub     tablePub
}

func (s *Sensor) startShards() {
	nslot := slotsPerShard * s.n
	s.free = make(chan *slot, nslot)
	for range nslot {
		s.free <- &slot{frames: make([]capture.Frame, slotLen), arena: make([]byte, 0, slotBytes),
			bad: make([][decode.NumReasons]uint64, s.n)}
	}
	for i := range s.n {
		sh := &shard{s: s, id: i, in: make(chan *slot, nslot), pkts: make([]decode.Packet, slotLen)}
		sh.dec.NoTunnels = s.opt.NoTunnels
		sh.tr = track.New(s.opt.Track, sh.record)
		s.shards = append(s.shards, sh)
		s.wg.Add(1)
		go sh.run()
	}
}

// getSlot returns a free slot, emptied, or nil when a live capture finds
// none.
func (s *Sensor) getSlot() *slot {
	if s.opt.Live {
		select {
		case sl := <-s.free:
			return s.reset(sl)
		default:
			return nil
		}
	}
	return s.reset(<-s.free)
}

// reset empties a slot back from the shards.
func (s *Sensor) reset(sl *slot) *slot {
	// The shards count undecoded frames: take their count as of the
	// slot's last trip (slots come back nearly in order: keep the
	// highest).
	for r, n := range sl.badSum() {
		s.c.Bad[r] = max(s.c.Bad[r], n)
	}
	sl.n = 0
	sl.arena = sl.arena[:0]
	sl.scan = [len(sl.scan)]uint64{}
	sl.tick, sl.flush, sl.mar = 0, false, marReq{}
	return sl
}

// send hands a filled slot to every shard.
func (s *Sensor) send(sl *slot) {
	if s.marAt != 0 {
		sl.mar = marReq{ok: true, cause: flow.CauseStatus, now: s.marAt, st: Stats{Counters: s.c}}
		s.marAt = 0
	}
	s.publish()
	sl.refs.Store(int32(s.n))
	for _, sh := range s.shards {
		sh.in <- sl // never blocks: a shard's queue holds every slot
	}
}

// dispatch copies and counts one batch (at most batchLen frames) into
// the slot being filled, and hands the slot to the shards when it is full,
// when a status MAR is due, or right away live (a live batch must not
// wait for more traffic).
func (s *Sensor) dispatch(fs []capture.Frame) {
	sl := s.cur
	if sl == nil {
		if sl = s.getSlot(); sl == nil {
			s.c.OurDrops += uint64(len(fs))
			return
		}
		s.cur = sl
	}
	for j := range fs {
		f := &fs[j]
		if s.opt.Argus3 {
			f.TS -= f.TS % 1000
		}
		if !s.begun {
			s.start(f.TS)
			s.emitMar(marReq{ok: true, cause: flow.CauseStart, now: f.TS})
		}
		if f.TS >= s.nextMar {
			s.statusMar(f.TS)
		}
		s.last = max(s.last, f.TS)
		s.c.Packets++
		s.c.Bytes += uint64(max(f.Len, len(f.Data)))

		i := sl.n
		sl.n++
		dst := &sl.frames[i]
		*dst = *f
		off := len(sl.arena)
		sl.arena = append(sl.arena, f.Data...)
		dst.Data = sl.arena[off:len(sl.arena):len(sl.arena)]
		if s.clock.Tick(f.TS) {
			sl.scan[i/64] |= 1 << (i % 64)
		}
	}
	if s.opt.Live || s.marAt != 0 || sl.n > slotLen-batchLen || cap(sl.arena)-len(sl.arena) < batchRoom {
		s.sendCur()
	}
}

// sendCur hands the slot being filled, if any, to the shards.
func (s *Sensor) sendCur() {
	if s.cur != nil {
		s.send(s.cur)
		s.cur = nil
	}
}

// tick advances every shard to now.
func (s *Sensor) tick(now int64) {
	s.sendCur()
	sl := s.getSlot()
	if sl == nil {
		return // the shards are busy: they will see time pass with the packets
	}
	s.clock.Tick(now)
	sl.tick = now
	s.send(sl)
}

// stopShards flushes every table, waits for the shards and emits the
// STOP MAR.
func (s *Sensor) stopShards() {
	s.sendCur()
	sl := s.reset(<-s.free)
	sl.flush = true
	s.send(sl)
	for _, sh := range s.shards {
		close(sh.in)
	}
	s.wg.Wait()
	s.c.Bad = [decode.NumReasons]uint64{}
	for _, sh := range s.shards {
		for r, n := range sh.bad {
			s.c.Bad[r] += n
		}
	}
	s.publish()
	s.emitMar(marReq{ok: true, cause: flow.CauseStop, now: s.last, st: Stats{Counters: s.c}})
}

func (sh *shard) run() {
	s := sh.s
	defer s.wg.Done()
	me := sh.id
	for sl := range sh.in {
		pk := sh.pkts[:0] // packets of this shard's flows, not yet tracked
		for i := range sl.frames[:sl.n] {
			f := &sl.frames[i]
			scan := sl.scan[i/64]&(1<<(i%64)) != 0
			// Most frames are plain TCP or UDP over IP: their shard is
			// known from the raw addresses, and the other shards skip
			// them (unless a scan is due) without decoding them.
			k := rawShard(f, s.n)
			if k >= 0 && k != me && !scan {
				continue
			}
			p := &pk[:len(pk)+1][len(pk)]
			if r := decodeErr(sh.dec.Decode(f, p)); r != 0 {
				// Counted once: by the shard the frame looked to be
				// for, else by shard 0.
				if k == me || k < 0 && me == 0 {
					sh.bad[r]++
				}
				if scan {
					sh.track(pk)
					pk = pk[:0]
					sh.tr.Advance(f.TS)
				}
				continue
			}
			a, q := k, -1
			if a < 0 {
				a = track.Shard(p, s.n)
				if track.QuotesFlow(p) {
					q = track.QuoteShard(p, s.n)
				}
			}
			switch {
			case a == me && (q < 0 || q == me):
				pk = pk[:len(pk)+1] // Packets does Account and MapICMP
				continue
			case a != me && q != me && !scan:
				continue // another shard's
			}
			sh.track(pk)
			pk = pk[:0]
			switch {
			case a == me: // the quoted flow is on another shard
				sh.tr.Account(p)
			case q == me: // the error's own flow is on another shard
				sh.tr.MapICMP(p)
			default: // a scan is due
				sh.tr.Advance(f.TS)
			}
		}
		sh.track(pk)
		if sl.tick != 0 {
			sh.tr.Advance(sl.tick)
		}
		if sl.flush {
			sh.tr.Flush()
		}
		sl.bad[me] = sh.bad
		sh.pub.store(sh.tr)
		sh.pub.records.Store(sh.records)
		if sl.refs.Add(-1) == 0 {
			// Every shard is done with the batch and has emitted its
			// records: the MAR goes after them.
			if sl.mar.ok {
				sl.mar.st.Bad = sl.badSum()
				s.emitMar(sl.mar)
			}
			s.free <- sl
		}
	}
}

// badSum is the shards' count of undecoded frames up to the slot.
func (sl *slot) badSum() [decode.NumReasons]uint64 {
	var t [decode.NumReasons]uint64
	for _, b := range sl.bad {
		for r, n := range b {
			t[r] += n
		}
	}
	return t
}

// rawShard returns the shard of a frame that is TCP or UDP (not to a
// tunnel port the decoder follows: VXLAN, Geneve) over IPv4, or over
// IPv6 without extension headers, in Ethernet: track.Shard of the packet
// the frame decodes to, without decoding it. Otherwise -1. A fragment
// that looks like one is keyed on its address pair all the same.
func rawShard(f *capture.Frame, n int) int {
	b := f.Data
	if f.LinkType != capture.LinkEthernet || len(b) < 14+40 || b[12] != 0x08 && b[12] != 0x86 {
		return -1
	}
	var src, dst netip.Addr
	var l4 []byte
	switch et := uint16(b[12])<<8 | uint16(b[13]); {
	case et == 0x0800 && b[14]>>4 == 4:
		ip := b[14:]
		hl := int(ip[0]&0x0F) * 4
		if hl < 20 || (ip[9] != 6 && ip[9] != 17) || len(ip) < hl+4 {
			return -1
		}
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		l4 = ip[hl:]
		if ip[9] == 6 {
			return track.PairShard(src, dst, n)
		}
	case et == 0x86DD && b[14]>>4 == 6:
		ip := b[14:]
		if (ip[6] != 6 && ip[6] != 17) || len(ip) < 44 {
			return -1
		}
		src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
		l4 = ip[40:]
		if ip[6] == 6 {
			return track.PairShard(src, dst, n)
		}
	default:
		return -1
	}
	if port := uint16(l4[2])<<8 | uint16(l4[3]); port == 4789 || port == 6081 {
		return -1 // maybe a tunnel: the decoder keys on the inner packet
	}
	return track.PairShard(src, dst, n)
}

// track tracks a run of packets.
func (sh *shard) track(pk []decode.Packet) {
	if len(pk) > 0 {
		sh.tr.Packets(pk)
	}
}

// record emits a tracker's record.
func (sh *shard) record(r *flow.Record) {
	// Sequence numbers: each table counts its flows 1, 2, 3...; shard i
	// of n numbers its k-th flow (k-1)*n + i + 1, unique over the shards
	// (and the table's own number with one shard).
	if r.Has&flow.HasSeq != 0 {
		r.Seq = (r.Seq-1)*uint32(sh.s.n) + uint32(sh.id) + 1
	}
	sh.records++
	s := sh.s
	s.emitMu.Lock()
	s.records++
	s.emit(r)
	s.emitMu.Unlock()
}

// emitMar emits a MAR under the emit lock, with the tables' counters.
func (s *Sensor) emitMar(m marReq) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	st := m.st
	if m.cause != flow.CauseStart {
		if s.opt.KernelStats != nil {
			st.KernelReceived, st.KernelDrops = s.opt.KernelStats()
		}
		for _, sh := range s.shards {
			st.Forced += sh.pub.forced.Load()
			st.Active += sh.pub.active.Load()
		}
	}
	s.sendMar(m.cause, m.now, &st)
}
