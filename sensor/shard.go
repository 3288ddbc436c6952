package sensor

import (
	"sync/atomic"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/track"
)

// Several shards. The caller's goroutine (Frames) copies a batch into a
// free slot, decodes it, and writes one list of operations per shard: the
// packets of the flows the shard holds (track.Shard), the ICMP errors that
// quote one of its flows (track.QuoteShard), and the times at which a
// single table would have scanned (track.ScanClock), so every shard scans
// when one table would and reports the same records. Every shard gets
// every slot, in order; the last one to finish it hands it back. Shards
// emit their records under one lock (emit is never called concurrently),
// where they are made: copying them to a writer goroutine cost more CPU
// than the lock (a record is 2.3 kB).

// Operations: the low 16 bits index the shard's packets (the slot's
// frames for opAdvance).
const (
	opPacket  uint32 = iota << 16 // Account and, for an ICMP error quoting a flow here, MapICMP
	opAccount                     // Account only (the quoted flow is on another shard)
	opMap                         // MapICMP only (the ICMP error's own flow is on another shard)
	opAdvance                     // Advance to the frame's time: a scan is due
	opIndex   = 1<<16 - 1
)

// slotsPerShard is how many batches a shard may have queued or in hand.
const slotsPerShard = 4

// slot is one batch on its way through the shards.
type slot struct {
	frames []capture.Frame
	arena  []byte            // the frames' data (the source reuses its buffer)
	pkts   [][]decode.Packet // per shard, in order: runs go to Tracker.Packets
	ops    [][]uint32        // per shard
	tick   int64             // after its operations, every shard advances to this time (Tick); 0: none
	flush  bool              // then flushes its table (Close)
	mar    marReq            // a status MAR goes out once every shard is done with this slot
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
	in      chan *slot
	records uint64 // records this shard emitted
	pub     tablePub
}

func (s *Sensor) startShards() {
	nslot := slotsPerShard * s.n
	s.free = make(chan *slot, nslot)
	for range nslot {
		sl := &slot{
			frames: make([]capture.Frame, batchLen),
			pkts:   make([][]decode.Packet, s.n),
			ops:    make([][]uint32, s.n),
		}
		for k := range sl.ops {
			sl.ops[k] = make([]uint32, 0, batchLen)
			sl.pkts[k] = make([]decode.Packet, 0, batchLen)
		}
		s.free <- sl
	}
	for i := range s.n {
		sh := &shard{s: s, id: i, in: make(chan *slot, nslot)}
		sh.tr = track.New(s.opt.Track, sh.record)
		s.shards = append(s.shards, sh)
		s.wg.Add(1)
		go sh.run()
	}
}

// getSlot returns a free slot, or nil when a live capture finds none.
func (s *Sensor) getSlot() *slot {
	if s.opt.Live {
		select {
		case sl := <-s.free:
			return sl
		default:
			return nil
		}
	}
	return <-s.free
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

// dispatch copies, decodes and spreads one batch over the shards.
func (s *Sensor) dispatch(fs []capture.Frame) {
	sl := s.getSlot()
	if sl == nil {
		s.c.OurDrops += uint64(len(fs))
		return
	}
	sl.arena = sl.arena[:0]
	sl.tick, sl.flush, sl.mar = 0, false, marReq{}
	for k := range sl.ops {
		sl.ops[k] = sl.ops[k][:0]
		sl.pkts[k] = sl.pkts[k][:0]
	}
	for i := range fs {
		f := &fs[i]
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

		dst := &sl.frames[i]
		*dst = *f
		off := len(sl.arena)
		sl.arena = append(sl.arena, f.Data...)
		dst.Data = sl.arena[off:len(sl.arena):len(sl.arena)]
		p := &s.pkt // decoded here, where it is hot, then copied to its shard
		scan := s.clock.Tick(f.TS)
		if r := decodeErr(s.dec.Decode(dst, p)); r != 0 {
			s.c.Bad[r]++
			if scan {
				for k := range sl.ops {
					sl.ops[k] = append(sl.ops[k], opAdvance|uint32(i))
				}
			}
			continue
		}
		a, q := track.Shard(p, s.n), -1
		if track.QuotesFlow(p) {
			q = track.QuoteShard(p, s.n)
		}
		if q < 0 || q == a {
			sl.add(a, opPacket, p)
		} else {
			sl.add(a, opAccount, p)
			sl.add(q, opMap, p)
		}
		if scan {
			for k := range sl.ops {
				if k != a && k != q {
					sl.ops[k] = append(sl.ops[k], opAdvance|uint32(i))
				}
			}
		}
	}
	s.send(sl)
}

// add gives shard k operation op on a copy of p.
func (sl *slot) add(k int, op uint32, p *decode.Packet) {
	sl.ops[k] = append(sl.ops[k], op|uint32(len(sl.pkts[k])))
	sl.pkts[k] = append(sl.pkts[k], *p)
}

// tick advances every shard to now.
func (s *Sensor) tick(now int64) {
	sl := s.getSlot()
	if sl == nil {
		return // the shards are busy: they will see time pass with the packets
	}
	s.clock.Tick(now)
	sl.arena = sl.arena[:0]
	sl.tick, sl.flush, sl.mar = now, false, marReq{}
	for k := range sl.ops {
		sl.ops[k] = sl.ops[k][:0]
		sl.pkts[k] = sl.pkts[k][:0]
	}
	s.send(sl)
}

// stopShards flushes every table, waits for the shards and emits the
// STOP MAR.
func (s *Sensor) stopShards() {
	sl := <-s.free
	sl.arena = sl.arena[:0]
	sl.tick, sl.flush, sl.mar = 0, true, marReq{}
	for k := range sl.ops {
		sl.ops[k] = sl.ops[k][:0]
		sl.pkts[k] = sl.pkts[k][:0]
	}
	s.send(sl)
	for _, sh := range s.shards {
		close(sh.in)
	}
	s.wg.Wait()
	s.publish()
	s.emitMar(marReq{ok: true, cause: flow.CauseStop, now: s.last, st: Stats{Counters: s.c}})
}

func (sh *shard) run() {
	s := sh.s
	defer s.wg.Done()
	for sl := range sh.in {
		pk := sl.pkts[sh.id]
		run := 0 // pk[run:next] are plain packets not yet tracked
		next := 0
		for _, op := range sl.ops[sh.id] {
			i := op & opIndex
			if op&^opIndex == opPacket {
				next = int(i) + 1
				continue
			}
			if run < next {
				sh.tr.Packets(pk[run:next])
			}
			switch op &^ opIndex {
			case opAccount:
				sh.tr.Account(&pk[i])
				next = int(i) + 1
			case opMap:
				sh.tr.MapICMP(&pk[i])
				next = int(i) + 1
			case opAdvance:
				sh.tr.Advance(sl.frames[i].TS)
			}
			run = next
		}
		if run < next {
			sh.tr.Packets(pk[run:next])
		}
		if sl.tick != 0 {
			sh.tr.Advance(sl.tick)
		}
		if sl.flush {
			sh.tr.Flush()
		}
		sh.pub.store(sh.tr)
		sh.pub.records.Store(sh.records)
		if sl.refs.Add(-1) == 0 {
			// Every shard is done with the batch and has emitted its
			// records: the MAR goes after them.
			if sl.mar.ok {
				s.emitMar(sl.mar)
			}
			s.free <- sl
		}
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
