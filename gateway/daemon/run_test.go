package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
)

// genSource emits n records with Seq 1..n from exporter exp, batch at a
// time; with forever it then waits for ctx.
type genSource struct {
	name    string
	n       int
	batch   int
	exp     netip.AddrPort
	forever bool
	pace    time.Duration // between batches
	sync    bool          // Sync after every batch (as a Kafka consumer does)
	label   []byte
}

func (g *genSource) Run(ctx context.Context, emit Emitter) error {
	recs := make([]flow.Record, g.batch)
	for seq := 1; seq <= g.n; {
		k := 0
		for ; k < g.batch && seq <= g.n; k++ {
			r := &recs[k]
			*r = flow.Record{Type: flow.TypeFlow, Has: flow.HasKey, Seq: uint32(seq), Exporter: g.exp, Label: g.label}
			r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.AddrFrom4([4]byte{10, 0, 0, 1}),
				Dst: netip.AddrFrom4([4]byte{10, 0, 0, 2}), SrcPort: 1024, DstPort: 80, Proto: uint8(6 + (seq+1)%2*11)} // odd seq tcp, even udp
			r.Pkts[0] = uint64(seq)
			seq++
		}
		if err := emit.Emit(ctx, recs[:k]); err != nil {
			return err
		}
		// The source reuses its buffer at once: the queue must have copied.
		for i := range recs {
			recs[i] = flow.Record{Seq: 0xdead}
		}
		if g.sync {
			if err := emit.Sync(ctx); err != nil {
				return err
			}
		}
		if g.pace > 0 {
			time.Sleep(g.pace)
		}
	}
	if g.forever {
		<-ctx.Done()
	}
	return nil
}
func (g *genSource) Stats() SourceStats { return SourceStats{} }
func (g *genSource) Close() error       { return nil }
func (g *genSource) String() string     { return g.name }

// memSink keeps the Seq of each record it writes; it refuses (not
// representable) the records whose Seq is a multiple of refuse, and
// sleeps delay per batch.
type memSink struct {
	name    string
	refuse  uint32
	delay   time.Duration
	mu      sync.Mutex
	seqs    map[string][]uint32 // by exporter
	flushes int
	closed  bool
	labels  int
}

func (m *memSink) Write(recs []flow.Record, lost LostFunc) error {
	time.Sleep(m.delay)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		if r.Seq == 0xdead {
			panic("record not copied")
		}
		if m.refuse > 0 && r.Seq%m.refuse == 0 {
			lost(r, ReasonNotRepresentable)
			continue
		}
		if string(r.Label) == "keep me" {
			m.labels++
		}
		m.seqs[r.Exporter.String()] = append(m.seqs[r.Exporter.String()], r.Seq)
	}
	return nil
}
func (m *memSink) Flush() error { m.mu.Lock(); m.flushes++; m.mu.Unlock(); return nil }
func (m *memSink) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
func (m *memSink) String() string { return m.name }
func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.seqs {
		n += len(s)
	}
	return n
}

type fakes struct {
	src  map[string]Source
	sink map[string]*memSink
}

func (f *fakes) options() Options {
	return Options{
		FlushEvery: 20 * time.Millisecond,
		Sources: func(c config.Source) (SourceMaker, error) {
			s, ok := f.src[c.Text]
			if !ok {
				return nil, fmt.Errorf("no fake source %s", c.Text)
			}
			return func(config.Source, Env) (Source, error) { return s, nil }, nil
		},
		Sinks: func(c config.Sink) (SinkMaker, error) {
			s, ok := f.sink[c.Text]
			if !ok {
				return nil, fmt.Errorf("no fake sink %s", c.Text)
			}
			return func(config.Sink, Env) (Sink, error) {
				s.seqs = map[string][]uint32{}
				return s, nil
			}, nil
		},
	}
}

// fixed makes every source src and every sink sk.
func fixed(src Source, sk Sink) Options {
	return Options{
		Sources: func(config.Source) (SourceMaker, error) {
			return func(config.Source, Env) (Source, error) { return src, nil }, nil
		},
		Sinks: func(config.Sink) (SinkMaker, error) {
			return func(config.Sink, Env) (Sink, error) { return sk, nil }, nil
		},
	}
}

