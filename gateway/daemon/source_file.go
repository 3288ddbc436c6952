package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/csv"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
)

// fileSource is a file read once (KindFile naming a file) or a watched
// directory (KindFile naming a directory): every file in it or in its
// subdirectories (nfcapd -S and argus archives file by date), present at
// start or appearing later, is read once, in the order of their paths.
// Files and directories whose names start with '.', nfcapd's file being
// written (nfcapd.current.*) and *.tmp, *.part, *~ are left alone.
//
// A directory's finished files are listed, one name a line, in the
// directory's own ".flowgate-done" file, appended once the pipeline's
// sinks have the file's records (Emitter.Sync), so that a restart reads
// neither a file twice nor skips one half read. The files themselves are
// left where they are: nfcapd and argus archive directories are read by
// other tools too (nfdump -R, ra -R, nfexpire), which a move to done/
// would break. Names that are gone from the directory are dropped from
// the list at start.
type fileSource struct {
	dialect string // csv: files
	text    string
	ep      gateway.Endpoint
	env     Env
	dir     bool

	// zeek: a user mapping of schema zeek.
	zmap *zeek.Mapping
	// NetFlow/IPFIX decoders, one set for the source: the files of a
	// directory are an exporter's captures or datagrams one after the
	// other (rotated), whose templates carry from file to file.
	codec *gateway.CodecSet
	dec   gateway.Decoders

	records atomic.Uint64
	loss    lossTable
	pcap    pcapStats
	done    atomic.Uint64 // files read (directory)
}

// doneList is the name of a watched directory's list of finished files.
const doneList = ".flowgate-done"

// fileBatchLen is the records a file source hands over at a time.
const fileBatchLen = 256

func newFileSource(s config.Source, env Env) (Source, error) {
	ep := s.Net
	if ep.IsStdio() {
		return nil, fmt.Errorf("%s: stdin is not a daemon source", s.Text)
	}
	fi, err := os.Stat(ep.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	src := &fileSource{text: s.Text, ep: ep, env: env, dir: fi.IsDir(), dialect: s.Dialect}
	if src.dialect == "" {
		src.dialect = "argus"
		if m := env.Mapping; m != nil && m.Schema == "csv" && m.Dialect != "" {
			src.dialect = m.Dialect
		}
	}
	if !src.dir && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file or a directory", s.Text)
	}
	var cc gateway.CodecConfig
	if m := env.Mapping; m != nil {
		switch m.Schema {
		case "ipfix", "netflow9":
			if err := cc.SetMapping(m); err != nil {
				return nil, fmt.Errorf("%s: mapping: %w", s.Text, err)
			}
		case "zeek":
			if src.zmap, err = zeek.NewMapping(m); err != nil {
				return nil, fmt.Errorf("%s: mapping: %w", s.Text, err)
			}
		}
	}
	src.codec = gateway.NewCodecSetConfig(cc)
	src.dec = src.codec.New()
	if src.dir {
		// The list must be writable, or a restart reads everything again.
		f, err := os.OpenFile(filepath.Join(ep.Path, doneList), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: the list of files read: %w", s.Text, err)
		}
		f.Close()
	}
	return src, nil
}

// syncRetry is how long a directory source waits before it reads again
// a file whose records a sink failed to take.
var syncRetry = 5 * time.Second

func (s *fileSource) warn(msg string, args ...any) {
	if s.env.Log != nil {
		s.env.Log.Warn(msg, append([]any{"source", s.text}, args...)...)
	}
}

func (s *fileSource) Run(ctx context.Context, emit Emitter) error {
	var err error
	if s.dir {
		err = s.watch(ctx, emit)
	} else {
		err = s.readFile(ctx, s.ep.Path, s.ep.Format, emit)
	}
	if ctx.Err() != nil || errors.Is(err, ErrStopping) {
		return nil
	}
	return err
}

