package daemon

import (
	"context"
	"errors"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/sensor/serve"
	"github.com/prometheus/client_golang/prometheus"
)

// argusSource is argus://host:port: it pulls records from an argus
// sensor, a `flowgate sensor -P`, a radium or another gateway's
// argus+tcp:// sink, as `ra -S host:port` does, and reconnects (100 ms
// doubling to 10 s) whenever the connection fails or ends.
//
// Records keep their Argus SrcID. The connection's initial MAR is not
// emitted (it describes the connection); the MARs that follow it (the
// sensor's status and closing MARs) are, so that an Argus-to-Argus
// pipeline keeps them as radium does. Sinks whose format has no place for
// a MAR count it not representable.
//
// A corrupt or truncated record resets the connection; each reset is
// counted as malformed with the peer's address (the records the server
// sends while the gateway reconnects are not seen, as with ra).
type argusSource struct {
	text     string
	pipeline string
	r        *serve.Remote
	metrics  *componentCollector
}

func newArgusSource(s config.Source, env Env) (Source, error) {
	return newArgusSourceOpts(s, env, serve.RemoteOptions{})
}

func newArgusSourceOpts(s config.Source, env Env, opts serve.RemoteOptions) (*argusSource, error) {
	if opts.Logger == nil {
		opts.Logger = env.Log
	}
	src := &argusSource{text: s.Text, pipeline: env.Pipeline, r: serve.NewRemote(s.Addr, opts)}
	src.metrics = newArgusSourceMetrics(src, env.Pipeline)
	return src, nil
}

// Run reads until ctx ends. The pipeline's back-pressure reaches the
// server through TCP: while Emit waits, nothing is read.
func (s *argusSource) Run(ctx context.Context, emit Emitter) error {
	err := s.r.Run(ctx, func(recs []flow.Record) error { return emit.Emit(ctx, recs) })
	if ctx.Err() != nil || errors.Is(err, ErrStopping) {
		return nil
	}
	return err
}

func (s *argusSource) Stats() SourceStats {
	st := s.r.Stats()
	out := SourceStats{Records: uint64(st.Records)}
	for _, p := range st.MalformedBy {
		// One reset is one record known lost; what the server sent
		// while we reconnected is unknown.
		out.Lost = append(out.Lost, Loss{Reason: ReasonMalformed, Exporter: p.Peer, Unit: "records", Detail: p.Last, N: uint64(p.N)})
	}
	return out
}

// Ready is nil while connected and streaming; otherwise the error that
// ended the last connection or attempt.
func (s *argusSource) Ready() error { return s.r.Ready() }

func (s *argusSource) Listening() []string { return []string{"pulling " + s.text} }

func (s *argusSource) Close() error { return s.r.Close() }

func (s *argusSource) String() string { return s.text }

// Collectors: the connection's state and counters, beyond the daemon's
// records and losses.
func (s *argusSource) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics}
}

func newArgusSourceMetrics(s *argusSource, pipeline string) *componentCollector {
	return newComponentCollector(prometheus.Labels{"pipeline": pipeline, "source": s.text}, []metricDef{
		{"flowgate_source_argus_connected", "1 while an argus:// source is connected and streaming.", true},
		{"flowgate_source_argus_connects_total", "Connections of an argus:// source that reached START.", false},
		{"flowgate_source_argus_reconnects_total", "Connection attempts of an argus:// source after its first.", false},
		{"flowgate_source_argus_connect_failures_total", "Attempts of an argus:// source that failed before START (dial, MAR, filter).", false},
		{"flowgate_source_argus_bytes_total", "Argus stream bytes an argus:// source decoded.", false},
		{"flowgate_source_argus_mars_total", "Management records (MARs) an argus:// source emitted.", false},
	}, func() []float64 {
		st := s.r.Stats()
		return []float64{b2f(st.Connected), float64(st.Connects), float64(st.Reconnects), float64(st.Failures), float64(st.Bytes), float64(st.MARs)}
	})
}
