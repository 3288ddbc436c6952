package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkProduceJSON: records/s through the producer (argus-dialect
// JSON, lz4, linger 5 ms, acks=all) into an in-process kfake broker, which
// takes part of the CPU time measured.
func BenchmarkProduceJSON(b *testing.B) {
	c := loadCorpus(b, 10000)
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for _, spill := range []bool{false, true} {
		b.Run(fmt.Sprintf("spill=%v", spill), func(b *testing.B) {
			cfg := ProducerConfig{Brokers: cl.ListenAddrs(), Topic: "bench", Format: FormatJSON, Key: KeyFlow, Linger: 5 * time.Millisecond}
			if spill {
				cfg.Spill = b.TempDir() // direct path: the spill stays empty
			}
			p, err := NewProducer(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i += 1000 {
				j := i % len(c.recs)
				if err := p.Produce(ctx, c.recs[j:min(j+1000, len(c.recs))]); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
		})
	}
}