func load(t testing.TB, y string) *config.Config {
	t.Helper()
	c, err := config.Load("test.yaml", []byte(y), ".")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// metric reads one counter of the daemon's registry.
func metric(t *testing.T, d *Daemon, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := d.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				total += m.GetCounter().GetValue()
			} else {
				total += m.GetGauge().GetValue()
			}
		}
	}
	return total
}

// TestAccounting: two sources, a filter, a sink that refuses some records
// and a slow one whose small queue drops: every record is written or
// counted with its reason and exporter, by sink.
func TestAccounting(t *testing.T) {
	e1 := netip.MustParseAddrPort("192.0.2.1:2055")
	e2 := netip.MustParseAddrPort("[2001:db8::2]:9995")
	f := &fakes{
		src: map[string]Source{
			"argus:a.argus": &genSource{name: "a", n: 20000, batch: 100, exp: e1, label: []byte("keep me")},
			"argus:b.argus": &genSource{name: "b", n: 10000, batch: 250, exp: e2},
		},
		sink: map[string]*memSink{
			"json:all.json":  {refuse: 7},
			"json:slow.json": {delay: 2 * time.Millisecond},
		},
	}
	c := load(t, `version: 1
pipelines:
  - name: p
    sources: [argus:a.argus, argus:b.argus]
    filter: tcp
    sinks:
      - json:all.json
      - endpoint: json:slow.json
        queue: {size: 1000, when_full: drop}
`)
	d, err := New(c, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, slow := f.sink["json:all.json"], f.sink["json:slow.json"]
	if !all.closed || !slow.closed {
		t.Error("sinks not closed at the end")
	}
	// Seq odd is tcp (proto 6): half of each source passes the filter.
	passA, passB := 10000, 5000
	refusedA, refusedB := 0, 0
	for s := 1; s <= 20000; s++ {
		if s%2 == 1 && s%7 == 0 {
			refusedA++
		}
	}
	for s := 1; s <= 10000; s++ {
		if s%2 == 1 && s%7 == 0 {
			refusedB++
		}
	}
	if got := len(all.seqs[e1.String()]); got != passA-refusedA {
		t.Errorf("all: exporter 1 wrote %d, want %d", got, passA-refusedA)
	}
	if got := len(all.seqs[e2.String()]); got != passB-refusedB {
		t.Errorf("all: exporter 2 wrote %d, want %d", got, passB-refusedB)
	}
	if all.labels != passA-refusedA {
		t.Errorf("labels kept %d, want %d", all.labels, passA-refusedA)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flowgate_source_records_total", []string{"source", "argus:a.argus"}, 20000},
		{"flowgate_source_records_total", []string{"source", "argus:b.argus"}, 10000},
		{"flowgate_pipeline_filtered_records_total", []string{"pipeline", "p"}, 15000},
		{"flowgate_sink_records_total", []string{"sink", "json:all.json"}, float64(passA - refusedA + passB - refusedB)},
		{"flowgate_sink_dropped_records_total", []string{"sink", "json:all.json", "reason", "not_representable", "exporter", "192.0.2.1", "source", "argus:a.argus"}, float64(refusedA)},
		{"flowgate_sink_dropped_records_total", []string{"sink", "json:all.json", "source", "argus:b.argus"}, float64(refusedB)},
		{"flowgate_sink_dropped_records_total", []string{"sink", "json:all.json", "reason", "not_representable", "exporter", "2001:db8::2"}, float64(refusedB)},
	}
	for _, c := range checks {
		if got := metric(t, d, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The slow sink: written plus queue_full is everything that passed.
	w := metric(t, d, "flowgate_sink_records_total", "sink", "json:slow.json")
	dropped := metric(t, d, "flowgate_sink_dropped_records_total", "sink", "json:slow.json", "reason", "queue_full")
	if int(w) != slow.count() || w+dropped != float64(passA+passB) || dropped == 0 {
		t.Errorf("slow sink: wrote %v (has %d), dropped %v, want a sum of %d with some dropped", w, slow.count(), dropped, passA+passB)
	}
	t.Logf("slow sink: %v written, %v dropped (queue_full)", w, dropped)
}

// TestBackPressure: a blocking queue in front of a slow sink slows the
// source down; nothing is lost, order is kept.
func TestBackPressure(t *testing.T) {
	f := &fakes{
		src:  map[string]Source{"argus:a.argus": &genSource{name: "a", n: 5000, batch: 50}},
		sink: map[string]*memSink{"json:slow.json": {delay: time.Millisecond}},
	}
	d, err := New(load(t, `version: 1
pipelines:
  - name: p
    queue: {size: 100}
    sources: [argus:a.argus]
    sinks: [json:slow.json]
`), f.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	seqs := f.sink["json:slow.json"].seqs[netip.AddrPort{}.String()]
	if len(seqs) != 5000 {
		t.Fatalf("wrote %d of 5000", len(seqs))
	}
	for i, s := range seqs {
		if s != uint32(i+1) {
			t.Fatalf("record %d has seq %d: order lost", i, s)
		}
	}
}

// TestSync: after Sync returns, the sinks have every record emitted and
// have flushed (what a Kafka consumer waits for before committing).
func TestSync(t *testing.T) {
	sk := &memSink{delay: time.Millisecond}
	src := &syncCheck{sink: sk}
	f := &fakes{src: map[string]Source{"argus:a.argus": src}, sink: map[string]*memSink{"json:o.json": sk}}
	d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:o.json]\n"), f.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if src.err != nil {
		t.Fatal(src.err)
	}
}

type syncCheck struct {
	sink *memSink
	err  error
}

func (s *syncCheck) Run(ctx context.Context, emit Emitter) error {
	recs := make([]flow.Record, 10)
	for round := 1; round <= 50; round++ {
		for i := range recs {
			recs[i] = flow.Record{Seq: uint32(round*10 + i)}
		}
		if err := emit.Emit(ctx, recs); err != nil {
			return err
		}
		s.sink.mu.Lock()
		before := s.sink.flushes
		s.sink.mu.Unlock()
		if err := emit.Sync(ctx); err != nil {
			return err
		}
		s.sink.mu.Lock()
		n, fl := 0, s.sink.flushes
		for _, v := range s.sink.seqs {
			n += len(v)
		}
		s.sink.mu.Unlock()
		if n != round*10 || fl <= before {
			s.err = fmt.Errorf("round %d: sink has %d records (want %d), flushes %d -> %d", round, n, round*10, before, fl)
			return nil
		}
	}
	return nil
}
func (s *syncCheck) Stats() SourceStats { return SourceStats{} }
func (s *syncCheck) Close() error       { return nil }
func (s *syncCheck) String() string     { return "sync" }

// TestReload: while a source emits, a reload changes the filter, adds a
// sink and removes another. The kept sink sees every record once, in
// order; the removed sink was drained and closed; the new one gets what
// came after.
func TestReload(t *testing.T) {
	src := &genSource{name: "a", n: 30000, batch: 10, pace: 100 * time.Microsecond, forever: true}
	f := &fakes{
		src: map[string]Source{"argus:a.argus": src},
		sink: map[string]*memSink{
			"json:keep.json": {}, "json:old.json": {}, "json:new.json": {},
		},
	}
	d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:keep.json, json:old.json]\n"), f.options())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	keep := f.sink["json:keep.json"]
	for keep.count() < 5000 {
		time.Sleep(time.Millisecond)
	}
	if err := d.Reload(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    filter: udp\n    sinks: [json:keep.json, json:new.json]\n")); err != nil {
		t.Fatal(err)
	}
	if !f.sink["json:old.json"].closed {
		t.Error("removed sink not closed by the reload")
	}
	// A config that does not open changes nothing.
	if err := d.Reload(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:missing.json]\n")); err == nil || !strings.Contains(err.Error(), "no fake sink") {
		t.Errorf("bad reload: %v", err)
	}
	for {
		if metric(t, d, "flowgate_source_records_total") == 30000 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// keep: every tcp+udp record before the reload, udp only after; in
	// order, none twice.
	seqs := keep.seqs[netip.AddrPort{}.String()]
	last := uint32(0)
	for _, s := range seqs {
		if s <= last {
			t.Fatalf("keep: seq %d after %d", s, last)
		}
		last = s
	}
	old, nw := f.sink["json:old.json"].count(), f.sink["json:new.json"].count()
	filtered := int(metric(t, d, "flowgate_pipeline_filtered_records_total"))
	if len(seqs) != 30000-filtered {
		t.Errorf("keep %d, filtered %d (of 30000)", len(seqs), filtered)
	}
	if old+nw+filtered != 30000 {
		t.Errorf("old %d + new %d + filtered %d != 30000", old, nw, filtered)
	}
	if r := metric(t, d, "flowgate_gateway_reloads_total", "result", "ok"); r != 1 {
		t.Errorf("reloads ok %v", r)
	}
	if n := metric(t, d, "flowgate_sink_records_total", "sink", "json:old.json"); int(n) != old {
		t.Errorf("retired sink's counter %v, want %d", n, old)
	}
	if lost := metric(t, d, "flowgate_sink_dropped_records_total") + metric(t, d, "flowgate_source_dropped_records_total"); lost != 0 {
		t.Errorf("%v records lost", lost)
	}
}

// TestOpenError: a component that does not open fails New, and what was
// opened is closed.
func TestOpenError(t *testing.T) {
	f := &fakes{src: map[string]Source{"argus:a.argus": &genSource{}}, sink: map[string]*memSink{"json:ok.json": {}}}
	_, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:ok.json, json:no.json]\n"), f.options())
	if err == nil || !strings.Contains(err.Error(), "test.yaml:") {
		t.Fatalf("err %v, want one naming the config line", err)
	}
	if !f.sink["json:ok.json"].closed {
		t.Error("opened sink not closed")
	}
}

