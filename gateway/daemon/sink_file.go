package daemon

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/csv"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/mappings"
	"github.com/prometheus/client_golang/prometheus"
)

// fileSink is what the file sinks share: the rotator, the lock that
// serialises the period timer with the daemon's calls, and the timer
// that finishes a file whose period ended while no record came.
type fileSink struct {
	mu       sync.Mutex
	name     string
	pipeline string
	rot      *rotator
	clock    func() time.Time
	// timers: finish a file at the end of its period even if no record
	// comes (off with a test's clock).
	timers bool
	timer  *time.Timer
	// finishCodec ends the codec of the current file (trailer, flush into
	// the rotator) before the rotator finishes the file; it drops the
	// codec so that the next record starts a new one.
	finishCodec func() error
	// pendIdx are the indices, in the batch being written, of its records
	// not yet written out to the file: if a write out fails they go to
	// the LostFunc (earlier batches' are counted in rot.dropped).
	pendIdx []int
	// rotErr is a failure of finishing a file at a Write's start, for
	// the Write to return.
	rotErr error
}

func (s *fileSink) String() string { return s.name }

// rotate finishes the current file if it is due: the codec first, then
// the file.
func (s *fileSink) rotate(now time.Time) error {
	if !s.rot.due(now) {
		return nil
	}
	return s.finish()
}

func (s *fileSink) finish() error {
	err := s.finishCodec()
	return firstErr(err, s.rot.finish())
}

// armTimer starts the timer that finishes the current file at the end of
// its period if no record comes to do it.
func (s *fileSink) armTimer(now time.Time) {
	d := s.rot.timerDelay(now)
	if d <= 0 || !s.timers {
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

func (s *fileSink) onTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rot.due(s.clock()) {
		// An error shows as the next Write's or Flush's.
		s.rotErr = firstErr(s.rotErr, s.finish())
	}
}

// noted records that record i of the batch was committed: written out
// with the write that took it (seq moved), or pending.
func (s *fileSink) noted(i int, seq uint64) {
	if s.rot.seq != seq {
		s.pendIdx = s.pendIdx[:0]
		return
	}
	s.pendIdx = append(s.pendIdx, i)
}

// failed hands the batch's records lost by a failed write to lost: its
// pending ones and recs[i:] (i: the first not committed), and counts the
// other pending ones (earlier batches') as dropped.
func (s *fileSink) failed(recs []flow.Record, i int, lost LostFunc) {
	for _, j := range s.pendIdx {
		lost(&recs[j], ReasonSinkError)
	}
	if k := int64(len(s.pendIdx)); s.rot.failed != nil && s.rot.lastLost >= k {
		s.rot.dropped -= k
		s.rot.lastLost -= k
		s.rot.failed.Dropped -= k
	}
	s.pendIdx = s.pendIdx[:0]
	loseAll(recs[i:], lost, ReasonSinkError)
}

// begin starts a Write: it finishes a file that is due.
func (s *fileSink) begin(now time.Time) {
	s.pendIdx = s.pendIdx[:0]
	if err := s.rotate(now); err != nil {
		s.rotErr = firstErr(s.rotErr, err)
	}
}

// end ends a Write: its error, else a rotation's.
// written notes record i of recs written in the file of sequence seq and
// finishes the file once it reaches its size: a failed finish loses the
// records it held and the rest of the batch, and is returned.
func (s *fileSink) written(recs []flow.Record, i int, seq uint64, lost LostFunc) error {
	s.noted(i, seq)
	if s.rot.size > 0 && s.rot.n >= s.rot.size {
		if err := s.finish(); err != nil {
			s.failed(recs, i+1, lost)
			return err
		}
		s.pendIdx = s.pendIdx[:0]
	}
	return nil
}

func (s *fileSink) end(err error) error {
	if err == nil {
		err, s.rotErr = s.rotErr, nil
	}
	return err
}

func (s *fileSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	err := s.finish()
	return s.end(err)
}

// Collectors: the records lost with a buffer whose write failed after
// the Write that took them had returned (they cannot go to the LostFunc
// one by one any more). The sink's labels are constant labels of its own
// descriptor: a registry takes one collector per descriptor.
func (s *fileSink) Collectors() []prometheus.Collector {
	return []prometheus.Collector{newComponentCollector(prometheus.Labels{"pipeline": s.pipeline, "sink": s.name}, []metricDef{
		{"flowgate_sink_buffer_dropped_records_total",
			"Records a file sink had buffered when a write failed (disk full, I/O error), lost with the buffer after the Write that took them.", false},
	}, func() []float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return []float64{float64(s.rot.dropped)}
	})}
}

