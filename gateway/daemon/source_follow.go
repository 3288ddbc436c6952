package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
)

// followSource is a `zeek:PATH` source: a Zeek conn.log (TSV or JSON
// lines) followed as it grows, as tail -F follows it. New complete lines
// are read as they come (a partial last line waits for its newline); when
// the file is renamed and a new one created (Zeek's rotation) the old one
// is read to its end and the new one from its start, header included;
// a file truncated in place is read again from its start. Records go out
// in batches at most followFlush after they are read.
//
// Where it is in the log is kept in a state file next to it
// (".conn.log.flowgate-offset": the file's device, inode and offset),
// written every followSave while it waits for lines, once the pipeline's
// sinks have the records before that offset (Emitter.Sync). A restart on
// the same file reads its header again and goes on from the offset; on
// another file (rotated meanwhile) it reads the new one from its start.
// The records after the last save are emitted again, as at-least-once
// allows.
type followSource struct {
	text    string
	path    string
	zmap    *zeek.Mapping
	log     func(msg string, args ...any)
	records atomic.Uint64
	loss    lossTable
}

// followSave is how often a follower records its place (when it waits).
var followSave = 2 * time.Second

// followState is a follower's place: the file (device and inode) and the
// offset of the first byte not yet handed to the pipeline.
type followState struct {
	dev, ino uint64
	off      int64
}

// statePath is the state file of the log at path.
func statePath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".flowgate-offset")
}

func loadState(path string) (followState, bool) {
	var st followState
	b, err := os.ReadFile(statePath(path))
	if err != nil {
		return st, false
	}
	_, err = fmt.Sscanf(string(b), "%d %d %d\n", &st.dev, &st.ino, &st.off)
	return st, err == nil && st.off >= 0
}

