package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/flow/filter"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/prometheus/client_golang/prometheus"
)

// Options tune a Daemon; the zero value is the production default.
type Options struct {
	Stdout io.Writer    // json:- and friends (default os.Stdout)
	Log    *slog.Logger // default: discard
	// FlushEvery is how long a sink may hold written records in its
	// buffer (default 1 s: records reach files and brokers within it).
	FlushEvery time.Duration
	// ShutdownTimeout bounds the drain at shutdown and at a reload; past
	// it, stages still blocked are abandoned and their records counted
	// lost (default 30 s).
	ShutdownTimeout time.Duration
	// Sources and Sinks, when set, choose constructors instead of
	// build.go (tests use them to plug in their own components).
	Sources func(config.Source) (SourceMaker, error)
	Sinks   func(config.Sink) (SinkMaker, error)
}

// Daemon runs the pipelines of a config. New opens every component (binds
// listeners, creates files); Run moves records until its context ends,
// then drains every queue and closes every sink; Reload swaps in a new
// config while running.
type Daemon struct {
	opts Options
	log  *slog.Logger
	reg  *prometheus.Registry

	// applyMu serialises New's first apply, Reload and the shutdown.
	applyMu sync.Mutex
	// mu guards the maps below (scrapes and /readyz read them).
	mu       sync.RWMutex
	cfg      *config.Config
	sources  map[string]*sourceState
	sinks    map[string]*sinkState
	pipes    map[string]*pipeline
	filtered map[string]*atomic.Uint64 // by pipeline, across reloads
	retired  []retiredCounts

	runCtx    context.Context // the sources' parent; set by Run
	runCancel context.CancelFunc
	hard      context.Context // cancelled when a drain times out
	hardStop  context.CancelFunc
	running   atomic.Bool
	stopping  atomic.Bool
	ended     chan struct{} // a finite source ended: Run checks whether all have
	reloads   [2]atomic.Uint64
}

// pipeline is what a source's worker applies to each batch: the filter,
// then every sink. A reload replaces it whole.
type pipeline struct {
	name     string
	filter   *filter.Filter
	sinks    []*sinkState
	raw      []*sinkState // raw-datagram sinks: fed by the sources' RawHandler, not by batches
	filtered *atomic.Uint64
	// cid: a sink has a place for the Community ID (a conn.log's
	// community_id, ECS's network.community_id): the worker computes it
	// for records that have none, once for every sink.
	cid bool
}

// wantsCommunityID reports whether sink c of p writes the Community ID,
// as convert computes it for the same sinks.
func wantsCommunityID(p *config.Pipeline, c *config.Sink) bool {
	f := c.Net.Format
	if c.Kind == config.KindFile && (f == gateway.FormatZeek || f == gateway.FormatZeekJSON) {
		return true
	}
	textual := c.Kind == config.KindFile && (f == gateway.FormatJSON || f == gateway.FormatCSV) ||
		c.Kind == config.KindKafka && c.Kafka.Format == "json"
	d := c.Dialect
	if d == "" && p.Map != nil && (p.Map.Schema == "json" || p.Map.Schema == "csv") {
		d = p.Map.Dialect
	}
	return textual && d == "ecs"
}

// isRaw reports whether a sink takes export messages, not records.
func isRaw(c *config.Sink) bool { return c.Kind == config.KindKafka && c.Kafka.Format == "raw" }

// rawMode is how a pipeline's sources run: "" no raw sink, "raw+decode"
// raw and record sinks, "raw" raw sinks only (nothing is decoded).
func rawMode(p *config.Pipeline) string {
	raw, rec := false, false
	for i := range p.Sinks {
		if isRaw(&p.Sinks[i]) {
			raw = true
		} else {
			rec = true
		}
	}
	switch {
	case raw && rec:
		return "raw+decode"
	case raw:
		return "raw"
	}
	return ""
}

