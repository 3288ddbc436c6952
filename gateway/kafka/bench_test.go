package kafka

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

// BenchmarkSpillAppend: the cost of a record on the spill path (JSON
// value of the corpus, key, headers) into the buffered segment writer.
func BenchmarkSpillAppend(b *testing.B) {
	c := loadCorpus(b, 1000)
	var je jsonEnc
	recs := make([]*kgo.Record, len(c.recs))
	for i := range recs {
		recs[i] = &kgo.Record{Key: FlowKeyBytes(nil, &c.recs[i].Key), Value: []byte(je.encode(b, &c.recs[i])),
			Headers: []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte(FormatJSON)}, {Key: HeaderDialect, Value: []byte("argus")}}}
	}
	s, err := openSpill(b.TempDir(), 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.append(recs[i%len(recs)], false); err != nil {
			b.Fatal(err)
		}
	}
	s.flush()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

// BenchmarkSpillDrain: records/s a producer drains from a spill left by a
// previous one into an in-process kfake broker.
func BenchmarkSpillDrain(b *testing.B) {
	c := loadCorpus(b, 10000)
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "drain"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	dir := b.TempDir()
	var je jsonEnc
	s, err := openSpill(filepath.Join(dir, "main"), 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		r := &c.recs[i%len(c.recs)]
		s.append(&kgo.Record{Key: FlowKeyBytes(nil, &r.Key), Value: []byte(je.encode(b, r)), Timestamp: time.Now(),
			Headers: []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte(FormatJSON)}}}, false)
	}
	s.close()
	b.ResetTimer()
	p, err := NewProducer(ProducerConfig{Brokers: cl.ListenAddrs(), Topic: "drain", Format: FormatJSON, Spill: dir})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if st := p.Stats(); st.Drained != int64(b.N) {
		b.Fatalf("drained %d of %d", st.Drained, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}