func loseAll(recs []flow.Record, lost LostFunc, why Reason) {
	for i := range recs {
		lost(&recs[i], why)
	}
}

// newFileBase opens what every file sink has; clock nil is the real one.
func newFileBase(s config.Sink, env Env, clock func() time.Time) (*fileSink, error) {
	fs := &fileSink{name: s.Text, pipeline: env.Pipeline, clock: clock, timers: clock == nil}
	if clock == nil {
		fs.clock = time.Now
	}
	fs.rot = newRotator(s.Net.Path, s.Rotate.Every, s.Rotate.Size, fs.clock, env.Log)
	if s.Net.IsStdio() {
		fs.rot.stdout = env.Stdout
		if fs.rot.stdout == nil {
			return nil, fmt.Errorf("%s: no standard output", s.Text)
		}
	}
	if err := fs.rot.prepare(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	return fs, nil
}

// argusFileSink writes Argus 5.x (argus:) or 3.x (argus3:) files, each
// starting with the initial MAR the Argus writer makes from its first
// record, as `flowgate convert` writes a file.
type argusFileSink struct {
	*fileSink
	ver int
	w   *argus.Writer
	// exact: with rotate.size the writer is flushed into the rotator after
	// each record once the file is within exactSlack of the size, so that
	// the record that crosses it is the file's last. Before that, what
	// the writer holds (64 KiB at most, and a record) cannot make the
	// file reach the size.
	exact bool
	fresh bool // the file has no record yet
}

func newArgusFileSink(s config.Sink, env Env) (Sink, error) { return newArgusFile(s, env, nil) }

func newArgusFile(s config.Sink, env Env, clock func() time.Time) (*argusFileSink, error) {
	ver := 5
	if s.Net.Format == gateway.FormatArgus3 {
		ver = 3
	}
	base, err := newFileBase(s, env, clock)
	if err != nil {
		return nil, err
	}
	a := &argusFileSink{fileSink: base, ver: ver, exact: s.Rotate.Size > 0}
	a.finishCodec = a.endWriter
	return a, nil
}

func (s *argusFileSink) endWriter() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	return err
}

// Write encodes each record; one the writer refuses (a value Argus 3.x
// cannot hold) is lost as not representable and the rest are written.
func (s *argusFileSink) Write(recs []flow.Record, lost LostFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	s.begin(now)
	for i := range recs {
		r := &recs[i]
		if s.w == nil {
			if err := s.start(now); err != nil {
				loseAll(recs[i:], lost, ReasonSinkError)
				return s.end(err)
			}
		}
		seq := s.rot.seq
		var err error
		if s.fresh {
			s.fresh = false
			if r.Type == flow.TypeMgmt && r.Cause != flow.CauseStart {
				// A file must start with a start MAR: ra 3.0.8.2 reads
				// nothing of a file that starts with a status or closing
				// MAR (one of a stream's, after a rotation).
				m := startMar(r)
				err = s.w.Encode(&m)
			}
		}
		if err == nil {
			err = s.w.Encode(r)
		}
		if err == nil && s.exact && s.rot.n+exactSlack >= s.rot.size {
			err = s.w.Flush()
		}
		if err == nil && s.rot.seq == seq {
			err = s.rot.record()
		} else if err == nil {
			s.rot.recordWritten()
		}
		if err != nil {
			if errors.Is(err, codecs.ErrNotRepresentable) {
				lost(r, ReasonNotRepresentable)
				continue
			}
			// The file failed, and the records its buffer held with it;
			// the rest of the batch is lost too and the next Write starts
			// a new file.
			s.failed(recs, i, lost)
			s.w = nil
			return s.end(firstErr(err, s.rot.finish()))
		}
		if err := s.written(recs, i, seq, lost); err != nil {
			return s.end(err)
		}
	}
	return s.end(nil)
}

func (s *argusFileSink) start(now time.Time) error {
	if err := s.rot.open(now); err != nil {
		return err
	}
	w, err := argus.NewWriter(s.rot, s.ver)
	if err != nil {
		return err
	}
	s.w, s.fresh = w, true
	s.armTimer(now)
	return nil
}

// exactSlack is how close to rotate.size the Argus sink starts counting
// bytes record by record: the writer's buffer and a large record.
const exactSlack = 128 << 10

