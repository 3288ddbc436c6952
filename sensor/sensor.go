package sensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/track"
)

// Options configure a Sensor.
type Options struct {
	// Track configures the flow tables. Track.MaxMemory caps them all
	// together: each of Shards tables gets an equal share.
	Track     track.Options
	NoTunnels bool // ARGUS_TUNNEL_PARSING=no
	// Argus3 makes records an Argus 3 writer can hold, as the argus 3.x
	// sensor makes them: packet times truncated to µs, no TCP MSS.
	Argus3         bool
	MarInterval    uint16 // seconds between status MARs (-M, default 60)
	ReportInterval uint16 // seconds, announced in MARs (default: Track.StatusInterval)
	// Shards is the number of flow tables, each on its own goroutine, that
	// flows are spread over by key (track.Shard). 0 or 1: one table, on the
	// caller's goroutine, with no goroutines at all.
	Shards int
	// Live: a batch that finds every shard buffer busy is dropped and
	// counted (Stats.OurDrops) instead of waiting, as a live capture cannot
	// wait. Files wait: nothing is ever dropped.
	Live bool
	// KernelStats, if set, returns the capture source's kernel counters
	// (capture.LiveSource.Stats); the drops go to MARs and Stats.
	KernelStats func() (received, dropped uint64)
}

// Counters are the sensor's packet counters.
type Counters struct {
	Packets  uint64                    // frames seen
	Bytes    uint64                    // their wire bytes
	Bad      [decode.NumReasons]uint64 // frames not decoded, per reason
	OurDrops uint64                    // frames dropped because every shard buffer was busy (Live)
}

// Stats is a snapshot of every counter the sensor reports, for MARs and
// metrics. It can be taken from any goroutine.
type Stats struct {
	Counters
	KernelReceived, KernelDrops uint64 // from Options.KernelStats
	Records                     uint64 // flow records emitted
	Created                     uint64 // flows created
	Forced                      uint64 // flows expired early by the memory cap (track.Tracker.Forced)
	Active                      int64  // flows in the tables
	MemBytes                    int64  // bytes the tables hold (track.Tracker.MemBytes)
	Shards                      int
}

// batchLen is the most frames a batch holds (Frame batches one).
const batchLen = 256

// Sensor turns frames into flow records: decode, track, MARs.
//
// With Options.Shards > 1, Frames hands each batch to the shard
// goroutines, and emit is called from them, one call at a time (under a
// lock), never concurrently; Close waits for all of them.
type Sensor struct {
	opt  Options
	emit func(*flow.Record)
	dec  decode.Decoder
	c    Counters
	pub  pubCounters
	// time
	first, last int64
	begun       bool
	marEvery    int64
	nextMar     int64
	// MAR state, owned by whoever emits records (the caller's goroutine
	// with one shard, whoever holds emitMu otherwise).
	emitMu  sync.Mutex
	mar     flow.Record
	lastMar marSnap
	records uint64 // flow records emitted (emitter-owned)

	// one shard: the table runs on the caller's goroutine.
	tr   *track.Tracker
	pkts []decode.Packet
	one  [1]capture.Frame
	one1 tablePub

	// several shards.
	n      int
	shards []*shard
	free   chan *slot
	cur    *slot // the slot being filled (not live)
	clock  track.ScanClock
	wg     sync.WaitGroup
	closed bool
	marAt  int64 // a status MAR is due after this batch (packet time), 0: none
}

// pubCounters are the counters other goroutines (metrics, MARs of the
// shards) read: the owner stores its plain counters here once a batch.
type pubCounters struct {
	packets, bytes, ours atomic.Uint64
	bad                  [decode.NumReasons]atomic.Uint64
	records              atomic.Uint64
}

// marSnap is what a MAR reports; status MARs report the change since the
// previous MAR, as argus does.
type marSnap struct {
	now              int64
	packets, bytes   uint64
	records          uint64
	dropped, forced  uint64
	bad              uint64
	flows            uint32
	hasNow, hasCount bool
}

// New returns a Sensor that calls emit for every record (MARs included).
// The record is reused after emit returns.
func New(opt Options, emit func(*flow.Record)) *Sensor {
	opt.Track.NoMSS = opt.Track.NoMSS || opt.Argus3
	s := &Sensor{opt: opt, emit: emit}
	s.dec.NoTunnels = opt.NoTunnels
	mi := opt.MarInterval
	if mi == 0 {
		mi = 60
	}
	s.marEvery = int64(mi) * int64(time.Second)
	s.n = max(opt.Shards, 1)
	if s.n == 1 {
		s.tr = track.New(opt.Track, s.record)
		return s
	}
	if m := opt.Track.MaxMemory; m > 0 {
		s.opt.Track.MaxMemory = max(m/int64(s.n), 1)
	}
	s.startShards()
	return s
}

