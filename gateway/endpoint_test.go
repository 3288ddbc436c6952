package gateway

import (
	"errors"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Endpoint
		err  bool
	}{
		{in: "x.argus", want: Endpoint{Path: "x.argus"}},
		{in: "argus:x.argus", want: Endpoint{Format: FormatArgus, Path: "x.argus"}},
		{in: "argus3:-", want: Endpoint{Format: FormatArgus3, Path: "-"}},
		{in: "-", want: Endpoint{Path: "-"}},
		{in: "c:/tmp/x", want: Endpoint{Path: "c:/tmp/x"}},
		{in: "argus:", err: true},
		{in: "", err: true},
		{in: "nf:capture.pcap", want: Endpoint{Format: FormatNF, Path: "capture.pcap"}},
		{in: "nf5:v5.dat", want: Endpoint{Format: FormatNF5, Path: "v5.dat"}},
		{in: "NF9:v9.dat", want: Endpoint{Format: FormatNF9, Path: "v9.dat"}},
		{in: "ipfix:x.ipfix", want: Endpoint{Format: FormatIPFIX, Path: "x.ipfix"}},
		{in: "json:-", want: Endpoint{Format: FormatJSON, Path: "-"}},
		{in: "nf+udp://:2055", want: Endpoint{Format: FormatNF, Scheme: "nf+udp", Transport: "udp", Addr: ":2055"}},
		{in: "nf+udp://[::1]:2055?workers=2&rcvbuf=8M&reuseport=1", want: Endpoint{
			Format: FormatNF, Scheme: "nf+udp", Transport: "udp", Addr: "[::1]:2055",
			Query: "workers=2&rcvbuf=8M&reuseport=1",
			Opts:  Options{Workers: 2, RcvBuf: 8 << 20, ReusePort: true}}},
		{in: "nf+udp://0.0.0.0:2055?reuseport=0&batch=16", want: Endpoint{
			Format: FormatNF, Scheme: "nf+udp", Transport: "udp", Addr: "0.0.0.0:2055",
			Query: "reuseport=0&batch=16", Opts: Options{NoReuse: true, Batch: 16}}},
		{in: "ipfix+tcp://127.0.0.1:4739", want: Endpoint{Format: FormatIPFIX, Scheme: "ipfix+tcp", Transport: "tcp", Addr: "127.0.0.1:4739"}},
		{in: "ipfix+tls://:4740?cert=c.pem&key=k.pem", want: Endpoint{
			Format: FormatIPFIX, Scheme: "ipfix+tls", Transport: "tls", Addr: ":4740",
			Query: "cert=c.pem&key=k.pem", Opts: Options{Cert: "c.pem", Key: "k.pem"}}},
		{in: "nf5+udp://collector:2055?mtu=1500", want: Endpoint{
			Format: FormatNF5, Scheme: "nf5+udp", Transport: "udp", Addr: "collector:2055",
			Query: "mtu=1500", Opts: Options{MTU: 1500}}},
		{in: "nf9+udp://127.0.0.1:2055?rate=500000", want: Endpoint{Format: FormatNF9, Scheme: "nf9+udp", Transport: "udp", Addr: "127.0.0.1:2055", Query: "rate=500000", Opts: Options{Rate: 500000}}},
		{in: "nf9+udp://127.0.0.1:2055?rate=0", err: true},
		{in: "ipfix+udp://127.0.0.1:4739?times=ms", want: Endpoint{Format: FormatIPFIX, Scheme: "ipfix+udp", Transport: "udp", Addr: "127.0.0.1:4739", Query: "times=ms", Opts: Options{Times: "ms"}}},
		{in: "ipfix+udp://127.0.0.1:4739?times=us", err: true},
		{in: "nf9+udp://127.0.0.1:2055", want: Endpoint{Format: FormatNF9, Scheme: "nf9+udp", Transport: "udp", Addr: "127.0.0.1:2055"}},
		{in: "ipfix+udp://127.0.0.1:4739", want: Endpoint{Format: FormatIPFIX, Scheme: "ipfix+udp", Transport: "udp", Addr: "127.0.0.1:4739"}},
		{in: "nf+udp://2055", err: true},                      // no colon before the port
		{in: "nf+udp://:99999", err: true},                    // port out of range
		{in: "nf+udp://:2055?wokers=2", err: true},            // typo in an option
		{in: "nf+udp://:2055?workers=0", err: true},           // no worker
		{in: "nf+udp://:2055?rcvbuf=lots", err: true},         // not a size
		{in: "nf+udp://:2055?cert=c.pem", err: true},          // TLS option on UDP
		{in: "ipfix+tls://:4740?cert=c.pem", err: true},       // cert without key
		{in: "nf+tcp://:2055", err: true},                     // NetFlow has no TCP transport
		{in: "kafka://broker:9092/topic", err: true},          // not yet
		{in: "ipfix+udp://[::1:4739", err: true},              // unclosed bracket
		{in: "nf+udp://:2055?workers=2&workers=x", err: true}, // last value wins, and is bad
		{in: "ipfix+tcp://h:1?mtu=10", err: true},             // too small a message
		{in: "ipfix+tls://:4740?cert=c&key=k&clientca=ca", want: Endpoint{ // client certificates
			Format: FormatIPFIX, Scheme: "ipfix+tls", Transport: "tls", Addr: ":4740",
			Query: "cert=c&key=k&clientca=ca", Opts: Options{Cert: "c", Key: "k", ClientCA: "ca"}}},
	} {
		got, err := ParseEndpoint(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseEndpoint(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil {
			var ee *EndpointError
			if !errors.Is(err, ErrEndpoint) || !errors.As(err, &ee) || ee.Text != tc.in {
				t.Errorf("ParseEndpoint(%q) error %v: want an *EndpointError naming the text", tc.in, err)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("ParseEndpoint(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.in && tc.in != "NF9:v9.dat" {
			t.Errorf("ParseEndpoint(%q).String() = %q", tc.in, s)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "8M": 8 << 20, "8MiB": 8 << 20, "16k": 16 << 10, "1G": 1 << 30, "2mb": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1", "1T", "x", "99999999999G"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): want an error", in)
		}
	}
}
