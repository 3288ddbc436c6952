// Package daemon runs `flowgate gateway`: the pipelines of a gateway
// config (gateway/config), each of sources, an optional ra filter, an
// optional mapping and sinks, until SIGTERM.
//
// # Data path
//
// A source hands batches to its pipeline's Emitter, which copies them into
// the pipeline's bounded queue (records and their bytes, in pooled
// batches). One goroutine per pipeline takes batches off the queue,
// applies the filter and fans each batch out to every sink's own bounded
// queue; one goroutine per sink writes them. A full queue blocks the stage
// that feeds it (back-pressure, when_full: block) or drops the records and
// counts them (when_full: drop). A UDP listener under back-pressure stops
// reading its sockets, so the kernel's buffer fills and its drops are
// counted too (SO_RXQ_OVFL).
//
// # Accounting
//
// Every record that does not reach a sink is counted with its Reason,
// labelled by pipeline, source or sink, and exporter, and exported as
// Prometheus counters named flowgate_<stage>_<what>_total.
package daemon