// cidSink keeps each record's Community ID text.
type cidSink struct {
	memSink
	ids []string
}

func (c *cidSink) Write(recs []flow.Record, lost LostFunc) error {
	for i := range recs {
		c.ids = append(c.ids, string(recs[i].CommunityID))
	}
	return nil
}

// TestCommunityID: a pipeline with an ECS sink gives every record its
// Community ID (the spec's baselines test the ID itself, in flow), once
// for all sinks; one without such a sink leaves records as they are.
func TestCommunityID(t *testing.T) {
	for _, tc := range []struct {
		sink string
		want bool
	}{{"{endpoint: 'json:o.json', dialect: ecs}", true}, {"{endpoint: 'zeek:o.log'}", true}, {"{endpoint: 'json:o.json', dialect: goflow2}", false}} {
		sk := &cidSink{}
		d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: ["+tc.sink+"]\n"),
			fixed(&genSource{n: 100, batch: 10}, sk))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// genSource's records: 10.0.0.1:1024 -> 10.0.0.2:80, tcp or udp.
		r := flow.Record{Has: flow.HasKey, Key: flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.AddrFrom4([4]byte{10, 0, 0, 1}),
			Dst: netip.AddrFrom4([4]byte{10, 0, 0, 2}), SrcPort: 1024, DstPort: 80, Proto: 6}}
		b, _ := r.SetCommunityID(nil, 0)
		tcp := string(b)
		if len(sk.ids) != 100 {
			t.Fatalf("%s: %d records", tc.sink, len(sk.ids))
		}
		for i, id := range sk.ids {
			switch {
			case !tc.want && id != "":
				t.Errorf("%s: record %d has ID %q", tc.sink, i, id)
			case tc.want && (i%2 == 0) && id != tcp:
				t.Errorf("%s: record %d (tcp) ID %q, want %q", tc.sink, i, id, tcp)
			case tc.want && !strings.HasPrefix(id, "1:"):
				t.Errorf("%s: record %d ID %q", tc.sink, i, id)
			}
		}
	}
}

