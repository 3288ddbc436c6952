package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/sensor"
	"github.com/flowgate/flowgate/sensor/argusconf"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/prometheus/client_golang/prometheus"
)

// sensorSource is the `sensor` / `sensor:IFACE` source: packets captured
// in-process and turned into Argus records by the sensor package, with
// argus's defaults (argus -X), as `flowgate sensor -i IFACE` makes them.
//
// When the capture fails (the interface went away, its driver reset),
// the source reports itself not ready and opens the interface again
// every sensorRetry, the sensor's flows kept meanwhile (they time out by
// the clock); the kernel's counters of the captures add up.
type sensorSource struct {
	text  string
	iface string
	open  func() (capture.LiveSource, error)
	s     *sensor.Sensor
	b     sensorBatch

	mu         sync.Mutex
	live       capture.LiveSource // nil while it is being opened again
	recv, drop uint64             // kernel counters of the captures closed
	down       error              // why the capture is not running (Ready)
}

// sensorRetry is how often a failed capture is opened again.
var sensorRetry = time.Second

// ErrNoInterface: `sensor` without an interface, and no interface up
// other than loopback.
var ErrNoInterface = errors.New("daemon: sensor: no interface to capture on (name one: sensor:IFACE)")

// sensorPoll is how long a live read waits for a frame before the sensor's
// clock advances (idle flows time out) and ctx is looked at again.
const sensorPoll = 250 * time.Millisecond

func newSensorSource(s config.Source, env Env) (Source, error) {
	iface := s.Iface
	if iface == "" {
		var err error
		if iface, err = defaultInterface(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Text, err)
		}
	}
	open := func() (capture.LiveSource, error) {
		return capture.OpenLive(iface, capture.LiveOptions{Promisc: true, ReadTimeout: sensorPoll})
	}
	src, err := newSensorOn(s.Text, iface, open)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	return src, nil
}

// newSensorOn opens the capture with open (tests give their own).
func newSensorOn(text, iface string, open func() (capture.LiveSource, error)) (*sensorSource, error) {
	live, err := open()
	if err != nil {
		return nil, err
	}
	// A live link must keep up: one flow table per core, as flowgate
	// sensor -i runs.
	opt := sensorOptions(sensor.DefaultShards())
	opt.Live = true
	src := &sensorSource{text: text, iface: iface, open: open, live: live}
	opt.KernelStats = src.kernelStats
	src.s = sensor.New(opt, src.b.add)
	return src, nil
}

// kernelStats are the kernel's counters of every capture so far.
func (s *sensorSource) kernelStats() (received, dropped uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	received, dropped = s.recv, s.drop
	if s.live != nil {
		r, d := s.live.Stats()
		received, dropped = received+r, dropped+d
	}
	return
}

// capture is the running capture, or nil.
func (s *sensorSource) capture() capture.LiveSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// fail closes a failed capture and keeps its counters.
func (s *sensorSource) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		r, d := s.live.Stats()
		s.recv, s.drop = s.recv+r, s.drop+d
		s.live.Close()
		s.live = nil
	}
	s.down = fmt.Errorf("%s: capture on %s: %w", s.text, s.iface, err)
}

// reopen tries to open the capture again.
func (s *sensorSource) reopen() error {
	live, err := s.open()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.down = fmt.Errorf("%s: capture on %s: %w", s.text, s.iface, err)
		return err
	}
	s.live, s.down = live, nil
	return nil
}

// Ready reports a capture that failed and is not open again yet.
func (s *sensorSource) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// defaultInterface is the interface argus captures on when none is named
// (libpcap's pcap_lookupdev): the first one that is up, is not loopback
// and has an address.
func defaultInterface() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoInterface, err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if addrs, err := ifc.Addrs(); err == nil && len(addrs) > 0 {
			return ifc.Name, nil
		}
	}
	return "", ErrNoInterface
}

// sensorOptions are the sensor's options with argus's defaults, as
// flowgate sensor sets them without flags.
func sensorOptions(shards int) sensor.Options {
	opt := sensor.ConfOptions(argusconf.Default())
	opt.Shards = shards
	return opt
}

// sensorBatch gathers the sensor's records for Emit. The sensor reuses
// its record after emit returns and, with several shards, calls emit
// from the shards' goroutines one at a time: the batch is under mu, and
// each record's bytes are copied into an arena reused from batch to
// batch.
type sensorBatch struct {
	mu      sync.Mutex
	ctx     context.Context
	emit    Emitter
	recs    []flow.Record
	arena   []byte
	extra   []flow.Field
	err     error // the first Emit error: the reading loop stops on it
	stopped atomic.Bool
	records atomic.Uint64
}

// sensorBatchLen is the records a batch holds before it is emitted.
const sensorBatchLen = 256

func (b *sensorBatch) start(ctx context.Context, emit Emitter) {
	b.mu.Lock()
	b.ctx, b.emit = ctx, emit
	if b.recs == nil {
		b.recs = make([]flow.Record, 0, sensorBatchLen)
	}
	b.mu.Unlock()
}

