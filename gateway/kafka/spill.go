package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A spill queue is a directory of segment files, each holding entries in
// append order:
//
//	segment  "FGSPILL1" entry*
//	entry    len u32 | crc32c(payload) u32 | payload (len bytes)
//	payload  timestamp ms i64 | uvarint(len(key)+1, 0 = no key) key |
//	         uvarint(#headers) (uvarint len, key, uvarint len, value)* |
//	         value (the rest)
//
// Segments are named by a 20-digit sequence number; the reader drains the
// lowest first. "cursor" holds how far the lowest segment is drained
// (segment number u64, offset u64, crc32c u32) so a restart does not send
// that part again; without it (or with a bad one) the segment is drained
// from its start: duplicates, never loss. A restarted process never appends
// to an old segment (its tail may be torn): it starts a new one.
//
// Writes go through a buffer flushed at Flush, rotation and Close, and are
// fsynced at rotation and Close only: a spill survives the process's
// death (the data is in the page cache), not the machine's.

const (
	spillMagic    = "FGSPILL1"
	spillEntryHdr = 8
	// A length above this is taken for garbage, not an entry: kgo's own
	// record limit is far below it.
	spillMaxEntry = 64 << 20
	cursorName    = "cursor"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Spill errors.
var (
	ErrSpillFull      = errors.New("kafka: spill full")
	ErrSpillCorrupt   = errors.New("kafka: spill entry corrupt")
	ErrSpillTruncated = errors.New("kafka: spill entry truncated")
	// ErrSpilling is Ready's error while records go to the spill.
	ErrSpilling = errors.New("kafka: broker unreachable, spilling to disk")
)

// SpillError is a spill entry that was skipped: where and why.
type SpillError struct {
	File   string
	Offset int64
	Err    error
}

func (e *SpillError) Error() string {
	return fmt.Sprintf("kafka: spill %s at offset %d: %v", e.File, e.Offset, e.Err)
}
func (e *SpillError) Unwrap() error { return e.Err }

type segment struct {
	n    uint64
	size int64 // bytes on disk plus buffered
}

// spill is one on-disk FIFO of records. It is not safe for concurrent
// use: the producer serialises calls.
type spill struct {
	dir     string
	max     int64 // bound of bytes() for appends that are not forced; 0 none
	segMax  int64
	segs    []segment // live segments, oldest first; the last may be open
	w       *os.File  // writes to segs[len-1] when non-nil
	bw      *bufio.Writer
	r       *os.File // reads segs[0] when non-nil
	rn      uint64   // segment r is
	roff    int64    // next entry of segs[0]
	last    uint64   // highest segment number used
	total   int64
	scratch []byte
	corrupt int64
	onError func(error)
}

func segName(n uint64) string { return fmt.Sprintf("%020d.seg", n) }

// openSpill opens (creating) dir and finds the segments a previous
// process left.
func openSpill(dir string, maxBytes int64, onError func(error)) (*spill, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("kafka: spill: %w", err)
	}
	s := &spill{dir: dir, max: maxBytes, onError: onError, roff: int64(len(spillMagic))}
	s.segMax = 64 << 20
	if maxBytes > 0 && maxBytes/8 < s.segMax {
		s.segMax = maxBytes / 8
	}
	if s.segMax < 64<<10 {
		s.segMax = 64 << 10
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("kafka: spill: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		num, ok := strings.CutSuffix(name, ".seg")
		if !ok || de.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("kafka: spill: %w", err)
		}
		s.segs = append(s.segs, segment{n: n, size: fi.Size()})
		s.total += fi.Size()
		s.last = max(s.last, n)
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].n < s.segs[j].n })
	if len(s.segs) > 0 {
		if b, err := os.ReadFile(filepath.Join(dir, cursorName)); err == nil && len(b) == 20 &&
			crc32.Checksum(b[:16], castagnoli) == binary.BigEndian.Uint32(b[16:]) &&
			binary.BigEndian.Uint64(b) == s.segs[0].n {
			if off := int64(binary.BigEndian.Uint64(b[8:])); off >= s.roff && off <= s.segs[0].size {
				s.roff = off
			}
		}
	}
	return s, nil
}

// empty: nothing left to read.
func (s *spill) empty() bool {
	return len(s.segs) == 0 || len(s.segs) == 1 && s.roff >= s.segs[0].size
}

