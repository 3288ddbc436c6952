package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/gateway"
)

func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	v3 := filepath.Join(dir, "s3.argus")
	v5 := filepath.Join(dir, "s5.argus")
	conv := func(in, out string, lossy bool) (string, error) {
		i, _ := gateway.ParseEndpoint(in)
		o, _ := gateway.ParseEndpoint(out)
		var stderr bytes.Buffer
		err := runConvert(i, o, lossy, true, nil, nil, &stderr)
		return stderr.String(), err
	}
	if _, err := conv("argus:"+src, "argus3:"+v3, false); err != nil {
		t.Fatal(err)
	}
	if _, err := conv("argus3:"+v3, "argus:"+v5, false); err != nil {
		t.Fatal(err)
	}
	if _, err := conv("argus:"+v3, "x.argus", false); err == nil || !strings.Contains(err.Error(), "not argus") {
		t.Errorf("a 3.x file read as argus (5.x): err = %v", err)
	}
	print := func(f string) []byte {
		a, _ := parseRaArgs([]string{"-M", "ra5", "-n", "-u", "-c", ",", "-s", "stime", "ltime", "saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes", "state", "flgs", "sttl", "dttl", "-r", f})
		var out bytes.Buffer
		if err := runRa(a, nil, &out); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	if a, b := print(src), print(v5); !bytes.Equal(a, b) {
		t.Errorf("5.x -> 3.x -> 5.x changed the records:\n%s\n%s", a, b)
	}
}

// TestConvertNotRepresentable uses the upstream 5.x sample, whose monitor
// id is a UUID with an interface name: Argus 3.x cannot hold either.
func TestConvertNotRepresentable(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs argus/openargus-clients/baseline.2024.01.25.out")
	}
	in, _ := gateway.ParseEndpoint(filepath.Join(c, "argus", "openargus-clients", "baseline.2024.01.25.out"))
	out, _ := gateway.ParseEndpoint("argus3:" + filepath.Join(t.TempDir(), "b3.argus"))
	var stderr bytes.Buffer
	err := runConvert(in, out, false, false, nil, nil, &stderr)
	if err == nil || !strings.Contains(err.Error(), "srcid") {
		t.Fatalf("strict conversion: err = %v, want a not-representable srcid", err)
	}
	stderr.Reset()
	if err := runConvert(in, out, true, true, nil, nil, &stderr); err != nil {
		t.Fatal(err)
	}
	rep := stderr.String()
	for _, want := range []string{"records read      8222", "srcid:", "inf:"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}
