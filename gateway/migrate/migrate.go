package migrate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// ManifestName is the manifest's file name, at the top of DST.
const ManifestName = "migrate.manifest.jsonl"

// ErrBusy is the error of a run into a DST another run is migrating into.
var ErrBusy = errors.New("migrate: another migration is running into this destination")

// Options configure Run.
type Options struct {
	To       int    // target major version: 5 (default) or 3
	Compress string // output compression: "" keeps each file's, or None, Gzip, Bzip2, XZ, Zstd
	// Level is the output compression's level, 1 (fastest) … MaxLevel
	// (smallest); 0 is each compressor's default (gzip's: about gzip -6's
	// size).
	Level   int
	Jobs    int  // files at once (0: the number of cores)
	InPlace bool // DST is SRC: each file is replaced once its new version is verified
	// Progress gets a progress bar (Bar) or a line every few seconds,
	// and the summary; nil for none.
	Progress io.Writer
	Bar      bool
	// VerifyFrom is the source tree Verify compares inputs from ("":
	// outputs against the manifest only).
	VerifyFrom string

	dstRoot string
	commit  func(Entry) error // in place: writes an entry's line before its output's rename
}

// Summary counts a run's files and records.
type Summary struct {
	Files, Migrated, Truncated, Copied, Skipped, Failed, Resumed int
	Records, Bytes                                               int64
	Lost                                                         map[string]int64 // --to 3, in total
	Entries                                                      []Entry          // this run's, in path order (resumed files not included)
}

// Err is nil when no file failed.
func (s *Summary) Err() error {
	if s.Failed > 0 {
		return fmt.Errorf("migrate: %d of %d files failed", s.Failed, s.Files)
	}
	return nil
}

