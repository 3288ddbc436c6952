package daemon

import (
	"github.com/flowgate/flowgate/flow"
	"net/netip"
	"sync"
)

// maxExporters bounds the exporter label of one component's losses; the
// rest are counted under the zero address, labelled "other".
const maxExporters = 1024

type lossKey struct {
	source   string // at a sink: the source the record came from
	exporter netip.Addr
	reason   Reason
}

// losses counts one component's lost records by exporter and reason. It
// is on the loss path only: nothing touches it while records flow.
type losses struct {
	mu sync.Mutex
	m  map[lossKey]uint64
	// other: exporters past maxExporters were folded into "other".
	exporters map[netip.Addr]struct{}
}

func (l *losses) add(source string, exp netip.Addr, r Reason, n uint64) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[lossKey]uint64{}
		l.exporters = map[netip.Addr]struct{}{}
	}
	if _, ok := l.exporters[exp]; !ok {
		if len(l.exporters) >= maxExporters {
			exp = otherExporter
		} else {
			l.exporters[exp] = struct{}{}
		}
	}
	l.m[lossKey{source, exp, r}] += n
	l.mu.Unlock()
}

// otherExporter stands for the exporters past the bound: an address no
// exporter has (0.0.0.1 is never a source address).
var otherExporter = netip.AddrFrom4([4]byte{0, 0, 0, 1})

func exporterLabel(a netip.Addr) string {
	switch {
	case a == otherExporter:
		return "other"
	case !a.IsValid():
		return ""
	}
	return a.String()
}

// snapshot returns the counters.
func (l *losses) snapshot() map[lossKey]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[lossKey]uint64, len(l.m))
	for k, v := range l.m {
		out[k] = v
	}
	return out
}

// total of one reason ("" all).
func (l *losses) total(r Reason) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for k, v := range l.m {
		if r == "" || k.reason == r {
			n += v
		}
	}
	return n
}

// addBatch counts every record of recs as lost for r, by exporter.
func (l *losses) addBatch(source string, recs []flow.Record, r Reason) {
	if len(recs) == 0 {
		return
	}
	// Records of one batch mostly share their exporter: count runs.
	run := exporterOf(&recs[0])
	n := uint64(0)
	for i := range recs {
		e := exporterOf(&recs[i])
		if e != run {
			l.add(source, run, r, n)
			run, n = e, 0
		}
		n++
	}
	l.add(source, run, r, n)
}