// flaky fails its first runs, then emits and ends.
type flaky struct {
	genSource
	fails int
	runs  int
}

func (f *flaky) Run(ctx context.Context, emit Emitter) error {
	f.runs++
	if f.runs <= f.fails {
		return fmt.Errorf("run %d: broker went away", f.runs)
	}
	return f.genSource.Run(ctx, emit)
}

// TestSourceRestart: a source whose Run fails is run again after a
// pause, counted, and not ready meanwhile; its records still arrive.
func TestSourceRestart(t *testing.T) {
	src := &flaky{genSource: genSource{name: "f", n: 100, batch: 10}, fails: 1}
	f := &fakes{src: map[string]Source{"argus:a.argus": src}, sink: map[string]*memSink{"json:o.json": {}}}
	d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:o.json]\n"), f.options())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- d.Run(context.Background()) }()
	time.Sleep(300 * time.Millisecond)
	if err := d.Ready(); err == nil || !strings.Contains(err.Error(), "broker went away") {
		t.Errorf("ready during the pause: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if src.runs != 2 || f.sink["json:o.json"].count() != 100 || metric(t, d, "flowgate_source_restarts_total") != 1 {
		t.Errorf("runs %d, records %d, restarts %v", src.runs, f.sink["json:o.json"].count(), metric(t, d, "flowgate_source_restarts_total"))
	}
}

