package serve_test

import (
	"log/slog"
	"net"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/serve"
)

// A sensor serves its records on port 561 to `ra -S host:561`.
func Example() {
	srv := serve.New(serve.Options{Version: 3, Logger: slog.Default()})
	ln, err := net.Listen("tcp", ":561")
	if err != nil {
		return
	}
	go srv.Serve(ln)
	defer srv.Close()

	records := make(chan flow.Record) // the flow tracker's output
	for rec := range records {
		srv.Publish(&rec) // never blocks; slow clients drop, counted in Stats
	}
}
