package sensor

import (
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/track"
)

// Options configure a Sensor.
type Options struct {
	Track     track.Options
	NoTunnels bool // ARGUS_TUNNEL_PARSING=no
	// Argus3 makes records an Argus 3 writer can hold, as the argus 3.x
	// sensor makes them: packet times truncated to µs, no TCP MSS.
	Argus3         bool
	MarInterval    uint16 // seconds, announced in MARs (default 60)
	ReportInterval uint16 // seconds, announced in MARs (default: Track.StatusInterval)
}

// Counters are the sensor's packet counters.
type Counters struct {
	Packets uint64                    // frames seen
	Bytes   uint64                    // their wire bytes
	Bad     [decode.NumReasons]uint64 // frames not decoded, per reason
}

// Sensor turns frames into flow records: decode, track, MARs.
type Sensor struct {
	opt   Options
	emit  func(*flow.Record)
	dec   decode.Decoder
	pkt   decode.Packet
	tr    *track.Tracker
	c     Counters
	first int64
	last  int64
	begun bool
	mar   flow.Record
}

// New returns a Sensor that calls emit for every record (MARs included).
// The record is reused after emit returns.
func New(opt Options, emit func(*flow.Record)) *Sensor {
	opt.Track.NoMSS = opt.Track.NoMSS || opt.Argus3
	s := &Sensor{opt: opt, emit: emit}
	s.dec.NoTunnels = opt.NoTunnels
	s.tr = track.New(opt.Track, func(r *flow.Record) { s.emit(r) })
	return s
}

// Counters returns the packet counters so far.
func (s *Sensor) Counters() Counters { return s.c }

// Active returns the number of flows in the table.
func (s *Sensor) Active() int { return s.tr.Active() }

// Records returns the number of flow records emitted.
func (s *Sensor) Records() uint64 { return s.tr.Records }

// Frame processes one captured frame.
func (s *Sensor) Frame(f *capture.Frame) {
	if s.opt.Argus3 {
		f.TS -= f.TS % 1000
	}
	if !s.begun {
		s.begun = true
		s.first = f.TS
		s.sendMar(flow.CauseStart, f.TS)
	}
	s.last = max(s.last, f.TS)
	s.c.Packets++
	s.c.Bytes += uint64(max(f.Len, len(f.Data)))
	if err := s.dec.Decode(f, &s.pkt); err != nil {
		r, _ := err.(decode.Reason)
		if r >= decode.NumReasons {
			r = 0
		}
		s.c.Bad[r]++
		s.tr.Advance(f.TS)
		return
	}
	s.tr.Packet(&s.pkt)
}

// Tick advances the sensor's clock without a packet (an idle live link),
// so that flows still report and time out. now is Unix ns.
func (s *Sensor) Tick(now int64) {
	if s.begun && now > s.last {
		s.tr.Advance(now)
	}
}

// Close flushes every flow (final records) and emits the closing MAR.
func (s *Sensor) Close() {
	if !s.begun {
		s.begun = true
		s.sendMar(flow.CauseStart, 0)
	}
	s.tr.Flush()
	s.sendMar(flow.CauseStop, s.last)
}

func (s *Sensor) sendMar(cause flow.Cause, now int64) {
	r := &s.mar
	*r = flow.Record{Type: flow.TypeMgmt, Cause: cause, Has: flow.HasMgmt}
	m := &r.Mgmt
	m.StartTime, m.Now = s.first, now
	m.Major = 5
	m.ReportInterval = s.opt.ReportInterval
	if m.ReportInterval == 0 {
		m.ReportInterval = uint16(max(s.opt.Track.StatusInterval.Seconds(), 0))
		if m.ReportInterval == 0 {
			m.ReportInterval = 5
		}
	}
	m.MarInterval = s.opt.MarInterval
	if m.MarInterval == 0 {
		m.MarInterval = 60
	}
	m.RecordLen = -1
	if cause != flow.CauseStart {
		m.PktsRcvd, m.BytesRcvd = s.c.Packets, s.c.Bytes
		m.Records = uint32(s.tr.Records)
		m.Flows = uint32(s.tr.Active())
		var bad uint64
		for _, n := range s.c.Bad {
			bad += n
		}
		m.Dropped = uint32(bad)
	}
	if t := s.opt.Track; t.HasID {
		r.Has |= flow.HasSrcID
		r.SrcID = t.MonitorID
		copy(m.ID[:], t.MonitorID.ID[:])
		switch t.MonitorID.Type {
		case flow.SrcIDString:
			m.Status = 0x00200000
		case flow.SrcIDInt:
			m.Status = 0x00400000
		case flow.SrcIDIPv6:
			m.Status = 0x00600000
		case flow.SrcIDIPv4:
			m.Status = 0x00800000
		case flow.SrcIDUUID:
			m.Status = 0x00A00000
		}
	}
	s.emit(r)
}
