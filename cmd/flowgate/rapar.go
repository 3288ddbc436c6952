package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

// Printing costs several times decoding, so with more than one CPU ra
// only frames records on the reading goroutine and decodes, filters and
// formats them in batches on the others; a writer goroutine puts the
// batches back in input order. Each worker keeps one record and one
// printer, so nothing is allocated per record.

const (
	batchSize  = 1024
	batchRing  = 8 // batches in flight
	batchBytes = 256 << 10
)

type raBatch struct {
	raw  []byte        // the records' bytes, back to back
	ends []int32       // end of each record in raw
	offs []int64       // stream offset of each record
	rd   *argus.Reader // the input; each worker decodes with its own RecordDecoder
	out  []byte
	hits int64    // records that passed -t and the filter
	bad  int      // records that failed to decode
	errs []string // the first decode errors, for stderr
	done chan struct{}
	name string
}

// appendWriter collects a worker printer's output for one batch.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type raPool struct {
	j      *raJob
	free   chan *raBatch
	work   chan *raBatch
	order  chan *raBatch
	done   chan error
	cur    *raBatch
	header bool // header line still due
	bad    map[string]int
}

// orderSensitive lists fields whose value depends on the previous record.
var orderSensitive = []string{"dlstime", "dlltime", "dldur", "rank", "intflow", "intflowmax", "intflowmin", "intflowsdev"}

// parallelOK reports whether printing can be split across goroutines.
func parallelOK(o ratext.Options) bool {
	if runtime.GOMAXPROCS(0) < 2 || o.Labels > 0 {
		return false
	}
	for _, f := range o.Fields {
		if slices.Contains(orderSensitive, f) {
			return false
		}
	}
	return true
}

func newRaPool(j *raJob, o ratext.Options) (*raPool, error) {
	p := &raPool{
		j:      j,
		free:   make(chan *raBatch, batchRing),
		work:   make(chan *raBatch, batchRing),
		order:  make(chan *raBatch, batchRing),
		done:   make(chan error, 1),
		header: !o.JSON && o.Labels == 0,
		bad:    map[string]int{},
	}
	for i := 0; i < batchRing; i++ {
		p.free <- &raBatch{
			raw:  make([]byte, 0, batchBytes),
			ends: make([]int32, 0, batchSize),
			offs: make([]int64, 0, batchSize),
			done: make(chan struct{}, 1),
		}
	}
	wo := o
	wo.Labels = -1 // the header is written once, by the writer goroutine
	for i := 0; i < max(2, runtime.GOMAXPROCS(0)); i++ {
		w := &appendWriter{}
		pr, err := ratext.NewPrinter(w, wo)
		if err != nil {
			return nil, err
		}
		go p.worker(pr, w)
	}
	go p.writer()
	return p, nil
}

// worker decodes, filters and formats batches.
func (p *raPool) worker(pr *ratext.Printer, w *appendWriter) {
	j := p.j
	var rec flow.Record
	decs := map[*argus.Reader]*argus.RecordDecoder{}
	for b := range p.work {
		dec := decs[b.rd]
		if dec == nil {
			clear(decs) // inputs are read one after another
			dec = b.rd.NewRecordDecoder()
			decs[b.rd] = dec
		}
		w.b = b.out[:0]
		start := 0
		for i, end := range b.ends {
			raw := b.raw[start:end]
			start = int(end)
			if err := dec.Decode(&rec, raw, b.offs[i]); err != nil {
				b.bad++
				if len(b.errs) < maxReported {
					b.errs = append(b.errs, err.Error())
				}
				continue
			}
			if !j.selected(&rec) {
				continue
			}
			b.hits++
			if rec.Type == flow.TypeMgmt && !j.printMan {
				continue
			}
			pr.SetOffset(b.offs[i])
			pr.Print(&rec)
		}
		pr.Flush()
		b.out = w.b
		b.done <- struct{}{}
	}
}

// writer writes finished batches in input order and adds up the counts.
func (p *raPool) writer() {
	var err error
	for b := range p.order {
		<-b.done
		p.j.matched += b.hits
		for _, e := range b.errs {
			fmt.Fprintln(os.Stderr, "flowgate ra:", e)
		}
		p.bad[b.name] += b.bad
		if err == nil && len(b.out) > 0 {
			if p.header {
				p.header = false
				_, err = p.j.out.WriteString(p.j.header + "\n")
			}
			if err == nil {
				_, err = p.j.out.Write(b.out)
			}
		}
		b.raw, b.ends, b.offs = b.raw[:0], b.ends[:0], b.offs[:0]
		b.hits, b.bad, b.errs = 0, 0, b.errs[:0]
		p.free <- b
	}
	p.done <- err
}

// add queues one framed record of input rd.
func (p *raPool) add(name string, rd *argus.Reader, raw []byte, off int64) {
	b := p.cur
	if b != nil && (b.rd != rd || len(b.raw)+len(raw) > cap(b.raw) && len(b.ends) > 0) {
		p.send()
		b = nil
	}
	if b == nil {
		b = <-p.free
		b.rd, b.name = rd, name
		p.cur = b
	}
	b.raw = append(b.raw, raw...)
	b.ends = append(b.ends, int32(len(b.raw)))
	b.offs = append(b.offs, off)
	if len(b.ends) == batchSize {
		p.send()
	}
}

func (p *raPool) send() {
	if p.cur == nil {
		return
	}
	p.order <- p.cur
	p.work <- p.cur
	p.cur = nil
}

// close prints what is left, waits for the writer and returns the decode
// errors counted per input.
func (p *raPool) close() (map[string]int, error) {
	p.send()
	close(p.work)
	close(p.order)
	err := <-p.done
	return p.bad, err
}
