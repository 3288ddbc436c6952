package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// readZeek reads a whole log once with codecs/zeek.
func readZeek(t testing.TB, data []byte) []flow.Record {
	t.Helper()
	rd := zeek.NewReader(bytes.NewReader(data))
	var out []flow.Record
	for {
		var r flow.Record
		err := rd.Decode(&r)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		r.Detach()
		out = append(out, r)
	}
}

// splitLog cuts a conn.log into its header lines (before the first
// record), its record lines and its trailer ('#' lines after them).
// conn18 is the corpus conn.log the follow tests write, grow and rotate:
// the records codecs/zeek reads from it, and its header, lines and trailer.
func conn18(t testing.TB) (want []flow.Record, hdr []byte, lines [][]byte, trailer []byte) {
	t.Helper()
	data, err := os.ReadFile(corpus(t, "zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled"))
	if err != nil {
		t.Fatal(err)
	}
	hdr, lines, trailer = splitLog(data)
	return readZeek(t, data), hdr, lines, trailer
}

func splitLog(data []byte) (hdr []byte, lines [][]byte, trailer []byte) {
	for _, l := range bytes.SplitAfter(data, []byte{'\n'}) {
		switch {
		case len(l) == 0:
		case l[0] == '#' && len(lines) == 0:
			hdr = append(hdr, l...)
		case l[0] == '#':
			trailer = append(trailer, l...)
		default:
			lines = append(lines, l)
		}
	}
	return
}

// sameRecords reports the first difference between got and want.
func sameRecords(got, want []flow.Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, w := reflect.ValueOf(got[i]), reflect.ValueOf(want[i])
			var diff []string
			for f := 0; f < g.NumField(); f++ {
				if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
					diff = append(diff, fmt.Sprintf("%s: got %+v, want %+v", g.Type().Field(f).Name, g.Field(f).Interface(), w.Field(f).Interface()))
				}
			}
			return fmt.Errorf("record %d differs: %s", i, strings.Join(diff, "; "))
		}
	}
	return nil
}

// logWriter appends to a log as Zeek does, line by line; every 40th line
// in two writes with a pause between (a partial line must wait), and a
// pause every 100 lines (the follower reaches the end and waits).
type logWriter struct {
	t    testing.TB
	path string
	f    *os.File
}

