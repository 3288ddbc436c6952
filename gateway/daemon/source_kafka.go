package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/gateway/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaSource consumes a topic as a member of a consumer group (kafka://
// source). At least once: each poll's records are emitted, then Sync
// waits until every sink of the pipeline has them, and only then are the
// offsets committed.
type kafkaSource struct {
	name, pipeline string
	mk             func() (*kafka.Consumer, error)

	mu      sync.Mutex
	c       *kafka.Consumer
	base    kafka.ConsumerStats // the counts of consumers replaced after a failure
	lastBad string              // the last malformed message, for Stats' Detail
}

func newKafkaSource(s config.Source, env Env) (Source, error) {
	o := s.Kafka
	cc0 := kafka.ConsumerConfig{Brokers: s.Brokers, Topic: s.Topic, Group: o.Group, Security: kafkaSecurity(o)}
	if o.SessionTimeout > 0 {
		cc0.Opts = append(cc0.Opts, kgo.SessionTimeout(o.SessionTimeout))
	}
	if o.Format == "raw" {
		// A poll is bounded in messages; a raw message holds tens of
		// records (BenchmarkConsumeRaw: 10000 of them, 300k records a
		// poll, ran 20x slower than 256).
		cc0.MaxPoll = 256
	}
	// Raw NetFlow/IPFIX messages are decoded with the pipeline's mapping,
	// like a NetFlow listener's.
	var cc gateway.CodecConfig
	if m := env.Mapping; m != nil && (m.Schema == "ipfix" || m.Schema == "netflow9") {
		if err := cc.SetMapping(m); err != nil {
			return nil, fmt.Errorf("%s: mapping: %w", s.Text, err)
		}
	}
	k := &kafkaSource{name: s.Text, pipeline: env.Pipeline}
	k.mk = func() (*kafka.Consumer, error) {
		c, err := kafka.NewConsumer(cc0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Text, err)
		}
		c.SetRawDecoders(gateway.NewCodecSetConfig(cc).New)
		c.OnError(func(e *kafka.MessageError) {
			k.mu.Lock()
			k.lastBad = e.Error()
			k.mu.Unlock()
		})
		return c, nil
	}
	var err error
	if k.c, err = k.mk(); err != nil {
		return nil, err
	}
	return k, nil
}

// commitEvery is how often a kafka source commits (after a Sync): more
// often costs throughput, less often more records delivered again after a
// crash.
const commitEvery = 100 * time.Millisecond

// consumer is the current consumer.
func (k *kafkaSource) consumer() *kafka.Consumer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.c
}

// rejoin replaces a consumer whose batch failed: the old one leaves the
// group without committing, and the new one starts from the group's
// committed offsets, so the batch comes again (to this member or the one
// that gets its partitions). The same consumer would fetch on past it,
// and its next commit would cover it.
func (k *kafkaSource) rejoin() error {
	c, err := k.mk()
	if err != nil {
		return err
	}
	k.mu.Lock()
	old := k.c
	addConsumerStats(&k.base, old.Stats())
	k.c = c
	k.mu.Unlock()
	old.Close()
	return nil
}

// stats adds the current consumer's counts to those of replaced ones.
func (k *kafkaSource) stats() kafka.ConsumerStats {
	k.mu.Lock()
	c, st := k.c, k.base
	k.mu.Unlock()
	addConsumerStats(&st, c.Stats())
	return st
}

func addConsumerStats(dst *kafka.ConsumerStats, s kafka.ConsumerStats) {
	dst.Messages += s.Messages
	dst.Records += s.Records
	dst.Malformed += s.Malformed
	dst.Retries += s.Retries
	dst.Commits += s.Commits
	dst.FetchErrors += s.FetchErrors
	dst.CommitErrors += s.CommitErrors
}

// Run consumes until ctx ends. The handler returns only once the sinks
// have the records (Sync); an error (a sink that cannot take them) makes
// the consumer retry the batch and, failing, stop without committing it.
func (k *kafkaSource) Run(ctx context.Context, emit Emitter) error {
	// Offsets are committed every commitEvery, after a Sync: decoding the
	// next polls overlaps the sinks writing the last ones (a Sync per poll
	// kept the source and the sinks from ever running at once).
	h := func(ctx context.Context, b *kafka.Batch) error { return emit.Emit(ctx, b.Recs) }
	if oe, ok := emit.(OwnedEmitter); ok {
		// The consumer decodes into buffers of its own: hand them over
		// rather than copy each record.
		h = func(ctx context.Context, b *kafka.Batch) error {
			recs, arena, err := oe.EmitOwned(ctx, b.Recs, b.Arena)
			if err == nil {
				b.Recs, b.Arena = recs, arena
			}
			return err
		}
	}
	err := k.consumer().RunBatched(ctx, h, emit.Sync, commitEvery)
	if ctx.Err() != nil || errors.Is(err, ErrStopping) {
		return nil
	}
	if err != nil {
		// The daemon runs the source again: with a new member, so that
		// the failed batch is delivered again.
		if rerr := k.rejoin(); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}

// Stats: records handed over; malformed messages (exporter unknown).
func (k *kafkaSource) Stats() SourceStats {
	st := k.stats()
	out := SourceStats{Records: uint64(st.Records)}
	if st.Malformed > 0 {
		k.mu.Lock()
		detail := k.lastBad
		k.mu.Unlock()
		out.Lost = append(out.Lost, Loss{Reason: ReasonMalformed, Unit: "messages", Detail: detail, N: uint64(st.Malformed)})
	}
	return out
}

func (k *kafkaSource) Close() error {
	k.consumer().Close()
	return nil
}

func (k *kafkaSource) String() string { return k.name }

// Ready is the consumer's: the last fetch or commit error while the
// broker does not answer.
func (k *kafkaSource) Ready() error { return k.consumer().Ready() }

// Collectors: the consumer's counters beyond records and losses.
func (k *kafkaSource) Collectors() []prometheus.Collector {
	const p = "flowgate_source_kafka_"
	return []prometheus.Collector{newComponentCollector(prometheus.Labels{"pipeline": k.pipeline, "source": k.name}, []metricDef{
		{p + "messages_total", "Messages fetched.", false},
		{p + "retries_total", "Batches handed to the pipeline again after it failed to take them (redeliveries).", false},
		{p + "commits_total", "Offset commits, each after the pipeline's sinks had the batch.", false},
		{p + "fetch_errors_total", "Polls that reported a fetch error (the client retries).", false},
		{p + "commit_errors_total", "Offset commits that failed (the records come again after a restart).", false},
	}, func() []float64 {
		st := k.stats()
		return []float64{float64(st.Messages), float64(st.Retries), float64(st.Commits), float64(st.FetchErrors), float64(st.CommitErrors)}
	})}
}
