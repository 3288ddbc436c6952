package main

import (
	"runtime"
	"slices"

	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

// Printing costs several times decoding, so with more than one CPU ra
// decodes and filters on one goroutine and formats batches of records on
// the others, writing the batches back in input order.

const (
	batchSize = 512
	batchRing = 8 // batches in flight
)

type raBatch struct {
	recs  []flow.Record
	offs  []int64
	n     int
	arena []byte
	out   appendWriter
	done  chan struct{}
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
	}
	for i := 0; i < batchRing; i++ {
		p.free <- &raBatch{recs: make([]flow.Record, batchSize), offs: make([]int64, batchSize), done: make(chan struct{}, 1)}
	}
	wo := o
	wo.Labels = -1 // the header is written once, by the writer goroutine
	workers := max(1, runtime.GOMAXPROCS(0)-1)
	if workers < 2 {
		workers = 2 // decoding is light; let the scheduler share the CPUs
	}
	for i := 0; i < workers; i++ {
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

// worker formats batches; its printer writes through w, which is pointed
// at each batch's own buffer in turn.
func (p *raPool) worker(pr *ratext.Printer, w *appendWriter) {
	for b := range p.work {
		w.b = b.out.b[:0]
		for i := 0; i < b.n; i++ {
			pr.SetOffset(b.offs[i])
			pr.Print(&b.recs[i])
		}
		pr.Flush()
		b.out.b = w.b
		b.done <- struct{}{}
	}
}

// writer writes finished batches in input order.
func (p *raPool) writer() {
	var err error
	for b := range p.order {
		<-b.done
		if err == nil && len(b.out.b) > 0 {
			if p.header {
				p.header = false
				_, err = p.j.out.WriteString(p.j.header + "\n")
			}
			if err == nil {
				_, err = p.j.out.Write(b.out.b)
			}
		}
		b.n = 0
		b.arena = b.arena[:0]
		p.free <- b
	}
	p.done <- err
}

// slot returns the record the decoder fills next.
func (p *raPool) slot() *flow.Record {
	if p.cur == nil {
		p.cur = <-p.free
	}
	return &p.cur.recs[p.cur.n]
}

// keep keeps the record just decoded into slot for printing.
func (p *raPool) keep(off int64) {
	b := p.cur
	b.arena = b.recs[b.n].DetachInto(b.arena)
	b.offs[b.n] = off
	b.n++
	if b.n == batchSize {
		p.send()
	}
}

func (p *raPool) send() {
	if p.cur == nil || p.cur.n == 0 {
		return
	}
	p.order <- p.cur
	p.work <- p.cur
	p.cur = nil
}

// close prints what is left and waits for the writer.
func (p *raPool) close() error {
	p.send()
	if p.cur != nil {
		p.free <- p.cur
		p.cur = nil
	}
	close(p.work)
	close(p.order)
	return <-p.done
}
