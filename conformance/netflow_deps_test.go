package conformance

// The independent decoders and the YAML reader the NetFlow/IPFIX conformance
// tests compare against (issue 4: differential tests and flowbeat's
// dat_tests.yaml). Imported here so go.mod keeps them while the tests that
// use them are written.
import (
	_ "github.com/calmh/ipfix"
	_ "github.com/tehmaze/netflow/ipfix"
	_ "github.com/tehmaze/netflow/netflow9"
	_ "go.yaml.in/yaml/v3"
)
