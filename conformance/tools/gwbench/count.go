package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tally counts numbered records: each of 0..expect-1 seen once is unique,
// seen again a duplicate; a record without a number in range is foreign.
type tally struct {
	mu      sync.Mutex
	expect  uint64
	seen    []uint64 // bitmap
	unique  uint64
	dup     uint64
	foreign uint64
	lat     []int64 // ns, consume time minus the record's last time
	first   time.Time
	last    time.Time
}

func newTally(expect uint64) *tally {
	return &tally{expect: expect, seen: make([]uint64, (expect+63)/64)}
}

func (t *tally) add(recs []flow.Record, lat bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first.IsZero() {
		t.first = now
	}
	t.last = now
	for i := range recs {
		s, ok := seqOf(recs[i].Start)
		if !ok || s >= t.expect {
			t.foreign++
			continue
		}
		w, b := s/64, uint64(1)<<(s%64)
		if t.seen[w]&b != 0 {
			t.dup++
			continue
		}
		t.seen[w] |= b
		t.unique++
		if lat {
			t.lat = append(t.lat, now.UnixNano()-recs[i].Last)
		}
	}
}

func (t *tally) done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unique >= t.expect
}

// missing lists up to 5 numbers never seen, and how many there are.
func (t *tally) missing() (n uint64, some []uint64) {
	for s := uint64(0); s < t.expect; s++ {
		if t.seen[s/64]&(1<<(s%64)) == 0 {
			n++
			if len(some) < 5 {
				some = append(some, s)
			}
		}
	}
	return n, some
}

func (t *tally) fill(v map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	miss, some := t.missing()
	v["expect"], v["unique"], v["duplicates"], v["foreign"], v["missing"] = t.expect, t.unique, t.dup, t.foreign, miss
	if miss > 0 {
		v["missing_first"] = some
	}
	if !t.first.IsZero() {
		v["first_unix_ns"], v["last_unix_ns"] = t.first.UnixNano(), t.last.UnixNano()
		if d := t.last.Sub(t.first).Seconds(); d > 0 {
			v["rate_first_to_last"] = int64(float64(t.unique) / d)
		}
	}
	if len(t.lat) > 0 {
		l := slices.Clone(t.lat)
		slices.Sort(l)
		q := func(p float64) float64 { return round3(float64(l[int(p*float64(len(l)-1))]) / 1e6) }
		v["lat_ms"] = map[string]float64{"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999), "max": q(1), "min": q(0)}
		v["lat_samples"] = len(l)
	}
}

// cmdCount counts the numbered records of a Kafka topic (a new consumer
// group, from the start) or of files (Argus, or JSON lines in -dialect),
// until all -n are seen or none came for -idle.
func cmdCount(args []string) error {
	fs := flag.NewFlagSet("count", flag.ExitOnError)
	brokers := fs.String("brokers", os.Getenv("FLOWGATE_KAFKA"), "Kafka `brokers` (comma-separated)")
	topic := fs.String("topic", "", "topic to consume (else the files given as arguments)")
	group := fs.String("group", "", "consumer group (default: a new one)")
	n := fs.Uint64("n", 0, "records expected: numbers 0..n-1 (required)")
	idle := fs.Duration("idle", 10*time.Second, "give up after no new record for this long")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	lat := fs.Bool("lat", false, "latency: consume time minus each record's last time")
	dialect := fs.String("dialect", "argus", "JSON dialect of .json files")
	maxPoll := fs.Int("max-poll", 4096, "messages per poll")
	fs.Parse(args)
	if *n == 0 {
		return errors.New("-n is required")
	}
	t := newTally(*n)
	start := time.Now()
	v := map[string]any{"cmd": "count"}
	var err error
	if *topic != "" {
		if *group == "" {
			*group = fmt.Sprintf("gwbench-%d-%d", os.Getpid(), start.UnixNano())
		}
		v["topic"] = *topic
		err = countKafka(t, kafka.ConsumerConfig{Brokers: strings.Split(*brokers, ","), Topic: *topic, Group: *group, MaxPoll: *maxPoll}, *lat, *idle, *timeout, v)
	} else {
		if fs.NArg() == 0 {
			return errors.New("give -topic or files")
		}
		v["files"] = fs.Args()
		for _, f := range fs.Args() {
			if err = countFile(t, f, *dialect); err != nil {
				break
			}
		}
	}
	t.fill(v)
	v["wall_s"] = since(start)
	report(v)
	if err != nil {
		return err
	}
	if t.unique < t.expect {
		os.Exit(3)
	}
	return nil
}

func countKafka(t *tally, cfg kafka.ConsumerConfig, lat bool, idle, timeout time.Duration, v map[string]any) error {
	cfg.Opts = append(cfg.Opts,
		// A consumer started before the gateway produces creates the
		// topic, so it need not wait for a metadata refresh to find it.
		kgo.AllowAutoTopicCreation(),
		// The script waits for this line before it sends (latency).
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			for t, ps := range m {
				fmt.Fprintf(os.Stderr, "gwbench count: assigned %s %v\n", t, ps)
			}
		}))
	c, err := kafka.NewConsumer(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	var bad int64
	c.OnError(func(e *kafka.MessageError) {
		if bad++; bad <= 3 {
			fmt.Fprintln(os.Stderr, "gwbench count:", e)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- c.Run(ctx, func(_ context.Context, recs []flow.Record) error {
			t.add(recs, lat)
			if t.done() {
				cancel()
			}
			return nil
		})
	}()
	last, lastN := time.Now(), uint64(0)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			st := c.Stats()
			v["messages"], v["malformed"] = st.Messages, st.Malformed
			return err
		case <-tick.C:
			t.mu.Lock()
			u := t.unique + t.dup
			t.mu.Unlock()
			if u != lastN {
				last, lastN = time.Now(), u
			} else if time.Since(last) > idle {
				v["idle_stop"] = true
				cancel()
			}
		}
	}
}

func countFile(t *tally, path, dialect string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	const batch = 1024
	recs := make([]flow.Record, batch)
	var next func(*flow.Record) error
	if strings.HasSuffix(path, ".argus") || strings.Contains(path, ".argus.") {
		r, err := argus.NewReader(f, argus.WithFileName(path))
		if err != nil {
			return err
		}
		next = r.Decode
	} else {
		r, err := jsonl.NewReader(bufio.NewReaderSize(f, 1<<20), dialect)
		if err != nil {
			return err
		}
		next = r.Decode
	}
	for {
		k := 0
		var err error
		for k < batch {
			if err = next(&recs[k]); err != nil {
				break
			}
			if recs[k].Type != flow.TypeMgmt {
				k++
			}
		}
		t.add(recs[:k], false)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}