func (s *fileSource) Stats() SourceStats {
	st := SourceStats{Records: s.records.Load(), Lost: s.loss.rows()}
	st.Lost = append(st.Lost, s.pcap.lost()...)
	return st
}

func (s *fileSource) Close() error { return nil }

func (s *fileSource) String() string { return s.text }

func (s *fileSource) Listening() []string {
	if s.dir {
		return []string{"watching directory " + s.ep.Path}
	}
	return nil
}

// lossTable holds a file source's loss rows: one per reason and file,
// whose Detail is the first problem's words with its place ("conn.log:
// byte 1234: ..."). Past maxLossRows, further files share one row.
type lossTable struct {
	mu   sync.Mutex
	list []Loss
	idx  map[fileLossKey]int
}

type fileLossKey struct {
	reason      Reason
	where, unit string
}

const maxLossRows = 256

func (t *lossTable) add(reason Reason, where, unit, detail string, n uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idx == nil {
		t.idx = map[fileLossKey]int{}
	}
	k := fileLossKey{reason, where, unit}
	i, ok := t.idx[k]
	if !ok && len(t.list) >= maxLossRows {
		k.where = "(more files)"
		i, ok = t.idx[k]
		detail = "further files: " + detail
	}
	if !ok {
		i = len(t.list)
		t.idx[k] = i
		t.list = append(t.list, Loss{Reason: reason, Unit: unit, Detail: detail})
	}
	t.list[i].N += n
}

func (t *lossTable) rows() []Loss {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.list)
}

// malformed counts n records (or messages) of file lost to err.
func (s *fileSource) malformed(file, unit string, err error, n uint64) {
	s.loss.add(ReasonMalformed, file, unit, err.Error(), n)
}

// PlaceError is a problem of a file as a whole (unreadable, of no known
// format), with its place.
type PlaceError struct {
	File   string
	Offset int64
	Err    error
}

func (e *PlaceError) Error() string {
	return fmt.Sprintf("%s: byte %d: %v", e.File, e.Offset, e.Err)
}

func (e *PlaceError) Unwrap() error { return e.Err }

// detectFormat tells a file's format from its first bytes: capture magics
// (read through the sensor: a NetFlow capture must say nf:), Argus
// streams (also compressed), raw NetFlow v5/v9/IPFIX messages, Zeek logs
// ('#' header or '{' JSON line), and otherwise text: CSV.
func detectFormat(head []byte) (gateway.Format, bool) {
	if len(head) >= 4 {
		switch binary.LittleEndian.Uint32(head) {
		case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a:
			return gateway.FormatPcap, true
		}
	}
	if isCompressed(head) || len(head) >= 2 && head[0] == 0x1f && head[1] == 0x9d {
		return gateway.FormatAuto, true // the argus reader decompresses (or refuses compress(1))
	}
	if len(head) >= 12 && head[0]&0x80 != 0 {
		switch binary.BigEndian.Uint32(head[8:]) {
		case 0xE5712DCB, 0xE57150CB, 0xE5617ACB: // v3, v5, v2 cookies (v2 is refused by the reader, and counted)
			return gateway.FormatAuto, true
		}
	}
	if len(head) >= 4 && head[0] == 0 {
		switch head[1] {
		case 5:
			return gateway.FormatNF5, true
		case 9:
			return gateway.FormatNF9, true
		case 10:
			return gateway.FormatIPFIX, true
		}
	}
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) > 0 && (t[0] == '#' || t[0] == '{') {
		return gateway.FormatZeek, true
	}
	for _, c := range t {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return "", false
		}
	}
	return gateway.FormatCSV, len(t) > 0
}

// isCompressed: gzip, bzip2, xz and zstd, which argus.Sniff decompresses.
func isCompressed(head []byte) bool {
	return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b ||
		bytes.HasPrefix(head, []byte("BZh")) ||
		bytes.HasPrefix(head, []byte("\xFD7zXZ\x00")) ||
		bytes.HasPrefix(head, []byte("\x28\xB5\x2F\xFD"))
}

