package gateway_test

import (
	"fmt"

	"github.com/flowgate/flowgate/gateway"
)

func ExampleParseEndpoint() {
	for _, s := range []string{"argus3:archive/old.argus.gz", "new.argus", "-", "nf:export.pcap"} {
		e, err := gateway.ParseEndpoint(s)
		fmt.Printf("%q %q %v %v\n", e.Format, e.Path, e.IsStdio(), err)
	}
	e, err := gateway.ParseEndpoint("nf+udp://[::]:2055?workers=2&rcvbuf=16M")
	fmt.Println(e.Format, e.Transport, e.Addr, e.Opts.Workers, e.Opts.RcvBuf, err)
	// Output:
	// "argus3" "archive/old.argus.gz" false <nil>
	// "" "new.argus" false <nil>
	// "" "-" true <nil>
	// "nf" "export.pcap" false <nil>
	// nf udp [::]:2055 2 16777216 <nil>
}
