package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/mappings"
	"github.com/prometheus/client_golang/prometheus"
)

// Reason is why a record (or a message) did not reach a sink. Every loss
// the daemon knows of is counted under one of these, labelled by pipeline,
// source or sink, and exporter.
type Reason string

const (
	ReasonMalformed        Reason = "malformed"         // the input did not decode (truncated, corrupt, unsupported)
	ReasonNoTemplate       Reason = "no_template"       // NetFlow v9/IPFIX data before its template
	ReasonTemplateExpired  Reason = "template_expired"  // data whose template timed out
	ReasonQueueFull        Reason = "queue_full"        // a queue with when_full: drop was full
	ReasonNotRepresentable Reason = "not_representable" // the sink's format cannot hold the record
	ReasonSinkError        Reason = "sink_error"        // the sink failed (I/O, broker, closed peer)
)

// ErrStopping is what Emit returns once the pipeline takes no more
// records (shutdown, or the source was removed by a reload).
var ErrStopping = errors.New("daemon: pipeline stopping")

// Source is one pipeline input: a listener, a consumer, a follower or a
// file.
type Source interface {
	// Run reads until ctx is done or the input ends (a file; listeners,
	// consumers and watched directories never end) and hands each batch
	// of records to emit. It returns nil when ctx ends or the input is
	// exhausted, an error when the source cannot go on.
	Run(ctx context.Context, emit Emitter) error
	// Stats is a snapshot of the source's counters; it is read by
	// scrapes from another goroutine.
	Stats() SourceStats
	// Close releases what Run did not (sockets bound at open).
	Close() error
	// String names the source in logs and metrics labels: the endpoint
	// as written, or what it listens on ("nf+udp://[::]:2055").
	String() string
}

// Emitter takes a source's batches into its pipeline.
type Emitter interface {
	// Emit queues a copy of recs: the records and the bytes they point
	// at need to stay valid only during the call. It is safe for
	// concurrent use (a UDP listener's workers call it at once). With its
	// queue full it waits (when_full: block) or counts the records lost
	// with ReasonQueueFull (drop). It returns ErrStopping once the
	// pipeline takes no more records, or ctx's error if ctx ends while it
	// waits.
	Emit(ctx context.Context, recs []flow.Record) error
	// Sync returns once every record this source emitted before the call
	// has been written by every sink of the pipeline and the sinks have
	// flushed, or has been counted lost. A Kafka consumer calls it before
	// it commits offsets (at-least-once).
	Sync(ctx context.Context) error
}

// An OwnedEmitter is an Emitter that can take a source's buffers instead
// of copying them: a source that decodes each batch into buffers of its
// own (a Kafka consumer) saves the copy, 2 KB a record.
type OwnedEmitter interface {
	Emitter
	// EmitOwned queues recs as they are. Every byte slice of the records
	// must point into arena or at memory nobody writes again, and each
	// record's Extra at an array of that record slot's own. On success
	// the emitter owns recs and arena, and returns spare buffers for the
	// next batch (emptied; the source resets each slot it reuses); on
	// error the source keeps recs and arena. Losses are as Emit's.
	EmitOwned(ctx context.Context, recs []flow.Record, arena []byte) ([]flow.Record, []byte, error)
}

// SourceStats are a source's counters.
type SourceStats struct {
	Records uint64 // records decoded and emitted
	// Lost are what the source lost before it had records: per reason
	// and exporter, in Unit ("messages" for datagrams and export
	// messages, "records" where records are countable).
	Lost []Loss
}

// Loss is one counter of SourceStats.Lost.
type Loss struct {
	Reason   Reason
	Exporter string // the exporter's address ("" unknown)
	Unit     string // "messages" or "records"
	Detail   string // the decoder's words, for logs: "corrupt: reserved set id"
	N        uint64
}

// LostFunc is how a sink reports a record it did not write.
type LostFunc func(r *flow.Record, reason Reason)

// Sink is one pipeline output. The daemon serialises calls to Write,
// Flush and Close.
type Sink interface {
	// Write writes recs (valid only during the call). Every record of
	// recs is either written or handed to lost exactly once: a record the
	// format cannot hold with ReasonNotRepresentable, records a failure
	// kept from their destination with ReasonSinkError. The error, if
	// any, says why the sink failed; the daemon logs it (rate-limited),
	// marks the sink not ready and goes on: the next Write tries again
	// (reconnects, reopens).
	Write(recs []flow.Record, lost LostFunc) error
	// Flush pushes buffered records to their destination (a file, a
	// socket, the broker). Called about once a second, at Sync and before
	// Close.
	Flush() error
	// Close flushes and releases the sink (a file sink renames its
	// current file to its final name).
	Close() error
	// String names the sink in logs and metrics labels.
	String() string
}

// Env is what a component's constructor gets besides its config entry.
type Env struct {
	Pipeline string
	// Mapping is the pipeline's mapping (nil: none). A component applies
	// it when its schema is the component's (ipfix/netflow9 on NetFlow
	// sources, zeek on Zeek sources and sinks, json/csv on those sinks);
	// the others ignore it.
	Mapping *mappings.File
	Stdout  io.Writer // json:- and friends
	Log     *slog.Logger
}

// SourceMaker makes a source from its config entry; SinkMaker a sink.
// Opening binds listeners and creates files, so that errors come before
// the daemon reports itself ready.
type (
	SourceMaker func(s config.Source, env Env) (Source, error)
	SinkMaker   func(s config.Sink, env Env) (Sink, error)
)

// RawSource is a source that can hand over its export messages as
// received (the NetFlow/IPFIX listeners), for raw-datagram sinks. The
// daemon calls SetRaw before Run; with decode false no sink of the
// pipeline takes records and the source decodes nothing.
type RawSource interface {
	SetRaw(h gateway.RawHandler, decode bool) error
}

// RawSink writes export messages as received (kafka:// with format=raw):
// decoding is left to whoever reads them, so it can be replayed after a
// mapping fix. WriteRaw is called from the listeners' goroutines at once
// and must be safe for concurrent use; msgs alias the listener's buffers
// until it returns. Every message is either taken or handed to lost once
// (as for Sink.Write); the error says why the sink failed.
type RawSink interface {
	WriteRaw(ctx context.Context, msgs []gateway.Message, lost func(m *gateway.Message, r Reason)) error
}

// Optional interfaces of sources and sinks.
type (
	// Listener is a component that listens: its address is printed at
	// start ("listening on udp [::]:2055").
	Listener interface{ Listening() []string }
	// Collector is a component with its own Prometheus metrics beyond
	// the daemon's (the sensor, a Kafka client).
	Collector interface{ Collectors() []prometheus.Collector }
	// Readier is a component that can be up without being ready (a
	// Kafka producer whose broker is down and spills, an argus:// source
	// that is reconnecting): /readyz reports its error.
	Readier interface{ Ready() error }
)