// add is the sensor's emit function.
func (b *sensorBatch) add(r *flow.Record) {
	b.mu.Lock()
	if b.err == nil && b.emit != nil {
		b.recs = append(b.recs, *r)
		c := &b.recs[len(b.recs)-1]
		if len(c.Extra) > 0 {
			// Extra is the sensor's slice, reused: copy it first, so that
			// DetachInto moves the copy's values, not the sensor's.
			k := len(b.extra)
			b.extra = append(b.extra, c.Extra...)
			c.Extra = b.extra[k:len(b.extra):len(b.extra)]
		}
		b.arena = c.DetachInto(b.arena)
		if len(b.recs) == cap(b.recs) {
			b.flushLocked()
		}
	}
	b.mu.Unlock()
}

func (b *sensorBatch) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

func (b *sensorBatch) flushLocked() {
	if len(b.recs) > 0 && b.err == nil {
		if err := b.emit.Emit(b.ctx, b.recs); err != nil {
			b.err = err
			b.stopped.Store(true)
		} else {
			b.records.Add(uint64(len(b.recs)))
		}
	}
	b.recs, b.arena, b.extra = b.recs[:0], b.arena[:0], b.extra[:0]
}

// Run captures until ctx is done. On the way out the sensor flushes its
// flows (final records) and its closing MAR, which are emitted with a
// short grace period of their own: ctx is already done then.
func (s *sensorSource) Run(ctx context.Context, emit Emitter) error {
	s.b.start(ctx, emit)
	frames := make([]capture.Frame, 256)
	for ctx.Err() == nil && !s.b.stopped.Load() {
		live := s.capture()
		if live == nil {
			if sleepCtx(ctx, sensorRetry) != nil {
				break
			}
			s.s.Tick(time.Now().UnixNano())
			s.reopen()
			s.b.flush()
			continue
		}
		n, err := live.ReadFrames(frames)
		switch {
		case err == nil:
			s.s.Frames(frames[:n])
		case errors.Is(err, capture.ErrTimeout):
			s.s.Tick(time.Now().UnixNano()) // idle link: flows still time out
		default:
			if ctx.Err() != nil {
				break
			}
			s.fail(err)
		}
		s.b.flush()
	}
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	s.b.mu.Lock()
	s.b.ctx = gctx
	s.b.mu.Unlock()
	s.s.Close()
	err := s.b.flush()
	if ctx.Err() != nil || errors.Is(err, ErrStopping) {
		return nil
	}
	return err
}

func (s *sensorSource) Stats() SourceStats {
	return sensorStats(s.s.Stats(), s.b.records.Load(), s.iface)
}

// sensorStats maps the sensor's counters onto loss rows: frames that did
// not decode are malformed (per decode reason), frames the kernel or the
// sensor dropped are queue_full. Their unit is packets: a lost frame is
// part of a flow, not a countable record.
func sensorStats(st sensor.Stats, records uint64, where string) SourceStats {
	out := SourceStats{Records: records}
	for r, n := range st.Bad {
		if n > 0 {
			out.Lost = append(out.Lost, Loss{Reason: ReasonMalformed, Unit: "packets",
				Detail: where + ": frame not decoded: " + decode.Reason(r).String(), N: n})
		}
	}
	if st.KernelDrops > 0 {
		out.Lost = append(out.Lost, Loss{Reason: ReasonQueueFull, Unit: "packets",
			Detail: where + ": capture ring full (kernel drops)", N: st.KernelDrops})
	}
	if st.OurDrops > 0 {
		out.Lost = append(out.Lost, Loss{Reason: ReasonQueueFull, Unit: "packets",
			Detail: where + ": sensor shards busy", N: st.OurDrops})
	}
	return out
}

func (s *sensorSource) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.s.Collector()}
}

func (s *sensorSource) Listening() []string {
	return []string{"sensor capturing on " + s.iface}
}

func (s *sensorSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		return nil
	}
	r, d := s.live.Stats() // kept: Stats may be read after Close
	s.recv, s.drop = s.recv+r, s.drop+d
	err := s.live.Close()
	s.live = nil
	return err
}

func (s *sensorSource) String() string { return s.text }

// pcapStats are the counters of the pcap files read through the sensor
// (file sources), summed over files.
type pcapStats struct {
	mu  sync.Mutex
	sum sensor.Stats
}

func (p *pcapStats) add(st sensor.Stats) {
	p.mu.Lock()
	for i, n := range st.Bad {
		p.sum.Bad[i] += n
	}
	p.sum.Packets += st.Packets
	p.mu.Unlock()
}

func (p *pcapStats) lost() []Loss {
	p.mu.Lock()
	st := p.sum
	p.mu.Unlock()
	return sensorStats(st, 0, "pcap").Lost
}

// readPcap runs a capture file through the sensor (one flow table, no
// drops: files wait), emitting its records as `flowgate sensor -r FILE`
// writes them. A read error of the capture (a truncated or corrupt
// record) ends the reading, as in flowgate sensor: the flows so far are
// flushed and the error is returned for the caller to count. It returns
// the sensor's counters, the records emitted and the Emit error, if any.
func readPcap(ctx context.Context, path string, emit Emitter) (st sensor.Stats, records uint64, readErr, emitErr error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return st, 0, err, nil
	}
	defer src.Close()
	var b sensorBatch
	b.start(ctx, emit)
	s := sensor.New(sensorOptions(1), b.add)
	bsrc := capture.Batch(src)
	frames := make([]capture.Frame, 256)
	for ctx.Err() == nil && !b.stopped.Load() {
		n, err := bsrc.ReadFrames(frames)
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		s.Frames(frames[:n])
	}
	s.Close()
	emitErr = b.flush()
	return s.Stats(), b.records.Load(), readErr, emitErr
}
