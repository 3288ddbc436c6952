package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/kafka"
)

// cmdFill produces -n numbered records to a topic with gateway/kafka's
// Producer, as a kafka:// sink of the gateway would (argus5 or JSON).
func cmdFill(args []string) error {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	brokers := fs.String("brokers", os.Getenv("FLOWGATE_KAFKA"), "Kafka `brokers` (comma-separated)")
	topic := fs.String("topic", "", "topic (required)")
	in := fs.String("in", "", "Argus `file` whose flows are produced, in turn (required)")
	n := fs.Int("n", 1000000, "records to produce")
	format := fs.String("format", "argus", "argus (argus5 values) or json")
	key := fs.String("key", "none", "none, flow or exporter")
	comp := fs.String("compression", "lz4", "lz4, zstd, snappy, gzip or none")
	limit := fs.Int("limit", 50000, "read at most `n` flows of -in (0: all)")
	spill := fs.String("spill", "", "spill `dir` (as a gateway's kafka:// sink has; default none)")
	rate := fs.Int("rate", 0, "records per second (0: as fast as the producer takes them)")
	fs.Parse(args)
	if *topic == "" || *in == "" {
		return errors.New("-topic and -in are required")
	}
	cfg := kafka.ProducerConfig{Brokers: strings.Split(*brokers, ","), Topic: *topic, Compression: *comp, Linger: 5 * time.Millisecond, Spill: *spill}
	switch *format {
	case "argus":
		cfg.Format = kafka.FormatArgus5
	case "json":
		cfg.Format = kafka.FormatJSON
	default:
		return fmt.Errorf("-format %q: argus or json", *format)
	}
	switch *key {
	case "none":
		cfg.Key = kafka.KeyNone
	case "flow":
		cfg.Key = kafka.KeyFlow
	case "exporter":
		cfg.Key = kafka.KeyExporter
	default:
		return fmt.Errorf("-key %q", *key)
	}
	input, err := loadRecords(*in, *limit)
	if err != nil {
		return err
	}
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	batch := make([]flow.Record, 0, 1000)
	for seq := 0; seq < *n; {
		batch = batch[:0]
		for len(batch) < cap(batch) && seq < *n {
			r := input[seq%len(input)]
			stamp(&r, uint64(seq))
			batch = append(batch, r)
			seq++
		}
		if err := p.Produce(ctx, batch); err != nil {
			return err
		}
		pace(start, int64(seq), *rate)
	}
	if err := p.Flush(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	st := p.Stats()
	if err := p.Close(ctx); err != nil {
		return err
	}
	report(map[string]any{"cmd": "fill", "topic": *topic, "format": cfg.Format, "records": *n,
		"produced": st.Produced, "failed": st.Failed, "lossy": st.Lossy,
		"spilled": st.Spilled, "drained": st.Drained, "resent": st.Resent,
		"seconds": round3(el.Seconds()), "rate": int64(float64(*n) / el.Seconds())})
	if st.Produced != int64(*n) {
		return fmt.Errorf("%d of %d records acknowledged", st.Produced, *n)
	}
	return nil
}