// startMar is the start MAR of a file whose first record is the status
// or closing MAR m: m's source, sequence and times, with no layout, so
// that the writer encodes it, with its version's cookie, as it encodes
// the MAR it makes for a file that starts with a flow.
func startMar(m *flow.Record) flow.Record {
	var r flow.Record
	r.Type, r.Cause, r.Has = flow.TypeMgmt, flow.CauseStart, flow.HasMgmt
	g := &m.Mgmt
	r.Mgmt = flow.Mgmt{Status: g.Status, NextSeq: g.NextSeq, StartTime: g.StartTime, Now: g.Now,
		ReportInterval: g.ReportInterval, MarInterval: g.MarInterval, LocalNet: g.LocalNet, NetMask: g.NetMask,
		ID: g.ID, RecordLen: -1}
	return r
}

func (s *argusFileSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			s.w = nil
			return s.end(firstErr(err, s.rot.finish()))
		}
	}
	if err := s.rotate(s.clock()); err != nil {
		return s.end(err)
	}
	return s.end(s.rot.flush())
}

func (s *argusFileSink) Close() error { return s.close() }

// textCodec is a JSON-lines, CSV or Zeek writer.
type textCodec interface {
	Encode(*flow.Record) error
	Flush() error
	Close() error
}

// textFileSink writes JSON lines (json:), CSV (csv:) or a Zeek conn.log
// (zeek:, zeekjson:) to a file or stdout. Each record's line is made
// apart and only then written, so that a record the format cannot hold
// (the codecs write such a line without the value) is left out whole and
// counted, not written in part.
type textFileSink struct {
	*fileSink
	newCodec func(w io.Writer) (textCodec, error)
	c        textCodec
	line     lineBuf
	zeek     bool
	// csvIPOnly: flows without IP addresses are not representable;
	// csvOneWay: nor are biflows (the dialect has no reverse counters).
	csvIPOnly, csvOneWay bool
}

// refused reports a record the sink's format has no place for, which the
// codec would not say.
func (s *textFileSink) refused(r *flow.Record) bool {
	switch {
	case r.Type == flow.TypeMgmt:
		return true // Argus MARs: no line in these formats
	case s.zeek:
		return zeek.NotIP(r)
	case s.csvIPOnly && r.Has&flow.HasKey != 0 && r.Key.AddrType != flow.AddrIPv4 && r.Key.AddrType != flow.AddrIPv6:
		return true
	case s.csvOneWay && (r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0):
		return true
	}
	return false
}

// lineBuf is the buffer a codec writes one record's line into.
type lineBuf struct{ b []byte }

func (l *lineBuf) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	return len(p), nil
}

func newTextFileSink(s config.Sink, env Env) (Sink, error) { return newTextFile(s, env, nil) }

func newTextFile(s config.Sink, env Env, clock func() time.Time) (*textFileSink, error) {
	base, err := newFileBase(s, env, clock)
	if err != nil {
		return nil, err
	}
	t := &textFileSink{fileSink: base}
	t.finishCodec = t.endCodec
	switch s.Net.Format {
	case gateway.FormatJSON, gateway.FormatCSV:
		isCSV := s.Net.Format == gateway.FormatCSV
		d, user := textDialect(s, env.Mapping, isCSV)
		if isCSV {
			var opts []csv.Option
			if user != "" {
				opts = append(opts, csv.WithMapping(user))
			}
			// The CSV writer leaves out what has no column without a
			// word: a flow without IP addresses, a one-way dialect's
			// reverse counters. Those records are refused here, as
			// convert refuses them.
			f, err := csv.Mapping(d, user)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.Text, err)
			}
			t.csvIPOnly = true
			for _, x := range mappings.Check(f).Findings {
				if x.Kind == mappings.NotCarried && (x.Canonical == "dst_pkts" || x.Canonical == "dst_bytes") {
					t.csvOneWay = true
				}
			}
			t.newCodec = func(w io.Writer) (textCodec, error) { return csv.NewWriter(w, d, opts...) }
		} else {
			var opts []jsonl.Option
			if user != "" {
				opts = append(opts, jsonl.WithMapping(user))
			}
			t.newCodec = func(w io.Writer) (textCodec, error) { return jsonl.NewWriter(w, d, opts...) }
		}
		// Compile the mapping now: its errors come before the daemon is ready.
		if _, err := t.newCodec(io.Discard); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Text, err)
		}
	case gateway.FormatZeek, gateway.FormatZeekJSON:
		t.zeek = true
		var opts []zeek.Option
		if s.Net.Format == gateway.FormatZeekJSON {
			opts = append(opts, zeek.WithFormat(zeek.FormatJSON))
		}
		if m := env.Mapping; m != nil && m.Schema == "zeek" {
			zm, err := zeek.NewMapping(m)
			if err != nil {
				return nil, fmt.Errorf("%s: mapping: %w", s.Text, err)
			}
			opts = append(opts, zeek.WithMapping(zm))
		}
		t.newCodec = func(w io.Writer) (textCodec, error) {
			zw := zeek.NewWriter(w, opts...)
			zw.Now = t.clock
			// Every file of a rotated log has the same columns, whatever
			// its first record carries.
			zw.CommunityIDColumn()
			return zw, nil
		}
	default:
		return nil, fmt.Errorf("%w: %s as a file sink", ErrNotImplemented, s.Text)
	}
	return t, nil
}

