package daemon

import (
	"context"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

type nopSink struct{}

func (nopSink) Write(recs []flow.Record, lost LostFunc) error { return nil }
func (nopSink) Flush() error                                  { return nil }
func (nopSink) Close() error                                  { return nil }
func (nopSink) String() string                                { return "nop" }

// BenchmarkDataPath: the daemon's own cost per record from Emit to a
// sink's Write (copy into a pooled batch, queue, worker, fan-out to two
// sinks), with a label per record as NetFlow records carry through Argus.
func BenchmarkDataPath(b *testing.B) {
	d, err := New(load(b, "version: 1\npipelines:\n  - name: p\n    sources: [argus:a.argus]\n    sinks: [json:a.json, json:b.json]\n"),
		fixed(&genSource{forever: true}, nopSink{}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	var src *sourceState
	for src == nil {
		d.mu.RLock()
		for _, s := range d.sources {
			src = s
		}
		d.mu.RUnlock()
	}
	recs := make([]flow.Record, 256)
	label := []byte("fg.exp=192.0.2.1:2055 fg.in=3 fg.out=7")
	for i := range recs {
		recs[i] = flow.Record{Type: flow.TypeFlow, Seq: uint32(i), Exporter: netip.MustParseAddrPort("192.0.2.1:2055"), Label: label}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(recs) {
		if err := src.Emit(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	if err := src.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cancel()
	<-done
}
