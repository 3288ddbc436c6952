package sensor

import (
	"encoding/binary"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
)

// synthFrame builds an Ethernet/IPv4/TCP frame of flow i (client port
// 1024+i to 10.0.0.2:80), in either direction, with 100 payload bytes.
func synthFrame(buf []byte, i int, fwd bool, seq uint32) []byte {
	b := buf[:154]
	clear(b)
	copy(b[0:], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0})
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 140)
	src, dst := []byte{10, 1, byte(i >> 8), byte(i)}, []byte{10, 0, 0, 2}
	sp, dp := uint16(1024+i%30000), uint16(80)
	if !fwd {
		src, dst, sp, dp = dst, src, dp, sp
	}
	copy(ip[12:], src)
	copy(ip[16:], dst)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12], tcp[13] = 0x50, 0x18
	binary.BigEndian.PutUint16(tcp[14:], 8192)
	return b
}

func TestSensorNoAllocSteadyState(t *testing.T) {
	s := New(Options{}, func(*flow.Record) {})
	buf := make([]byte, 256)
	f := capture.Frame{TS: 1700000000e9, LinkType: capture.LinkEthernet}
	f.Data = synthFrame(buf, 1, true, 1000)
	f.Len = len(f.Data)
	s.Frame(&f)
	seq := uint32(1100)
	n := testing.AllocsPerRun(1000, func() {
		f.TS += 1e6
		f.Data = synthFrame(buf, 1, seq%200 == 0, seq)
		seq += 100
		s.Frame(&f)
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet (decode + track)", n)
	}
	s.Close()
	if c := s.Counters(); c.Packets < 1000 || c.Bad != [len(c.Bad)]uint64{} {
		t.Errorf("counters %+v", c)
	}
}

func TestSensorMARs(t *testing.T) {
	var types []flow.RecordType
	var causes []flow.Cause
	s := New(Options{}, func(r *flow.Record) { types = append(types, r.Type); causes = append(causes, r.Cause) })
	buf := make([]byte, 256)
	f := capture.Frame{TS: 1700000000e9, LinkType: capture.LinkEthernet}
	f.Data = synthFrame(buf, 1, true, 1000)
	f.Len = len(f.Data)
	s.Frame(&f)
	s.Close()
	if len(types) != 3 || types[0] != flow.TypeMgmt || causes[0] != flow.CauseStart || types[1] != flow.TypeFlow ||
		types[2] != flow.TypeMgmt || causes[2] != flow.CauseStop {
		t.Fatalf("types %v causes %v", types, causes)
	}
}

// BenchmarkSensor: 4096 concurrent TCP flows, both directions, decode + track.
func BenchmarkSensor(b *testing.B) {
	const nflows = 4096
	frames := make([][]byte, 2*nflows)
	for i := range frames {
		frames[i] = synthFrame(make([]byte, 256), i/2, i%2 == 0, uint32(i)*100)
	}
	s := New(Options{}, func(*flow.Record) {})
	f := capture.Frame{TS: 1700000000e9, LinkType: capture.LinkEthernet, Len: 154}
	b.ReportAllocs()
	b.SetBytes(154)
	for i := 0; b.Loop(); i++ {
		f.TS += 1000
		f.Data = frames[i%len(frames)]
		s.Frame(&f)
	}
}
