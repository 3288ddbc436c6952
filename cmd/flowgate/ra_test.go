package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestParallelPrintSameAsSequential checks that splitting the printing
// across goroutines changes nothing in the output, on our own sample and,
// when present, on the corpus.
func TestParallelPrintSameAsSequential(t *testing.T) {
	files := []string{filepath.Join("..", "..", "testdata", "sample.argus")}
	if c := os.Getenv("FLOWGATE_CORPUS"); c != "" {
		m, _ := filepath.Glob(filepath.Join(c, "argus", "oracle", "*", "v5full.argus"))
		files = append(files, m...)
		files = append(files, filepath.Join(c, "argus", "openargus-clients", "baseline.2024.01.25.out"))
	}
	for _, mode := range [][]string{nil, {"-M", "json"}, {"-N", "3", "-M", "man", "-", "tcp", "or", "man"}, {"-M", "man", "-", "not", "udp"}, {"-c", ",", "-s", "stime", "saddr", "suser", "duser", "offset", "label", "srcid"}} {
		for _, f := range files {
			args := append([]string{"-n", "-u", "-r", f}, mode...)
			run := func(procs int) []byte {
				old := runtime.GOMAXPROCS(procs)
				defer runtime.GOMAXPROCS(old)
				a, err := parseRaArgs(args)
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				if err := runRa(a, nil, &out); err != nil {
					if st, ok := err.(exitStatus); !ok || st.code != 1 {
						t.Fatalf("%v: %v", args, err)
					}
				}
				return out.Bytes()
			}
			seq, par := run(1), run(4)
			if len(seq) == 0 {
				t.Fatalf("%v: no output", args)
			}
			if !bytes.Equal(seq, par) {
				t.Errorf("%v: parallel output differs from sequential", args)
			}
		}
	}
}

// TestRaSkipsCorruptData checks that garbage in the middle of a stream is
// reported with its offset and costs only the records it overwrites.
func TestRaSkipsCorruptData(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample.argus"))
	if err != nil {
		t.Fatal(err)
	}
	print := func(data []byte) ([]byte, error) {
		f := filepath.Join(t.TempDir(), "x.argus")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		a, _ := parseRaArgs([]string{"-n", "-L", "-1", "-s", "saddr", "daddr", "-r", f})
		var out bytes.Buffer
		err := runRa(a, nil, &out)
		return out.Bytes(), err
	}
	all, err := print(good)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite the header of the second flow record (byte 372, after
	// the 128-byte MAR and a 244-byte record) with a pattern no record
	// header has.
	bad := append([]byte(nil), good...)
	for i := 0; i < 8; i++ {
		bad[372+i] = 0xEE
	}
	got, err := print(bad)
	if st, ok := err.(exitStatus); !ok || st.code != 2 {
		t.Fatalf("want exit status 2 for corrupt input, got %v", err)
	}
	lines := bytes.Split(bytes.TrimSpace(got), []byte("\n"))
	want := bytes.Split(bytes.TrimSpace(all), []byte("\n"))
	if len(lines) < len(want)-1 || !bytes.Equal(lines[0], want[0]) || !bytes.Equal(lines[len(lines)-1], want[len(want)-1]) {
		t.Fatalf("good records lost around the corruption:\n%s\nwant (all but one of):\n%s", got, all)
	}
}
