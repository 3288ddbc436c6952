package gateway_test

import (
	"fmt"

	"github.com/flowgate/flowgate/gateway"
)

func ExampleParseEndpoint() {
	for _, s := range []string{"argus3:archive/old.argus.gz", "new.argus", "-"} {
		e, err := gateway.ParseEndpoint(s)
		fmt.Printf("%q %q %v %v\n", e.Format, e.Path, e.IsStdio(), err)
	}
	// Output:
	// "argus3" "archive/old.argus.gz" false <nil>
	// "" "new.argus" false <nil>
	// "" "-" true <nil>
}
