package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// debianRa runs Debian's ra 3.0.8.2 with TZ=UTC.
func debianRa(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("ra not installed")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ra %v: %v", args, err)
	}
	return out
}

// TestConvertRaCSV: Debian ra's own CSV of a corpus Argus 3 file
// (ra -c , -L0 -n -u, with its Flgs, Dir and State columns) converts to
// Argus 3 that ra prints with the same TCP and UDP flows; the MARs and ARP
// rows (no IP flow key) are refused without --lossy, and with it skipped
// and counted in the report with the line of the first one, as are the
// ICMP types ra prints in hex.
func TestConvertRaCSV(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	orig := filepath.Join(c, "argus/oracle/traffic_slips_test7-malicious/v3.argus")
	dir := t.TempDir()
	in, back := filepath.Join(dir, "ra.csv"), filepath.Join(dir, "back.argus")
	os.WriteFile(in, debianRa(t, "-r", orig, "-c", ",", "-L0", "-n", "-u", "-s",
		"stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes", "state"), 0o644)
	if _, err := convert(t, "csv:"+in, "argus3:"+back, convertOpts{}); err == nil || !strings.Contains(err.Error(), in+":line 2 field 4 (Proto)") {
		t.Fatalf("without --lossy: err = %v, want the MAR on line 2 named", err)
	}
	rep, err := convert(t, "csv:"+in, "argus3:"+back, convertOpts{lossy: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"records read      738 (CSV, argus dialect)", "columns not read  3: Flgs,Dir,State",
		"records skipped   19 no flow key (Proto does not convert) (first at line 2: \"man\")", "values left out   8 Sport (first at line 152: \"0x0008\")"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	// stime is not compared: for the few one-sided flows ra prints
	// reversed, it prints a start time the CSV does not carry back.
	fields := []string{"-n", "-u", "-c", ",", "-s", "ltime", "saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes", "-", "tcp", "or", "udp"}
	want := debianRa(t, append([]string{"-r", orig}, fields...)...)
	got := debianRa(t, append([]string{"-r", back}, fields...)...)
	if !bytes.Equal(got, want) {
		t.Errorf("ra prints the converted flows differently:\n%s\nwant\n%s", got, want)
	}
	if n := bytes.Count(want, []byte("\n")); n < 500 {
		t.Errorf("only %d flows compared", n)
	}
}

// TestConvertCSVDialects: -w csv:F --dialect D writes a header and one line
// per flow that -r csv:F --dialect D reads back to the same TCP and UDP
// flows, as ra prints them, in every dialect but the one-way goflow2, which
// refuses a biflow unless --lossy; an unknown dialect is refused.
func TestConvertCSVDialects(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	fields := []string{"saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes"}
	noICMP := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, ",icmp,") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	want := noICMP(raPrint(t, src, fields...))
	dir := t.TempDir()
	for _, d := range []string{"argus", "ecs", "nfdump", "ipfix"} {
		f, back := filepath.Join(dir, d+".csv"), filepath.Join(dir, d+".argus")
		rep, err := convert(t, "argus:"+src, "csv:"+f, convertOpts{dialect: d, lossy: true})
		if err != nil {
			t.Fatalf("%s: write: %v", d, err)
		}
		if !strings.Contains(rep, "CSV, "+d+" dialect") {
			t.Errorf("%s: report:\n%s", d, rep)
		}
		if _, err := convert(t, "csv:"+f, "argus:"+back, convertOpts{dialect: d, lossy: true}); err != nil {
			t.Fatalf("%s: read: %v", d, err)
		}
		if got := noICMP(raPrint(t, back, fields...)); got != want {
			t.Errorf("%s: flows changed through CSV:\n%s\nwant\n%s", d, got, want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "argus.csv"))
	if !bytes.HasPrefix(b, []byte("StartTime,LastTime,Dur,Proto,SrcAddr,Sport,DstAddr,Dport,TotPkts,TotBytes,")) {
		t.Errorf("argus header: %.100s", b)
	}
	if _, err := convert(t, "argus:"+src, "csv:"+filepath.Join(dir, "g.csv"), convertOpts{dialect: "goflow2"}); err == nil || !strings.Contains(err.Error(), "one-way") {
		t.Errorf("goflow2 without --lossy: err = %v", err)
	}
	if rep, err := convert(t, "argus:"+src, "csv:"+filepath.Join(dir, "g.csv"), convertOpts{dialect: "goflow2", lossy: true}); err != nil || !strings.Contains(rep, "reverse left out") {
		t.Errorf("goflow2 --lossy: err %v, report:\n%s", err, rep)
	}
	if code := run([]string{"convert", "-r", "argus:" + src, "-w", "csv:" + filepath.Join(dir, "x"), "--dialect", "bogus"}); code == 0 {
		t.Error("an unknown dialect was accepted")
	}
}
