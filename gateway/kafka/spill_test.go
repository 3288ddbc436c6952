package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/flow"
)

func testRecord(i int) *kgo.Record {
	kr := &kgo.Record{Value: []byte(fmt.Sprintf("value %d", i)), Timestamp: time.UnixMilli(int64(1700000000000 + i)),
		Headers: []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte("json")}}}
	if i%3 != 0 {
		kr.Key = []byte(strconv.Itoa(i % 7))
	}
	if i%5 == 0 {
		kr.Key = []byte{} // empty, not absent
	}
	return kr
}

func sameRecord(a, b *kgo.Record) bool {
	if !bytes.Equal(a.Value, b.Value) || (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Key, b.Key) ||
		!a.Timestamp.Equal(b.Timestamp) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

// readAll drains s (committing) and returns the records in order.
func readAll(t *testing.T, s *spill) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for !s.empty() {
		recs, next, err := s.read(100, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
		if err := s.commit(next); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSpillQueue: entries come back in order, byte for byte (key absent
// vs empty, headers, millisecond timestamp), across segments and across a
// reopen that resumes at the saved cursor; an emptied spill leaves no
// segment behind.
func TestSpillQueue(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpill(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.segMax = 4 << 10 // many segments
	const n = 1000
	for i := 0; i < n; i++ {
		if err := s.append(testRecord(i), false); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.segs) < 5 {
		t.Fatalf("%d segments, want several", len(s.segs))
	}
	// Read a part, commit it, and "crash" (no close: the page cache).
	recs, next, err := s.read(150, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.commit(next); err != nil {
		t.Fatal(err)
	}
	s.flush()
	done := len(recs)
	s2, err := openSpill(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rest := readAll(t, s2)
	if done+len(rest) != n {
		t.Fatalf("read %d then %d after reopen, want %d in all (cursor honoured)", done, len(rest), n)
	}
	for i, kr := range append(recs, rest...) {
		if want := testRecord(i); !sameRecord(kr, want) {
			t.Fatalf("entry %d: got %+v want %+v", i, kr, want)
		}
	}
	s2.close()
	if fs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(fs) != 0 {
		t.Fatalf("drained spill left %v", fs)
	}
	// A new segment after a reopen sorts after the old ones.
	s3, _ := openSpill(dir, 0, nil)
	s3.append(testRecord(1), false)
	s3.close()
	s4, _ := openSpill(dir, 0, nil)
	if got := readAll(t, s4); len(got) != 1 || !sameRecord(got[0], testRecord(1)) {
		t.Fatalf("after reopen: %v", got)
	}
}

// TestSpillBound: appends past the bound fail with ErrSpillFull unless
// forced; committing frees room.
func TestSpillBound(t *testing.T) {
	s, err := openSpill(t.TempDir(), 64<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	n := 0
	for ; n < 100000; n++ {
		if err := s.append(testRecord(n), false); err != nil {
			if !errors.Is(err, ErrSpillFull) {
				t.Fatal(err)
			}
			break
		}
	}
	if s.bytes() > 64<<10 || n == 0 || n == 100000 {
		t.Fatalf("%d records, %d bytes: bound 65536 not kept", n, s.bytes())
	}
	if err := s.append(testRecord(n), true); err != nil {
		t.Fatalf("forced append: %v", err)
	}
	if got := readAll(t, s); len(got) != n+1 {
		t.Fatalf("read %d, want %d", len(got), n+1)
	}
	if err := s.append(testRecord(0), false); err != nil {
		t.Fatalf("after drain: %v", err)
	}
}

// TestSpillCorrupt: a flipped payload byte (checksum), a length that runs
// past the segment, a torn tail and a file that is not a segment are each
// counted and reported with the file and the entry's offset; the entries
// that are whole come back; nothing panics.
func TestSpillCorrupt(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpill(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s.append(testRecord(i), false)
	}
	s.close()
	seg := filepath.Join(dir, segName(1))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Entry offsets, by walking the lengths.
	var offs []int64
	for off := int64(len(spillMagic)); off < int64(len(b)); off += spillEntryHdr + int64(binary.BigEndian.Uint32(b[off:])) {
		offs = append(offs, off)
	}
	if len(offs) != 10 {
		t.Fatalf("%d entries in the segment", len(offs))
	}
	b[offs[2]+spillEntryHdr+3] ^= 0x40                                   // entry 2: payload byte
	binary.BigEndian.PutUint32(b[offs[6]:], uint32(len(b)))              // entry 6: length past the end
	os.WriteFile(seg, b, 0o640)                                          // segment 1
	os.WriteFile(filepath.Join(dir, segName(2)), []byte("junk!"), 0o640) // not a segment
	// Segment 3: two entries, the second torn.
	s3 := &spill{dir: dir, segMax: 1 << 20, last: 2}
	s3.rotate()
	s3.append(testRecord(100), false)
	s3.append(testRecord(101), false)
	s3.close()
	seg3 := filepath.Join(dir, segName(3))
	b3, _ := os.ReadFile(seg3)
	os.WriteFile(seg3, b3[:len(b3)-3], 0o640)

	var errs []*SpillError
	s, err = openSpill(dir, 0, func(err error) {
		var se *SpillError
		if !errors.As(err, &se) {
			t.Errorf("not a SpillError: %v", err)
			return
		}
		errs = append(errs, se)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s)
	var vals []string
	for _, kr := range got {
		vals = append(vals, string(kr.Value))
	}
	want := []string{"value 0", "value 1", "value 3", "value 4", "value 5", "value 100"}
	if fmt.Sprint(vals) != fmt.Sprint(want) {
		t.Fatalf("read %q, want %q", vals, want)
	}
	type where struct {
		file string
		off  int64
		err  error
	}
	wantErrs := []where{
		{seg, offs[2], ErrSpillCorrupt},
		{seg, offs[6], ErrSpillTruncated},
		{filepath.Join(dir, segName(2)), 0, ErrSpillCorrupt},
		{seg3, int64(len(spillMagic)) + spillEntryHdr + int64(binary.BigEndian.Uint32(b3[len(spillMagic):])), ErrSpillTruncated},
	}
	if len(errs) != len(wantErrs) || s.corrupt != int64(len(wantErrs)) {
		t.Fatalf("errors %v (counted %d), want %d", errs, s.corrupt, len(wantErrs))
	}
	for i, w := range wantErrs {
		e := errs[i]
		if e.File != w.file || e.Offset != w.off || !errors.Is(e, w.err) {
			t.Errorf("error %d: %v; want %s at %d (%v)", i, e, w.file, w.off, w.err)
		}
	}
	// A bad cursor file is ignored: the segment is read from its start.
	s, _ = openSpill(t.TempDir(), 0, nil)
	s.append(testRecord(1), false)
	s.append(testRecord(2), false)
	s.close()
	os.WriteFile(filepath.Join(s.dir, cursorName), []byte("garbage garbage garb"), 0o640)
	s, _ = openSpill(s.dir, 0, nil)
	if got := readAll(t, s); len(got) != 2 {
		t.Fatalf("bad cursor: %d records, want 2", len(got))
	}
}

// FuzzSpillSegment: any bytes after the magic read without a panic, and
// every byte is either in an entry or reported.
func FuzzSpillSegment(f *testing.F) {
	s, _ := openSpill(f.TempDir(), 0, nil)
	s.append(testRecord(1), false)
	s.append(testRecord(2), false)
	s.flush()
	seed, _ := os.ReadFile(filepath.Join(s.dir, segName(1)))
	s.close()
	f.Add(seed[len(spillMagic):])
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segName(1)), append([]byte(spillMagic), data...), 0o640)
		s, err := openSpill(dir, 0, func(error) {})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; !s.empty() && i < 1000; i++ {
			_, next, err := s.read(10, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			s.commit(next)
		}
		if !s.empty() {
			t.Fatal("reader made no progress")
		}
	})
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// seqRecords returns n corpus records numbered 1..n in Seq (the unique id
// the outage test counts by).
func seqRecords(t testing.TB, c *corpus, from, n int) []flow.Record {
	out := make([]flow.Record, n)
	for i := range out {
		out[i] = c.recs[(from+i)%len(c.recs)]
		out[i].Seq = uint32(from + i + 1)
		out[i].Has |= flow.HasSeq
	}
	return out
}

// seen is one consumed message: its record's id and its partition.
type seen struct {
	seq  uint32
	part int32
}

// consumeAll reads topic from the start with a plain kgo client (not our
// Consumer) until want distinct ids came (or 20 s pass), in each
// partition's order. The id is the argus dialect's "seq" member.
func consumeAll(t testing.TB, addrs []string, topic string, want int) []seen {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []seen
	ids := map[uint32]bool{}
	for len(ids) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			_, after, ok := bytes.Cut(r.Value, []byte(`"seq":`))
			end := bytes.IndexAny(after, ",}")
			n, err := strconv.ParseUint(string(after[:max(end, 0)]), 10, 32)
			if !ok || end < 0 || err != nil {
				t.Fatalf("%s[%d]@%d: no seq in %q", r.Topic, r.Partition, r.Offset, r.Value)
			}
			out = append(out, seen{uint32(n), r.Partition})
			ids[uint32(n)] = true
		})
	}
	return out
}

// checkDelivery: every id 1..n is there; the records of one partition
// (hence of one flow key) come in id order once duplicates are dropped.
// It returns the duplicates.
func checkDelivery(t *testing.T, got []seen, n int) (dups int) {
	t.Helper()
	count := make([]int, n+1)
	last := map[int32]uint32{}
	disorder := 0
	for _, s := range got {
		if s.seq == 0 || int(s.seq) > n {
			t.Fatalf("id %d: not produced", s.seq)
		}
		count[s.seq]++
		if count[s.seq] > 1 {
			dups++
			continue
		}
		if s.seq < last[s.part] {
			if disorder++; disorder <= 5 {
				t.Errorf("partition %d: id %d after %d", s.part, s.seq, last[s.part])
			}
		}
		last[s.part] = s.seq
	}
	missing := 0
	for id := 1; id <= n; id++ {
		if count[id] == 0 {
			if missing++; missing <= 5 {
				t.Errorf("id %d lost", id)
			}
		}
	}
	if missing > 0 || disorder > 0 {
		t.Fatalf("%d of %d records lost, %d out of order", missing, n, disorder)
	}
	return dups
}

// deadBroker returns the address of a broker that is gone.
func deadBroker(t testing.TB) []string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	addrs := c.ListenAddrs()
	c.Close()
	return addrs
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", d, what)
		}
	}
}

// TestSpillRestart: a producer whose broker is down spills; closed, it
// leaves the records on disk; the next producer on the directory drains
// them first, in order, before its own.
func TestSpillRestart(t *testing.T) {
	c := loadCorpus(t, 10000)
	const n1, n2 = 3000, 1000
	dir := t.TempDir()
	cfg := ProducerConfig{Brokers: deadBroker(t), Topic: "restart", Format: FormatJSON, Key: KeyFlow,
		Spill: dir, SpillAfter: time.Second}
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Ready(); err != nil {
		t.Fatalf("ready before any failure: %v", err)
	}
	if err := p.Produce(ctx, seqRecords(t, c, 0, n1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "spilling", 5*time.Second, func() bool { return errors.Is(p.Ready(), ErrSpilling) })
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	err = p.Close(cctx)
	cancel()
	if !errors.Is(err, ErrSpilling) {
		t.Fatalf("close with records left: %v, want ErrSpilling", err)
	}
	st := p.Stats()
	if st.Spilled != n1 || st.Produced != 0 || st.Dropped != 0 || st.SpillBytes == 0 {
		t.Fatalf("stats %+v; want %d spilled", st, n1)
	}

	cfg.Brokers = brokers
	p, err = NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, seqRecords(t, c, n1, n2)); err != nil {
		t.Fatal(err)
	}
	cctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	st = p.Stats()
	// The new records queue behind the leftovers: they are spilled too.
	if st.Spilled != n2 || st.Drained != n1+n2 || st.Produced != n1+n2 || st.SpillBytes != 0 || st.Corrupt != 0 {
		t.Fatalf("stats %+v; want %d spilled, %d drained and produced", st, n2, n1+n2)
	}
	if fs, _ := filepath.Glob(filepath.Join(dir, "*", "*.seg")); len(fs) != 0 {
		t.Fatalf("segments left: %v", fs)
	}
	got := consumeAll(t, brokers, "restart", n1+n2)
	if dups := checkDelivery(t, got, n1+n2); dups != 0 {
		t.Fatalf("%d duplicates; none expected (nothing reached the dead broker)", dups)
	}
}

// TestSpillFull: with the broker down and the spill full, SpillDrop drops
// and counts (and ProduceEach names each record); the default blocks
// until ctx ends.
func TestSpillFull(t *testing.T) {
	c := loadCorpus(t, 10000)
	for _, drop := range []bool{true, false} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			p, err := NewProducer(ProducerConfig{Brokers: deadBroker(t), Topic: "full", Format: FormatJSON,
				Spill: t.TempDir(), SpillMax: 256 << 10, SpillDrop: drop, SpillAfter: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				if err := p.Close(cctx); !errors.Is(err, ErrSpilling) {
					t.Errorf("close: %v, want ErrSpilling (records left for the next start)", err)
				}
			}()
			ctx := context.Background()
			p.Produce(ctx, seqRecords(t, c, 0, 1))
			waitFor(t, "spilling", 5*time.Second, func() bool { return p.Ready() != nil })
			const n = 2000 // ~1 MB of JSON
			recs := seqRecords(t, c, 1, n)
			var failed []int
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			t0 := time.Now()
			err = p.ProduceEach(pctx, recs, func(i int, err error) {
				failed = append(failed, i)
				if drop && !errors.Is(err, ErrSpillFull) || !drop && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("record %d: %v", i, err)
				}
			})
			st := p.Stats()
			if drop {
				if !errors.Is(err, ErrSpillFull) || st.Dropped == 0 || int(st.Dropped) != len(failed) ||
					st.Spilled+st.Dropped != n+1 || st.SpillBytes > 256<<10+1<<10 {
					t.Fatalf("err %v, %d failed, stats %+v", err, len(failed), st)
				}
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) < 250*time.Millisecond {
				t.Fatalf("err %v after %v; want to block until ctx ends", err, time.Since(t0))
			}
			if st.Spilled+st.Dropped != n+1 || int(st.Dropped) != len(failed) {
				t.Fatalf("%d failed, stats %+v", len(failed), st)
			}
		})
	}
}