// readFile reads one file once. Problems of the file (unreadable, corrupt
// records) are counted, never returned: the error is ctx's or Emit's.
func (s *fileSource) readFile(ctx context.Context, path string, format gateway.Format, emit Emitter) error {
	name := path
	f, err := os.Open(path)
	if err != nil {
		s.malformed(name, "records", err, 1)
		return nil
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	if n == 0 {
		return nil // empty: nothing to read
	}
	head = head[:n]
	// A compressed file (Zeek's archived logs are gzipped, argus's
	// often are): its text formats are read from the decompressed
	// stream (the argus reader decompresses by itself).
	var in io.Reader = f
	compressed := isCompressed(head)
	if compressed {
		dr, err := argus.Sniff(f)
		if err != nil {
			s.malformed(name, "records", &PlaceError{File: name, Err: err}, 1)
			return nil
		}
		in = dr
		if br, ok := dr.(*bufio.Reader); ok {
			head, _ = br.Peek(512)
		}
	}
	if format == gateway.FormatAuto {
		var ok bool
		if format, ok = detectFormat(head); !ok {
			s.malformed(name, "records", &PlaceError{File: name, Err: fmt.Errorf("no known format: %w", codecs.ErrUnknownFormat)}, 1)
			return nil
		}
	}
	if compressed && (format.IsNetFlow() || format == gateway.FormatPcap) {
		s.malformed(name, "records", &PlaceError{File: name, Err: fmt.Errorf("a compressed %s capture: %w", format, codecs.ErrUnsupported)}, 1)
		return nil
	}
	switch {
	case format == gateway.FormatAuto || format == gateway.FormatArgus || format == gateway.FormatArgus3:
		if compressed {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				s.malformed(name, "records", err, 1)
				return nil
			}
		}
		return s.readArgus(ctx, f, name, format, emit)
	case format == gateway.FormatZeek:
		fd := newLineFeed(f, name, nil)
		fd.in = in
		zr := &zeekRun{feed: fd, zmap: s.zmap, emit: emit, records: &s.records, lost: s.malformed}
		return zr.run(ctx)
	case format == gateway.FormatCSV:
		return s.readCSV(ctx, in, name, emit)
	case format.IsNetFlow():
		f.Close()
		return s.readNetFlow(ctx, path, format, emit)
	case format == gateway.FormatPcap:
		f.Close()
		st, n, rerr, eerr := readPcap(ctx, path, emit)
		s.records.Add(n)
		s.pcap.add(st)
		if rerr != nil {
			s.malformed(name, "records", rerr, 1)
		}
		return eerr
	}
	s.malformed(name, "records", fmt.Errorf("%s: cannot read format %q", name, format), 1)
	return nil
}

// recBatch gathers decoded records for Emit, each record's bytes copied
// into an arena reused from batch to batch (the decoder's buffer moves
// on between records).
type recBatch struct {
	recs    []flow.Record
	n       int
	arena   []byte
	emit    Emitter
	records *atomic.Uint64
}

func newRecBatch(emit Emitter, records *atomic.Uint64) *recBatch {
	return &recBatch{recs: make([]flow.Record, fileBatchLen), emit: emit, records: records}
}

// next is the slot the next record is decoded into.
func (b *recBatch) next() *flow.Record { return &b.recs[b.n] }

// keep keeps the record decoded into next, emitting a full batch.
func (b *recBatch) keep(ctx context.Context) error {
	b.arena = b.recs[b.n].DetachInto(b.arena)
	b.n++
	if b.n == len(b.recs) {
		return b.flush(ctx)
	}
	return nil
}

// flush emits the batch. It is also where a reading loop learns that ctx
// is done (once a batch, not once a record).
func (b *recBatch) flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.n == 0 {
		return nil
	}
	err := b.emit.Emit(ctx, b.recs[:b.n])
	if err == nil {
		b.records.Add(uint64(b.n))
	}
	b.n, b.arena = 0, b.arena[:0]
	return err
}

