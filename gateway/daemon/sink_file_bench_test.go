package daemon

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
)

func nopLost(*flow.Record, Reason) {}

// benchArgusSink writes the corpus's Argus 5 file (8222 records from
// upstream's tests) in batches of 256, over and over.
func benchArgusSink(b *testing.B, rot config.Rotate) {
	recs, _ := corpusArgus(b, "openargus-clients/baseline.2024.01.25.out")
	s, err := newArgusFileSink(sinkCfg(b, "argus:"+filepath.Join(b.TempDir(), "f.argus"), rot), Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 256
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		if k+n > len(recs) {
			k = 0
		}
		if err := s.Write(recs[k:k+n], nopLost); err != nil {
			b.Fatal(err)
		}
		k += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkArgusFileSink(b *testing.B) { benchArgusSink(b, config.Rotate{}) }

func BenchmarkArgusFileSinkRotated(b *testing.B) {
	benchArgusSink(b, config.Rotate{Every: time.Hour, Size: 64 << 20})
}

// TestArgusFileSinkAllocs: writing a batch allocates nothing once the
// file is open, with or without size rotation.
func TestArgusFileSinkAllocs(t *testing.T) {
	recs, _ := corpusArgus(t, "openargus-clients/baseline.2024.01.25.out")
	for _, rot := range []config.Rotate{{}, {Every: time.Hour, Size: 1 << 30}} {
		s, err := newArgusFileSink(sinkCfg(t, "argus:"+filepath.Join(t.TempDir(), "f.argus"), rot), Env{})
		if err != nil {
			t.Fatal(err)
		}
		s.Write(recs[:256], nopLost)
		k := 0
		a := testing.AllocsPerRun(50, func() {
			if k+256 > len(recs) {
				k = 0
			}
			s.Write(recs[k:k+256], nopLost)
			k += 256
		})
		s.Close()
		if a != 0 {
			t.Errorf("rotate %+v: %.1f allocations per batch of 256", rot, a)
		}
	}
}

// BenchmarkJSONFileSink: the same records as JSON lines (argus dialect),
// each line made apart before it is written.
func BenchmarkJSONFileSink(b *testing.B) {
	recs, _ := corpusArgus(b, "openargus-clients/baseline.2024.01.25.out")
	s, err := newTextFileSink(sinkCfg(b, "json:"+filepath.Join(b.TempDir(), "f.json"), config.Rotate{}), Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 256
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		if k+n > len(recs) {
			k = 0
		}
		if err := s.Write(recs[k:k+n], nopLost); err != nil {
			b.Fatal(err)
		}
		k += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
