package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the flowgate binary for tests that run
	// gateways as processes (and kill them).
	if os.Getenv("FLOWGATE_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// gatewayProc starts `flowgate gateway -c cfg` as a process in dir (its
// ./data holds a Kafka sink's spill; "" a new one).
func gatewayProc(t *testing.T, cfg, dir string) (*exec.Cmd, *syncBuf) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "gateway", "-c", cfg)
	cmd.Env = append(os.Environ(), "FLOWGATE_TEST_MAIN=1")
	if dir == "" {
		dir = t.TempDir()
	}
	cmd.Dir = dir
	errb := newSyncBuf()
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, errb
}

// groupRecords reads the flow records of a corpus Argus 5 file and numbers
// n copies of them 1..n in Seq, which Argus messages carry.
func groupRecords(t *testing.T, n int) []flow.Record {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set: no corpus records")
	}
	fh, err := os.Open(filepath.Join(corpus, "argus/openargus-clients/baseline.2024.01.25.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := argus.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	var base []flow.Record
	for {
		var rec flow.Record
		err := r.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == flow.TypeFlow {
			rec.Detach()
			base = append(base, rec)
		}
	}
	out := make([]flow.Record, n)
	for i := range out {
		out[i] = base[i%len(base)]
		out[i].Seq = uint32(i + 1)
	}
	return out
}

// argusMsgDecoder decodes bare Argus 5 records (a Kafka message each):
// the stream a Reader wants first is the MAR a Writer puts at its head.
func argusMsgDecoder(t *testing.T) *argus.RecordDecoder {
	var b bytes.Buffer
	w, err := argus.NewWriter(&b, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Encode(&flow.Record{Type: flow.TypeFlow}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	r, err := argus.NewReader(bytes.NewReader(b.Bytes()[:128]))
	if err != nil {
		t.Fatal(err)
	}
	return r.NewRecordDecoder()
}

// TestGatewayGroupKill is issue 6's scale-out proof: two gateway processes
// in one consumer group convert one 4-partition topic to another; one is
// killed (SIGKILL) mid-run and the other takes its partitions over; the
// killed one is then started again in its directory, as a supervisor
// would. Every record reaches the output topic: those the killed process
// had produced but not committed come twice, which at-least-once allows
// (counted), and those it had committed but only spilled (the broker slow
// under the load) come from its spill once it is back.
func TestGatewayGroupKill(t *testing.T) {
	const n = 300_000
	recs := groupRecords(t, n)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "grp-in", "grp-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	broker := kc.ListenAddrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{broker}, Topic: "grp-in", Format: kafka.FormatArgus5, Key: kafka.KeyFlow})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		if err := p.Produce(ctx, recs[i:min(i+1000, n)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)

	cfg := filepath.Join(t.TempDir(), "group.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
pipelines:
  - name: relay
    sources: ['kafka://%[1]s/grp-in?format=argus&group=two&session_timeout=6s']
    sinks: ['kafka://%[1]s/grp-out?format=argus&key=flow']
`, broker)), 0o644)

	// The checker reads the output topic from the start, by Seq.
	var mu sync.Mutex
	seen := make([]uint8, n+1)
	total := 0
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("grp-out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dec := argusMsgDecoder(t)
	go func() {
		var rec flow.Record
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(m *kgo.Record) {
				if err := dec.Decode(&rec, m.Value, m.Offset); err != nil {
					t.Errorf("output message at %d/%d: %v", m.Partition, m.Offset, err)
					return
				}
				mu.Lock()
				if s := int(rec.Seq); s >= 1 && s <= n {
					seen[s]++
				}
				total++
				mu.Unlock()
			})
		}
	}()
	count := func() (distinct, all int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range seen[1:] {
			if c > 0 {
				distinct++
			}
		}
		return distinct, total
	}

	a, aerr := gatewayProc(t, cfg, "")
	b, berr := gatewayProc(t, cfg, "")
	defer b.Process.Kill()
	defer a.Process.Kill()
	// Kill A once a tenth has gone through, both members having joined.
	// The group moves A's partitions after session_timeout (6 s).
	for {
		if _, all := count(); all >= n/10 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no progress: A:\n%s\nB:\n%s", aerr, berr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.Process.Signal(syscall.SIGKILL)
	a.Wait()
	killedAt, _ := count()
	// A comes back, as a supervisor restarts it: what its sink had taken
	// into its spill (committed upstream, not yet in Kafka: the broker
	// was slow under this load) drains to the topic from there.
	time.Sleep(time.Second)
	a2, a2err := gatewayProc(t, cfg, a.Dir)
	defer a2.Process.Kill()
	for {
		if d, _ := count(); d == n {
			break
		}
		if ctx.Err() != nil {
			d, all := count()
			mu.Lock()
			var miss []int
			for s, c := range seen[1:] {
				if c == 0 && len(miss) < 20 {
					miss = append(miss, s+1)
				}
			}
			mu.Unlock()
			var spill []string
			for _, c := range []*exec.Cmd{a2, b} {
				filepath.Walk(c.Dir, func(p string, fi os.FileInfo, err error) error {
					if err == nil && !fi.IsDir() {
						spill = append(spill, fmt.Sprintf("%s (%d bytes)", p, fi.Size()))
					}
					return nil
				})
			}
			t.Fatalf("after the kill: %d of %d records in the output (%d messages), missing seq %v; files %v; A:\n%s\nA again:\n%s\nB:\n%s", d, n, all, miss, spill, aerr, a2err, berr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []struct {
		c   *exec.Cmd
		out *syncBuf
	}{{b, berr}, {a2, a2err}} {
		p.c.Process.Signal(syscall.SIGTERM)
		if err := p.c.Wait(); err != nil {
			t.Errorf("%v after SIGTERM: %v\n%s", p.c.Args, err, p.out)
		}
	}
	time.Sleep(200 * time.Millisecond) // the checker's last fetch
	d, all := count()
	if d != n {
		t.Errorf("%d of %d records in the output", d, n)
	}
	t.Logf("%d records through two gateways; A killed with %d distinct records out, restarted; %d messages in the output, %d duplicates (at-least-once redelivery)", n, killedAt, all, all-n)
}