// Run migrates every file under src (a file or a tree) to dst (ignored
// with InPlace).
func Run(ctx context.Context, src, dst string, o Options) (*Summary, error) {
	if o.To == 0 {
		o.To = 5
	}
	if o.To != 3 && o.To != 5 {
		return nil, fmt.Errorf("migrate: --to %d: want 3 or 5", o.To)
	}
	if !ValidCompress(o.Compress) {
		return nil, fmt.Errorf("migrate: --compress %q: want gzip, bzip2, xz, zstd or none", o.Compress)
	}
	if o.Level < 0 || o.Level > MaxLevel || o.Level != 0 && o.Compress == None {
		return nil, fmt.Errorf("migrate: --level %d: want 1 to %d, with a compression", o.Level, MaxLevel)
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	srcRoot := src
	if !st.IsDir() {
		srcRoot = filepath.Dir(src)
	}
	if o.InPlace {
		dst = srcRoot
	} else if dst == "" {
		return nil, errors.New("migrate: no destination (or --in-place)")
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return nil, err
	}
	if !o.InPlace && (dst == srcRoot || strings.HasPrefix(dst, srcRoot+string(filepath.Separator))) && st.IsDir() {
		return nil, fmt.Errorf("migrate: %s is inside %s: use --in-place, or a destination outside the source", dst, srcRoot)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	o.dstRoot = dst
	mpath := filepath.Join(dst, ManifestName)
	// The lock is on a file of its own: the manifest is replaced (renamed
	// over) at the end of a run.
	lf, err := lockDst(mpath + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlockDst(lf)
	done, err := readManifest(mpath)
	if err != nil {
		return nil, err
	}
	mf, err := os.OpenFile(mpath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	appendLine := func(e Entry) error {
		b, _ := json.Marshal(e)
		if _, err := mf.Write(append(b, '\n')); err != nil {
			return err
		}
		return mf.Sync()
	}
	// In place, a run killed between a file's pending line and its
	// migrated one left the new file renamed or not: finish what stands
	// (remove the old file, write the line), redo the rest.
	for k, e := range done {
		if !e.Pending || !stands(e, dst) {
			continue
		}
		if e.Out != e.Path {
			if err := os.Remove(filepath.Join(dst, filepath.FromSlash(e.Path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		e.Pending = false
		if err := appendLine(e); err != nil {
			return nil, err
		}
		done[k] = e
	}
	// Outputs of finished entries are not inputs (in place, a file whose
	// compression changed sits beside its input).
	outputs := map[string]bool{}
	for _, e := range done {
		if e.ok() && e.Out != e.Path {
			outputs[e.Out] = true
		}
	}
	var jobs []job
	sum := &Summary{Lost: map[string]int64{}}
	renamed := 0 // in place, outputs of an earlier run under a new name
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != srcRoot && !st.IsDir() {
				return filepath.SkipDir
			}
			if !o.InPlace && p == dst {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".migrate-tmp") && o.InPlace {
			// A file a killed run left half-written.
			os.Remove(p)
			return nil
		}
		if !d.Type().IsRegular() || name == ManifestName || name == ManifestName+".lock" || strings.HasSuffix(name, ".migrate-tmp") {
			return nil
		}
		rel, _ := filepath.Rel(srcRoot, p)
		rel = filepath.ToSlash(rel)
		if o.InPlace && outputs[rel] {
			renamed++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		jobs = append(jobs, job{src: p, rel: rel, info: info})
		return nil
	}
	if st.IsDir() {
		err = filepath.WalkDir(srcRoot, walk)
	} else {
		err = walk(src, fs.FileInfoToDirEntry(st), nil)
	}
	if err != nil {
		return nil, err
	}
	if !o.InPlace {
		// Files a killed run left half-written.
		filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".migrate-tmp") {
				os.Remove(p)
			}
			return nil
		})
	}
	// A file whose manifest line and output still agree is done.
	var todo []job
	for _, j := range jobs {
		if e, ok := done[j.rel]; ok && e.ok() && finished(e, j, dst, o.InPlace) {
			if o.InPlace && e.Out != j.rel {
				// Killed between the rename and the removal: the
				// new file stands, the old one goes now.
				if err := os.Remove(j.src); err != nil {
					return nil, err
				}
			}
			sum.Resumed++
			continue
		}
		todo = append(todo, j)
	}
	sum.Files = len(jobs) + renamed
	sum.Resumed += renamed
	var total int64
	for _, j := range todo {
		total += j.info.Size()
	}
	prog := newProgress(o.Progress, o.Bar, len(jobs), sum.Resumed, total)
	var mu sync.Mutex
	var werr error
	record := func(e Entry) {
		mu.Lock()
		defer mu.Unlock()
		done[e.Path] = e
		sum.Entries = append(sum.Entries, e)
		if err := appendLine(e); err != nil && werr == nil {
			werr = err
		}
		switch e.Result {
		case Migrated:
			sum.Migrated++
		case Truncated:
			sum.Truncated++
		case Copied:
			sum.Copied++
		case Skipped:
			sum.Skipped++
		case Failed:
			sum.Failed++
		}
		sum.Records += e.Records
		sum.Bytes += e.InSize
		for k, v := range e.Lost {
			sum.Lost[k] += v
		}
		prog.fileDone(e)
	}
	if o.InPlace {
		o.commit = func(e Entry) error {
			mu.Lock()
			defer mu.Unlock()
			e.Pending = true
			return appendLine(e)
		}
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for range o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s scratch
			for j := range ch {
				e := migrateFile(j, &o, prog, &s)
				if o.InPlace && e.ok() && e.Out != e.Path {
					// The new file is verified and in place: the old
					// one goes.
					if err := os.Remove(j.src); err != nil {
						e.Result, e.Error = Failed, err.Error()
					}
				}
				record(e)
			}
		}()
	}
feed:
	for _, j := range todo {
		select {
		case ch <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	prog.finish(sum)

	if werr != nil {
		return sum, fmt.Errorf("migrate: manifest: %w", werr)
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	sort.Slice(sum.Entries, func(i, k int) bool { return sum.Entries[i].Path < sum.Entries[k].Path })
	// The manifest, rewritten sorted with one line a file: a run resumed
	// after a crash ends with the manifest an uninterrupted run writes.
	return sum, writeManifest(mpath, done)
}

// finished reports whether the manifest entry e of job j stands: its
// output has the size and time the entry says and the input is the one
// it was made from. In place, a file of the same name is its own output,
// and is told from the input it replaced by its sha256 when their sizes
// are equal.
func finished(e Entry, j job, dst string, inPlace bool) bool {
	if !e.MTime.Equal(j.info.ModTime().UTC()) || (!inPlace || e.Out != j.rel) && e.InSize != j.info.Size() {
		return false
	}
	return stands(e, dst)
}

// stands reports whether e's output is in place: its size and time, and
// where it replaced its input under the same name and sizes do not tell
// them apart, its sha256.
func stands(e Entry, dst string) bool {
	out := filepath.Join(dst, filepath.FromSlash(e.Out))
	fi, err := os.Stat(out)
	if err != nil || fi.Size() != e.OutSize || !fi.ModTime().Equal(e.MTime) {
		return false
	}
	if e.Out != e.Path || e.InSHA256 == e.OutSHA256 || e.InSize != e.OutSize {
		return true
	}
	h, _, err := hashFile(out)
	return err == nil && h == e.OutSHA256
}

// readManifest reads the entries of a manifest (the last line of a path
// wins); a missing manifest is empty. A partial last line (a crash while
// it was written) is ignored.
func readManifest(name string) (map[string]Entry, error) {
	out := map[string]Entry{}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Path == "" {
			continue
		}
		out[e.Path] = e
	}
	return out, sc.Err()
}

func writeManifest(name string, entries map[string]Entry) error {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tmp := name + ".migrate-tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for _, k := range keys {
		b, _ := json.Marshal(entries[k])
		bw.Write(append(b, '\n'))
	}
	err = bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// lockDst takes a run's lock, an flock on the file name, made if need be.
// The file goes at the end of the run (unlockDst), so a run may have
// opened it just before: its lock is then on a file no longer there, and
// it opens the file anew.
func lockDst(name string) (*os.File, error) {
	for range 10 {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := lock(f); err != nil {
			f.Close()
			return nil, err
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%w: %s keeps changing", ErrBusy, name)
}

// unlockDst removes the lock file, then lets go of the lock: a tree
// migrated to the end holds no file of the run's but its manifest.
func unlockDst(f *os.File) {
	os.Remove(f.Name())
	f.Close()
}
