package migrate_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/migrate"
)

// ExampleRun migrates a one-file 3.x archive (gzip'd, as argus's
// hourly files often are) to 5.x and reads the manifest's account of it.
func ExampleRun() {
	src, _ := os.MkdirTemp("", "archive")
	dst, _ := os.MkdirTemp("", "archive5")
	defer os.RemoveAll(src)
	defer os.RemoveAll(dst)

	name := filepath.Join(src, "2026", "01", "01", "argus.2026.01.01.00.00.00.out.gz")
	os.MkdirAll(filepath.Dir(name), 0o755)
	f, _ := os.Create(name)
	z := gzip.NewWriter(f)
	w, _ := argus.NewWriter(z, 3)
	start := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC).UnixNano()
	for i := range 3 {
		r := flow.Record{Type: flow.TypeFlow, Has: flow.HasKey | flow.HasTime | flow.HasMetrics,
			Start: start + int64(i)*1e9, Last: start + int64(i)*1e9 + 5e8}
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 6,
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.7"), SrcPort: 40000 + uint16(i), DstPort: 443}
		r.Pkts, r.Bytes = [2]uint64{3, 2}, [2]uint64{180, 120}
		w.Encode(&r)
	}
	w.Close()
	z.Close()
	f.Close()

	s, err := migrate.Run(context.Background(), src, dst, migrate.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := s.Entries[0]
	fmt.Println(e.Path, e.Result, e.From, "->", e.To, e.Compress)
	fmt.Println(e.Records, "records,", e.MARs, "MAR; flows from", e.First.Format(time.TimeOnly), "to", e.Last.Format(time.TimeOnly))
	// Output:
	// 2026/01/01/argus.2026.01.01.00.00.00.out.gz migrated 3 -> 5 gzip
	// 4 records, 1 MAR; flows from 00:00:01 to 00:00:03
}
