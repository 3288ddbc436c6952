package daemon

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File sinks write through a rotator: the file being written has a
// hidden temporary name in the same directory (".NAME.tmp"), so that
// `ra -r data/*.argus` or a log shipper never sees a half-written file;
// when it is done (rotation, Close) it is flushed, fsynced and renamed to
// its final name, which is never an existing file's.
//
// # Names
//
// Without rotate:, the final name is the configured path. With it, the
// time the file starts is put before the path's extension, in the form
// rasplit users write with -w ('data/argus.%Y.%m.%d.%H.%M.%S', in UTC):
//
//	data/flowgate.argus -> data/flowgate.2026.11.27.01.00.00.argus
//
// A file started by the clock (rotate.every) is named by its period's
// start, aligned to the clock as rasplit -M time aligns it (an hourly
// file starts on the hour, a 5-minute one on :00, :05 ...), whenever its
// first record came; a file started because the previous one reached
// rotate.size is named by the second it started. Names sort in time
// order, so `ra -r data/flowgate.*.argus` reads the records in order. A
// name that exists already (two files started in one second, a restart
// within the period) gets _1, _2 ... before the extension: nothing is
// ever overwritten.
//
// A file is rotated when its period ends or once it holds rotate.size
// bytes or more (the record that crosses the size is its last), whichever
// comes first. A file that got no record is removed, not published: an
// idle period makes no file.

// stampLayout is rasplit's '%Y.%m.%d.%H.%M.%S'.
const stampLayout = "2006.01.02.15.04.05"

// rotFlushAt is how many bytes a rotator buffers before it writes them
// out; it writes only whole records.
const rotFlushAt = 256 << 10

// ErrFileSink is what a file sink's I/O errors wrap.
var ErrFileSink = errors.New("daemon: file sink")

// FileError says which file a file sink failed on, and doing what.
type FileError struct {
	Op   string // "create", "write", "sync", "rename" ...
	Path string
	// Dropped is how many records written by earlier calls were lost with
	// the buffer that failed (the records of the failing call are handed
	// to the LostFunc one by one).
	Dropped int64
	Err     error
}

func (e *FileError) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err)
	if e.Dropped > 0 {
		s += fmt.Sprintf(" (%d buffered records of earlier writes lost)", e.Dropped)
	}
	return s
}

func (e *FileError) Unwrap() []error { return []error{ErrFileSink, e.Err} }

// rotator is the output of a file sink: a buffer over the current file
// (or stdout), opened, rotated and published as the package comment says.
// Codecs write into it (it is their io.Writer); the sink tells it where
// records end (record, recordWritten) so that it writes out whole records
// only and knows how many a failed write lost.
type rotator struct {
	path      string // as configured
	dir       string
	stem, ext string // the base name split before its extension
	every     time.Duration
	size      int64
	now       func() time.Time
	log       *slog.Logger
	stdout    io.Writer // "-": no file, no rotation
	// published, if set, sees each final name (tests).
	published func(name string)

	f         *os.File
	tmp       string    // f's name
	stamp     time.Time // the time in f's final name
	periodEnd time.Time // every > 0: when f's period ends
	lastStart time.Time // the period start of the last file opened
	buf       []byte
	n         int64      // bytes in the file, buf included
	written   int64      // bytes written out to the file
	recs      int64      // records in the file
	pending   int64      // records not yet written out to the file (in buf, or in the codec's buffer)
	seq       uint64     // successful writes out, so the sink can tell a codec's write went out
	failed    *FileError // the current file's I/O error: it takes no more writes
	dropped   int64      // records lost with failed buffers, in all (Collectors)
	lastLost  int64      // records the last failure lost with its buffer
}

func newRotator(path string, every time.Duration, size int64, now func() time.Time, log *slog.Logger) *rotator {
	r := &rotator{path: path, every: every, size: size, now: now, log: log, buf: make([]byte, 0, rotFlushAt+64<<10)}
	r.dir = filepath.Dir(path)
	base := filepath.Base(path)
	r.stem, r.ext = base, ""
	// The extension is the last ".x" of the base name, unless that is the
	// whole name (".argus" stays a stem).
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		r.stem, r.ext = base[:i], base[i:]
	}
	return r
}