// outage is how long the broker is away in TestBrokerOutage: issue 6's
// figure.
const outage = 10 * time.Second

// TestBrokerOutage: records are produced at a steady rate; the broker
// stops, stays away for outage, and a new one comes up on its port with its
// data (kfake.DataDir). Every record reaches the topic (the spill drains),
// each flow key's records in order; duplicates are counted.
func TestBrokerOutage(t *testing.T) {
	c := loadCorpus(t, 10000)
	port, data := freePort(t), t.TempDir()
	up := func() *kfake.Cluster {
		cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SeedTopics(4, "outage"))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := up()
	addrs := cl.ListenAddrs()
	p, err := NewProducer(ProducerConfig{Brokers: addrs, Topic: "outage", Format: FormatJSON, Key: KeyFlow,
		Linger: 5 * time.Millisecond, Spill: t.TempDir(), SpillAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan int)
	// ~20 k records/s in batches of 200.
	go func() {
		n := 0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- n
				return
			case <-tick.C:
			}
			if err := p.Produce(ctx, seqRecords(t, c, n, 200)); err != nil {
				t.Error(err)
			}
			n += 200
		}
	}()
	time.Sleep(time.Second)
	cl.Close()
	t0 := time.Now()
	spilling := false
	for time.Since(t0) < outage {
		time.Sleep(50 * time.Millisecond)
		if errors.Is(p.Ready(), ErrSpilling) {
			spilling = true
		}
	}
	atOutage := p.Stats()
	cl = up()
	defer cl.Close()
	time.Sleep(2 * time.Second)
	close(stop)
	n := <-done
	waitFor(t, "the spill drained", 30*time.Second, func() bool { return p.Ready() == nil })
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("%d records; after the outage: %+v; at the end: %+v", n, atOutage, st)
	if !spilling || atOutage.Spilled == 0 {
		t.Fatalf("never spilled during the outage")
	}
	if st.Dropped != 0 || st.Failed != 0 || st.Corrupt != 0 || st.Drained != st.Spilled || st.Produced != int64(n) {
		t.Fatalf("stats %+v; want all %d produced, every spilled record drained", st, n)
	}
	got := consumeAll(t, addrs, "outage", n)
	dups := checkDelivery(t, got, n)
	t.Logf("%d records consumed, %d distinct, %d duplicates (resent windows: %d records)", len(got), n, dups, st.Resent)
}

