package track_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/track"
)

// benchPcap returns a generated capture: $FLOWGATE_BENCH_PCAP, or 200k
// packets made by conformance/tools/genpcap.
func benchPcap(b *testing.B) string {
	if p := os.Getenv("FLOWGATE_BENCH_PCAP"); p != "" {
		return p
	}
	p := filepath.Join(b.TempDir(), "gen.pcap")
	cmd := exec.Command("go", "run", "./conformance/tools/genpcap", "-n", "200000", "-o", p)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("genpcap: %v\n%s", err, out)
	}
	return p
}

// BenchmarkSensorPcap runs decode + track (default options) over a whole
// generated capture held in memory; one op is the whole capture.
func BenchmarkSensorPcap(b *testing.B) {
	frames := loadFrames(b)
	var size int64
	for _, f := range frames {
		size += int64(len(f.Data))
	}
	var recs uint64
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		s := sensor.New(sensor.Options{Argus3: true}, func(*flow.Record) { recs++ })
		for i := range frames {
			f := frames[i]
			s.Frame(&f)
		}
		s.Close()
	}
	b.ReportMetric(float64(len(frames))*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(recs)/float64(b.N), "records/op")
}

// BenchmarkTrackPcap runs decode + track over a whole generated capture
// held in memory, one op per capture: Packet decodes and tracks one frame
// at a time, Packets decodes 32 frames and tracks them as a batch. It
// reports the table's MemBytes per active flow when it held the most.
func BenchmarkTrackPcap(b *testing.B) {
	frames := loadFrames(b)
	for _, bc := range []struct {
		name string
		opt  track.Options
	}{{"default", track.Options{NoMSS: true}}, {"mAJRZ", track.Options{NoMSS: true, MAC: true, AppBytes: true, Jitter: true, Response: true, PktSize: true}}} {
		for _, batch := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/batch%d", bc.name, batch), func(b *testing.B) {
				var recs uint64
				var peak int
				var peakMem int64
				pk := make([]decode.Packet, batch)
				b.ReportAllocs()
				for b.Loop() {
					var dec decode.Decoder
					tr := track.New(bc.opt, func(*flow.Record) { recs++ })
					n := 0
					for i := range frames {
						if i&4095 == 0 && tr.Active() > peak { // the table at its largest
							peak, peakMem = tr.Active(), tr.MemBytes()
						}
						f := frames[i]
						f.TS -= f.TS % 1000
						if dec.Decode(&f, &pk[n]) != nil {
							tr.Advance(f.TS)
							continue
						}
						if batch == 1 {
							tr.Packet(&pk[0])
							continue
						}
						if n++; n == batch {
							tr.Packets(pk)
							n = 0
						}
					}
					tr.Packets(pk[:n])
					tr.Flush()
				}
				b.ReportMetric(float64(len(frames))*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
				b.ReportMetric(float64(peak), "peak-flows")
				b.ReportMetric(float64(peakMem)/float64(peak), "B/flow")
			})
		}
	}
}

// loadFrames reads the benchmark capture into memory (one buffer: few
// objects for the GC).
func loadFrames(b *testing.B) []capture.Frame {
	src, err := capture.OpenFile(benchPcap(b))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var frames []capture.Frame
	var offs []int
	var data []byte
	for {
		var f capture.Frame
		err := src.ReadFrame(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		offs = append(offs, len(data))
		data = append(data, f.Data...)
		f.Data = nil
		frames = append(frames, f)
	}
	offs = append(offs, len(data))
	for i := range frames {
		frames[i].Data = data[offs[i]:offs[i+1]:offs[i+1]]
	}
	return frames
}
