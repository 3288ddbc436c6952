package gateway

import "testing"

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
		{in: "nf+udp://:2055", err: true},
	} {
		got, err := ParseEndpoint(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseEndpoint(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseEndpoint(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