func (w *logWriter) open() {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

func (w *logWriter) write(b []byte) {
	if _, err := w.f.Write(b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *logWriter) lines(lines [][]byte) {
	for i, l := range lines {
		if i%40 == 3 && len(l) > 4 {
			w.write(l[:len(l)/2])
			time.Sleep(followPoll + 20*time.Millisecond)
			w.write(l[len(l)/2:])
		} else {
			w.write(l)
		}
		if i%100 == 99 {
			time.Sleep(followPoll + 50*time.Millisecond)
		}
	}
}

func startFollow(t testing.TB, path string, syncErrs ...error) (*followSource, *memEmitter, context.CancelFunc, chan error) {
	t.Helper()
	src := makeSource(t, "zeek:"+path)
	fs, ok := src.(*followSource)
	if !ok {
		t.Fatalf("zeek:%s made a %T, not a follower", path, src)
	}
	em := &memEmitter{syncErrs: syncErrs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fs.Run(ctx, em) }()
	return fs, em, cancel, done
}

// A corpus conn.log (TSV and JSON) written line by line, renamed half way
// and continued in a new file with its header, as Zeek rotates: the
// records emitted are those of reading the whole log once with
// codecs/zeek, none lost or duplicated, and the last ones go out within
// a second of their line.
func TestFollowZeekRotation(t *testing.T) {
	for _, rel := range []string{
		"zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled",
		"zeek/slips/test9-mixed-zeek-dir/conn.log",
	} {
		t.Run(filepath.Base(filepath.Dir(rel)), func(t *testing.T) {
			data, err := os.ReadFile(corpus(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			want := readZeek(t, data)
			hdr, lines, trailer := splitLog(data)
			dir := t.TempDir()
			path := filepath.Join(dir, "conn.log")
			fs, em, cancel, done := startFollow(t, path) // before the log exists
			defer cancel()
			w := &logWriter{t: t, path: path}
			w.open()
			w.write(hdr)
			half := len(lines) / 2
			w.lines(lines[:half])
			w.write(trailer)
			w.f.Close()
			// Zeek's rotation: the log renamed, a new one opened.
			if err := os.Rename(path, filepath.Join(dir, "conn.2026-11-27-01-00-00.log")); err != nil {
				t.Fatal(err)
			}
			w.open()
			w.write(hdr)
			w.lines(lines[half:])
			last := time.Now()
			waitFor(t, "every record", 10*time.Second, func() bool { return em.len() >= len(want) })
			if d := time.Since(last); d > time.Second {
				t.Errorf("the last records went out %v after their line", d)
			}
			time.Sleep(3 * followPoll)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			w.f.Close()
			if err := sameRecords(em.snapshot(), want); err != nil {
				t.Error(err)
			}
			if st := fs.Stats(); st.Records != uint64(len(want)) || len(st.Lost) != 0 {
				t.Errorf("stats: %d records, loss %+v", st.Records, st.Lost)
			}
		})
	}
}

// A log truncated in place (copytruncate) is read again from its start.
func TestFollowZeekTruncate(t *testing.T) {
	want, hdr, lines, _ := conn18(t)
	path := filepath.Join(t.TempDir(), "conn.log")
	w := &logWriter{t: t, path: path}
	w.open()
	w.write(hdr)
	half := len(lines) / 2
	for _, l := range lines[:half] {
		w.write(l)
	}
	_, em, cancel, done := startFollow(t, path)
	defer cancel()
	waitFor(t, "the first half", 10*time.Second, func() bool { return em.len() == half })
	if err := w.f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	w.f.Close()
	time.Sleep(3 * followPoll) // the follower sees the file shorter than its offset
	w.open()
	w.write(hdr)
	for _, l := range lines[half:] {
		w.write(l)
	}
	waitFor(t, "the second half", 10*time.Second, func() bool { return em.len() >= len(want) })
	cancel()
	<-done
	w.f.Close()
	if err := sameRecords(em.snapshot(), want); err != nil {
		t.Error(err)
	}
}

// A bad line in a followed log is counted with the file and the line's
// byte offset; every other record is kept, with the header still known.
func TestFollowZeekBadLine(t *testing.T) {
	want, hdr, lines, trailer := conn18(t)
	path := filepath.Join(t.TempDir(), "conn.log")
	var log []byte
	log = append(log, hdr...)
	for i, l := range lines {
		if i == 300 || i == 301 {
			log = append(log, "garbage\tline\n"...)
		}
		log = append(log, l...)
	}
	badAt := bytes.Index(log, []byte("garbage"))
	log = append(log, trailer...)
	log = append(log, bytes.Repeat([]byte{'x'}, 70<<10)...) // a line too long to be one
	log = append(log, '\n')
	log = append(log, hdr...)
	log = append(log, lines[0]...)
	if err := os.WriteFile(path, log, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, em, cancel, done := startFollow(t, path)
	waitFor(t, "every record", 10*time.Second, func() bool { return em.len() >= len(want)+1 })
	cancel()
	<-done
	if err := sameRecords(em.snapshot()[:len(want)], want); err != nil {
		t.Error(err)
	}
	st := fs.Stats()
	if len(st.Lost) != 1 || st.Lost[0].N != 3 || st.Lost[0].Reason != ReasonMalformed ||
		!strings.Contains(st.Lost[0].Detail, fmt.Sprintf("%s: byte %d:", path, badAt)) {
		t.Errorf("loss %+v, want 3 malformed, the first at %s byte %d", st.Lost, path, badAt)
	}
}

// A file read once that ends inside a line too long to be one: the line
// is counted, the records before it kept.
func TestFileSourceZeekLongLastLine(t *testing.T) {
	data, err := os.ReadFile(corpus(t, "zeek/zeek-btest/baselines/core.pppoe/conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	hdr, lines, _ := splitLog(data)
	log := append(append(bytes.Clone(hdr), bytes.Join(lines, nil)...), bytes.Repeat([]byte{'y'}, 100<<10)...)
	p := filepath.Join(t.TempDir(), "conn.log")
	os.WriteFile(p, log, 0o644)
	src := makeSource(t, p)
	var em memEmitter
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	if err := sameRecords(em.snapshot(), readZeek(t, data)); err != nil {
		t.Error(err)
	}
	st := src.Stats()
	if len(st.Lost) != 1 || st.Lost[0].N != 1 || !strings.Contains(st.Lost[0].Detail, fmt.Sprintf("byte %d: line longer", len(log)-100<<10)) {
		t.Errorf("loss %+v", st.Lost)
	}
}

// Reading a conn.log once (a file source, no zeek: prefix) gives the
// records of codecs/zeek, the last line's missing newline included.
func TestFileSourceZeekOnce(t *testing.T) {
	p := corpus(t, "zeek/slips/test9-mixed-zeek-dir/conn.log")
	data, _ := os.ReadFile(p)
	cut := filepath.Join(t.TempDir(), "conn.log")
	os.WriteFile(cut, bytes.TrimRight(data, "\n"), 0o644)
	src := makeSource(t, cut)
	if _, ok := src.(*fileSource); !ok {
		t.Fatalf("%T", src)
	}
	var em memEmitter
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	if err := sameRecords(em.snapshot(), readZeek(t, data)); err != nil {
		t.Error(err)
	}
}

// Cancelling a follower waiting for lines stops it at once.
func TestFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conn.log")
	os.WriteFile(path, nil, 0o644)
	_, _, cancel, done := startFollow(t, path)
	time.Sleep(2 * followPoll)
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*followPoll {
		t.Errorf("stopped %v after cancel", d)
	}
}

// FuzzZeekFeed: any input read once through the line feed never panics
// nor loops; where codecs/zeek reads the whole input without an error,
// the records are its records and nothing is counted lost.
func FuzzZeekFeed(f *testing.F) {
	for _, rel := range []string{"zeek/zeek-btest/baselines/core.pppoe/conn.log", "zeek/slips/port-scans/vertical/conn.log"} {
		if c := os.Getenv("FLOWGATE_CORPUS"); c != "" {
			if b, err := os.ReadFile(filepath.Join(c, rel)); err == nil {
				f.Add(b)
				f.Add(append(bytes.Clone(b), "junk\n#separator \\x09\n#fields\tts\n1\n"...))
			}
		}
	}
	f.Add([]byte("#separator \\x09\n#fields\tts\tuid\n1.0\tC1\nbad\n2.0\tC2"))
	f.Add([]byte("{\"ts\":1.5}\n{bad\n{\"ts\":2}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "conn.log")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s := &fileSource{}
		var em memEmitter
		done := make(chan error, 1)
		go func() { done <- s.readFile(context.Background(), p, "zeek", &em) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the feed loops")
		}
		rd := zeek.NewReader(bytes.NewReader(data))
		var want []flow.Record
		start := time.Now()
		for {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("codecs/zeek loops on %q", data)
			}
			var r flow.Record
			err := rd.Decode(&r)
			if err == io.EOF {
				break
			}
			if err != nil {
				return // a bad line: the whole read stops, we go on
			}
			r.Detach()
			want = append(want, r)
		}
		if len(data) > maxLine {
			return
		}
		if err := sameRecords(em.snapshot(), want); err != nil {
			t.Error(err)
		}
		if st := s.Stats(); len(st.Lost) != 0 {
			t.Errorf("loss %+v on input codecs/zeek reads", st.Lost)
		}
	})
}

// A follower restarted goes on where it was: the records its sinks had
// before the stop are not emitted again; on a log rotated meanwhile it
// reads the new file from its start.
func TestFollowRestart(t *testing.T) {
	defer func(d time.Duration) { followSave = d }(followSave)
	followSave = 0
	want, hdr, lines, _ := conn18(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "conn.log")
	w := &logWriter{t: t, path: path}
	w.open()
	defer func() { w.f.Close() }()
	w.write(hdr)
	third := len(lines) / 3
	for _, l := range lines[:third] {
		w.write(l)
	}
	w.write(lines[third][:10]) // a partial line at the stop
	fs, em, cancel, done := startFollow(t, path)
	waitFor(t, "the first third", 10*time.Second, func() bool { return em.len() == third })
	waitFor(t, "the state file", 5*time.Second, func() bool {
		st, ok := loadState(path)
		return ok && st.off == int64(len(hdr)+len(bytes.Join(lines[:third], nil)))
	})
	em.mu.Lock()
	syncs := em.syncs
	em.mu.Unlock()
	if syncs == 0 {
		t.Error("state saved without a Sync")
	}
	cancel()
	<-done

	w.write(lines[third][10:])
	for _, l := range lines[third+1 : 2*third] {
		w.write(l)
	}
	if st := fs.Stats(); st.Records != uint64(third) {
		t.Errorf("first run: %d records", st.Records)
	}
	_, em2, cancel2, done2 := startFollow(t, path)
	waitFor(t, "the second third", 10*time.Second, func() bool { return em2.len() >= third })
	time.Sleep(3 * followPoll)
	cancel2()
	<-done2
	if err := sameRecords(em2.snapshot(), want[third:2*third]); err != nil {
		t.Errorf("after restart: %v", err)
	}

	// Rotated while stopped: the new file from its start.
	w.f.Close()
	os.Rename(path, path+".1")
	w.open()
	w.write(hdr)
	for _, l := range lines[2*third:] {
		w.write(l)
	}
	_, em3, cancel3, done3 := startFollow(t, path)
	waitFor(t, "the new file", 10*time.Second, func() bool { return em3.len() >= len(lines)-2*third })
	time.Sleep(3 * followPoll)
	cancel3()
	<-done3
	if err := sameRecords(em3.snapshot(), want[2*third:]); err != nil {
		t.Errorf("after rotation: %v", err)
	}
}

// A sink that failed to take records (Sync fails): the follower reads
// them again from its last place, header included, and records its place
// only once a Sync succeeds.
func TestFollowSyncFailure(t *testing.T) {
	defer func(d time.Duration) { followSave = d }(followSave)
	followSave = 0
	want, hdr, lines, _ := conn18(t)
	path := filepath.Join(t.TempDir(), "conn.log")
	log := append(bytes.Clone(hdr), bytes.Join(lines, nil)...)
	os.WriteFile(path, log, 0o644)
	_, em, cancel, done := startFollow(t, path, errors.New("sink_error: 3 records"))
	waitFor(t, "the records twice", 10*time.Second, func() bool { return em.len() >= 2*len(want) })
	waitFor(t, "the place recorded", 5*time.Second, func() bool {
		st, ok := loadState(path)
		return ok && st.off == int64(len(log))
	})
	cancel()
	<-done
	got := em.snapshot()
	if err := sameRecords(got[:len(want)], want); err != nil {
		t.Errorf("first read: %v", err)
	}
	if err := sameRecords(got[len(want):], want); err != nil {
		t.Errorf("read again: %v", err)
	}
}