// retiredCounts keeps the totals of removed components so that counters
// never go backwards across a reload.
type retiredCounts struct {
	stage, pipeline, name string
	records, written      uint64
	restarts              uint64
	raw                   uint64
	srcLost               []Loss // what the source itself counted (Stats)
	lost                  map[lossKey]uint64
}

// New opens the components of cfg. Nothing moves until Run.
func New(cfg *config.Config, o Options) (*Daemon, error) {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.Sources == nil {
		o.Sources = sourceMaker
	}
	if o.Sinks == nil {
		o.Sinks = sinkMaker
	}
	d := &Daemon{opts: o, log: o.Log, reg: prometheus.NewRegistry(),
		sources: map[string]*sourceState{}, sinks: map[string]*sinkState{}, pipes: map[string]*pipeline{},
		filtered: map[string]*atomic.Uint64{}, ended: make(chan struct{}, 1)}
	d.hard, d.hardStop = context.WithCancel(context.Background())
	d.reg.MustRegister(collector{d})
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if err := d.apply(cfg); err != nil {
		return nil, err
	}
	return d, nil
}

// Registry is the daemon's Prometheus registry (its own counters and
// its components').
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Listening lists what the daemon listens on, one line per socket.
func (d *Daemon) Listening() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for _, s := range d.sources {
		if l, ok := s.src.(Listener); ok {
			for _, a := range l.Listening() {
				out = append(out, s.pipeline+": "+a)
			}
		}
	}
	for _, s := range d.sinks {
		if l, ok := s.sink.(Listener); ok {
			for _, a := range l.Listening() {
				out = append(out, s.pipeline+": "+a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Run moves records until ctx ends, or until every source has ended when
// none of them runs forever (files only). It then stops the sources,
// drains every queue into the sinks, flushes and closes them.
func (d *Daemon) Run(ctx context.Context) error {
	d.applyMu.Lock()
	d.runCtx, d.runCancel = context.WithCancel(ctx)
	d.mu.RLock()
	for _, s := range d.sources {
		d.startSource(s)
	}
	d.mu.RUnlock()
	d.running.Store(true)
	d.applyMu.Unlock()
	for {
		select {
		case <-ctx.Done():
		case <-d.ended:
			if !d.allEnded() {
				continue
			}
		}
		break
	}
	return d.shutdown()
}

func (d *Daemon) allEnded() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.sources {
		select {
		case <-s.runDone:
		default:
			return false
		}
	}
	return true
}

// shutdown drains everything, within ShutdownTimeout.
func (d *Daemon) shutdown() error {
	d.stopping.Store(true)
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	t := time.AfterFunc(d.opts.ShutdownTimeout, func() {
		d.log.Error("shutdown: drain timed out; abandoning blocked stages", "timeout", d.opts.ShutdownTimeout)
		d.hardStop()
	})
	defer t.Stop()
	err := d.apply(&config.Config{})
	d.runCancel()
	return err
}

// Reload swaps in cfg: components whose entry is unchanged keep running
// (listeners keep their sockets, files their names, clients their
// connections); new ones are opened first, so a config that does not open
// changes nothing; removed ones are stopped and drained. Records in
// flight reach the sinks they were meant for.
func (d *Daemon) Reload(cfg *config.Config) error {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if d.stopping.Load() {
		return ErrStopping
	}
	err := d.apply(cfg)
	if err != nil {
		d.reloads[1].Add(1)
	} else {
		d.reloads[0].Add(1)
	}
	return err
}

// mappingPrint identifies a pipeline's mapping by name and content, so
// that a reload after the mapping file changed rebuilds its users.
func mappingPrint(p *config.Pipeline) string {
	if p.MappingAt == "" {
		return ""
	}
	b, err := os.ReadFile(p.MappingAt)
	if err != nil {
		return p.MappingAt // a built-in name
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s@%x", p.MappingAt, sum[:8])
}

func sourceKey(p *config.Pipeline, s *config.Source, mp string) string {
	// The raw mode is set before a listener serves: a change reopens it.
	return fmt.Sprintf("%s\x00%s\x00%v\x00%s\x00%s", p.Name, s.Text, s.Queue, mp, rawMode(p))
}

func sinkKey(p *config.Pipeline, s *config.Sink, mp string) string {
	return fmt.Sprintf("%s\x00%s\x00%v\x00%v\x00%s\x00%s", p.Name, s.Text, s.Queue, s.Rotate, s.Dialect, mp)
}

// apply makes the running set of components that of cfg. Called with
// applyMu held.
func (d *Daemon) apply(cfg *config.Config) error {
	type want struct {
		p   *config.Pipeline
		src *config.Source
		snk *config.Sink
	}
	wantSrc := map[string]want{}
	wantSnk := map[string]want{}
	var order []string // sink keys in config order
	for i := range cfg.Pipelines {
		p := &cfg.Pipelines[i]
		mp := mappingPrint(p)
		for j := range p.Sources {
			wantSrc[sourceKey(p, &p.Sources[j], mp)] = want{p: p, src: &p.Sources[j]}
		}
		for j := range p.Sinks {
			k := sinkKey(p, &p.Sinks[j], mp)
			wantSnk[k] = want{p: p, snk: &p.Sinks[j]}
			order = append(order, k)
		}
	}

	// Sources whose entry changed but whose endpoint stays must let go of
	// their socket before the new one binds: stop them first.
	d.mu.RLock()
	var early []*sourceState
	for k, s := range d.sources {
		if _, keep := wantSrc[k]; keep {
			continue
		}
		for _, w := range wantSrc {
			if w.p.Name == s.pipeline && w.src.Text == s.name {
				early = append(early, s)
				break
			}
		}
	}
	d.mu.RUnlock()
	for _, s := range early {
		d.stopSource(s)
		d.mu.Lock()
		d.retire(s)
		delete(d.sources, s.key)
		d.mu.Unlock()
	}

	// Open what is new; on failure close it and keep the running set.
	newSrc := map[string]*sourceState{}
	newSnk := map[string]*sinkState{}
	closeNew := func() {
		for _, s := range newSrc {
			s.src.Close()
		}
		for _, s := range newSnk {
			s.sink.Close()
		}
	}
	var errs []error
	for k, w := range wantSnk {
		if _, ok := d.sinks[k]; ok {
			continue
		}
		s, err := d.openSink(k, w.p, w.snk)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		newSnk[k] = s
	}
	for k, w := range wantSrc {
		if _, ok := d.sources[k]; ok {
			continue
		}
		s, err := d.openSource(k, w.p, w.src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		newSrc[k] = s
	}
	for k, s := range newSrc {
		p := wantSrc[k].p
		mode := rawMode(p)
		if mode == "" {
			continue
		}
		rs, ok := s.src.(RawSource)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: pipeline %s has a format=raw sink, which takes NetFlow/IPFIX messages as received: %s has none", wantSrc[k].src.Pos, p.Name, s.name))
			continue
		}
		if err := rs.SetRaw(s.writeRaw, mode == "raw+decode"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", wantSrc[k].src.Pos, err))
		}
	}
	if len(errs) > 0 {
		closeNew()
		return errors.Join(errs...)
	}

	// The new pipelines.
	pipes := map[string]*pipeline{}
	for i := range cfg.Pipelines {
		p := &cfg.Pipelines[i]
		f := d.filtered[p.Name]
		if f == nil {
			f = new(atomic.Uint64)
		}
		pipes[p.Name] = &pipeline{name: p.Name, filter: p.Compiled, filtered: f}
	}
	for _, k := range order {
		w := wantSnk[k]
		s := d.sinks[k]
		if s == nil {
			s = newSnk[k]
		}
		if isRaw(w.snk) {
			if _, ok := s.sink.(RawSink); !ok {
				closeNew()
				return fmt.Errorf("%s: %s takes no raw messages", w.snk.Pos, s.name)
			}
			pipes[w.p.Name].raw = append(pipes[w.p.Name].raw, s)
			continue
		}
		pipes[w.p.Name].sinks = append(pipes[w.p.Name].sinks, s)
		if wantsCommunityID(w.p, w.snk) {
			pipes[w.p.Name].cid = true
		}
	}
	for _, s := range newSnk {
		d.startSink(s)
	}

	d.mu.Lock()
	for k, s := range newSnk {
		d.sinks[k] = s
	}
	for name, p := range pipes {
		d.filtered[name] = p.filtered
	}
	// Kept sources move to their new pipeline between two batches.
	for k, s := range d.sources {
		if w, keep := wantSrc[k]; keep {
			s.swap(pipes[w.p.Name])
		}
	}
	for k, s := range newSrc {
		s.pl.Store(pipes[wantSrc[k].p.Name])
		d.sources[k] = s
		if d.running.Load() {
			d.startSource(s)
		}
	}
	d.pipes = pipes
	d.cfg = cfg
	var goneSrc []*sourceState
	for k, s := range d.sources {
		if _, keep := wantSrc[k]; !keep {
			goneSrc = append(goneSrc, s)
		}
	}
	var goneSnk []*sinkState
	for k, s := range d.sinks {
		if _, keep := wantSnk[k]; !keep {
			goneSnk = append(goneSnk, s)
		}
	}
	d.mu.Unlock()

	// Removed sources stop and drain into the sinks of their pipeline;
	// only then are removed sinks drained and closed.
	var wg sync.WaitGroup
	for _, s := range goneSrc {
		wg.Add(1)
		go func() { defer wg.Done(); d.stopSource(s) }()
	}
	wg.Wait()
	for _, s := range goneSnk {
		wg.Add(1)
		go func() { defer wg.Done(); d.stopSink(s) }()
	}
	wg.Wait()
	d.mu.Lock()
	for _, s := range goneSrc {
		d.retire(s)
		delete(d.sources, s.key)
	}
	for _, s := range goneSnk {
		d.retireSink(s)
		delete(d.sinks, s.key)
	}
	d.mu.Unlock()
	return nil
}

func (d *Daemon) env(p *config.Pipeline) Env {
	return Env{Pipeline: p.Name, Mapping: p.Map, Stdout: d.opts.Stdout, Log: d.log.With("pipeline", p.Name)}
}

func (d *Daemon) openSource(key string, p *config.Pipeline, c *config.Source) (*sourceState, error) {
	mk, err := d.opts.Sources(*c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Pos, err)
	}
	src, err := mk(*c, d.env(p))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Pos, err)
	}
	d.register(src, "source", c.Text)
	q := c.Queue
	return &sourceState{d: d, key: key, pipeline: p.Name, name: c.Text, src: src,
		q: newQueue(q.Size), block: q.WhenFull == config.Block,
		runDone: make(chan struct{}), workDone: make(chan struct{})}, nil
}

func (d *Daemon) openSink(key string, p *config.Pipeline, c *config.Sink) (*sinkState, error) {
	mk, err := d.opts.Sinks(*c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Pos, err)
	}
	sk, err := mk(*c, d.env(p))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Pos, err)
	}
	d.register(sk, "sink", c.Text)
	s := &sinkState{d: d, key: key, pipeline: p.Name, name: c.Text, sink: sk,
		q: newQueue(c.Queue.Size), block: c.Queue.WhenFull == config.Block, done: make(chan struct{})}
	s.lostFn = s.lose
	return s, nil
}