// readArgus reads an Argus 3 or 5 stream. A corrupt region is counted
// (with its byte offset) and skipped: the reader resumes at the next
// plausible record.
func (s *fileSource) readArgus(ctx context.Context, f *os.File, name string, format gateway.Format, emit Emitter) error {
	rd, err := argus.NewReader(f, argus.WithFileName(name))
	if err != nil {
		s.malformed(name, "records", err, 1)
		return nil
	}
	if format == gateway.FormatArgus3 && rd.Version() != 3 || format == gateway.FormatArgus && rd.Version() != 5 {
		s.malformed(name, "records", &PlaceError{File: name, Err: fmt.Errorf("stream is Argus %d.x, not %s: %w", rd.Version(), format, codecs.ErrUnknownFormat)}, 1)
		return nil
	}
	b := newRecBatch(emit, &s.records)
	for {
		err := rd.Decode(b.next())
		if err == nil {
			if err := b.keep(ctx); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF {
			break
		}
		var de *codecs.DecodeError
		if !errors.As(err, &de) {
			s.malformed(name, "records", err, 1) // an I/O error
			break
		}
		s.malformed(name, "records", err, 1)
		if rd.Resync() != nil {
			break
		}
	}
	return b.flush(ctx)
}

// readCSV reads CSV in the source's dialect (argus: ra -c ,). A record that does
// not parse is counted and skipped; one with a value the mapping cannot
// convert is kept without it, unless that value is part of the flow key.
func (s *fileSource) readCSV(ctx context.Context, in io.Reader, name string, emit Emitter) error {
	rd, err := csv.NewReader(bufio.NewReaderSize(in, 64<<10), s.dialect, csv.WithFileName(name))
	if err != nil {
		s.malformed(name, "records", err, 1)
		return nil
	}
	b := newRecBatch(emit, &s.records)
	var prev error
	for {
		err := rd.Decode(b.next())
		if err == nil {
			if err := b.keep(ctx); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF || err == prev {
			break // a sticky error: nothing more to read
		}
		prev = err
		var pe *csv.ParseError
		if errors.As(err, &pe) && pe.Partial && pe.Canonical != "src_addr" && pe.Canonical != "dst_addr" && pe.Canonical != "protocol" {
			if err := b.keep(ctx); err != nil {
				return err
			}
			continue
		}
		s.malformed(name, "records", err, 1)
		if !errors.As(err, &pe) || errors.Is(err, csv.ErrNoHeader) {
			break
		}
	}
	return b.flush(ctx)
}

// readNetFlow decodes a NetFlow/IPFIX capture (nf:) or raw message file
// (nf5:, nf9:, ipfix:) with the source's template state.
func (s *fileSource) readNetFlow(ctx context.Context, path string, format gateway.Format, emit Emitter) error {
	fs, err := gateway.OpenFile(path, format, s.dec)
	if err != nil {
		s.malformed(path, "messages", err, 1)
		return nil
	}
	err = fs.Serve(ctx, func(recs []flow.Record) error {
		if err := emit.Emit(ctx, recs); err != nil {
			return err
		}
		s.records.Add(uint64(len(recs)))
		return nil
	})
	st := fs.Stats()
	for _, row := range st.ErrorRows {
		r := ReasonMalformed
		if strings.HasPrefix(row.Reason, "template") {
			r = ReasonNoTemplate
		}
		s.loss.add(r, path, "messages", path+": "+row.Reason, row.N)
	}
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrStopping) {
		var de *codecs.DecodeError
		if errors.As(err, &de) || !isEmitErr(err) {
			s.malformed(path, "messages", err, 1)
			return nil
		}
	}
	if errors.Is(err, ErrStopping) {
		return err
	}
	return nil
}

// isEmitErr: the errors Emit returns.
func isEmitErr(err error) bool {
	return errors.Is(err, ErrStopping) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// skipName: files of a watched directory that are not (yet) data: dot
// files (our list, editors' and rsync's temporaries), nfcapd's file being
// written (nfcapd.current.PID, renamed when complete), partial downloads.
func skipName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.Contains(name, ".current.") ||
		strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part") || strings.HasSuffix(name, "~")
}

// watch reads the directory's files in name order, then every file that
// appears, complete: written and closed (IN_CLOSE_WRITE) or moved in
// (IN_MOVED_TO). Without inotify it polls, taking a new file once its
// size and time stay the same over two looks.
func (s *fileSource) watch(ctx context.Context, emit Emitter) error {
	dir := s.ep.Path
	done, err := loadDone(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", s.text, err)
	}
	w := newDirWatcher(dir)
	defer w.close()
	pending := map[string]bool{}
	take := func(name string) {
		if !done[name] && !skipName(path.Base(name)) {
			pending[name] = true
		}
	}
	scan := func(stable bool) {
		for _, name := range w.scan(stable) {
			take(name)
		}
	}
	scan(false) // present at start: complete
	for ctx.Err() == nil {
		if len(pending) == 0 {
			names, err := w.wait(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%s: %w", s.text, err)
			}
			if names == nil {
				scan(true) // polling, or the event queue overflowed
			}
			for _, n := range names {
				take(n)
			}
			continue
		}
		next := ""
		for n := range pending {
			if next == "" || n < next {
				next = n
			}
		}
		delete(pending, next)
		file := filepath.Join(dir, filepath.FromSlash(next))
		if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := s.readFile(ctx, file, s.ep.Format, emit); err != nil {
			return err
		}
		// The sinks have the file's records before it is listed done.
		if err := emit.Sync(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrStopping) {
				return nil
			}
			// A sink lost some of them: the file is read again later
			// (at-least-once), not listed done.
			s.warn("a sink did not take a file's records: it is read again", "file", file, "err", err)
			pending[next] = true
			if sleepCtx(ctx, syncRetry) != nil {
				return nil
			}
			continue
		}
		if err := appendDone(dir, next); err != nil {
			return fmt.Errorf("%s: %w", s.text, err)
		}
		done[next] = true
		s.done.Add(1)
	}
	return nil
}