// failOnce loses its first batch as sink_error and fails its first flush.
type failOnce struct {
	memSink
	writes, flushes int
}

func (f *failOnce) Write(recs []flow.Record, lost LostFunc) error {
	f.writes++
	if f.writes == 1 {
		for i := range recs {
			lost(&recs[i], ReasonSinkError)
		}
		return errors.New("disk full")
	}
	return nil
}

func (f *failOnce) Flush() error {
	f.flushes++
	if f.flushes == 2 {
		return errors.New("broker gone")
	}
	return nil
}

type syncSeq struct {
	genSource
	errs []error
}

func (s *syncSeq) Run(ctx context.Context, emit Emitter) error {
	recs := make([]flow.Record, 5)
	for i := 0; i < 3; i++ {
		if err := emit.Emit(ctx, recs); err != nil {
			return err
		}
		s.errs = append(s.errs, emit.Sync(ctx))
	}
	return nil
}

// TestSyncErrors: Sync fails when a sink lost records as sink_error since
// the last Sync, or when a flush failed, so that an at-least-once source
// does not commit them; the next clean round succeeds.
func TestSyncErrors(t *testing.T) {
	src := &syncSeq{}
	sk := &failOnce{}
	d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:o.json]\n"), fixed(src, sk))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(src.errs) != 3 || !errors.Is(src.errs[0], ErrSinkLoss) || src.errs[1] == nil || !strings.Contains(src.errs[1].Error(), "broker gone") || src.errs[2] != nil {
		t.Errorf("sync errors %v", src.errs)
	}
}

// lossySource counts losses of its own (as a listener counts datagrams
// that did not decode or the kernel dropped).
type lossySource struct{ genSource }

func (l *lossySource) Stats() SourceStats {
	return SourceStats{Lost: []Loss{{Reason: ReasonMalformed, Exporter: "192.0.2.9", Unit: "messages", N: 7},
		{Reason: ReasonQueueFull, Unit: "records", N: 3}}}
}

// TestRetiredSourceLosses: a source's own loss counters stay in the
// metrics after it is gone (the end of Run, a reload), as its records do.
func TestRetiredSourceLosses(t *testing.T) {
	f := &fakes{src: map[string]Source{"argus:a.argus": &lossySource{genSource{n: 10, batch: 5}}}, sink: map[string]*memSink{"json:o.json": {}}}
	d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:o.json]\n"), f.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := metric(t, d, "flowgate_source_dropped_messages_total", "exporter", "192.0.2.9", "reason", "malformed"); m != 7 {
		t.Errorf("messages lost %v, want 7", m)
	}
	if m := metric(t, d, "flowgate_source_dropped_records_total", "reason", "queue_full"); m != 3 {
		t.Errorf("records lost %v, want 3", m)
	}
}