// register adds a component's own metrics (Collector) to the registry.
func (d *Daemon) register(x any, role, name string) {
	if col, ok := x.(Collector); ok {
		for _, m := range col.Collectors() {
			if err := d.reg.Register(m); err != nil {
				d.log.Warn("metrics not registered", role, name, "err", err)
			}
		}
	}
}

// unregister takes a removed component's metrics out of the registry.
func (d *Daemon) unregister(x any) {
	if col, ok := x.(Collector); ok {
		for _, m := range col.Collectors() {
			d.reg.Unregister(m)
		}
	}
}

func (d *Daemon) retire(s *sourceState) {
	d.retired = append(d.retired, retiredCounts{stage: "source", pipeline: s.pipeline, name: s.name,
		records: s.emitted.Load(), restarts: s.restarts, raw: s.rawMsgs.Load(), lost: s.lost.snapshot(),
		srcLost: s.src.Stats().Lost})
	d.unregister(s.src)
}

func (d *Daemon) retireSink(s *sinkState) {
	d.retired = append(d.retired, retiredCounts{stage: "sink", pipeline: s.pipeline, name: s.name,
		written: s.written.Load(), lost: s.lost.snapshot()})
	d.unregister(s.sink)
}

// sourceState is a running source: its queue into the pipeline and the
// worker that filters each batch and hands it to every sink.
type sourceState struct {
	d                   *Daemon
	key, pipeline, name string
	src                 Source
	q                   *queue
	block               bool
	pl                  atomic.Pointer[pipeline]
	swapMu              sync.RWMutex // the worker holds it (read) over one batch's fan-out
	cancel              context.CancelFunc
	started             bool
	runDone, workDone   chan struct{}
	emitted             atomic.Uint64
	sinkErrs            atomic.Uint64 // records of this source sinks lost with sink_error
	syncedErrs          uint64        // sinkErrs at the last Sync (Sync's caller only)
	rawMsgs             atomic.Uint64
	lost                losses // records dropped at the source's queue
	inflight            counter
	free                freeList
	errMu               sync.Mutex
	runErr              error
	restarts            uint64
}