// TestCloseDuringOutage: a producer closed while its broker is away keeps
// every record it was given, acknowledged or on disk (what kgo held
// included); the next producer on its spill, with the broker back on its
// port and data, delivers all of them.
func TestCloseDuringOutage(t *testing.T) {
	c := loadCorpus(t, 10000)
	port, data, dir := freePort(t), t.TempDir(), t.TempDir()
	up := func() *kfake.Cluster {
		cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SeedTopics(4, "closed"))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := up()
	addrs := cl.ListenAddrs()
	cfg := ProducerConfig{Brokers: addrs, Topic: "closed", Format: FormatJSON, Key: KeyFlow, Spill: dir,
		SpillAfter: time.Second, MaxBuffered: 1000}
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n1, n2 = 2000, 5000
	p.Produce(ctx, seqRecords(t, c, 0, n1))
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	for i := n1; i < n1+n2; i += 500 {
		if err := p.Produce(ctx, seqRecords(t, c, i, 500)); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = p.Close(cctx)
	cancel()
	st := p.Stats()
	t.Logf("closed during the outage: %v; %+v", err, st)
	if !errors.Is(err, ErrSpilling) || st.Produced+st.Spilled != n1+n2 || st.Failed != 0 || st.Dropped != 0 {
		t.Fatalf("close: %v, stats %+v; want every record acknowledged or spilled", err, st)
	}
	cl = up()
	defer cl.Close()
	p, err = NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, addrs, "closed", n1+n2)
	dups := checkDelivery(t, got, n1+n2)
	t.Logf("after the restart: %+v; %d duplicates", p.Stats(), dups)
}