// textDialect is a json: or csv: sink's dialect and the user mapping
// file to lay over it: the sink's dialect:, else the pipeline mapping's
// when its schema is the sink's (json, csv), else argus. A user file (not
// a built-in) of the sink's schema is applied as convert's --mapping.
func textDialect(s config.Sink, m *mappings.File, isCSV bool) (dialect, user string) {
	schema := "json"
	if isCSV {
		schema = "csv"
	}
	dialect = s.Dialect
	if m != nil && (m.Schema == "json" || m.Schema == "csv") {
		if dialect == "" && slices.Contains(jsonl.Dialects, m.Dialect) {
			dialect = m.Dialect
		}
		if m.Schema == schema && !strings.HasPrefix(m.Name, "builtin/") {
			user = m.Name
		}
	}
	if dialect == "" {
		dialect = "argus"
	}
	return dialect, user
}

func (s *textFileSink) endCodec() error {
	if s.c == nil {
		return nil
	}
	s.line.b = s.line.b[:0]
	err := s.c.Close()
	s.c = nil
	if len(s.line.b) > 0 && s.rot.isOpen() {
		// A trailer (zeek's #close) is not a record.
		if _, werr := s.rot.Write(s.line.b); err == nil {
			err = werr
		}
	}
	return err
}

func (s *textFileSink) start(now time.Time) error {
	if s.rot.stdout == nil {
		if err := s.rot.open(now); err != nil {
			return err
		}
	}
	s.line.b = s.line.b[:0]
	c, err := s.newCodec(&s.line)
	if err != nil {
		return err
	}
	// CSV's header is made at once: written as the file's first bytes,
	// apart from any record.
	if err := c.Flush(); err != nil {
		return err
	}
	if len(s.line.b) > 0 {
		if _, err := s.rot.Write(s.line.b); err != nil {
			return err
		}
	}
	s.c = c
	s.armTimer(now)
	return nil
}

// Write encodes each record on its own line. Management records (Argus
// MARs), flows that are not IP in a conn.log or CSV, and biflows in a
// one-way CSV dialect have no place in these formats and are lost as not
// representable, as is a record with a value the dialect cannot hold
// (the JSON-lines codec reports those, biflows of a one-way dialect
// included).
func (s *textFileSink) Write(recs []flow.Record, lost LostFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	s.begin(now)
	for i := range recs {
		r := &recs[i]
		if s.refused(r) {
			lost(r, ReasonNotRepresentable)
			continue
		}
		if s.c == nil {
			if err := s.start(now); err != nil {
				s.failed(recs, i, lost)
				if s.rot.stdout == nil {
					s.rot.finish()
				}
				return s.end(err)
			}
		}
		s.line.b = s.line.b[:0]
		err := s.c.Encode(r)
		if ferr := s.c.Flush(); err == nil {
			err = ferr
		}
		if err != nil && errors.Is(err, codecs.ErrNotRepresentable) {
			lost(r, ReasonNotRepresentable)
			continue
		}
		seq := s.rot.seq
		if err == nil {
			_, err = s.rot.Write(s.line.b)
		}
		if err == nil {
			err = s.rot.record()
		}
		if err != nil {
			s.failed(recs, i, lost)
			s.c = nil
			return s.end(firstErr(err, s.rot.finish()))
		}
		if err := s.written(recs, i, seq, lost); err != nil {
			return s.end(err)
		}
	}
	return s.end(nil)
}

func (s *textFileSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.rotate(s.clock()); err != nil {
		return s.end(err)
	}
	return s.end(s.rot.flush())
}

func (s *textFileSink) Close() error { return s.close() }