func (s *spill) bytes() int64 { return s.total }

// append adds kr at the end. Unless force, it fails with ErrSpillFull when
// the entry would take the spill past its bound.
func (s *spill) append(kr *kgo.Record, force bool) error {
	p := s.scratch[:0]
	p = append(p, make([]byte, spillEntryHdr)...)
	p = binary.BigEndian.AppendUint64(p, uint64(kr.Timestamp.UnixMilli()))
	if kr.Key == nil {
		p = binary.AppendUvarint(p, 0)
	} else {
		p = binary.AppendUvarint(p, uint64(len(kr.Key))+1)
		p = append(p, kr.Key...)
	}
	p = binary.AppendUvarint(p, uint64(len(kr.Headers)))
	for _, h := range kr.Headers {
		p = binary.AppendUvarint(p, uint64(len(h.Key)))
		p = append(p, h.Key...)
		p = binary.AppendUvarint(p, uint64(len(h.Value)))
		p = append(p, h.Value...)
	}
	p = append(p, kr.Value...)
	s.scratch = p
	n := int64(len(p))
	if !force && s.max > 0 && s.total+n > s.max {
		return ErrSpillFull
	}
	binary.BigEndian.PutUint32(p, uint32(n-spillEntryHdr))
	binary.BigEndian.PutUint32(p[4:], crc32.Checksum(p[spillEntryHdr:], castagnoli))
	if s.w == nil || s.segs[len(s.segs)-1].size+n > s.segMax && s.segs[len(s.segs)-1].size > int64(len(spillMagic)) {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if _, err := s.bw.Write(p); err != nil {
		return fmt.Errorf("kafka: spill: %w", err)
	}
	s.segs[len(s.segs)-1].size += n
	s.total += n
	return nil
}

// rotate closes the segment being written and starts the next.
func (s *spill) rotate() error {
	if err := s.closeWriter(); err != nil {
		return err
	}
	s.last++
	n := s.last
	f, err := os.OpenFile(filepath.Join(s.dir, segName(n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("kafka: spill: %w", err)
	}
	s.w, s.bw = f, bufio.NewWriterSize(f, 256<<10)
	s.bw.WriteString(spillMagic)
	if len(s.segs) == 0 {
		s.roff = int64(len(spillMagic))
	}
	s.segs = append(s.segs, segment{n: n, size: int64(len(spillMagic))})
	s.total += int64(len(spillMagic))
	return nil
}

func (s *spill) closeWriter() error {
	if s.w == nil {
		return nil
	}
	err := s.bw.Flush()
	if e := s.w.Sync(); err == nil {
		err = e
	}
	if e := s.w.Close(); err == nil {
		err = e
	}
	s.w, s.bw = nil, nil
	if err != nil {
		return fmt.Errorf("kafka: spill: %w", err)
	}
	return nil
}

// flush writes the buffer out (no fsync).
func (s *spill) flush() error {
	if s.bw != nil {
		if err := s.bw.Flush(); err != nil {
			return fmt.Errorf("kafka: spill: %w", err)
		}
	}
	return nil
}

func (s *spill) close() error {
	err := s.closeWriter()
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	return err
}

func (s *spill) bad(file string, off int64, err error) {
	s.corrupt++
	if s.onError != nil {
		s.onError(&SpillError{File: file, Offset: off, Err: err})
	}
}

// spillPos is a read position: segment number and offset.
type spillPos struct {
	n   uint64
	off int64
}

// read returns up to maxRecs records (about maxBytes) from the head, and
// the position after them, which commit makes permanent. It reads within
// one segment; at the end of a segment that is not the last it returns no
// records and the start of the next. Corrupt entries are counted, reported
// and skipped (a bad length skips the rest of its segment: nothing after
// it can be framed).
func (s *spill) read(maxRecs int, maxBytes int64) ([]*kgo.Record, spillPos, error) {
	if len(s.segs) == 0 {
		return nil, spillPos{}, nil
	}
	if err := s.flush(); err != nil {
		return nil, spillPos{}, err
	}
	seg := s.segs[0]
	name := filepath.Join(s.dir, segName(seg.n))
	pos := spillPos{seg.n, s.roff}
	if s.r == nil || s.rn != seg.n {
		if s.r != nil {
			s.r.Close()
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, pos, fmt.Errorf("kafka: spill: %w", err)
		}
		s.r, s.rn = f, seg.n
		var m [len(spillMagic)]byte
		if _, err := io.ReadFull(f, m[:]); err != nil || string(m[:]) != spillMagic {
			s.bad(name, 0, fmt.Errorf("%w: not a spill segment (no %s header)", ErrSpillCorrupt, spillMagic))
			pos.off = seg.size
		}
	}
	end := seg.size
	var out []*kgo.Record
	var took int64
	// One read for the window: the records alias this chunk (fresh each
	// window: kgo holds them until acknowledged).
	var chunk []byte
	var chunkOff int64
	fill := func(off, n int64) error {
		chunk, chunkOff = make([]byte, n), off
		if _, err := s.r.ReadAt(chunk, off); err != nil {
			return fmt.Errorf("kafka: spill %s: %w", name, err)
		}
		return nil
	}
	if err := fill(pos.off, min(end-pos.off, maxBytes)); err != nil {
		return nil, pos, err
	}
	for pos.off < end && len(out) < maxRecs && took < maxBytes {
		if end-pos.off < spillEntryHdr {
			s.bad(name, pos.off, fmt.Errorf("%w: %d bytes left, less than an entry header", ErrSpillTruncated, end-pos.off))
			pos.off = end
			break
		}
		if pos.off+spillEntryHdr > chunkOff+int64(len(chunk)) {
			break // the next window reads it
		}
		hdr := chunk[pos.off-chunkOff:]
		n := int64(binary.BigEndian.Uint32(hdr))
		sum := binary.BigEndian.Uint32(hdr[4:])
		if n > spillMaxEntry || pos.off+spillEntryHdr+n > end {
			s.bad(name, pos.off, fmt.Errorf("%w: entry of %d bytes, %d left in the segment", ErrSpillTruncated, n, end-pos.off-spillEntryHdr))
			pos.off = end
			break
		}
		if pos.off+spillEntryHdr+n > chunkOff+int64(len(chunk)) {
			if len(out) > 0 || took > 0 {
				break // the next window starts with it
			}
			// An entry larger than a window: read it alone.
			if err := fill(pos.off, spillEntryHdr+n); err != nil {
				return nil, pos, err
			}
		}
		b := chunk[pos.off-chunkOff+spillEntryHdr : pos.off-chunkOff+spillEntryHdr+n : pos.off-chunkOff+spillEntryHdr+n]
		if crc32.Checksum(b, castagnoli) != sum {
			s.bad(name, pos.off, fmt.Errorf("%w: checksum mismatch", ErrSpillCorrupt))
		} else if kr, ok := parseEntry(b); !ok {
			s.bad(name, pos.off, fmt.Errorf("%w: payload does not parse", ErrSpillCorrupt))
		} else {
			out = append(out, kr)
		}
		pos.off += spillEntryHdr + n
		took += spillEntryHdr + n
	}
	if pos.off >= end && len(out) == 0 && len(s.segs) > 1 {
		pos = spillPos{s.segs[1].n, int64(len(spillMagic))}
	}
	return out, pos, nil
}

func parseEntry(b []byte) (*kgo.Record, bool) {
	if len(b) < 8 {
		return nil, false
	}
	kr := &kgo.Record{Timestamp: time.UnixMilli(int64(binary.BigEndian.Uint64(b)))}
	b = b[8:]
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	kn, k := binary.Uvarint(b)
	if k <= 0 || kn > uint64(len(b)-k)+1 {
		return nil, false
	}
	if kn > 0 {
		kr.Key = b[k : k+int(kn-1)]
		b = b[k+int(kn-1):]
	} else {
		b = b[k:]
	}
	nh, k := binary.Uvarint(b)
	if k <= 0 || nh > uint64(len(b)) {
		return nil, false
	}
	b = b[k:]
	for i := uint64(0); i < nh; i++ {
		hk, ok1 := field()
		hv, ok2 := field()
		if !ok1 || !ok2 {
			return nil, false
		}
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: string(hk), Value: hv})
	}
	kr.Value = b
	return kr, true
}

// commit makes pos the new head: segments before it are removed and the
// cursor is saved. Once empty, the spill removes its last segment too, so
// an idle spill is an empty directory.
func (s *spill) commit(pos spillPos) error {
	for len(s.segs) > 0 && s.segs[0].n < pos.n {
		if s.r != nil && s.rn == s.segs[0].n {
			s.r.Close()
			s.r = nil
		}
		if len(s.segs) == 1 {
			if err := s.closeWriter(); err != nil {
				return err
			}
		}
		if err := os.Remove(filepath.Join(s.dir, segName(s.segs[0].n))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kafka: spill: %w", err)
		}
		s.total -= s.segs[0].size
		s.segs = s.segs[1:]
		s.roff = int64(len(spillMagic))
	}
	if len(s.segs) > 0 && s.segs[0].n == pos.n {
		s.roff = pos.off
	}
	if s.empty() && len(s.segs) == 1 {
		// All read: drop the last segment; the next append starts one.
		if s.r != nil {
			s.r.Close()
			s.r = nil
		}
		if err := s.closeWriter(); err != nil {
			return err
		}
		os.Remove(filepath.Join(s.dir, segName(s.segs[0].n)))
		s.total -= s.segs[0].size
		s.segs = s.segs[:0] // s.last keeps the next segment's number after it

		os.Remove(filepath.Join(s.dir, cursorName))
		return nil
	}
	if len(s.segs) == 0 {
		return nil
	}
	var b [20]byte
	binary.BigEndian.PutUint64(b[:], s.segs[0].n)
	binary.BigEndian.PutUint64(b[8:], uint64(s.roff))
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	if err := os.WriteFile(filepath.Join(s.dir, cursorName), b[:], 0o640); err != nil {
		return fmt.Errorf("kafka: spill: %w", err)
	}
	return nil
}

// The producer's side of the spill. Records take one of two ways:
//
//   - direct: Produce hands them to kgo (counted in inflight). One that
//     kgo fails (the delivery timeout SpillAfter, the client closing) is
//     appended to the retry queue, in kgo's promise order, which keeps
//     each partition's order; the producer then spills.
//   - spilling: Produce appends new records to the main queue.
//
// The drainer sends the retry queue, then the main queue, a window at a
// time; a window is committed (removed from its queue) once kgo
// acknowledged all of it, and sent again whole otherwise. Every record
// the retry queue holds was handed to kgo before any record of the main
// queue was spilled, so a partition gets its records in order, with
// duplicates where a window was sent again. The producer goes direct again
// when both queues are empty.

const (
	drainRecs  = 16384
	drainBytes = 8 << 20
)

func (p *Producer) openSpill(cfg ProducerConfig) error {
	bound := cfg.SpillMax
	if bound <= 0 {
		bound = 1 << 30
	}
	onErr := cfg.OnSpillError
	if err := os.MkdirAll(cfg.Spill, 0o750); err != nil {
		return fmt.Errorf("kafka: spill: %w", err)
	}
	lock, err := lockSpill(cfg.Spill)
	if err != nil {
		return err
	}
	if p.sp, err = openSpill(filepath.Join(cfg.Spill, "main"), bound, onErr); err != nil {
		lock.Close()
		return err
	}
	// The retry queue takes what kgo already accepted: it is not bounded
	// (kgo's buffer, MaxBuffered records, bounds what can fail at once).
	if p.retry, err = openSpill(filepath.Join(cfg.Spill, "retry"), 0, onErr); err != nil {
		lock.Close()
		return err
	}
	p.spillLock = lock
	p.spillDrop = cfg.SpillDrop
	p.spillAfter = cfg.SpillAfter
	if p.spillAfter <= 0 {
		p.spillAfter = 5 * time.Second
	}
	p.maxBuf = int64(cfg.MaxBuffered)
	if p.maxBuf <= 0 {
		p.maxBuf = 10000
	}
	p.changed = make(chan struct{})
	// Leftovers of a previous process are drained before anything new.
	if !p.sp.empty() || !p.retry.empty() {
		p.spilling.Store(true)
	}
	return nil
}

func (p *Producer) closeSpill() error {
	if p.sp == nil {
		return nil
	}
	p.sm.Lock()
	defer p.sm.Unlock()
	p.spillClosed = true
	err := p.sp.close()
	if e := p.retry.close(); err == nil {
		err = e
	}
	if p.spillLock != nil {
		p.spillLock.Close() // releases the flock
		p.spillLock = nil
	}
	return err
}

// notifyLocked wakes every waiter on p.changed (the state changed).
func (p *Producer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// spillFailed appends a record kgo failed to the retry queue. false: it
// could not (a write error), the record is lost.
func (p *Producer) spillFailed(kr *kgo.Record, err error) bool {
	if isPoison(err) {
		return false // sending it again cannot help: counted Failed
	}
	p.sm.Lock()
	defer p.sm.Unlock()
	if p.spillClosed {
		return false // a promise after Close gave up waiting: lost, counted
	}
	if werr := p.retry.append(kr, true); werr != nil {
		if p.retry.onError != nil {
			p.retry.onError(werr)
		}
		return false
	}
	p.spilled.Add(1)
	if !p.spilling.Load() {
		p.spilling.Store(true)
		p.notifyLocked()
	}
	return true
}

// send hands kr to kgo or, while spilling, to the main queue. With the
// main queue full it waits for the drainer, or drops the record
// (SpillDrop). Without a spill it is kgo's Produce.
func (p *Producer) send(ctx context.Context, kr *kgo.Record) error {
	if p.sp == nil {
		p.cl.Produce(ctx, kr, p.promise)
		return nil
	}
	for {
		if !p.spilling.Load() {
			if p.inflight.Load() >= p.maxBuf {
				if err := p.waitRoom(ctx); err != nil {
					p.dropped.Add(1)
					return err
				}
				if p.spilling.Load() {
					continue
				}
			}
			p.inflight.Add(1)
			// Not ctx: kgo fails a buffered record whose ctx ends, and
			// ctx is the caller's for this call only (a sink's Write).
			// ctx bounds the waits here; kgo has room (waitRoom).
			p.cl.Produce(context.Background(), kr, p.counted)
			return nil
		}
		p.sm.Lock()
		if !p.spilling.Load() {
			p.sm.Unlock() // drained meanwhile
			continue
		}
		err := p.sp.append(kr, false)
		if err == nil {
			p.sm.Unlock()
			p.spilled.Add(1)
			return nil
		}
		if err != ErrSpillFull {
			p.sm.Unlock()
			p.dropped.Add(1)
			if p.sp.onError != nil {
				p.sp.onError(err)
			}
			return err
		}
		if p.spillDrop {
			p.sm.Unlock()
			p.dropped.Add(1)
			return ErrSpillFull
		}
		ch := p.changed
		p.sm.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.dropped.Add(1)
			return ctx.Err()
		}
	}
}

// waitRoom waits, with kgo holding maxBuf records of Produce, until it
// holds fewer or SpillAfter passed (the broker does not take records:
// start spilling). The wait polls: it only happens when the producer is
// already held back. It fails only when ctx ends.
func (p *Producer) waitRoom(ctx context.Context) error {
	end := time.Now().Add(p.spillAfter)
	for p.inflight.Load() >= p.maxBuf && !p.spilling.Load() {
		if time.Now().After(end) {
			p.startSpilling()
			return nil
		}
		if !sleepCtx(ctx, time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

func (p *Producer) startSpilling() {
	p.sm.Lock()
	if !p.spilling.Load() {
		p.spilling.Store(true)
		p.notifyLocked()
	}
	p.sm.Unlock()
}

// flushSpill waits until kgo has no record of Produce left (acknowledged
// or spilled), then writes the queues' buffers out.
//
// While spilling, records kgo still holds are waiting for a broker that
// does not answer (they reach the retry queue when kgo fails them, or the
// topic if the broker comes back): Flush does not wait for them, it
// writes the spill out and reports ErrSpilling, so that a caller syncing
// before a commit does not stall for SpillAfter at each call.
func (p *Producer) flushSpill(ctx context.Context) error {
	p.sm.Lock()
	for n := p.inflight.Load(); n > 0; n = p.inflight.Load() {
		if p.spilling.Load() {
			err := p.retry.flush()
			if e := p.sp.flush(); err == nil {
				err = e
			}
			p.sm.Unlock()
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: %d records held for the broker", ErrSpilling, n)
		}
		ch := p.changed
		p.sm.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.sm.Lock()
	}
	defer p.sm.Unlock()
	if err := p.retry.flush(); err != nil {
		return err
	}
	return p.sp.flush()
}

// Ready reports ErrSpilling while records go to the spill.
func (p *Producer) Ready() error {
	if !p.spilling.Load() {
		return nil
	}
	p.sm.Lock()
	n := p.sp.bytes() + p.retry.bytes()
	p.sm.Unlock()
	return fmt.Errorf("%w: %d bytes in %s", ErrSpilling, n, filepath.Dir(p.sp.dir))
}

// drain runs until ctx ends: it sends spilled windows while spilling,
// and otherwise watches for a stall: records in kgo and no
// acknowledgement for SpillAfter. kgo cannot time out a batch it sent
// without an answer (idempotence: the broker may have written it), so a
// broker that went away mid-request holds its partitions' records until
// it is back; new records go to the spill meanwhile, and kgo's
// per-partition order puts drained ones behind the held ones.
func (p *Producer) drain(ctx context.Context) {
	defer close(p.drainDone)
	backoff := 50 * time.Millisecond
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastAcks int64
	var stalled time.Time
	wait := func(ch chan struct{}) bool {
		select {
		case <-ch:
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
		return true
	}
	for {
		p.sm.Lock()
		if !p.spilling.Load() {
			ch := p.changed
			p.sm.Unlock()
			if !wait(ch) {
				return
			}
			acks := p.produced.Load()
			switch {
			case p.inflight.Load() == 0 || acks != lastAcks:
				lastAcks, stalled = acks, time.Time{}
			case stalled.IsZero():
				stalled = time.Now()
			case time.Since(stalled) >= p.spillAfter:
				p.startSpilling()
				stalled = time.Time{}
			}
			continue
		}
		q := p.retry
		if q.empty() {
			q = p.sp
		}
		if q.empty() {
			if p.inflight.Load() == 0 {
				// Nothing spilled, nothing held: direct again.
				p.spilling.Store(false)
				p.notifyLocked()
				p.sm.Unlock()
				continue
			}
			ch := p.changed
			p.sm.Unlock()
			if !wait(ch) {
				return
			}
			continue
		}
		recs, next, err := q.read(drainRecs, drainBytes)
		p.sm.Unlock()
		if err != nil {
			// An I/O error reading the spill: report, wait, try again.
			if q.onError != nil {
				q.onError(err)
			}
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		ok, poison := p.sendWindow(ctx, recs)
		if ctx.Err() != nil {
			return
		}
		if ok+poison < len(recs) {
			p.resent.Add(int64(ok))
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if poison > 0 {
			p.failed.Add(int64(poison))
			p.setErr(fmt.Errorf("kafka: %d spilled records refused by the broker for good (too large, invalid): dropped", poison))
		}
		p.sm.Lock()
		err = q.commit(next)
		p.drained.Add(int64(ok))
		p.produced.Add(int64(ok))
		p.notifyLocked() // room in the main queue
		p.sm.Unlock()
		if err != nil && q.onError != nil {
			q.onError(err)
		}
	}
}

// sendWindow produces recs and waits for their acknowledgements, or for
// ctx (Close: records kgo cannot fail, held behind a request the broker
// never answered, would keep it forever; they stay in the spill, as the
// window is not committed). It returns how many were acknowledged and
// how many failed for good (poison: sending again cannot help).
func (p *Producer) sendWindow(ctx context.Context, recs []*kgo.Record) (ok, poison int) {
	if len(recs) == 0 {
		return 0, 0
	}
	var acked, bad, left atomic.Int64
	left.Store(int64(len(recs)))
	done := make(chan struct{})
	promise := func(_ *kgo.Record, err error) {
		if err == nil {
			acked.Add(1)
		} else if isPoison(err) {
			bad.Add(1)
		}
		if left.Add(-1) == 0 {
			close(done)
		}
	}
	now := time.Now()
	for _, kr := range recs {
		// kgo times a record out from its Timestamp: a spilled record's
		// would have expired. The Kafka timestamp of a drained message
		// is thus the drain time; the flow's own times are in the value
		// (and a raw message's receive time in fg-received).
		kr.Timestamp = now
		p.cl.Produce(ctx, kr, promise)
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	return int(acked.Load()), int(bad.Load())
}

// isPoison: the broker (or kgo) refuses the record itself, so sending it
// again fails again. Such a record is not spilled, and one in a drain
// window is dropped (Failed) instead of holding the spill's head forever.
// Authorization and unknown-topic errors are not poison: an operator can
// fix them, and the records wait in the spill.
func isPoison(err error) bool {
	for _, e := range []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
		kerr.CorruptMessage, kerr.InvalidTimestamp, kerr.PolicyViolation, kerr.UnsupportedForMessageFormat} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
