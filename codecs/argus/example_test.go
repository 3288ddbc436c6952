package argus_test

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// A record built by hand (as another decoder would) is written as Argus
// 5.x with canonical encodings and read back.
func ExampleNewWriter() {
	var r flow.Record
	r.Type, r.Cause = flow.TypeFlow, flow.CauseStart
	r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17,
		Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 53001,
		Dst: netip.MustParseAddr("10.0.0.53"), DstPort: 53}
	r.Start, r.Last = 1700000000_500000000, 1700000000_512000000
	r.Pkts, r.Bytes = [2]uint64{1, 1}, [2]uint64{74, 95}

	var buf bytes.Buffer
	w, _ := argus.NewWriter(&buf, 5)
	if err := w.Encode(&r); err != nil {
		fmt.Println(err)
	}
	w.Close()

	rd, _ := argus.NewReader(&buf)
	var got flow.Record
	for {
		if err := rd.Decode(&got); err == io.EOF {
			break
		} else if err != nil {
			fmt.Println(err)
			return
		}
		if got.Type == flow.TypeMgmt {
			fmt.Println("MAR, Argus", got.Mgmt.Major)
			continue
		}
		k := got.Key
		fmt.Println(k.Src, k.SrcPort, "->", k.Dst, k.DstPort, got.Pkts, got.Bytes, (got.Last-got.Start)/1e6, "ms")
	}
	// Output:
	// MAR, Argus 5
	// 10.0.0.1 53001 -> 10.0.0.53 53 [1 1] [74 95] 12 ms
}
