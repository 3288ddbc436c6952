package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/gateway/kafka"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultSpillDir is where a kafka:// sink without spill= keeps its spill:
// DefaultSpillDir/<pipeline>.<topic>, relative to the working directory
// (next to the default config's ./data).
const DefaultSpillDir = "data/kafka-spill"

// kafkaWait bounds how long one Write waits for room in a full spill
// (spill_full=block) before it gives the records up as sink errors: the
// daemon's queue in front of the sink holds the back-pressure meanwhile,
// and Close must not wait forever behind a Write on a dead broker.
const kafkaWait = time.Minute

// kafkaSink produces a pipeline's records to a topic (kafka://), spilling
// to disk while the broker is away (kafka.ProducerConfig.Spill).
type kafkaSink struct {
	name, pipeline string
	p              *kafka.Producer
	flushWait      time.Duration
	log            func(msg string, args ...any)
}

// kafkaSecurity is a kafka:// endpoint's TLS and SASL options.
func kafkaSecurity(o config.KafkaOptions) kafka.Security {
	return kafka.Security{TLS: o.TLS, CAFile: o.CA, CertFile: o.Cert, KeyFile: o.CertKey, InsecureSkipVerify: o.Insecure,
		SASL: o.SASL, User: o.User, Password: o.Password, PasswordFile: o.PasswordFile}
}

func newKafkaSink(s config.Sink, env Env) (Sink, error) {
	o := s.Kafka
	cfg := kafka.ProducerConfig{Brokers: s.Brokers, Topic: s.Topic, Compression: o.Compression, Linger: o.Linger,
		BatchBytes: int32(o.BatchBytes), Security: kafkaSecurity(o), Spill: o.Spill, SpillMax: o.SpillMax,
		SpillDrop: o.SpillFull == "drop", SpillAfter: o.SpillAfter}
	switch o.Format {
	case "json", "":
		cfg.Format = kafka.FormatJSON
		cfg.Dialect, cfg.MappingFile = textDialect(s, env.Mapping, false)
	case "argus":
		cfg.Format = kafka.FormatArgus5
	case "raw":
		// Datagrams as received, from a NetFlow source's listener
		// (WriteRaw, sink_kafka_raw.go), keyed by exporter.
		cfg.Format = kafka.FormatRaw
	default:
		return nil, fmt.Errorf("%w: %s: format=%s", ErrNotImplemented, s.Text, o.Format)
	}
	switch o.Key {
	case "exporter":
		cfg.Key = kafka.KeyExporter
	case "flow":
		cfg.Key = kafka.KeyFlow
	}
	if m := env.Mapping; m != nil {
		cfg.MappingVersion = fmt.Sprintf("%s v%d", m.Name, m.Version)
	}
	if cfg.Spill == "" {
		cfg.Spill = filepath.Join(DefaultSpillDir, pathSafe(env.Pipeline)+"."+s.Topic)
	}
	k := &kafkaSink{name: s.Text, pipeline: env.Pipeline, log: func(string, ...any) {}}
	if env.Log != nil {
		k.log = env.Log.Warn
	}
	cfg.OnSpillError = func(err error) { k.log("kafka spill", "sink", s.Text, "err", err) }
	after := o.SpillAfter
	if after <= 0 {
		after = 5 * time.Second
	}
	// Flush waits for what kgo holds: acknowledged, or spilled after
	// SpillAfter.
	k.flushWait = after + o.Linger + 5*time.Second
	var err error
	if k.p, err = kafka.NewProducer(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	return k, nil
}

// pathSafe maps a pipeline name to a file name.
func pathSafe(s string) string {
	if s == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// Write produces recs. Management records (MARs) have no place in a
// Kafka message (kafka/doc.go) and records the format cannot encode are
// lost as not representable; records a full spill could not take (drop,
// or block past kafkaWait) and spill write errors as sink errors.
func (k *kafkaSink) Write(recs []flow.Record, lost LostFunc) error {
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			lost(&recs[i], ReasonNotRepresentable)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	var sinkErr error
	k.p.ProduceEach(ctx, recs, func(i int, err error) {
		var ee *kafka.EncodeError
		if errors.As(err, &ee) {
			lost(&recs[i], ReasonNotRepresentable)
			return
		}
		lost(&recs[i], ReasonSinkError)
		if sinkErr == nil {
			sinkErr = err
		}
	})
	return sinkErr
}

// Flush waits until the broker acknowledged, or the spill took, every
// record written.
func (k *kafkaSink) Flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), k.flushWait)
	defer cancel()
	return k.p.Flush(ctx)
}

// Close drains the spill for up to 10 s; what is left stays on disk for
// the next start (logged, not an error: nothing is lost).
func (k *kafkaSink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), k.flushWait+10*time.Second)
	defer cancel()
	err := k.p.Close(ctx)
	if errors.Is(err, kafka.ErrSpilling) {
		k.log("kafka sink closed with records in its spill", "sink", k.name, "err", err)
		return nil
	}
	return err
}

func (k *kafkaSink) String() string { return k.name }

// Ready is the producer's: ErrSpilling while the broker is away.
func (k *kafkaSink) Ready() error { return k.p.Ready() }

// Collectors: the producer's and its spill's counters.
func (k *kafkaSink) Collectors() []prometheus.Collector {
	const p = "flowgate_sink_kafka_"
	return []prometheus.Collector{newComponentCollector(prometheus.Labels{"pipeline": k.pipeline, "sink": k.name}, []metricDef{
		{p + "produced_records_total", "Records the broker acknowledged (acks=all), drained ones included.", false},
		{p + "failed_records_total", "Records given up: not encodable, or failed by the client and not spilled.", false},
		{p + "spilled_records_total", "Records written to the on-disk spill while the broker was unreachable.", false},
		{p + "drained_records_total", "Spilled records the broker acknowledged.", false},
		{p + "dropped_records_total", "Records dropped with the spill full (spill_full=drop) or a spill write error.", false},
		{p + "resent_records_total", "Acknowledged records sent again with a drain window that failed: duplicates in the topic.", false},
		{p + "spill_corrupt_entries_total", "Spill entries skipped as corrupt or truncated.", false},
		{p + "spill_bytes", "Bytes in the spill now.", true},
		{p + "spilling", "1 while records go to the spill.", true},
	}, func() []float64 {
		st := k.p.Stats()
		return []float64{float64(st.Produced), float64(st.Failed), float64(st.Spilled), float64(st.Drained), float64(st.Dropped),
			float64(st.Resent), float64(st.Corrupt), float64(st.SpillBytes), b2f(st.Spilling)}
	})}
}
