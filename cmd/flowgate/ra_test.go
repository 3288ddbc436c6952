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
	for _, mode := range [][]string{nil, {"-M", "json"}, {"-c", ",", "-s", "stime", "saddr", "suser", "duser", "offset", "label", "srcid"}} {
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