// ownedSource decodes each batch into the buffers EmitOwned gave back, as
// the Kafka source does: each record's Label in the arena, one Extra
// field in its slot's own array, both naming its Seq.
type ownedSource struct {
	n, batch int
	spare    bool // buffers came back from the daemon at least once
}

func (o *ownedSource) Run(ctx context.Context, emit Emitter) error {
	oe := emit.(OwnedEmitter)
	var recs []flow.Record
	var arena []byte
	for seq := 1; seq <= o.n; {
		recs, arena = recs[:0], arena[:0]
		for k := 0; k < o.batch && seq <= o.n; k++ {
			if len(recs) < cap(recs) {
				recs = recs[:len(recs)+1]
			} else {
				recs = append(recs, flow.Record{})
			}
			r := &recs[len(recs)-1]
			r.Reset()
			r.Type, r.Has, r.Seq = flow.TypeFlow, flow.HasKey, uint32(seq)
			r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.AddrFrom4([4]byte{10, 0, 0, 1}),
				Dst: netip.AddrFrom4([4]byte{10, 0, 0, 2}), SrcPort: 1024, DstPort: 80, Proto: uint8(6 + (seq+1)%2*11)}
			r.Label = []byte(fmt.Sprintf("seq=%d", seq))
			r.Extra = append(r.Extra, flow.Field{ID: 1, Value: []byte(fmt.Sprint(seq))})
			arena = r.DetachInto(arena)
			seq++
		}
		var err error
		if recs, arena, err = oe.EmitOwned(ctx, recs, arena); err != nil {
			return err
		}
		if cap(recs) > 0 {
			o.spare = true
		}
	}
	return nil
}
func (o *ownedSource) Stats() SourceStats { return SourceStats{} }
func (o *ownedSource) Close() error       { return nil }
func (o *ownedSource) String() string     { return "owned" }

// checkSink fails a record whose Label or Extra does not name its Seq:
// a buffer handed back to the source while a sink still read it.
type checkSink struct {
	memSink
	bad int
}

func (c *checkSink) Write(recs []flow.Record, lost LostFunc) error {
	time.Sleep(time.Millisecond) // keep batches in flight
	for i := range recs {
		r := &recs[i]
		if string(r.Label) != fmt.Sprintf("seq=%d", r.Seq) || len(r.Extra) != 1 || string(r.Extra[0].Value) != fmt.Sprint(r.Seq) {
			c.bad++
		}
	}
	return c.memSink.Write(recs, lost)
}

// TestEmitOwned: batches handed over without a copy, through a filter
// that moves records within a batch, reach the sinks intact, and the
// source decodes into buffers the daemon gives back.
func TestEmitOwned(t *testing.T) {
	src := &ownedSource{n: 20000, batch: 97}
	sinks := []*checkSink{{memSink: memSink{seqs: map[string][]uint32{}}}, {memSink: memSink{seqs: map[string][]uint32{}}}}
	i := 0
	d, err := New(load(t, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    filter: udp\n    sinks: [json:a.json, json:b.json]\n"), Options{
		Sources: func(config.Source) (SourceMaker, error) {
			return func(config.Source, Env) (Source, error) { return src, nil }, nil
		},
		Sinks: func(config.Sink) (SinkMaker, error) {
			return func(config.Sink, Env) (Sink, error) { s := sinks[i]; i++; return s, nil }, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !src.spare {
		t.Error("the source never got buffers back")
	}
	for _, s := range sinks {
		// Even seq is udp: 10000 pass.
		if got := s.count(); got != 10000 || s.bad != 0 {
			t.Errorf("sink: %d records, %d damaged; want 10000, 0", got, s.bad)
		}
		for _, seq := range s.seqs[netip.AddrPort{}.String()] {
			if seq%2 != 0 {
				t.Fatalf("seq %d passed the filter", seq)
			}
		}
	}
}