// record is the emit function of the one-shard tracker.
func (s *Sensor) record(r *flow.Record) {
	s.records++
	s.emit(r)
}

// Counters returns the packet counters so far (the caller's own view:
// call it from the goroutine that feeds frames, or after Close). With
// several shards, Bad lags by the batches the shards have not decoded yet
// (they count it).
func (s *Sensor) Counters() Counters { return s.c }

// Active returns the number of flows in the tables.
func (s *Sensor) Active() int { return int(s.Stats().Active) }

// Records returns the number of flow records emitted.
func (s *Sensor) Records() uint64 { return s.Stats().Records }

// Stats returns every counter; it is safe from any goroutine.
func (s *Sensor) Stats() Stats {
	var st Stats
	st.Shards = s.n
	st.Packets = s.pub.packets.Load()
	st.Bytes = s.pub.bytes.Load()
	st.OurDrops = s.pub.ours.Load()
	for i := range st.Bad {
		st.Bad[i] = s.pub.bad[i].Load()
	}
	if s.opt.KernelStats != nil {
		st.KernelReceived, st.KernelDrops = s.opt.KernelStats()
	}
	if s.n == 1 {
		st.Records = s.pub.records.Load()
		p := &s.one1
		st.Created, st.Forced = p.created.Load(), p.forced.Load()
		st.Active, st.MemBytes = p.active.Load(), p.mem.Load()
		return st
	}
	for _, sh := range s.shards {
		p := &sh.pub
		st.Records += p.records.Load()
		st.Created += p.created.Load()
		st.Forced += p.forced.Load()
		st.Active += p.active.Load()
		st.MemBytes += p.mem.Load()
	}
	return st
}

// Frame processes one captured frame.
func (s *Sensor) Frame(f *capture.Frame) {
	s.one[0] = *f
	s.Frames(s.one[:])
}

// Frames processes a batch of frames. A frame's data need stay valid only
// until Frames returns (with several shards, Frames copies it).
func (s *Sensor) Frames(fs []capture.Frame) {
	for len(fs) > 0 {
		n := min(len(fs), batchLen)
		if s.n == 1 {
			s.batch(fs[:n])
		} else {
			s.dispatch(fs[:n])
		}
		fs = fs[n:]
	}
	s.publish()
}

// start notes the first frame's time and emits the START MAR.
func (s *Sensor) start(ts int64) {
	s.begun = true
	s.first = ts
	s.nextMar = ts + s.marEvery
	s.lastMar = marSnap{now: ts}
}

// batch decodes a batch into the reused packet slice, then tracks it with
// track.Tracker.Packets, whose table lookups overlap. An undecoded frame
// only advances the table's time, between the runs of packets around it.
func (s *Sensor) batch(fs []capture.Frame) {
	if cap(s.pkts) < batchLen {
		s.pkts = make([]decode.Packet, batchLen)
	}
	pkts := s.pkts[:0]
	flush := func() {
		if len(pkts) > 0 {
			s.tr.Packets(pkts)
			pkts = pkts[:0]
		}
	}
	for i := range fs {
		f := &fs[i]
		if s.opt.Argus3 {
			f.TS -= f.TS % 1000
		}
		if !s.begun {
			s.start(f.TS)
			s.sendMar(flow.CauseStart, f.TS, nil)
		}
		if f.TS >= s.nextMar {
			flush()
			s.statusMar(f.TS)
		}
		s.last = max(s.last, f.TS)
		s.c.Packets++
		s.c.Bytes += uint64(max(f.Len, len(f.Data)))
		p := &pkts[:len(pkts)+1][len(pkts)]
		if r := decodeErr(s.dec.Decode(f, p)); r != 0 {
			s.c.Bad[r]++
			flush()
			s.tr.Advance(f.TS)
			continue
		}
		pkts = pkts[:len(pkts)+1]
	}
	flush()
}

// decodeErr maps a decode error to its reason (0: decoded).
func decodeErr(err error) decode.Reason {
	if err == nil {
		return 0
	}
	r, _ := err.(decode.Reason)
	if r == 0 || r >= decode.NumReasons {
		r = decode.ReasonBadHeader // not a Reason: never expected
	}
	return r
}

// statusMar emits the status MAR due at or before packet time ts (one,
// however many intervals a gap in the capture spans).
func (s *Sensor) statusMar(ts int64) {
	for s.nextMar <= ts {
		s.nextMar += s.marEvery
	}
	if s.n == 1 {
		s.publish()
		s.sendMar(flow.CauseStatus, ts, nil)
		return
	}
	s.marAt = ts
}

