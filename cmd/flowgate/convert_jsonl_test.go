package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestConvertJSONDialects: `-w json:F --dialect D` writes valid JSON lines
// that `-r json:F --dialect D` reads back to the same flows (addresses,
// ports, protocol, packets and bytes each way, as ra prints them: an ICMP
// flow's type and code as sport and dport), for every dialect; ECS lines
// carry network.community_id; an unknown dialect is refused.
func TestConvertJSONDialects(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	fields := []string{"saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes"}
	want := string(raPrint(t, src, fields...))
	if !strings.Contains(want, ",icmp,") {
		t.Fatalf("%s has no ICMP flow", src)
	}
	dir := t.TempDir()
	for _, d := range []string{"argus", "ecs", "goflow2", "nfdump", "ipfix"} {
		js, back := filepath.Join(dir, d+".json"), filepath.Join(dir, d+".argus")
		if code := run([]string{"convert", "--lossy", "-r", "argus:" + src, "-w", "json:" + js, "--dialect", d}); code != 0 {
			t.Fatalf("%s: write: exit %d", d, code)
		}
		b, _ := os.ReadFile(js)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: invalid JSON %q: %v", d, l, err)
			}
			if d == "ecs" {
				if n, _ := m["network"].(map[string]any); n == nil || !strings.HasPrefix(n["community_id"].(string), "1:") {
					t.Errorf("ecs line without network.community_id: %s", l)
				}
			}
		}
		if code := run([]string{"convert", "--lossy", "-r", "json:" + js, "--dialect", d, "-w", "argus:" + back}); code != 0 {
			t.Fatalf("%s: read: exit %d", d, code)
		}
		if d == "goflow2" {
			continue // one-way: checked below
		}
		if got := string(raPrint(t, back, fields...)); got != want {
			t.Errorf("%s: flows changed through JSON:\n%s\nwant\n%s", d, got, want)
		}
	}
	biflows := 0 // rows where ra prints DstPkts > 0
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if c := strings.Split(l, ","); len(c) == len(fields) && c[6] != "0" && c[6] != "" && c[6] != "DstPkts" {
			biflows++
		}
	}
	if biflows == 0 {
		t.Fatal("no biflow in the sample")
	}
	// goflow2's records are one-way: a biflow is refused, or with --lossy
	// its reverse counts are left out and counted, never dropped quietly.
	if _, err := convert(t, "argus:"+src, "json:"+filepath.Join(dir, "g.json"), convertOpts{dialect: "goflow2"}); err == nil || !strings.Contains(err.Error(), "one-way") {
		t.Errorf("goflow2 without --lossy: err = %v", err)
	}
	rep, err := convert(t, "argus:"+src, "json:"+filepath.Join(dir, "g.json"), convertOpts{dialect: "goflow2", lossy: true, report: true})
	if err != nil || !strings.Contains(rep, "not representable "+strconv.Itoa(biflows)+" dst_pkts") {
		t.Errorf("goflow2 --lossy: err %v, report:\n%s", err, rep)
	}
	if code := run([]string{"convert", "-r", "argus:" + src, "-w", "json:" + filepath.Join(dir, "x"), "--dialect", "bogus"}); code == 0 {
		t.Error("an unknown dialect was accepted")
	}
}
