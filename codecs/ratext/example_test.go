package ratext_test

import (
	"net/netip"
	"os"
	"time"

	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

func ExampleNewPrinter() {
	var r flow.Record
	r.Type, r.Cause = flow.TypeFlow, flow.CauseStart
	r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17,
		Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 53001,
		Dst: netip.MustParseAddr("10.0.0.53"), DstPort: 53}
	r.Start, r.Last = 1700000000_500000000, 1700000000_512000000
	r.Pkts, r.Bytes = [2]uint64{1, 1}, [2]uint64{74, 95}

	p, _ := ratext.NewPrinter(os.Stdout, ratext.Options{
		Fields:   []string{"stime", "dur", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes", "state"},
		Delim:    ",",
		NFlag:    1, // -n
		Location: time.UTC,
	})
	p.Print(&r)
	p.Flush()
	// Output:
	// StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,SrcPkts,DstPkts,SrcBytes,DstBytes,State
	// 22:13:20.500000,0.012000,udp,10.0.0.1,53001,<->,10.0.0.53,53,1,1,74,95,CON
}
