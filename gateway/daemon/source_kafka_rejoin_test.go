package daemon

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// ackEmitter counts a record delivered only when a Sync after its Emit
// succeeds (the sinks have it); Sync fails its first failSync calls.
type ackEmitter struct {
	mu       sync.Mutex
	pending  []uint32
	acked    map[uint32]int
	failSync int
}

func (e *ackEmitter) Emit(_ context.Context, recs []flow.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range recs {
		e.pending = append(e.pending, recs[i].Seq)
	}
	return nil
}

func (e *ackEmitter) Sync(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failSync > 0 {
		e.failSync--
		e.pending = e.pending[:0] // lost at the sinks
		return errors.New("sink down")
	}
	for _, id := range e.pending {
		e.acked[id]++
	}
	e.pending = e.pending[:0]
	return nil
}

func (e *ackEmitter) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.acked)
}

// TestKafkaSourceRejoin: Sync fails more often than the consumer retries
// a batch, so Run gives the batch up with an error; run again (as the
// daemon does after a failure), the source has rejoined its group as a
// new member and gets the batch again from the committed offsets, instead
// of fetching on past it and committing it unwritten.
func TestKafkaSourceRejoin(t *testing.T) {
	const n = 300
	addrs := kafkaCluster(t, "rejoin")
	ctx := context.Background()
	produceNumbered(t, addrs, "rejoin", n)

	src, err := newKafkaSource(kafkaSourceCfg(addrs, "rejoin", "rj"), Env{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// The consumer tries a batch 4 times (Retries 3): 6 failures make one
	// Run fail.
	e := &ackEmitter{acked: map[uint32]int{}, failSync: 6}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	runs, failed := 0, 0
	for e.count() < n && rctx.Err() == nil {
		runs++
		done := make(chan error, 1)
		c2, stop := context.WithCancel(rctx)
		go func() { done <- src.Run(c2, e) }()
		for e.count() < n {
			select {
			case err := <-done:
				if err != nil {
					failed++
				}
				done = nil
			case <-time.After(20 * time.Millisecond):
			}
			if done == nil {
				break
			}
		}
		stop()
		if done != nil {
			<-done
		}
	}
	if e.count() != n || failed == 0 {
		t.Fatalf("%d of %d records written after %d runs (%d failed)", e.count(), n, runs, failed)
	}
	t.Logf("%d records written after %d runs, %d of them failed and rejoined", n, runs, failed)
}
