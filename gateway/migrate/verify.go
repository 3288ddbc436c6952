package migrate

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// Verify re-checks the migration in dst against its manifest: each
// output's sha256, its records and first and last times; and where the
// input is still in src (given as the manifest's directory's source with
// VerifyFrom, or in place), the input's sha256 and, for a 3.x → 5.x file,
// every record again against the output's. Summary.Failed counts the
// files that do not check.
func Verify(ctx context.Context, dst string, o Options) (*Summary, error) {
	entries, err := readManifest(filepath.Join(dst, ManifestName))
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("migrate: %s: no manifest", filepath.Join(dst, ManifestName))
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sum := &Summary{Files: len(keys), Lost: map[string]int64{}}
	start := time.Now()
	for _, k := range keys {
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		e := entries[k]
		if !e.ok() {
			sum.Skipped++
			continue
		}
		err := verifyEntry(dst, o.VerifyFrom, &e)
		if err != nil {
			sum.Failed++
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "migrate: verify %s: %v\n", e.Out, err)
			}
			e.Result, e.Error = Failed, err.Error()
		} else {
			sum.Migrated++
			sum.Records += e.Records
			sum.Bytes += e.OutSize
		}
		sum.Entries = append(sum.Entries, e)
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "migrate: verify: %d files checked against %s: %d good, %d failed (%d not migrated by that run); %s records in %s\n",
			sum.Files, ManifestName, sum.Migrated, sum.Failed, sum.Skipped, count(sum.Records), time.Since(start).Round(time.Millisecond))
	}
	return sum, nil
}

func verifyEntry(dst, src string, e *Entry) error {
	name := filepath.Join(dst, filepath.FromSlash(e.Out))
	recs, first, last, sum, size, err := scan(name)
	if err != nil {
		return err
	}
	switch {
	case sum != e.OutSHA256:
		return fmt.Errorf("%w: sha256 %s, manifest %s", ErrVerify, sum, e.OutSHA256)
	case size != e.OutSize:
		return fmt.Errorf("%w: %d bytes, manifest %d", ErrVerify, size, e.OutSize)
	case e.Result != Copied && recs != e.Records:
		return fmt.Errorf("%w: %d records, manifest %d", ErrVerify, recs, e.Records)
	case e.Result != Copied && !sameTime(first, e.First), e.Result != Copied && !sameTime(last, e.Last):
		return fmt.Errorf("%w: first/last time %v/%v, manifest %v/%v", ErrVerify, first, last, e.First, e.Last)
	}
	if src == "" || e.Result == Copied {
		return nil
	}
	in := filepath.Join(src, filepath.FromSlash(e.Path))
	if _, err := os.Stat(in); err != nil || in == name {
		return nil // the input is gone (or replaced in place)
	}
	h, _, err := hashFile(in)
	if err != nil {
		return err
	}
	if h != e.InSHA256 {
		return fmt.Errorf("%w: input %s has sha256 %s, manifest %s", ErrVerify, in, h, e.InSHA256)
	}
	if e.To == 5 {
		return compareFiles(in, name)
	}
	return nil
}

func sameTime(ns int64, t *time.Time) bool {
	if t == nil {
		return ns == 0
	}
	return ns == t.UnixNano()
}

// scan reads an output: records (MARs included), first start and last
// end of its flows, sha256 and size of the file.
func scan(name string) (recs, first, last int64, sum string, size int64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return
	}
	defer f.Close()
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(f, h)}
	rd, err := argus.NewReader(cr, argus.WithFileName(name), argus.WithoutRewriteCheck())
	if err != nil {
		return
	}
	var rec flow.Record
	for {
		if err = rd.Decode(&rec); err != nil {
			break
		}
		recs++
		if rec.Type&0x80 == 0 {
			if rec.Start != 0 && (first == 0 || rec.Start < first) {
				first = rec.Start
			}
			last = max(last, rec.Last)
		}
	}
	if err != io.EOF {
		return
	}
	io.Copy(io.Discard, cr)
	return recs, first, last, hex.EncodeToString(h.Sum(nil)), cr.n, nil
}

// compareFiles reads an input and its 5.x output side by side, record by
// record. An input cut short ends where its last whole record does.
func compareFiles(in, out string) error {
	a, err := openArgus(in)
	if err != nil {
		return err
	}
	defer a.close()
	b, err := openArgus(out)
	if err != nil {
		return err
	}
	defer b.close()
	var ra, rb flow.Record
	first := true
	for i := 0; ; i++ {
		ea := a.rd.Decode(&ra)
		if ea != nil && (errors.Is(ea, codecs.ErrTruncated) || errors.Is(ea, io.ErrUnexpectedEOF)) {
			ea = io.EOF
		}
		eb := b.rd.Decode(&rb)
		if first && ea == nil && eb == nil && ra.Type&0x80 == 0 && rb.Type&0x80 != 0 {
			// The writer's own MAR, for an input without one.
			eb = b.rd.Decode(&rb)
		}
		first = false
		switch {
		case ea == io.EOF && eb == io.EOF:
			return nil
		case ea != nil:
			return fmt.Errorf("%w: input record %d: %v", ErrVerify, i, ea)
		case eb != nil:
			return fmt.Errorf("%w: output record %d: %v", ErrVerify, i, eb)
		case !sameValues(&ra, &rb):
			return fmt.Errorf("%w: record %d differs from the input's", ErrVerify, i)
		}
	}
}

type argusFile struct {
	f  *os.File
	rd *argus.Reader
}

func openArgus(name string) (*argusFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	rd, err := argus.NewReader(bufio.NewReaderSize(f, 256<<10), argus.WithFileName(name))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &argusFile{f: f, rd: rd}, nil
}

func (a *argusFile) close() { a.f.Close() }
