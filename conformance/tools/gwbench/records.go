package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/flow"
)

// Base is when record 0 starts: record i starts i ms later, so its number
// survives every format (ms times in NetFlow v9, µs in argus JSON).
var Base = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// seqOf is the number of the record that starts at start; ok is false for
// a record the tool did not number.
func seqOf(start int64) (uint64, bool) {
	d := start - Base
	if d < -500_000 {
		return 0, false
	}
	// Round to the ms: a JSON decimal may come back a ns off.
	return uint64((d + 500_000) / 1_000_000), true
}

// loadRecords reads the flow records of an Argus file (management records
// skipped), at most limit (0: all).
func loadRecords(path string, limit int) ([]flow.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := argus.NewReader(f, argus.WithFileName(path))
	if err != nil {
		return nil, err
	}
	var out []flow.Record
	for limit == 0 || len(out) < limit {
		var rec flow.Record
		err := r.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Type == flow.TypeMgmt || rec.Has&flow.HasKey == 0 {
			continue
		}
		rec.Detach()
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no flow records", path)
	}
	return out, nil
}

// stamp makes rec record number seq: it starts at Base + seq ms and keeps
// its duration (cut to whole ms and to an hour). The per-direction times
// would contradict the new start, so they go.
func stamp(rec *flow.Record, seq uint64) {
	dur := rec.Last - rec.Start
	dur = min(max(dur, 0), int64(time.Hour)) / 1e6 * 1e6
	rec.Start = Base + int64(seq)*1e6
	rec.Last = rec.Start + dur
	rec.Has &^= flow.HasDirTimes
	rec.Has |= flow.HasTime
}

// oneWay turns biflows into the one-way flows a NetFlow v9 exporter sends,
// through the v9 codec itself (its encoder splits a biflow in two; the
// decoder reads them back), so that each direction gets its own number:
// left as biflows, the encoder would send two records per number.
func oneWay(in []flow.Record) ([]flow.Record, error) {
	enc := netflow9.NewEncoder(nil)
	dec := netflow9.NewDecoder()
	from := netip.MustParseAddrPort("192.0.2.1:2055")
	var buf []byte
	var got, out []flow.Record
	for recs := in; len(recs) > 0; {
		var n int
		var err error
		buf, n, err = enc.AppendPacket(buf[:0], recs)
		if err != nil {
			var nr *codecs.NotRepresentableError
			if !errors.As(err, &nr) {
				return nil, err
			}
			n++ // representable() leaves it out anyway
		}
		recs = recs[n:]
		if len(buf) == 0 {
			continue
		}
		got, err = dec.DecodePacket(buf, from, got[:0])
		if err != nil {
			return nil, err
		}
		for i := range got {
			r := got[i]
			r.Detach()
			r.Has &^= flow.HasExporter
			r.Exporter, r.ObsDomain, r.ExportSeq = netip.AddrPort{}, 0, 0
			out = append(out, r)
		}
	}
	return out, nil
}