// TestPoisonRecord: a record the broker can never take (larger than a
// batch may be: kerr.MessageTooLarge) is counted Failed, not spilled, and
// one already in a spill is dropped instead of holding the drain forever;
// the records around it are delivered.
func TestPoisonRecord(t *testing.T) {
	c := loadCorpus(t, 100)
	const n = 100
	giant := &kgo.Record{Value: bytes.Repeat([]byte("x"), 200<<10),
		Headers: []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte(FormatJSON)}}}
	dir := t.TempDir()
	s, err := openSpill(filepath.Join(dir, "main"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var je jsonEnc
	for i, r := range seqRecords(t, c, 0, n) {
		if i == n/2 {
			s.append(giant, false)
		}
		s.append(&kgo.Record{Key: FlowKeyBytes(nil, &r.Key), Value: []byte(je.encode(t, &r)),
			Headers: []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte(FormatJSON)}}}, false)
	}
	s.close()
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: "poison", Format: FormatJSON, Key: KeyFlow,
		BatchBytes: 64 << 10, Spill: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitFor(t, "the spill drained", 10*time.Second, func() bool { return p.Ready() == nil })
	// Direct: refused at once, not spilled.
	p.inflight.Add(1)
	p.cl.Produce(ctx, giant, p.counted)
	if err := p.Flush(ctx); err == nil {
		t.Fatal("flush: no error for the refused records")
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Failed != 2 || st.Drained != n || st.Spilled != 0 || st.SpillBytes != 0 {
		t.Fatalf("stats %+v; want 2 failed (one spilled, one direct), %d drained, nothing spilled", st, n)
	}
	got := consumeAll(t, brokers, "poison", n)
	if dups := checkDelivery(t, got, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
}

// TestSpillLock: a second producer on a spill directory in use fails to
// start (it would drain the first one's records into its own topic); once
// the first is closed, the directory can be used again.
func TestSpillLock(t *testing.T) {
	dir := t.TempDir()
	cfg := ProducerConfig{Brokers: brokers, Topic: "restart", Format: FormatJSON, Spill: dir}
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewProducer(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second producer on %s: %v, want ErrConfig (in use)", dir, err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err = NewProducer(cfg)
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	p.Close(context.Background())
}

// TestProduceCtxScope: with a spill, the ctx of a Produce call bounds that
// call only (a daemon sink's Write cancels its ctx on return): the records
// go to the broker directly, none is failed into the spill.
func TestProduceCtxScope(t *testing.T) {
	c := loadCorpus(t, 3000)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: "restart", Format: FormatJSON, Spill: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(c.recs); i += 500 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := p.Produce(ctx, c.recs[i:i+500]); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Produced != 3000 || st.Spilled != 0 {
		t.Fatalf("stats %+v; want 3000 produced directly, none spilled", st)
	}
}
