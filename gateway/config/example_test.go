package config_test

import (
	"fmt"

	"github.com/flowgate/flowgate/gateway/config"
)

func ExampleLoad() {
	c, err := config.Load("flowgate.yaml", []byte(`version: 1
pipelines:
  - name: edge
    sources: [nf+udp://:2055, "kafka://k1:9092/raw?format=raw"]
    filter: tcp and port 443
    mapping: json-goflow2
    sinks:
      - json:-
      - endpoint: argus:data/edge.argus
        rotate: {every: 1h, size: 1G}
        queue: {size: 1024, when_full: drop}
`), ".")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(c.Summary())

	_, err = config.Load("flowgate.yaml", []byte(`version: 1
pipelines:
  - name: edge
    sources: [nf+udp://:2055]
    filter: tcp and port
    sinks: [json:-, "argus+tcp://:99999"]
    sink: [json:-]
`), ".")
	fmt.Println(err)
	// Output:
	// flowgate.yaml: version 1, 1 pipeline(s)
	// pipeline "edge" (queues 65536 records, when full block)
	//   source  nf+udp://:2055: listen on udp :2055
	//   source  kafka://k1:9092/raw?format=raw: consume (group flowgate) from topic raw on k1:9092 as raw, key exporter
	//   filter  tcp and port 443
	//   mapping json-goflow2 (built-in, schema json, 28 rules)
	//   sink    json:-: json on stdout
	//   sink    argus:data/edge.argus: argus file data/edge.argus rotated every 1h0m0s or at 1G [queue 1024 records, when full drop]
	// flowgate.yaml:5:25: pipelines[0].filter: bad filter: "tcp and port": offset 12: unexpected end of expression
	// flowgate.yaml:6:21: pipelines[0].sinks[1]: bad endpoint: "argus+tcp://:99999": port "99999" is not a number from 0 to 65535
	// flowgate.yaml:7:5: pipelines[0].sink: unknown key: "sink" (want one of name, sources, filter, mapping, sinks, queue)
}
