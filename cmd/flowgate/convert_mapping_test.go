package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

func writeFile(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readConnLog(t testing.TB, path string) []flow.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd := zeek.NewReader(bytes.NewReader(b))
	var out []flow.Record
	for {
		var r flow.Record
		err := rd.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		r.Detach()
		out = append(out, r)
	}
}

// TestConvertMappingIPFIX: convert --mapping with an ipfix file reaches
// the IPFIX decoder: Cisco AVC's connection elements (PEN 9) become the
// conn.log's id.orig_h, id.resp_h and id.resp_p, as tshark 4.0.17 reads
// them from the same capture (-T fields); without the file the flows have
// no addresses.
func TestConvertMappingIPFIX(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("no tshark")
	}
	pcap := filepath.Join(corpus, "netflow-exports/flowbeat/pcap/ipfix_cisco.pcap")
	m := writeFile(t, "avc.yaml", `version: 1
schema: ipfix
fields:
  - {external: 9/12236, canonical: src_addr, convert: {family: ipv4}}
  - {external: 9/12237, canonical: dst_addr, convert: {family: ipv4}}
  - {external: 9/12241, canonical: dst_port}
`)
	out := filepath.Join(t.TempDir(), "conn.log")
	if _, err := convert(t, "nf:"+pcap, "zeek:"+out, convertOpts{mapping: m}); err != nil {
		t.Fatal(err)
	}
	recs := readConnLog(t, out)
	ts, err := exec.Command("tshark", "-n", "-r", pcap, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
		"-e", "cflow.pie.cisco.connection_client_ipv4_address", "-e", "cflow.pie.cisco.connection_server_ipv4_address",
		"-e", "cflow.pie.cisco.connection_server_transport_port").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want [][3]string
	for _, line := range strings.Split(strings.TrimSpace(string(ts)), "\n") {
		f := strings.Split(line, "\t")
		cs, ss, ps := strings.Split(f[0], ";"), strings.Split(f[1], ";"), strings.Split(f[2], ";")
		for i := range cs {
			want = append(want, [3]string{cs[i], ss[i], ps[i]})
		}
	}
	if len(recs) != len(want) || len(recs) == 0 {
		t.Fatalf("%d conn.log rows, tshark %d flows", len(recs), len(want))
	}
	for i, r := range recs {
		got := [3]string{r.Key.Src.String(), r.Key.Dst.String(), strconv.Itoa(int(r.Key.DstPort))}
		if got != want[i] {
			t.Errorf("row %d: %v, tshark %v", i+1, got, want[i])
		}
	}
	plain := filepath.Join(t.TempDir(), "plain.log")
	if _, err := convert(t, "nf:"+pcap, "zeek:"+plain, convertOpts{}); err != nil {
		t.Fatal(err)
	}
	for i, r := range readConnLog(t, plain) {
		if r.Key.Src.IsValid() && !r.Key.Src.IsUnspecified() {
			t.Fatalf("row %d without the mapping: address %s", i+1, r.Key.Src)
		}
	}
}

// TestConvertMappingZeek: a zeek mapping reaches the Zeek reader and
// writer: the labelled conn.log's label column goes to the canonical
// label, and back out as the column, byte for byte; a mapping whose
// schema neither side has is an error.
func TestConvertMappingZeek(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	src := filepath.Join(corpus, "zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled")
	m := writeFile(t, "label.yaml", "version: 1\nschema: zeek\nfields:\n  - {external: label, canonical: label}\n")
	out := filepath.Join(t.TempDir(), "conn.log")
	if _, err := convert(t, "zeek:"+src, "zeek:"+out, convertOpts{mapping: m}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
		for i := range al {
			if i >= len(bl) || al[i] != bl[i] {
				t.Errorf("rewrite with the mapping differs at line %d: %q", i+1, al[i])
				break
			}
		}
	}
	js := filepath.Join(t.TempDir(), "conn.json")
	if _, err := convert(t, "zeek:"+src, "zeekjson:"+js, convertOpts{mapping: m}); err != nil {
		t.Fatal(err)
	}
	j, _ := os.ReadFile(js)
	if n := bytes.Count(j, []byte(`"label":"Malicious"`)); n < 700 {
		t.Errorf("%d JSON lines with the label Malicious", n)
	}
	// --report's field account follows the user's rule: the label has a
	// column now, so it is preserved, not "no place for it".
	n := bytes.Count(a, []byte("\tMalicious\t"))
	rep, err := convert(t, "zeek:"+src, "zeek:"+filepath.Join(t.TempDir(), "r.log"), convertOpts{mapping: m, report: true})
	if err != nil {
		t.Fatal(err)
	}
	if n < 700 || !regexp.MustCompile(`(?m)^\s+\d+\s+0\s+0\s+0\s+label$`).MatchString(rep) || strings.Contains(rep, "label (no place") {
		t.Errorf("%d labelled rows; report:\n%s", n, rep)
	}
	if _, err := convert(t, "zeek:"+src, "argus:"+filepath.Join(t.TempDir(), "x.argus"),
		convertOpts{mapping: writeFile(t, "ip.yaml", "version: 1\nschema: ipfix\nfields:\n  - {external: 9/1, canonical: seq}\n")}); err == nil || !strings.Contains(err.Error(), "ipfix mapping") {
		t.Errorf("an ipfix mapping for zeek -> argus: %v", err)
	}
}