// publish stores the owner's counters for other goroutines.
func (s *Sensor) publish() {
	p := &s.pub
	p.packets.Store(s.c.Packets)
	p.bytes.Store(s.c.Bytes)
	p.ours.Store(s.c.OurDrops)
	for i, n := range s.c.Bad {
		p.bad[i].Store(n)
	}
	if s.n == 1 {
		p.records.Store(s.records)
		s.one1.store(s.tr)
	}
}

// Tick advances the sensor's clock without a packet (an idle live link),
// so that flows still report and time out, and MARs go out. now is Unix ns.
func (s *Sensor) Tick(now int64) {
	if !s.begun || now <= s.last {
		return
	}
	s.last = now
	if s.n == 1 {
		if now >= s.nextMar {
			s.statusMar(now)
		}
		s.tr.Advance(now)
		s.publish()
		return
	}
	if now >= s.nextMar {
		s.statusMar(now)
	}
	s.tick(now)
}

// Close flushes every flow (final records) and emits the closing MAR.
func (s *Sensor) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if !s.begun {
		s.begun = true
		s.lastMar = marSnap{}
		s.sendMarSync(flow.CauseStart, 0)
	}
	if s.n == 1 {
		s.tr.Flush()
		s.publish()
		s.sendMar(flow.CauseStop, s.last, nil)
		return
	}
	s.stopShards()
}

// sendMarSync emits a MAR from the caller's goroutine when no shard can
// be emitting (before the first batch).
func (s *Sensor) sendMarSync(cause flow.Cause, now int64) {
	s.sendMar(cause, now, nil)
}

// sendMar emits a MAR. Status and stop MARs carry the counters' change
// since the previous MAR; st is the snapshot to report (nil: take one).
func (s *Sensor) sendMar(cause flow.Cause, now int64, st *Stats) {
	r := &s.mar
	*r = flow.Record{Type: flow.TypeMgmt, Cause: cause, Has: flow.HasMgmt}
	m := &r.Mgmt
	m.StartTime, m.Now = s.lastMar.now, now
	if cause == flow.CauseStart {
		m.StartTime = now
	}
	m.Major = 5
	m.ReportInterval = s.opt.ReportInterval
	if m.ReportInterval == 0 {
		m.ReportInterval = uint16(max(s.opt.Track.StatusInterval.Seconds(), 0))
		if m.ReportInterval == 0 {
			m.ReportInterval = 5
		}
	}
	m.MarInterval = uint16(s.marEvery / int64(time.Second))
	m.RecordLen = -1
	if cause != flow.CauseStart {
		var local Stats
		if st == nil {
			local = s.Stats()
			st = &local
		}
		var bad uint64
		for _, n := range st.Bad {
			bad += n
		}
		cur := marSnap{now: now, packets: st.Packets, bytes: st.Bytes, records: s.records,
			dropped: st.KernelDrops + st.OurDrops, forced: st.Forced, bad: bad}
		p := &s.lastMar
		m.PktsRcvd, m.BytesRcvd = cur.packets-p.packets, cur.bytes-p.bytes
		m.Records = uint32(cur.records - p.records)
		m.Flows = uint32(st.Active)
		// See doc.go: dropped is capture drops (the kernel's and ours),
		// queue the flows expired early by the memory cap, bufs the
		// frames not decoded.
		m.Dropped = uint32(cur.dropped - p.dropped)
		m.Queue = uint32(cur.forced - p.forced)
		m.Bufs = uint32(cur.bad - p.bad)
		*p = cur
	} else {
		s.lastMar.now = now
	}
	if t := s.opt.Track; t.HasID {
		r.Has |= flow.HasSrcID
		r.SrcID = t.MonitorID
		copy(m.ID[:], t.MonitorID.ID[:])
		switch t.MonitorID.Type {
		case flow.SrcIDString:
			m.Status = 0x00200000
		case flow.SrcIDInt:
			m.Status = 0x00400000
		case flow.SrcIDIPv6:
			m.Status = 0x00600000
		case flow.SrcIDIPv4:
			m.Status = 0x00800000
		case flow.SrcIDUUID:
			m.Status = 0x00A00000
		}
	}
	s.emit(r)
}

// tablePub are one table's counters, stored by the goroutine that owns it.
type tablePub struct {
	records         atomic.Uint64 // shards only
	created, forced atomic.Uint64
	active, mem     atomic.Int64
}

func (p *tablePub) store(t *track.Tracker) {
	p.created.Store(t.Created)
	p.forced.Store(t.Forced)
	p.active.Store(int64(t.Active()))
	p.mem.Store(t.MemBytes())
}

// DefaultShards is the default shard count: one per core Go may use.
func DefaultShards() int { return runtime.GOMAXPROCS(0) }
