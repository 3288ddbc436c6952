package filter_test

import (
	"fmt"
	"net/netip"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/flow/filter"
)

func ExampleCompile() {
	f, err := filter.Compile("udp and dst port 53 and pkts gt 1")
	if err != nil {
		fmt.Println(err)
		return
	}
	var r flow.Record
	r.Type = flow.TypeFlow
	r.Has = flow.HasKey | flow.HasMetrics
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17,
		Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 53001,
		Dst: netip.MustParseAddr("10.0.0.53"), DstPort: 53}
	r.Pkts = [2]uint64{1, 1}
	fmt.Println(f.Match(&r)) // pkts gt 1 means src or dst, not the total
	r.Pkts[flow.Dst] = 2
	fmt.Println(f.Match(&r))

	_, err = filter.Compile("tcp and and port 80")
	fmt.Println(err)
	// Output:
	// false
	// true
	// filter: offset 8: unexpected "and"
}
