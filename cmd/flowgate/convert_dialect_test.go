package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertReadDialect: --read-dialect names the source's JSON or CSV
// dialect when it is not the sink's, so one run goes from ECS JSON to
// nfdump JSON (and from nfdump CSV to ECS JSON); the flows ra prints of
// the end result, read back into Argus, are the sample's. A --mapping file
// with two text dialects is refused.
func TestConvertReadDialect(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	fields := []string{"saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes"}
	want := string(raPrint(t, src, fields...))
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	steps := [][]string{
		{"-r", "argus:" + src, "-w", "json:" + p("ecs.json"), "--dialect", "ecs"},
		{"-r", "json:" + p("ecs.json"), "--read-dialect", "ecs", "-w", "json:" + p("nfdump.json"), "--dialect", "nfdump"},
		{"-r", "json:" + p("nfdump.json"), "--read-dialect", "nfdump", "-w", "csv:" + p("nfdump.csv"), "--dialect", "nfdump"},
		{"-r", "csv:" + p("nfdump.csv"), "--read-dialect", "nfdump", "-w", "json:" + p("ecs2.json"), "--dialect", "ecs"},
		{"-r", "json:" + p("ecs2.json"), "--dialect", "ecs", "-w", "argus:" + p("back.argus")},
	}
	for _, s := range steps {
		if code := run(append([]string{"convert", "--lossy"}, s...)); code != 0 {
			t.Fatalf("convert %s: exit %d", strings.Join(s, " "), code)
		}
	}
	if got := string(raPrint(t, p("back.argus"), fields...)); got != want {
		t.Errorf("flows changed through ecs -> nfdump json -> nfdump csv -> ecs:\n%s\nwant\n%s", got, want)
	}
	m := writeFile(t, "m.yaml", "version: 1\nschema: json\nfields: []\n")
	if code := run([]string{"convert", "-r", "json:" + p("ecs.json"), "--read-dialect", "ecs", "-w", "json:" + p("x.json"), "--dialect", "nfdump", "--mapping", m}); code == 0 {
		t.Error("--mapping with two dialects was accepted")
	}
}
