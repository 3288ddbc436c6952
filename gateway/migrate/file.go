package migrate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/klauspost/compress/gzip"
)

// Results of a file, as the manifest names them.
const (
	Migrated  = "migrated"  // converted and verified
	Truncated = "truncated" // converted and verified up to a last, partial record (Entry.Error says where)
	Copied    = "copied"    // already in the target version: copied byte for byte
	Skipped   = "skipped"   // not Argus data (Entry.Error says why)
	Failed    = "failed"    // not migrated (Entry.Error says why); no output
)

// Entry is one manifest line: what became of one input file.
type Entry struct {
	Path      string           `json:"path"`          // input, relative to SRC (slashes)
	Out       string           `json:"out,omitempty"` // output, relative to DST
	Result    string           `json:"result"`
	From      int              `json:"from,omitempty"` // Argus major version in and out
	To        int              `json:"to,omitempty"`
	Compress  string           `json:"compress,omitempty"` // of the output
	Level     int              `json:"level,omitempty"`    // --level of the output's compression (0: its default)
	InSHA256  string           `json:"in_sha256,omitempty"`
	OutSHA256 string           `json:"out_sha256,omitempty"`
	InSize    int64            `json:"in_size"`
	OutSize   int64            `json:"out_size,omitempty"`
	MTime     time.Time        `json:"mtime"`             // of the input, given to the output
	Records   int64            `json:"records,omitempty"` // records out, MARs included
	MARs      int64            `json:"mars,omitempty"`
	First     *time.Time       `json:"first,omitempty"` // earliest flow start
	Last      *time.Time       `json:"last,omitempty"`  // latest flow end
	Lost      map[string]int64 `json:"lost,omitempty"`  // --to 3: values 3.x cannot hold, per ra field name
	Error     string           `json:"error,omitempty"`
	// Pending marks the line written in place before the output's
	// rename: the input may be gone, the output's line not yet written.
	Pending bool `json:"pending,omitempty"`
}

// ok reports an entry whose output stands (a rerun skips it).
func (e *Entry) ok() bool {
	return !e.Pending && (e.Result == Migrated || e.Result == Truncated || e.Result == Copied)
}

// ErrVerify is the error of an output that does not read back as
// written, or whose records differ from the input's.
var ErrVerify = errors.New("migrate: verification failed")

// job is one input file.
type job struct {
	src, dst string // absolute
	rel      string // relative to SRC, slashes
	info     os.FileInfo
}

// scratch is a worker's buffers, kept from file to file: made anew for
// each of many small files, they kept the collector busy.
type scratch struct {
	in, back *bufio.Reader
	out      *bufio.Writer
	gz       *gzip.Writer // at gzLevel
	gzLevel  int
	pending  []flow.Record // the verifier's queue
	arena    []byte
}

const bufSize = 256 << 10

// reader returns *p reading from r, made on first use.
func reader(p **bufio.Reader, r io.Reader) *bufio.Reader {
	if *p == nil {
		*p = bufio.NewReaderSize(r, bufSize)
	} else {
		(*p).Reset(r)
	}
	return *p
}

// compressor is compressor(w, c, level), with the worker's gzip state.
func (s *scratch) compressor(w io.Writer, c string, level int) (io.WriteCloser, error) {
	if c != Gzip || s.gz == nil || s.gzLevel != level {
		zw, err := compressor(w, c, level)
		if g, ok := zw.(*gzip.Writer); ok {
			s.gz, s.gzLevel = g, level
		}
		return zw, err
	}
	s.gz.Reset(w) // a fresh header: no name, no time
	return s.gz, nil
}