var _ OwnedEmitter = (*sourceState)(nil)

func (d *Daemon) startSource(s *sourceState) {
	if s.started {
		return
	}
	s.started = true
	ctx, cancel := context.WithCancel(d.runCtx)
	s.cancel = cancel
	go s.work()
	go func() {
		// A source that fails is run again, after a pause that doubles
		// from 1 s to 30 s (back to 1 s after a minute of good running):
		// a consumer whose commit failed in a rebalance, a listener whose
		// socket broke. It is not ready meanwhile. Only ctx ends it, or a
		// finite source (a file) that returns nil.
		pause := time.Second
		for {
			began := time.Now()
			err := s.src.Run(ctx, s)
			if err == nil || ctx.Err() != nil {
				break
			}
			s.errMu.Lock()
			s.runErr = err
			s.restarts++
			s.errMu.Unlock()
			if time.Since(began) > time.Minute {
				pause = time.Second
			}
			d.log.Error("source failed; running it again", "pipeline", s.pipeline, "source", s.name, "in", pause, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			if ctx.Err() != nil {
				break
			}
			pause = min(2*pause, 30*time.Second)
			s.errMu.Lock()
			s.runErr = nil
			s.errMu.Unlock()
		}
		// Done before the signal: Run, woken, must see this source ended
		// (a signal sent while one is pending is dropped).
		close(s.runDone)
		select {
		case d.ended <- struct{}{}:
		default:
		}
	}()
}

// stopSource stops the source, drains its queue and closes it.
func (d *Daemon) stopSource(s *sourceState) {
	if s.started {
		s.cancel()
		<-s.runDone
	}
	s.q.close()
	if s.started {
		<-s.workDone
	}
	if err := s.src.Close(); err != nil {
		d.log.Warn("source close", "pipeline", s.pipeline, "source", s.name, "err", err)
	}
}

func (s *sourceState) swap(p *pipeline) {
	s.swapMu.Lock()
	s.pl.Store(p)
	s.swapMu.Unlock()
}

// Emit copies recs into the source's queue.
func (s *sourceState) Emit(ctx context.Context, recs []flow.Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.emitted.Add(uint64(len(recs)))
	b := copyBatch(recs, s)
	s.inflight.add(1)
	ok, err := s.q.put(ctx, b, s.block)
	if ok {
		return nil
	}
	// Not queued: full (drop), stopping, or ctx ended while waiting.
	s.lost.addBatch("", b.recs, ReasonQueueFull)
	s.inflight.add(-1)
	b.release()
	return err
}

// EmitOwned queues recs without a copy: the batch takes recs and arena,
// and the source gets the buffers of a spent batch in exchange.
func (s *sourceState) EmitOwned(ctx context.Context, recs []flow.Record, arena []byte) ([]flow.Record, []byte, error) {
	if len(recs) == 0 {
		return recs, arena, nil
	}
	s.emitted.Add(uint64(len(recs)))
	b := s.free.get()
	if len(b.extra) > 0 {
		// The batch last held copies (Emit) whose Extra share b.extra:
		// the slots must not take that array along.
		all := b.recs[:cap(b.recs)]
		for i := range all {
			all[i].Extra = nil
		}
		b.extra = b.extra[:0]
	}
	spare, spareArena := b.recs[:0], b.arena[:0]
	b.src = s
	b.recs, b.arena = recs, arena
	s.inflight.add(1)
	ok, err := s.q.put(ctx, b, s.block)
	if ok {
		return spare, spareArena, nil
	}
	s.lost.addBatch("", recs, ReasonQueueFull)
	s.inflight.add(-1)
	b.recs, b.arena = spare, spareArena
	b.release()
	return recs, arena, err
}

// Sync waits until everything emitted so far is written and flushed.
func (s *sourceState) Sync(ctx context.Context) error {
	if err := s.inflight.wait(ctx); err != nil {
		return err
	}
	s.swapMu.RLock()
	p := s.pl.Load()
	s.swapMu.RUnlock()
	var marks []*batch
	for _, sk := range p.sinks {
		m := &batch{flush: make(chan struct{})}
		if ok, err := sk.q.put(ctx, m, true); !ok {
			if err == nil {
				err = ErrStopping
			}
			return err
		}
		marks = append(marks, m)
	}
	var errs []error
	for i, m := range marks {
		select {
		case <-m.flush:
			if m.err != nil {
				errs = append(errs, fmt.Errorf("sink %s: flush: %w", p.sinks[i].name, m.err))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Records a sink failed to take since the last Sync (sink_error) make
	// it fail too: an at-least-once source then delivers them again
	// rather than commit them. Records the user chose to drop (when_full:
	// drop) or that no sink can hold do not.
	if n := s.sinkErrs.Load(); n != s.syncedErrs {
		errs = append(errs, fmt.Errorf("%w: %d records since the last sync", ErrSinkLoss, n-s.syncedErrs))
		s.syncedErrs = n
	}
	return errors.Join(errs...)
}

// ErrSinkLoss is what Sync returns when a sink failed to take records
// emitted since the previous Sync.
var ErrSinkLoss = errors.New("daemon: a sink failed to take records")

// work filters each batch and hands it to the pipeline's sinks.
func (s *sourceState) work() {
	defer close(s.workDone)
	for {
		b, wait := s.q.get()
		if b == nil {
			if wait == nil {
				return
			}
			<-wait
			continue
		}
		s.swapMu.RLock()
		p := s.pl.Load()
		if p.filter != nil {
			n := 0
			for i := range b.recs {
				if p.filter.Match(&b.recs[i]) {
					if n != i {
						// Each slot keeps an Extra array of its own
						// (EmitOwned's buffers go back to a decoder).
						x := b.recs[n].Extra
						b.recs[n] = b.recs[i]
						b.recs[i].Extra = x[:0]
					}
					n++
				}
			}
			p.filtered.Add(uint64(len(b.recs) - n))
			b.recs = b.recs[:n]
		}
		if p.cid {
			b.cid = flow.SetCommunityIDs(b.recs, b.cid, 0)
		}
		if len(b.recs) == 0 || len(p.sinks) == 0 {
			s.swapMu.RUnlock()
			s.inflight.add(-1)
			b.release()
			continue
		}
		b.refs.Store(int32(len(p.sinks)))
		for _, sk := range p.sinks {
			if ok, _ := sk.q.put(s.d.hard, b, sk.block); !ok {
				sk.lost.addBatch(s.name, b.recs, ReasonQueueFull)
				b.done()
			}
		}
		s.swapMu.RUnlock()
	}
}

// done drops one sink's reference; the last one recycles the batch.
func (b *batch) done() {
	if b.refs.Add(-1) == 0 {
		src := b.src
		b.release()
		src.inflight.add(-1)
	}
}

// writeRaw is the source's RawHandler: it hands the messages to every
// raw sink of the pipeline, from the listener's goroutine. A sink's
// failure loses its copy of the messages, counted; the listener goes on.
func (s *sourceState) writeRaw(msgs []gateway.Message) error {
	s.rawMsgs.Add(uint64(len(msgs)))
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	for _, sk := range s.pl.Load().raw {
		var n uint64
		err := sk.sink.(RawSink).WriteRaw(s.d.hard, msgs, func(m *gateway.Message, r Reason) {
			n++
			sk.lost.add(s.name, m.From.Addr(), r, 1)
		})
		if err != nil {
			sk.errors.Add(1)
		}
		sk.written.Add(uint64(len(msgs)) - n)
		sk.setErr(err)
	}
	return nil
}

func (s *sourceState) err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.runErr
}

// sinkState is a running sink: its queue and the goroutine writing it.
type sinkState struct {
	d                   *Daemon
	key, pipeline, name string
	sink                Sink
	q                   *queue
	block               bool
	done                chan struct{}
	written, errors     atomic.Uint64
	lost                losses
	lostFn              LostFunc
	lostInBatch         int
	cur                 *batch // the batch being written (lose counts its source's sink errors)
	errMu               sync.Mutex
	lastErr             error
	lastLog             time.Time
}

func (s *sinkState) lose(r *flow.Record, reason Reason) {
	s.lostInBatch++
	src := ""
	if s.cur != nil && s.cur.src != nil {
		src = s.cur.src.name
	}
	s.lost.add(src, exporterOf(r), reason, 1)
	if reason == ReasonSinkError && s.cur != nil && s.cur.src != nil {
		s.cur.src.sinkErrs.Add(1)
	}
}

func (d *Daemon) startSink(s *sinkState) { go s.run() }

func (d *Daemon) stopSink(s *sinkState) {
	s.q.close()
	<-s.done
}

func (s *sinkState) run() {
	defer close(s.done)
	t := time.NewTicker(s.d.opts.FlushEvery)
	defer t.Stop()
	dirty := false
	for {
		b, wait := s.q.get()
		if b == nil {
			if wait == nil {
				break
			}
			select {
			case <-wait:
			case <-t.C:
				if dirty {
					s.setErr(s.sink.Flush())
					dirty = false
				}
			}
			continue
		}
		if b.flush != nil {
			b.err = s.sink.Flush()
			s.setErr(b.err)
			dirty = false
			close(b.flush)
			continue
		}
		s.lostInBatch = 0
		s.cur = b
		err := s.sink.Write(b.recs, s.lostFn)
		s.written.Add(uint64(len(b.recs) - s.lostInBatch))
		if err != nil {
			s.errors.Add(1)
		}
		s.setErr(err)
		dirty = true
		b.done()
	}
	if err := s.sink.Close(); err != nil {
		s.errors.Add(1)
		s.setErr(err)
	}
}

// setErr records the sink's state: an error marks it not ready until a
// later call succeeds. Errors are logged at most once a minute.
func (s *sinkState) setErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.lastErr = err
	if err != nil && time.Since(s.lastLog) > time.Minute {
		s.lastLog = time.Now()
		s.d.log.Error("sink", "pipeline", s.pipeline, "sink", s.name, "err", err)
	}
}

func (s *sinkState) err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.lastErr
}
