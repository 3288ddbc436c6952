package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/flowgate/flowgate/flow"
)

// TestConsumerOutage: the broker goes away under a consumer and comes
// back on its port with its data; Run does not return, and every record
// produced before and after is handed over.
func TestConsumerOutage(t *testing.T) {
	c := loadCorpus(t, 10000)
	port, data := freePort(t), t.TempDir()
	up := func() *kfake.Cluster {
		cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SeedTopics(2, "cons"))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := up()
	addrs := cl.ListenAddrs()
	send := func(from, n int) {
		t.Helper()
		p, err := NewProducer(ProducerConfig{Brokers: addrs, Topic: "cons", Format: FormatJSON})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Produce(ctx, seqRecords(t, c, from, n))
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1000
	send(0, n)
	cons, err := NewConsumer(ConsumerConfig{Brokers: addrs, Topic: "cons", Group: "cons"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var mu sync.Mutex
	ids := map[uint32]bool{}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		ran <- cons.Run(ctx, func(_ context.Context, recs []flow.Record) error {
			mu.Lock()
			for i := range recs {
				ids[recs[i].Seq] = true
			}
			mu.Unlock()
			return nil
		})
	}()
	waitFor(t, "the first records", 10*time.Second, func() bool { return count() == n })
	cl.Close()
	time.Sleep(2 * time.Second)
	select {
	case err := <-ran:
		t.Fatalf("Run returned during the outage: %v", err)
	default:
	}
	cl = up()
	defer cl.Close()
	send(n, n)
	waitFor(t, "the records after the outage", 20*time.Second, func() bool { return count() == 2*n })
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("stats %+v", cons.Stats())
}
