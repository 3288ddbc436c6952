package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/sensor/serve"
	"github.com/prometheus/client_golang/prometheus"
)

// argusTCPShutdown bounds how long Close lets connected clients receive
// what is queued for them.
const argusTCPShutdown = 5 * time.Second

// argusTCPSink is argus+tcp://[host]:port: it serves the pipeline's
// records to Argus clients (ra -S host:port, rasplit, radium, another
// gateway's argus:// source) as the argus daemon does on port 561, in
// Argus 5 (sensor/serve).
//
// Write publishes every record to the clients started at that moment and
// never waits for them: a client whose queue is full misses records, and
// those drops are the server's per-client counters (Collectors), not
// losses of the pipeline: the other clients got the records. With no
// client connected a record goes nowhere, as with argus -P. A record the
// served version cannot hold (5.x-only values on a version 3 server) is
// lost as not representable.
type argusTCPSink struct {
	text    string
	srv     *serve.Server
	ln      net.Listener
	addr    string
	version int
	served  chan error
	metrics *componentCollector

	// probe re-encodes a batch in which the server refused records, to
	// find which ones (Publish does not say).
	probe    *argus.Writer
	encErrs  int64
	closeErr error
	closed   bool
}

func newArgusTCPSink(s config.Sink, env Env) (Sink, error) {
	v := s.ArgusVersion
	if v == 0 {
		v = 5
	}
	return newArgusTCPSinkOpts(s, env, serve.Options{Version: v})
}

// newArgusTCPSinkOpts listens now, so that a bind error comes before the
// daemon reports itself ready.
func newArgusTCPSinkOpts(s config.Sink, env Env, opts serve.Options) (*argusTCPSink, error) {
	if opts.Version == 0 {
		opts.Version = 5
	}
	if opts.Logger == nil {
		opts.Logger = env.Log
	}
	probe, err := argus.NewWriter(io.Discard, opts.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	// Started with a MAR as the server's encoder is, so that the probe
	// does not synthesise one from the first record it checks.
	var m flow.Record
	m.Type, m.Cause, m.Has = flow.TypeMgmt, flow.CauseStart, flow.HasMgmt
	if err := probe.Encode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	k := &argusTCPSink{text: s.Text, srv: serve.New(opts), ln: ln, addr: ln.Addr().String(),
		version: opts.Version, served: make(chan error, 1), probe: probe,
	}
	k.metrics = newArgusTCPMetrics(k, env.Pipeline)
	go func() { k.served <- k.srv.Serve(ln) }()
	return k, nil
}

// Write publishes recs. The server's encode-error counter tells whether
// it refused any; only then is the batch encoded again to find them.
func (k *argusTCPSink) Write(recs []flow.Record, lost LostFunc) error {
	if k.closed {
		for i := range recs {
			lost(&recs[i], ReasonSinkError)
		}
		return errors.New(k.text + ": closed")
	}
	for i := range recs {
		k.srv.Publish(&recs[i])
	}
	if n := k.srv.Stats().EncodeErrors; n != k.encErrs {
		k.encErrs = n
		for i := range recs {
			if err := k.probe.Encode(&recs[i]); err != nil {
				lost(&recs[i], ReasonNotRepresentable)
			}
		}
	}
	return nil
}

// Flush has nothing to do: each client's writer sends what Publish queued
// without waiting for more.
func (k *argusTCPSink) Flush() error { return nil }

// Close stops listening and lets started clients receive what is queued
// for them (at most argusTCPShutdown), then disconnects them.
func (k *argusTCPSink) Close() error {
	if k.closed {
		return k.closeErr
	}
	k.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), argusTCPShutdown)
	defer cancel()
	if err := k.srv.Shutdown(ctx); err != nil {
		k.closeErr = fmt.Errorf("%s: clients not drained: %w", k.text, err)
	}
	if err := <-k.served; err != nil && !errors.Is(err, serve.ErrServerClosed) {
		k.closeErr = errors.Join(k.closeErr, fmt.Errorf("%s: %w", k.text, err))
	}
	return k.closeErr
}

func (k *argusTCPSink) String() string { return k.text }

// Listening names the bound address (the port chosen for :0).
func (k *argusTCPSink) Listening() []string {
	return []string{fmt.Sprintf("argus+tcp tcp %s (Argus %d, ra -S)", k.addr, k.version)}
}

// Addr is the bound address.
func (k *argusTCPSink) Addr() string { return k.addr }

// Collectors: the server's clients and their per-client counters.
func (k *argusTCPSink) Collectors() []prometheus.Collector {
	return []prometheus.Collector{k.metrics}
}

func newArgusTCPMetrics(k *argusTCPSink, pipeline string) *componentCollector {
	const p = "flowgate_sink_argus_"
	return newComponentCollector(prometheus.Labels{"pipeline": pipeline, "sink": k.text}, []metricDef{
		{p + "clients", "Clients connected to an argus+tcp sink.", true},
		{p + "accepted_connections_total", "Connections an argus+tcp sink accepted.", false},
		{p + "rejected_connections_total", "Connections refused with the too-many-clients MAR.", false},
		{p + "startup_timeouts_total", "Clients dropped for sending no START in time.", false},
		{p + "published_records_total", "Records written to an argus+tcp sink (offered to the clients started then).", false},
		{p + "encode_errors_total", "Records the served Argus version cannot hold (also counted as not_representable).", false},
		{p + "client_sent_records_total", "Records written to clients' sockets, all clients summed.", false},
		{p + "client_sent_bytes_total", "Bytes written to clients' sockets.", false},
		{p + "client_dropped_records_total", "Records a slow client missed because its queue was full, all clients summed.", false},
		{p + "client_filtered_records_total", "Records a client's FILTER left out (not a loss).", false},
		{p + "client_discarded_records_total", "Records still queued for a client when its connection ended.", false},
	}, func() []float64 {
		st := k.srv.Stats()
		return []float64{float64(len(st.Clients)), float64(st.Accepted), float64(st.Rejected), float64(st.TimedOut),
			float64(st.Published), float64(st.EncodeErrors), float64(st.Sent), float64(st.SentBytes),
			float64(st.Dropped), float64(st.Filtered), float64(st.Discarded)}
	})
}