func (r *rotator) rotates() bool { return r.every > 0 || r.size > 0 }

// prepare creates the directory and checks that a file can be made in
// it, so that a sink's constructor fails before the daemon says it is
// ready. It warns of temporary files a crash left.
func (r *rotator) prepare() error {
	if r.stdout != nil {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return &FileError{Op: "mkdir", Path: r.dir, Err: err}
	}
	if left, _ := filepath.Glob(filepath.Join(r.dir, "."+globEscape(r.stem)+"*.tmp")); len(left) > 0 && r.log != nil {
		r.log.Warn("temporary files of an earlier run that did not end (their records up to the last whole one are readable; rename them to keep them)",
			"sink", r.path, "files", left)
	}
	f, err := os.CreateTemp(r.dir, "."+r.stem+".check*.tmp")
	if err != nil {
		return &FileError{Op: "create", Path: r.dir, Err: err}
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func globEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`).Replace(s)
}

// isOpen reports whether there is a current file (or stdout) taking
// records.
func (r *rotator) isOpen() bool { return r.stdout != nil || r.f != nil }

// due reports whether the current file must be finished before more
// records go in: its period ended, or it reached the size.
func (r *rotator) due(now time.Time) bool {
	if r.f == nil {
		return false
	}
	return r.every > 0 && !now.Before(r.periodEnd) || r.size > 0 && r.n >= r.size
}

// open starts a new file at now.
func (r *rotator) open(now time.Time) error {
	if r.stdout != nil {
		return nil
	}
	final := r.path
	if r.rotates() {
		r.stamp = now.UTC().Truncate(time.Second)
		if r.every > 0 {
			start := now.UTC().Truncate(r.every)
			r.periodEnd = start.Add(r.every)
			if !start.Equal(r.lastStart) {
				r.stamp = start // the period's first file
			}
			r.lastStart = start
		}
		final = filepath.Join(r.dir, r.stem+"."+r.stamp.Format(stampLayout)+r.ext)
	}
	base := filepath.Base(final)
	for i := 0; ; i++ {
		tmp := filepath.Join(r.dir, "."+base+".tmp")
		if i > 0 {
			tmp = filepath.Join(r.dir, fmt.Sprintf(".%s_%d.tmp", base, i))
		}
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && i < 1000 {
			continue
		}
		if err != nil {
			return &FileError{Op: "create", Path: tmp, Err: err}
		}
		r.f, r.tmp = f, tmp
		break
	}
	r.buf, r.n, r.written, r.recs, r.pending, r.failed = r.buf[:0], 0, 0, 0, 0, nil
	return nil
}

// Write buffers p, part of a record or whole records. A large p with
// nothing buffered (an Argus writer's 64 KiB of whole records) goes to
// the file at once.
func (r *rotator) Write(p []byte) (int, error) {
	if r.failed != nil {
		return 0, r.failed
	}
	r.n += int64(len(p))
	if len(r.buf) == 0 && len(p) >= rotFlushAt/8 && r.stdout == nil {
		return len(p), r.writeOut(p)
	}
	r.buf = append(r.buf, p...)
	return len(p), nil
}

// record notes that a record ended and went into the buffer (not written
// out by the call that buffered it), and writes a full buffer out. If
// that fails, the record is lost with the buffer but not counted among
// the pending ones: the caller hands it to its LostFunc.
func (r *rotator) record() error {
	if len(r.buf) >= rotFlushAt {
		if err := r.writeOut(nil); err != nil {
			return err
		}
		r.recs++
		return nil
	}
	r.recs++
	r.pending++
	return nil
}

// recordWritten notes a record that a write out already took with it (the
// codec's write that flushed it succeeded).
func (r *rotator) recordWritten() { r.recs++ }

// writeOut writes the buffer, then p, to the file. On failure the file
// is cut back to its last whole record and taken out of service; the
// records that were waiting are counted lost.
func (r *rotator) writeOut(p []byte) error {
	w := io.Writer(r.f)
	if r.stdout != nil {
		w = r.stdout
	}
	var err error
	if len(r.buf) > 0 {
		_, err = w.Write(r.buf)
	}
	if err == nil && len(p) > 0 {
		_, err = w.Write(p)
	}
	if err != nil {
		// Nothing of this write out is kept: the file is cut back to
		// before it, and its records are the pending ones, all lost.
		return r.fail("write", err)
	}
	r.written += int64(len(r.buf) + len(p))
	r.buf = r.buf[:0]
	r.pending = 0
	r.seq++
	return nil
}

// fail takes the current file out of service after an I/O error: the
// records not written out are lost (counted in dropped; a sink takes
// back those it hands to its LostFunc), and the file is cut back to what
// was written whole when it is finished.
func (r *rotator) fail(op string, err error) error {
	fe := &FileError{Op: op, Path: r.tmp, Dropped: r.pending, Err: err}
	if r.stdout != nil {
		fe.Path = "stdout"
	}
	r.dropped += r.pending
	r.lastLost = r.pending
	r.recs -= r.pending
	r.n = r.written
	r.buf, r.pending = r.buf[:0], 0
	r.failed = fe
	return fe
}

// flush writes the buffer out (no fsync: the file is fsynced when it is
// finished).
func (r *rotator) flush() error {
	if r.failed != nil {
		return r.failed
	}
	if len(r.buf) == 0 {
		r.pending = 0
		return nil
	}
	return r.writeOut(nil)
}

// finish ends the current file: written out, fsynced, closed and renamed
// to a final name no file has, with the directory fsynced so that the
// name survives a crash too. A file without records is removed. A file
// that failed is cut back to its records, published if that works and
// left under its temporary name if not.
func (r *rotator) finish() error {
	if r.stdout != nil {
		return r.flush()
	}
	if r.f == nil {
		return nil
	}
	ferr := r.flush()
	f, tmp := r.f, r.tmp
	r.f = nil
	if r.failed != nil {
		// Cut a partial write back off: the file then ends with a whole
		// record.
		if err := f.Truncate(r.written); err != nil {
			f.Close()
			return ferr
		}
	}
	if r.recs == 0 {
		f.Close()
		os.Remove(tmp)
		return ferr
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return firstErr(ferr, &FileError{Op: "sync", Path: tmp, Err: err})
	}
	if err := f.Close(); err != nil {
		return firstErr(ferr, &FileError{Op: "close", Path: tmp, Err: err})
	}
	name, err := publish(tmp, r.finalName())
	if err != nil {
		return firstErr(ferr, &FileError{Op: "rename", Path: tmp, Err: err})
	}
	if d, err := os.Open(r.dir); err == nil {
		d.Sync()
		d.Close()
	}
	if r.published != nil {
		r.published(name)
	}
	return ferr
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// finalName is the current file's name before any clash suffix.
func (r *rotator) finalName() string {
	if !r.rotates() {
		return r.path
	}
	return filepath.Join(r.dir, r.stem+"."+r.stamp.Format(stampLayout)+r.ext)
}

// publish renames tmp to final, or to final with _1, _2 ... before its
// extension if final exists: a hard link fails rather than replace a
// file, so two writers (or a restart) never overwrite one another.
func publish(tmp, final string) (string, error) {
	dir, base := filepath.Dir(final), filepath.Base(final)
	stem, ext := base, ""
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		stem, ext = base[:i], base[i:]
	}
	for i := 0; i < 10000; i++ {
		name := final
		if i > 0 {
			name = filepath.Join(dir, fmt.Sprintf("%s_%d%s", stem, i, ext))
		}
		err := os.Link(tmp, name)
		if err == nil {
			return name, os.Remove(tmp)
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		// A file system without hard links: check, then rename (a
		// writer racing in between could be overwritten; none does).
		if _, serr := os.Lstat(name); serr == nil {
			continue
		}
		return name, os.Rename(tmp, name)
	}
	return "", fmt.Errorf("no free name for %s", final)
}

// timerDelay is how long until the current file's period ends (0: no
// timer).
func (r *rotator) timerDelay(now time.Time) time.Duration {
	if r.f == nil || r.every == 0 {
		return 0
	}
	return r.periodEnd.Sub(now) + 10*time.Millisecond
}
