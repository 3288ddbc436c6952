package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/gateway/kafka"
)

// syncEmitter logs what the source calls ("emit N", "sync"), keeps the
// records' ids (Seq) and fails Sync while failSync > 0 (a sink that does
// not have the records).
type syncEmitter struct {
	mu       sync.Mutex
	calls    []string
	ids      map[uint32]int
	failSync int
	emitted  int
	onSync   func(failed bool)
}

func (e *syncEmitter) Emit(_ context.Context, recs []flow.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf("emit %d", len(recs)))
	for i := range recs {
		e.ids[recs[i].Seq]++
	}
	e.emitted += len(recs)
	return nil
}

func (e *syncEmitter) Sync(context.Context) error {
	e.mu.Lock()
	e.calls = append(e.calls, "sync")
	fail := e.failSync > 0
	if fail {
		e.failSync--
	}
	f := e.onSync
	e.mu.Unlock()
	if f != nil {
		f(fail)
	}
	if fail {
		return errors.New("sink down")
	}
	return nil
}

func kafkaSourceCfg(addrs []string, topic, group string) config.Source {
	return config.Source{Endpoint: config.Endpoint{Text: "kafka://" + strings.Join(addrs, ",") + "/" + topic,
		Kind: config.KindKafka, Brokers: addrs, Topic: topic, Kafka: config.KafkaOptions{Format: "json", Group: group}}}
}

// runSource runs a kafka source until stop says so (or 15 s pass).
func runSource(t *testing.T, cfg config.Source, e *syncEmitter, stop func(failed bool) bool) Source {
	t.Helper()
	src, err := newKafkaSource(cfg, Env{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	e.onSync = func(failed bool) {
		if stop(failed) {
			cancel()
		}
	}
	// A failed Sync ends Run (the batch was not committed); the daemon
	// runs the source again, which has rejoined its group: so does this.
	for {
		err := src.Run(ctx, e)
		if err == nil || ctx.Err() != nil {
			break
		}
		if !errors.Is(err, kafka.ErrHandler) {
			t.Fatalf("run: %v", err)
		}
	}
	src.Close()
	return src
}

// TestKafkaSource: polls are emitted as they come and synced before each
// commit; offsets are committed only after a Sync that succeeded: a failed
// Sync ends the run and, run again, the source gets the batch over again, and a source stopped while Sync fails leaves the
// records to the next member of its group. A malformed message is lost
// as malformed, with its place.
func TestKafkaSource(t *testing.T) {
	const n = 500
	addrs := kafkaCluster(t, "src")
	ctx := context.Background()
	produceNumbered(t, addrs, "src", n)
	cl, _ := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("src"))
	bad := &kgo.Record{Value: []byte(`{"seq":`), Headers: []kgo.RecordHeader{{Key: kafka.HeaderFormat, Value: []byte("json")}}}
	if err := cl.ProduceSync(ctx, bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	// Sync fails twice: the batch comes again; then all is committed.
	e := &syncEmitter{ids: map[uint32]int{}, failSync: 2}
	src := runSource(t, kafkaSourceCfg(addrs, "src", "g1"), e, func(failed bool) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return !failed && len(e.ids) == n
	})
	// Batches are emitted as they come and synced before each commit:
	// every sync follows an emit.
	for i, c := range e.calls {
		if c == "sync" && (i == 0 || !strings.HasPrefix(e.calls[i-1], "emit")) {
			t.Fatalf("calls %v: a sync with no emit before it", e.calls)
		}
	}
	if len(e.ids) != n || e.emitted <= n {
		t.Fatalf("%d ids, %d records emitted; want %d ids and a batch emitted again", len(e.ids), e.emitted, n)
	}
	// Records count every delivery (a batch given up comes again, to a
	// new member); the malformed message is counted each time it is
	// read, with its place.
	st := src.Stats()
	if st.Records != uint64(e.emitted) || len(st.Lost) != 1 || st.Lost[0].Reason != ReasonMalformed || st.Lost[0].N < 1 ||
		st.Lost[0].N > 3 || !strings.Contains(st.Lost[0].Detail, "src[") {
		t.Fatalf("stats %+v; want %d records, the malformed message with its place", st, e.emitted)
	}
	// Everything was committed: the group's next member gets nothing.
	e2 := &syncEmitter{ids: map[uint32]int{}}
	runSourceFor(t, kafkaSourceCfg(addrs, "src", "g1"), e2, time.Now().Add(1500*time.Millisecond))
	if e2.emitted != 0 {
		t.Fatalf("the next member got %d records: not committed", e2.emitted)
	}

	// Sync always fails and the source stops: nothing is committed, the
	// next member gets every record.
	e3 := &syncEmitter{ids: map[uint32]int{}, failSync: 1 << 30}
	runSource(t, kafkaSourceCfg(addrs, "src", "g2"), e3, func(bool) bool { return true })
	e4 := &syncEmitter{ids: map[uint32]int{}}
	runSource(t, kafkaSourceCfg(addrs, "src", "g2"), e4, func(failed bool) bool {
		e4.mu.Lock()
		defer e4.mu.Unlock()
		return len(e4.ids) == n
	})
	if len(e4.ids) != n {
		t.Fatalf("next member after a failing one: %d of %d records", len(e4.ids), n)
	}
}

// runSourceFor runs a kafka source until deadline.
func runSourceFor(t *testing.T, cfg config.Source, e *syncEmitter, deadline time.Time) {
	t.Helper()
	src, err := newKafkaSource(cfg, Env{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := src.Run(ctx, e); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// produceNumbered puts n JSON flow records numbered 1 … n (Seq) on topic.
func produceNumbered(t *testing.T, addrs []string, topic string, n int) {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: addrs, Topic: topic, Format: kafka.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]flow.Record, n)
	for i := range recs {
		recs[i].Type, recs[i].Seq, recs[i].Has = flow.TypeFlow, uint32(i+1), flow.HasSeq
		recs[i].Key.Proto = 17
	}
	if err := p.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