// loadDone reads the directory's list of finished files and rewrites it
// without the names no longer in the directory (expired by nfexpire, say),
// so that it does not grow without end.
func loadDone(dir string) (map[string]bool, error) {
	done := map[string]bool{}
	p := filepath.Join(dir, doneList)
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var keep []byte
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		name := string(line)
		if name == "" || done[name] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			continue
		}
		done[name] = true
		keep = append(append(keep, name...), '\n')
	}
	if !bytes.Equal(keep, b) {
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, keep, 0o644); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, p); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// appendDone lists name as read, on disk before it returns.
func appendDone(dir, name string) error {
	f, err := os.OpenFile(filepath.Join(dir, doneList), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(name + "\n")
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// pollEvery is how often a directory is looked at without inotify (and
// the longest wait for a file whose event was lost).
const pollEvery = time.Second

// polled remembers a file's size and time from the previous look.
type polled struct {
	size int64
	mod  time.Time
}

// scan lists the regular files under the directory, subdirectories
// included (nfcapd -S and argus archives keep a tree by date), as paths
// relative to it with '/'. Names skipName refuses, files and directories
// alike, are left out. With stable, a file is listed only when its size
// and time are those of the previous scan (a writer is done with it).
func (w *dirWatcher) scan(stable bool) []string {
	seen := make(map[string]polled, len(w.last))
	var out []string
	filepath.WalkDir(w.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == w.dir {
			return nil
		}
		if skipName(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.dir, p)
		rel = filepath.ToSlash(rel)
		q := polled{fi.Size(), fi.ModTime()}
		seen[rel] = q
		if prev, ok := w.last[rel]; !stable || ok && prev == q {
			out = append(out, rel)
		}
		return nil
	})
	w.last = seen
	return out
}
