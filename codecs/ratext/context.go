package ratext

import (
	"strconv"

	"github.com/flowgate/flowgate/flow"
)

// tv is a struct timeval split like ra keeps it.
type tv struct{ sec, usec int64 }

func tvOf(ns int64) tv {
	if ns == 0 {
		return tv{}
	}
	us := ns / 1000
	return tv{us / 1e6, us % 1e6}
}

func (t tv) us() int64 { return t.sec*1e6 + t.usec }

type span struct{ start, end tv }

// rctx holds the values ra derives from a record when it reads it
// (ArgusGenerateRecordStruct): normalised per-direction times, durations,
// loads and rates. It is recomputed for every record without allocating.
type rctx struct {
	src, dst       span
	stime, ltime   int64 // µs
	dur            float32
	sdur, ddur     float32
	sload, dload   float32
	srate, drate   float32
	spkts, dpkts   int64
	sbytes, dbytes int64
	jitOK          bool
	rev3           bool        // ra 3.0.8.2 reversed the record: swap the jitter sides
	jit            [2][2]jstat // [dir][active, idle], µs
}

// floatDur is RaGetFloatSrcDuration: (sec*1.0)+usec/1e6 as a C float.
func floatDur(s span) float32 {
	sec := s.end.sec - s.start.sec
	usec := s.end.usec - s.start.usec
	if sec == 0 && usec == 0 {
		return 0
	}
	return float32(float64(sec) + float64(usec)/1e6)
}

func (c *rctx) init(p *Printer, r *flow.Record) {
	*c = rctx{}
	if r.Type == flow.TypeMgmt {
		c.stime = r.Mgmt.StartTime / 1000
		c.ltime = r.Mgmt.Now / 1000
		st, lt := tvOf(r.Mgmt.StartTime), tvOf(r.Mgmt.Now)
		sec, usec := lt.sec-st.sec, lt.usec-st.usec
		if usec < 0 {
			sec--
			usec += 1e6
		}
		c.dur = float32(float64(sec) + float64(usec)/1e6)
		return
	}
	if r.Has&flow.HasMetrics != 0 {
		c.spkts, c.dpkts = int64(r.Pkts[0]), int64(r.Pkts[1])
		c.sbytes, c.dbytes = int64(r.Bytes[0]), int64(r.Bytes[1])
	}
	if r.Has&flow.HasTime == 0 {
		return
	}
	if r.Has&flow.HasDirTimes != 0 {
		c.src = span{tvOf(r.SrcStart), tvOf(r.SrcLast)}
		c.dst = span{tvOf(r.DstStart), tvOf(r.DstLast)}
	} else {
		c.src = span{tvOf(r.Start), tvOf(r.Last)}
	}
	c.normalise(r)
	// stime / ltime (ArgusFetchStartuSecTime / ArgusFetchLastuSecTime)
	s, d := c.src.start, c.dst.start
	switch {
	case s.sec > 0 && d.sec > 0:
		c.stime = min(s.us(), d.us())
	case s.sec > 0:
		c.stime = s.us()
	default:
		c.stime = d.us()
	}
	c.ltime = max(c.src.end.us(), c.dst.end.us())
	if c.stime == 0 && c.ltime == 0 {
		c.stime, c.ltime = r.Start/1000, r.Last/1000
	}
	st, lt := tv{c.stime / 1e6, c.stime % 1e6}, tv{c.ltime / 1e6, c.ltime % 1e6}
	c.dur = float32(float64(lt.sec-st.sec) + float64(lt.usec-st.usec)/1e6)
	c.sdur, c.ddur = floatDur(c.src), floatDur(c.dst)

	seconds := c.sdur
	if !(seconds > 0) {
		seconds = c.dur
	}
	if seconds > 0 && c.spkts > 1 {
		bppkts := c.sbytes / c.spkts
		c.srate = float32(float64(c.spkts-1)*1.0) / seconds
		c.sload = float32(float64(c.sbytes-bppkts)*8.0) / seconds
	}
	seconds = c.ddur
	if !(seconds > 0) {
		seconds = c.dur
	}
	if seconds > 0 && c.dpkts > 1 {
		bppkts := c.dbytes / c.dpkts
		c.drate = float32(float64(c.dpkts-1)*1.0) / seconds
		c.dload = float32(float64(c.dbytes-bppkts)*8.0) / seconds
	}
}

// normalise reproduces the time corrections of ra 5's
// ArgusGenerateRecordStruct.
func (c *rctx) normalise(r *flow.Record) {
	s, d := &c.src, &c.dst
	spk, dpk := c.spkts, c.dpkts
	if spk > 0 && dpk > 0 {
		if spk == 1 && dpk == 1 {
			if s.start.sec == 0 && d.start.sec != 0 {
				s.start, s.end, d.end = d.end, d.end, d.start
			} else if s.start.sec != 0 && d.start.sec == 0 {
				d.start, d.end, s.end = s.end, s.end, s.start
			}
		} else {
			if s.start.sec == 0 && d.start.sec != 0 {
				*s = *d
			} else if s.start.sec != 0 && d.start.sec == 0 {
				*d = *s
			}
			one := func(x *span) {
				if x.start.sec != x.end.sec {
					switch {
					case x.end.sec == 0 && x.start.sec != 0:
						x.end = x.start
					case x.start.sec == 0 && x.end.sec != 0:
						x.start = x.end
					default:
						x.end = x.start
					}
				}
			}
			if spk == 1 {
				one(s)
			}
			if dpk == 1 {
				one(d)
			}
		}
	} else if spk > 0 {
		if s.start.sec == 0 && d.start.sec != 0 {
			*s = *d
		}
		*d = span{}
	} else if dpk > 0 {
		if d.start.sec == 0 && s.start.sec != 0 {
			*d = *s
		}
		*s = span{}
	}
	if s.start.sec != 0 && s.end.sec == 0 {
		s.end = s.start
	}
	if d.start.sec != 0 && d.end.sec == 0 {
		d.end = d.start
	}
	stime, ltime := floatDur(*s), floatDur(*d)
	if !(stime >= 0) || !(ltime >= 0) {
		if stime < 0 {
			s.start, s.end = s.end, s.start
			stime = floatDur(*s)
		}
		if ltime < 0 {
			d.start, d.end = s.end, d.start
			ltime = floatDur(*s)
		}
	}
	if stime > 0 && spk == 0 && ltime == 0 && dpk > 0 {
		*d = *s
	}
	if ltime > 0 && dpk == 0 && stime == 0 && spk > 0 {
		*s = *d
	}
	if spk+dpk == 1 {
		if spk == 1 && floatDur(*s) != 0 {
			if r.Has&flow.HasICMPMap == 0 {
				s.start = s.end
			}
		} else if dpk == 1 && floatDur(*d) != 0 {
			d.start = d.end
		}
	}
}

func appendFloat(b []byte, f float64, prec int) []byte {
	return strconv.AppendFloat(b, f, 'f', prec, 64)
}