// migrateFile migrates one file; the entry says what became of it.
func migrateFile(j job, o *Options, prog *progress, s *scratch) Entry {
	e := Entry{Path: j.rel, InSize: j.info.Size(), MTime: j.info.ModTime().UTC()}
	f, err := os.Open(j.src)
	if err != nil {
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	defer f.Close()
	hin := sha256.New()
	cr := &countReader{r: io.TeeReader(f, hin), prog: prog}
	br := reader(&s.in, cr)
	comp := sniff(br)
	dr, closeDr, err := decompress(br, comp)
	if err != nil {
		e.Result, e.Error = Skipped, fmt.Sprintf("%s: %v", comp, err)
		return e
	}
	defer closeDr()
	rd, err := argus.NewReader(dr, argus.WithFileName(j.src))
	if err != nil {
		e.Result, e.Error = Skipped, err.Error()
		return e
	}
	e.From, e.To = rd.Version(), o.To
	outComp := comp
	if o.Compress != "" {
		outComp = o.Compress
	}
	e.Compress = outComp
	e.Out = rename(j.rel, comp, outComp)
	final := filepath.Join(o.dstRoot, filepath.FromSlash(e.Out))
	if rd.Version() == o.To && outComp == comp {
		return copyFile(j, f, e, final, prog) // as it is: no level of ours
	}
	e.Level = o.Level
	out, tmp, err := createTmp(final, j.info)
	if err != nil {
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	keep := false
	defer func() {
		if !keep {
			out.Close()
			os.Remove(tmp)
		}
	}()
	hout := sha256.New()
	if s.out == nil {
		s.out = bufio.NewWriterSize(io.MultiWriter(out, hout), bufSize)
	} else {
		s.out.Reset(io.MultiWriter(out, hout))
	}
	bw := s.out
	zw, err := s.compressor(bw, outComp, o.Level)
	if err != nil {
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	vw := &verifier{dst: zw, raw: crc32.New(castagnoli), to: o.To, pending: s.pending[:0], arena: s.arena[:0]}
	defer func() { s.pending, s.arena = vw.pending, vw.arena }()
	var lost map[string]int64
	var wopts []argus.Option
	if o.To == 3 {
		lost = map[string]int64{}
		wopts = append(wopts, argus.WithLossy(func(field, reason string) { lost[field]++ }))
	}
	w, err := argus.NewWriter(vw, o.To, wopts...)
	if err != nil {
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	var first, last, decoded int64
	for {
		rec := vw.slot()
		err := rd.Decode(rec)
		if err != nil {
			vw.unslot()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, codecs.ErrTruncated) || errors.Is(err, io.ErrUnexpectedEOF) {
				// A file cut short (a sensor killed mid-write): the
				// records before the cut are migrated, and the file
				// is reported with where it ends.
				e.Result, e.Error = Truncated, err.Error()
				break
			}
			e.Result, e.Error = Failed, err.Error()
			return e
		}
		vw.keep(rec)
		decoded++
		if rec.Type&0x80 == 0 {
			if rec.Start != 0 && (first == 0 || rec.Start < first) {
				first = rec.Start
			}
			if rec.Last > last {
				last = rec.Last
			}
		}
		if err := w.Encode(rec); err != nil {
			e.Result, e.Error = Failed, fmt.Sprintf("record at stream offset %d: %v", rd.Offset(), err)
			return e
		}
		if vw.err != nil {
			break
		}
	}
	if e.Result == Truncated && decoded == 0 {
		// Cut before its first whole record: nothing to migrate.
		e.Result, e.Error = Skipped, "no whole record: "+e.Error
		return e
	}
	if err := w.Close(); err == nil && vw.err == nil {
		vw.flushCheck()
	}
	if vw.err != nil {
		e.Result, e.Error = Failed, vw.err.Error()
		return e
	}
	// The rest of the input, for its hash (a truncated file's tail).
	io.Copy(io.Discard, cr)
	e.InSHA256 = hex.EncodeToString(hin.Sum(nil))
	for _, step := range []func() error{zw.Close, bw.Flush, out.Sync, out.Close} {
		if err := step(); err != nil {
			e.Result, e.Error = Failed, err.Error()
			return e
		}
	}
	keep = true
	if err := setAttrs(tmp, j.info); err != nil {
		os.Remove(tmp)
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	e.OutSHA256 = hex.EncodeToString(hout.Sum(nil))
	e.Records, e.MARs = vw.records, vw.mars
	if first != 0 {
		t := time.Unix(0, first).UTC()
		e.First = &t
	}
	if last != 0 {
		t := time.Unix(0, last).UTC()
		e.Last = &t
	}
	if len(lost) > 0 {
		e.Lost = lost
	}
	// Read back from disk: the file's bytes, the stream in them, and the
	// records framed in it, against what was written.
	size, err := readBack(tmp, e.OutSHA256, vw.raw.Sum32(), vw.records, &s.back)
	if err != nil {
		os.Remove(tmp)
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	e.OutSize = size
	if e.Result == "" {
		e.Result = Migrated
	}
	if o.commit != nil {
		// In place the input goes once this is renamed: a pending line
		// goes to the manifest first, or a kill between the two would
		// leave a 5.x file that a rerun takes for an input.
		if err := o.commit(e); err != nil {
			os.Remove(tmp)
			e.Result, e.Error = Failed, err.Error()
			return e
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	syncDir(filepath.Dir(final))
	return e
}

// copyFile copies a file already in the target version, byte for byte.
func copyFile(j job, f *os.File, e Entry, final string, prog *progress) Entry {
	e.Result = Copied
	if j.src == final {
		// In place: nothing to write; the hash is the file's.
		h, size, err := hashFile(j.src)
		if err != nil {
			e.Result, e.Error = Failed, err.Error()
			return e
		}
		e.InSHA256, e.OutSHA256, e.OutSize = h, h, size
		return e
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	out, tmp, err := createTmp(final, j.info)
	if err != nil {
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), &countReader{r: f, prog: prog})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = setAttrs(tmp, j.info)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err == nil {
		// Read back: the copy's bytes are the input's.
		var got string
		if got, e.OutSize, err = hashFile(tmp); err == nil && got != sum {
			err = fmt.Errorf("%w: copy reads back with sha256 %s, wrote %s", ErrVerify, got, sum)
		}
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		e.Result, e.Error = Failed, err.Error()
		return e
	}
	syncDir(filepath.Dir(final))
	e.InSHA256, e.OutSHA256 = sum, sum
	return e
}

// setAttrs gives the output the input's mode and modification time.
func setAttrs(name string, fi os.FileInfo) error {
	if err := os.Chmod(name, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Chtimes(name, fi.ModTime(), fi.ModTime())
}

// createTmp creates the temporary file of final (and its directory),
// writable until setAttrs gives it the input's mode.
func createTmp(final string, in os.FileInfo) (*os.File, string, error) {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, "", err
	}
	tmp := tmpName(final)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, in.Mode().Perm()|0o200)
	return f, tmp, err
}

// tmpName is the temporary name of final: hidden, beside it.
func tmpName(final string) string {
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".migrate-tmp")
}

func hashFile(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readBack reads a written file from disk: its sha256, then its
// decompressed stream's sha256 and records (framed by their length
// words), against what the writer produced.
func readBack(name, fileSum string, rawSum uint32, records int64, buf **bufio.Reader) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	hf := sha256.New()
	cr := &countReader{r: io.TeeReader(f, hf)}
	br := reader(buf, cr)
	dr, closeDr, err := decompress(br, sniff(br))
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrVerify, name, err)
	}
	defer closeDr()
	hr := crc32.New(castagnoli)
	n, err := frameCount(io.TeeReader(dr, hr))
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrVerify, name, err)
	}
	io.Copy(io.Discard, cr)
	switch {
	case hex.EncodeToString(hf.Sum(nil)) != fileSum:
		return 0, fmt.Errorf("%w: %s reads back with another sha256 than written", ErrVerify, name)
	case hr.Sum32() != rawSum:
		return 0, fmt.Errorf("%w: %s decompresses to another stream than written", ErrVerify, name)
	case n != records:
		return 0, fmt.Errorf("%w: %s reads back %d records, wrote %d", ErrVerify, name, n, records)
	}
	return cr.n, nil
}

// frameCount counts the records of an Argus stream, framed by the
// Reader (its MAR first) without decoding them.
func frameCount(r io.Reader) (int64, error) {
	rd, err := argus.NewReader(r)
	if err != nil {
		return 0, err
	}
	var n int64
	for {
		if _, _, err := rd.Next(); err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

// castagnoli is CRC-32C (hardware on amd64 and arm64): the uncompressed
// stream is compared with itself after a round trip through the disk,
// where a CRC catches what goes wrong; sha256 is for the files' bytes.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// countReader counts the bytes read, for the progress.
type countReader struct {
	r    io.Reader
	n    int64
	prog *progress
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.prog != nil {
		c.prog.bytes.Add(int64(n))
	}
	return n, err
}

// verifier sits between the Writer and the compressor: it decodes each
// record the Writer produced and compares it with its input record
// before the bytes go on, and hashes the stream.
type verifier struct {
	dst     io.Writer
	raw     hash.Hash32 // CRC-32C of the stream written: read back, it must match
	to      int
	dec     *argus.RecordDecoder
	pending []flow.Record // input records not yet seen in the output
	arena   []byte
	head    int
	out     flow.Record
	records int64
	mars    int64
	err     error
	synth   bool // the Writer made the first MAR (the input had none)
	first   bool
}

// slot returns the record the next input record decodes into, at the
// end of the queue (kept only once keep is called).
func (v *verifier) slot() *flow.Record {
	var r *flow.Record
	v.pending, r = flow.Slot(v.pending)
	return r
}

// unslot takes back the last slot, not decoded.
func (v *verifier) unslot() { v.pending = v.pending[:len(v.pending)-1] }

// keep queues the record slot returned, detached from the reader.
func (v *verifier) keep(r *flow.Record) {
	if !v.first {
		v.first = true
		v.synth = r.Type&0x80 == 0
	}
	v.arena = r.DetachInto(v.arena)
}

func (v *verifier) Write(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	for b := p; len(b) > 0; {
		if len(b) < 4 {
			v.err = fmt.Errorf("%w: the writer gave a partial record", ErrVerify)
			return 0, v.err
		}
		n := int(binary.BigEndian.Uint16(b[2:])) * 4
		if n == 0 || n > len(b) {
			v.err = fmt.Errorf("%w: the writer gave a record of %d bytes in %d", ErrVerify, n, len(b))
			return 0, v.err
		}
		if err := v.check(b[:n]); err != nil {
			v.err = err
			return 0, err
		}
		b = b[n:]
	}
	if v.head == len(v.pending) {
		// Every queued record came out: recycle the queue (the Writer
		// hands over whole buffers of records, so it stays small).
		v.pending, v.arena, v.head = v.pending[:0], v.arena[:0], 0
	}
	v.raw.Write(p)
	return v.dst.Write(p)
}

func (v *verifier) check(b []byte) error {
	if v.dec == nil {
		// The first record is the stream's MAR: a reader of it gives
		// the decoder of the records after it.
		// Values are compared with the input's; the byte-exact
		// rewrite check is not needed here.
		rd, err := argus.NewReader(bytes.NewReader(b), argus.WithoutRewriteCheck())
		if err != nil {
			return fmt.Errorf("%w: output MAR: %v", ErrVerify, err)
		}
		v.dec = rd.NewRecordDecoder()
	}
	idx := v.records
	v.records++
	if b[0]&0x80 != 0 {
		v.mars++
	}
	if err := v.dec.Decode(&v.out, b, 0); err != nil {
		return fmt.Errorf("%w: output record %d: %v", ErrVerify, idx, err)
	}
	if idx == 0 && v.synth {
		return nil // the Writer's own MAR: no input record
	}
	if v.head >= len(v.pending) {
		return fmt.Errorf("%w: output record %d has no input record", ErrVerify, idx)
	}
	in := &v.pending[v.head]
	v.head++
	// 5.x holds every value 3.x does: they must all come out. Going
	// down, the values 3.x cannot hold are the Writer's declared losses,
	// so the record is checked for decoding and, at read-back, for its
	// bytes.
	if v.to == 5 && !sameValues(in, &v.out) {
		return fmt.Errorf("%w: record %d differs from its input after conversion", ErrVerify, idx)
	}
	return nil
}

// flushCheck, after the Writer's Close, checks that every input record
// came out, and recycles the queue.
func (v *verifier) flushCheck() {
	if v.head != len(v.pending) && v.err == nil {
		v.err = fmt.Errorf("%w: %d input records did not come out", ErrVerify, len(v.pending)-v.head)
	}
}