func saveState(path string, st followState) error {
	p := statePath(path)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d %d\n", st.dev, st.ino, st.off), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

const (
	// followPoll is how often a followed file is looked at for growth
	// and rotation when there is nothing to read.
	followPoll = 100 * time.Millisecond
	// followFlush bounds how long a read record waits in a batch.
	followFlush = 500 * time.Millisecond
	// maxLine is the longest line a feed hands over (the zeek reader's
	// buffer); a longer one is counted malformed and skipped.
	maxLine = 64 << 10
)

func newFollowSource(s config.Source, env Env) (Source, error) {
	src := &followSource{text: s.Text, path: s.Net.Path, log: func(string, ...any) {}}
	if env.Log != nil {
		src.log = env.Log.Warn
	}
	if m := env.Mapping; m != nil && m.Schema == "zeek" {
		var err error
		if src.zmap, err = zeek.NewMapping(m); err != nil {
			return nil, fmt.Errorf("%s: mapping: %w", s.Text, err)
		}
	}
	if fi, err := os.Stat(src.path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", s.Text)
	}
	return src, nil
}

// isFollowed: a Zeek file source named zeek:PATH is followed; one found
// by detection (a file named without a format), a directory and a
// compressed log (an archive: it does not grow) are read once.
func isFollowed(s config.Source) bool {
	if s.Net.Format != gateway.FormatZeek {
		return false
	}
	f, err := os.Open(s.Net.Path)
	if err != nil {
		return true // a log not yet created is waited for
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	head := make([]byte, 6)
	n, _ := f.ReadAt(head, 0)
	return !isCompressed(head[:n])
}

func (s *followSource) Run(ctx context.Context, emit Emitter) error {
	var f *os.File
	for {
		var err error
		if f, err = os.Open(s.path); err == nil {
			break
		}
		if !os.IsNotExist(err) {
			return fmt.Errorf("%s: %w", s.text, err)
		}
		if sleepCtx(ctx, followPoll) != nil {
			return nil // the log was never created
		}
	}
	fd := newLineFeed(f, s.path, ctx)
	defer fd.close()
	if err := s.resume(fd); err != nil {
		return fmt.Errorf("%s: %w", s.text, err)
	}
	zr := &zeekRun{feed: fd, zmap: s.zmap, emit: emit, records: &s.records,
		lost: func(file, unit string, err error, n uint64) { s.loss.add(ReasonMalformed, file, unit, err.Error(), n) }}
	var saved followState // the place last recorded (or started from)
	if fi, err := fd.f.Stat(); err == nil {
		saved.dev, saved.ino = fileID(fi)
		saved.off = fd.off
	}
	var last time.Time
	warned := false
	zr.waiting = func() error {
		st, ok := fd.place()
		if !ok || st == saved || time.Since(last) < followSave {
			return nil
		}
		// The records before st.off are emitted: once the sinks have
		// them, a restart need not read them again.
		if err := emit.Sync(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrStopping) {
				return err
			}
			// A sink lost records since the last save: read them again
			// from there (at-least-once), when that is still this file.
			last = time.Now()
			if st.dev == saved.dev && st.ino == saved.ino && saved.off <= st.off && (st.dev != 0 || st.ino != 0) {
				s.log("a sink did not take records of a followed log: reading them again", "source", s.text, "from", saved.off, "err", err)
				return fd.seek(saved.off)
			}
			s.log("a sink did not take records of a followed log (rotated since: not read again)", "source", s.text, "err", err)
			saved = st
			return nil
		}
		last = time.Now()
		if err := saveState(s.path, st); err != nil {
			if !warned {
				s.log("cannot record the place in a followed log: a restart reads it again from its start", "source", s.text, "err", err)
				warned = true
			}
			return nil
		}
		saved = st
		return nil
	}
	err := zr.run(ctx)
	if ctx.Err() != nil || errors.Is(err, ErrStopping) {
		return nil
	}
	return err
}

// resume starts the feed where the state file says, when it names the
// file at the path: the header lines (those before the first record) are
// handed over first, then the file from the offset.
func (s *followSource) resume(fd *lineFeed) error {
	st, ok := loadState(s.path)
	if !ok {
		return nil
	}
	fi, err := fd.f.Stat()
	if err != nil {
		return err
	}
	dev, ino := fileID(fi)
	if dev == 0 && ino == 0 || dev != st.dev || ino != st.ino || fi.Size() < st.off {
		return nil // another file, or truncated: from its start
	}
	return fd.seek(st.off)
}

// seek goes to offset off of the current file: its header lines (those
// before the first record, before off) are handed over first, then the
// file from off. What the feed held is dropped.
func (l *lineFeed) seek(off int64) error {
	var hdr []byte
	br := bufio.NewReader(io.NewSectionReader(l.f, 0, off))
	for {
		line, err := br.ReadSlice('\n')
		if err != nil || len(line) == 0 || line[0] != '#' && len(bytes.TrimSpace(line)) > 0 {
			break
		}
		hdr = append(hdr, line...)
	}
	if _, err := l.f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	l.off, l.prefix = off, hdr
	l.r, l.w, l.last, l.skipping = 0, 0, nil, false
	return nil
}

func (s *followSource) Stats() SourceStats {
	return SourceStats{Records: s.records.Load(), Lost: s.loss.rows()}
}

func (s *followSource) Close() error { return nil }

func (s *followSource) String() string { return s.text }

func (s *followSource) Listening() []string { return []string{"following " + s.path} }

// sleepCtx waits d or until ctx is done (then its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lineFeed is the io.Reader a zeek.Reader reads: it hands over whole
// lines only, so that the lines a Read returned are still in its buffer
// when the reader reports an error in one of them (the error names a
// line; resume finds it), and a partial last line is held back until its
// newline comes. Following (ctx set), at the end of the data it waits:
// first idle is called (the batch goes out), then the file is looked at
// every followPoll for growth, truncation and rotation. Reading once
// (ctx nil), the end of the file is io.EOF.
type lineFeed struct {
	f      *os.File
	in     io.Reader // f, or a decompressed stream of it (reading once)
	path   string
	ctx    context.Context
	buf    []byte
	r, w   int   // buf[r:w] is not handed over yet
	off    int64 // file offset of buf[w]
	eof    bool  // reading once: the file is read to its end
	prefix []byte
	idle   func() error // the feed is about to wait
	tick   func() error // a Read is about to return (batches' age)

	// The last Read: its bytes (in buf or prefix), their file offset
	// (-1: the replayed header) and the lines handed to the current
	// reader before them.
	last      []byte
	lastOff   int64
	lastLines int
	lines     int  // lines handed to the current reader
	skipping  bool // inside a line longer than maxLine
	skipOff   int64
	lost      func(error) // counts a line the feed drops
}

func newLineFeed(f *os.File, path string, ctx context.Context) *lineFeed {
	return &lineFeed{f: f, in: f, path: path, ctx: ctx, buf: make([]byte, 256<<10)}
}

func (l *lineFeed) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// errLongLine: a line the feed drops.
var errLongLine = errors.New("line longer than 64 KiB")

func (l *lineFeed) Read(p []byte) (int, error) {
	if l.tick != nil {
		if err := l.tick(); err != nil {
			return 0, err
		}
	}
	for {
		if len(l.prefix) > 0 {
			// Header lines replayed (after a bad line, a restart, a
			// rewind) come before the file's.
			n := deliverable(l.prefix, len(p))
			if n == 0 {
				n = min(len(p), len(l.prefix))
			}
			copy(p, l.prefix[:n])
			l.mark(l.prefix[:n], -1)
			l.prefix = l.prefix[n:]
			return n, nil
		}
		if l.r < l.w && !l.skipping {
			if n := deliverable(l.buf[l.r:l.w], len(p)); n > 0 {
				copy(p, l.buf[l.r:l.r+n])
				l.mark(l.buf[l.r:l.r+n], l.off-int64(l.w-l.r))
				l.r += n
				return n, nil
			}
			if l.w-l.r >= min(len(p), maxLine) {
				// No newline within what the reader can take: skip the line.
				l.skipping, l.skipOff = true, l.off-int64(l.w-l.r)
			} else if l.eof {
				// Reading once, the last line has no newline: hand it over.
				n := l.w - l.r
				copy(p, l.buf[l.r:l.w])
				l.mark(l.buf[l.r:l.w], l.off-int64(n))
				l.r = l.w
				return n, nil
			}
		}
		if l.skipping {
			if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
				l.r += i + 1
				l.skipping = false
				if l.lost != nil {
					l.lost(&PlaceError{File: l.path, Offset: l.skipOff, Err: errLongLine})
				}
				continue
			}
			l.r = l.w
			if l.eof {
				// The file ends inside the long line.
				l.skipping = false
				if l.lost != nil {
					l.lost(&PlaceError{File: l.path, Offset: l.skipOff, Err: errLongLine})
				}
			}
		}
		if l.eof {
			return 0, io.EOF
		}
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
}

// deliverable is how many bytes of b, at most max, end at a newline.
func deliverable(b []byte, max int) int {
	if len(b) > max {
		b = b[:max]
	}
	return bytes.LastIndexByte(b, '\n') + 1
}

func (l *lineFeed) mark(b []byte, off int64) {
	l.last, l.lastOff, l.lastLines = b, off, l.lines
	l.lines += bytes.Count(b, []byte{'\n'})
}

// fill reads more of the file into buf, waiting for it when following.
func (l *lineFeed) fill() error {
	if l.r > 0 {
		l.w = copy(l.buf, l.buf[l.r:l.w])
		l.r = 0
		l.last = nil // its bytes move
	}
	for {
		n, err := l.in.Read(l.buf[l.w:])
		if n > 0 {
			l.w += n
			l.off += int64(n)
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		if l.ctx == nil {
			l.eof = true
			return nil
		}
		if err := l.wait(); err != nil {
			return err
		}
	}
}

// wait returns once the file has more to read, or after switching to a
// new file (rotation, truncation), or with ctx's error.
func (l *lineFeed) wait() error {
	if l.idle != nil {
		if err := l.idle(); err != nil {
			return err
		}
	}
	for {
		if err := sleepCtx(l.ctx, followPoll); err != nil {
			return err
		}
		cur, err := l.f.Stat()
		if err != nil {
			return err
		}
		if cur.Size() > l.off {
			return nil
		}
		if cur.Size() < l.off {
			// Truncated in place (copytruncate): read it again.
			if _, err := l.f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			l.restart()
			return nil
		}
		fi, err := os.Stat(l.path)
		if err != nil || os.SameFile(fi, cur) {
			continue // renamed away and not yet created again, or unchanged
		}
		nf, err := os.Open(l.path)
		if err != nil {
			continue
		}
		// The old file may have grown between the last read and the
		// rename: read it to its end first.
		if n, _ := l.f.Read(l.buf[l.w:min(len(l.buf), l.w+1)]); n > 0 {
			l.w += n
			l.off += int64(n)
			nf.Close()
			return nil
		}
		l.f.Close()
		l.f, l.in = nf, nf
		l.restart()
		return nil
	}
}

// place is the feed's place when every line it handed over was read:
// the current file and the offset of the first byte not handed over.
func (l *lineFeed) place() (followState, bool) {
	if len(l.prefix) > 0 || l.skipping {
		return followState{}, false
	}
	fi, err := l.f.Stat()
	if err != nil {
		return followState{}, false
	}
	dev, ino := fileID(fi)
	off := l.off - int64(l.w-l.r)
	return followState{dev: dev, ino: ino, off: off}, off >= 0
}

// restart begins a new file: a partial line left of the old one gets its
// newline (it is a line of its own, not the start of the new file's).
func (l *lineFeed) restart() {
	if l.r < l.w && l.buf[l.w-1] != '\n' && !l.skipping {
		if l.w == len(l.buf) {
			l.skipping, l.skipOff = true, l.off-int64(l.w-l.r)
		} else {
			l.buf[l.w] = '\n'
			l.w++
		}
	}
	if l.skipping {
		// The long line ends with its file.
		l.r, l.skipping = l.w, false
		if l.lost != nil {
			l.lost(&PlaceError{File: l.path, Offset: l.skipOff, Err: errLongLine})
		}
	}
	l.off = 0
}

// resume takes a line the zeek reader rejected (its Line counts the
// lines handed to the current reader): the lines after it in the last
// Read are handed over again, to a new reader, after the header lines
// hdr (unless the bad line is itself a header line, or was in the
// replayed header). It returns the bad line's file offset (-1: in the
// replayed header).
func (l *lineFeed) resume(line int, hdr []byte) int64 {
	k := line - l.lastLines // 1-based within the last Read
	b := l.last
	start := 0
	for i := 1; i < k && start < len(b); i++ {
		j := bytes.IndexByte(b[start:], '\n')
		if j < 0 {
			start = len(b)
			break
		}
		start += j + 1
	}
	end := len(b)
	if j := bytes.IndexByte(b[start:], '\n'); j >= 0 {
		end = start + j + 1
	}
	off := int64(-1)
	rest := len(b) - end
	if l.lastOff >= 0 {
		off = l.lastOff + int64(start)
		l.r -= rest // not handed over after all
		l.prefix = nil
		if t := bytes.TrimLeft(b[start:end], " \t"); !(len(t) > 0 && t[0] == '#') {
			l.prefix = hdr
		}
	} else {
		// The replayed header itself failed: give it up.
		l.prefix = l.prefix[:0]
	}
	l.last, l.lines = nil, 0
	return off
}

// zeekRun decodes a lineFeed with a zeek.Reader into batches. A line the
// reader rejects is counted (file and byte offset) and skipped: a new
// reader goes on after it with the header replayed, so that the lines
// around it are kept.
type zeekRun struct {
	feed    *lineFeed
	zmap    *zeek.Mapping
	emit    Emitter
	records *atomic.Uint64
	lost    func(file, unit string, err error, n uint64)

	// waiting, if set, runs after the batch went out when the feed is
	// about to wait for lines (the follower records its place).
	waiting func() error

	b       *recBatch
	ctx     context.Context
	flushed bool      // the batch went out during a Decode (idle, tick)
	since   time.Time // when the batch's first record was read
}

func (z *zeekRun) newReader() *zeek.Reader {
	opts := []zeek.Option{zeek.WithFileName(z.feed.path)}
	if z.zmap != nil {
		opts = append(opts, zeek.WithMapping(z.zmap))
	}
	return zeek.NewReader(z.feed, opts...)
}

func (z *zeekRun) flush() error {
	if z.b.n > 0 {
		z.flushed = true
	}
	return z.b.flush(z.ctx)
}

func (z *zeekRun) run(ctx context.Context) error {
	z.ctx = ctx
	z.b = newRecBatch(z.emit, z.records)
	fd := z.feed
	fd.idle = func() error {
		if err := z.flush(); err != nil {
			return err
		}
		if z.waiting != nil {
			return z.waiting()
		}
		return nil
	}
	fd.tick = func() error {
		if z.b.n > 0 && time.Since(z.since) >= followFlush {
			return z.flush()
		}
		return nil
	}
	fd.lost = func(err error) { z.lost(fd.path, "records", err, 1) }
	rd := z.newReader()
	for {
		i := z.b.n
		z.flushed = false
		err := rd.Decode(z.b.next())
		if z.flushed && i > 0 {
			// The batch went out while the reader waited for this record,
			// which was decoded into slot i: it is the new batch's first.
			// Swapped, not copied: each slot keeps its own Extra storage.
			z.b.recs[0], z.b.recs[i] = z.b.recs[i], z.b.recs[0]
		}
		if err == nil {
			if z.b.n == 0 {
				z.since = time.Now()
			}
			if err := z.b.keep(ctx); err != nil {
				return err
			}
			continue
		}
		var ze *zeek.Error
		if !errors.As(err, &ze) {
			gctx, cancel := graceCtx(ctx)
			ferr := z.b.flush(gctx)
			cancel()
			if err == io.EOF {
				return ferr
			}
			return err
		}
		var replay []byte
		if rd.Format() == zeek.FormatTSV {
			replay = bytes.Clone(rd.Header().Lines)
		}
		off := fd.resume(ze.Line, replay)
		z.lost(fd.path, "records", &PlaceError{File: fd.path, Offset: off, Err: err}, 1)
		rd = z.newReader()
	}
}

// graceCtx is for the records read before ctx ended: a short time of
// their own to reach the pipeline.
func graceCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), time.Second)
}
