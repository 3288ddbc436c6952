package migrate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows files, records, bytes, rate and ETA: a bar on a
// terminal, a line every few seconds elsewhere (logs, CI).
type progress struct {
	w              io.Writer
	bar            *progressbar.ProgressBar
	files, resumed int
	total          int64 // input bytes to read
	bytes          atomic.Int64
	mu             sync.Mutex
	done           int
	records        int64
	start          time.Time
	stop           chan struct{}
	wg             sync.WaitGroup
}

// plainEvery is how often the plain progress prints.
const plainEvery = 5 * time.Second

func newProgress(w io.Writer, bar bool, files, resumed int, total int64) *progress {
	p := &progress{w: w, files: files, resumed: resumed, total: total, start: time.Now(), stop: make(chan struct{})}
	if w == nil {
		return p
	}
	if bar {
		p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		every := plainEvery
		if bar {
			every = 200 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.show()
			}
		}
	}()
	return p
}

func (p *progress) fileDone(e Entry) {
	p.mu.Lock()
	p.done++
	p.records += e.Records
	p.mu.Unlock()
	if p.w != nil && (e.Result == Failed || e.Result == Skipped || e.Result == Truncated) {
		line := fmt.Sprintf("migrate: %s: %s: %s", e.Path, e.Result, e.Error)
		if p.bar != nil {
			p.bar.Clear()
		}
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) show() {
	p.mu.Lock()
	done, recs := p.done, p.records
	p.mu.Unlock()
	b := p.bytes.Load()
	el := time.Since(p.start).Seconds()
	desc := fmt.Sprintf("%d/%d files, %s records", done+p.resumed, p.files, count(recs))
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s, %s records/s", desc, count(int64(float64(recs)/max(el, 1e-9)))))
		p.bar.Set64(min(b, p.total))
		return
	}
	eta := "?"
	if b > 0 && p.total > b {
		eta = time.Duration(el * float64(p.total-b) / float64(b) * float64(time.Second)).Round(time.Second).String()
	} else if p.total <= b {
		eta = "0s"
	}
	fmt.Fprintf(p.w, "migrate: %s, %s of %s read, %s records/s, ETA %s\n", desc, size(b), size(p.total), count(int64(float64(recs)/max(el, 1e-9))), eta)
}

// finish stops the display and prints the summary.
func (p *progress) finish(s *Summary) {
	close(p.stop)
	p.wg.Wait()
	if p.w == nil {
		return
	}
	if p.bar != nil {
		p.bar.Finish()
	}
	el := time.Since(p.start)
	fmt.Fprintf(p.w, "migrate: %d files: %d migrated, %d truncated (migrated up to the cut), %d copied (already %s), %d not Argus (skipped), %d failed, %d done before\n",
		s.Files, s.Migrated, s.Truncated, s.Copied, "in the target version", s.Skipped, s.Failed, s.Resumed)
	fmt.Fprintf(p.w, "migrate: %s records, %s read in %s: %s records/s\n", count(s.Records), size(s.Bytes), el.Round(time.Millisecond), count(int64(float64(s.Records)/max(el.Seconds(), 1e-9))))
	if len(s.Lost) > 0 {
		keys := make([]string, 0, len(s.Lost))
		for k := range s.Lost {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, s.Lost[k]))
		}
		fmt.Fprintf(p.w, "migrate: values 3.x cannot hold, not carried (per file in the manifest): %s\n", strings.Join(parts, ", "))
	}
}

func count(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
