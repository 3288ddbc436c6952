package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// The oracle: Debian's ra 3.0.8.2 reads a Server (Version 3) with
// `ra -S 127.0.0.1:PORT` and must print what `ra -r` prints for the file
// the records came from, with and without a (server-side) filter.
//
// Observed with a probe listener (2026): ra 3.0.8.2 reads the MAR, sends
// "FILTER: man or (<expr>)" when given a filter and waits for "OK", then
// sends "START: " (no terminator, no NUL). With -T it sends "DONE: " at the
// end (and then segfaults). When the server closes the connection it
// prints what it read and keeps trying to reconnect, so the test waits
// for the expected output and then kills it. ra flushes each record line.

const raPath = "/usr/bin/ra"

var raFields = []string{"-s", "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport",
	"spkts", "dpkts", "sbytes", "dbytes", "state"}

func oracleCorpus(t *testing.T) string {
	t.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS is not set: skipping the ra 3.0.8.2 oracle test")
	}
	if _, err := os.Stat(raPath); err != nil {
		t.Skip("ra (Debian argus-client 3.0.8.2) is not installed")
	}
	return filepath.Join(root, "argus", "oracle")
}

// readArgus returns the records of an Argus file, detached.
func readArgus(t *testing.T, path string) []flow.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := argus.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []flow.Record
	for {
		var rec flow.Record
		if err := r.Decode(&rec); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rec.Detach()
		out = append(out, rec)
	}
}

func raArgs(src []string, filter string) []string {
	a := append([]string{"-X"}, src...)
	a = append(a, "-n", "-u", "-c", ",")
	a = append(a, raFields...)
	if filter != "" {
		a = append(a, "-", filter)
	}
	return a
}

// syncBuffer is an io.Writer safe to read while ra writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// raRemote serves recs to `ra -S` and returns what ra printed once it
// has printed want lines (or after the deadline).
func raRemote(t *testing.T, recs []flow.Record, filter string, want int) string {
	t.Helper()
	mar := recs[0]
	s, addr := startServer(t, Options{Version: 3, MAR: func() flow.Record { return mar }})
	ctx, cancel := context.WithTimeout(context.Background(), 2*ioTimeout)
	defer cancel()
	var out, errb syncBuffer
	cmd := exec.CommandContext(ctx, raPath, raArgs([]string{"-S", addr}, filter)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(ioTimeout):
			t.Errorf("ra did not exit after kill")
		}
	}()
	st := waitFor(t, "ra's START", startedN(1), s)
	if filter != "" {
		if got, w := st.Clients[0].Filter, "man or ("+filter+")"; got != w {
			t.Errorf("ra's filter %q, want %q", got, w)
		}
	}
	for i := 1; i < len(recs); i++ {
		s.Publish(&recs[i])
	}
	sctx, scancel := context.WithTimeout(context.Background(), ioTimeout)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if st := s.Stats(); st.Sent+st.Filtered != int64(len(recs)-1) || st.Dropped != 0 {
		t.Errorf("stats after shutdown: %+v", st)
	} else if filter != "" {
		// The server filtered: every flow record ra does not print was
		// left out by the server (MARs match "man").
		flows := 0
		for _, r := range recs {
			if r.Type != flow.TypeMgmt {
				flows++
			}
		}
		if w := int64(flows - (want - 1)); st.Filtered != w {
			t.Errorf("server filtered %d records, want %d", st.Filtered, w)
		}
	}
	deadline := time.Now().Add(ioTimeout)
	for strings.Count(out.String(), "\n") < want && time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("ra exited early; stderr: %s", errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(50 * time.Millisecond) // anything extra ra would print
	return out.String()
}

func TestOracleRaRemote(t *testing.T) {
	dir := oracleCorpus(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "v3.argus"))
	full, _ := filepath.Glob(filepath.Join(dir, "generated_*", "v3full.argus"))
	files = append(files, full...)
	if len(files) == 0 {
		t.Skipf("no v3 files under %s", dir)
	}
	var mu sync.Mutex
	var compared, filtered, lines int
	t.Cleanup(func() {
		t.Logf("%d files; ra -S = ra -r compared %d times (%d with a filter), %d lines", len(files), compared, filtered, lines)
	})
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			recs := readArgus(t, f)
			if len(recs) == 0 || recs[0].Type != flow.TypeMgmt {
				t.Fatalf("%s: no initial MAR", f)
			}
			filters := []string{""}
			// The filter case where it selects some records, not all.
			if strings.HasPrefix(name, "generated_") || strings.HasPrefix(name, "traffic_tcpdump") {
				filters = append(filters, "tcp", "udp or icmp")
			}
			for _, flt := range filters {
				wantOut, err := exec.Command(raPath, raArgs([]string{"-r", f}, flt)...).Output()
				var ee *exec.ExitError
				if errors.As(err, &ee) && ee.ExitCode() == 1 && len(wantOut) == 0 {
					continue // ra -r exits 1 when no record matches
				}
				if err != nil {
					t.Fatalf("ra -r %s: %v", f, err)
				}
				want := string(wantOut)
				n := strings.Count(want, "\n")
				if n <= 1 && flt != "" {
					continue // ra prints nothing to compare
				}
				got := raRemote(t, recs, flt, n)
				if got != want {
					t.Errorf("filter %q: ra -S printed\n%s\nra -r printed\n%s", flt, got, want)
				}
				mu.Lock()
				compared++
				lines += n
				if flt != "" {
					filtered++
				}
				mu.Unlock()
			}
		})
	}
}

// The bytes a v3 client receives are those of the file the records were
// read from: MAR (given as Options.MAR) and every record.
func TestByteExactStream(t *testing.T) {
	dir := oracleCorpus(t)
	for _, name := range []string{"generated_tcp_handshake/v3full.argus", "generated_long_flow/v3.argus",
		"traffic_slips_test7-malicious/v3.argus"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			file, err := os.ReadFile(path)
			if err != nil {
				t.Skip(err)
			}
			recs := readArgus(t, path)
			mar := recs[0]
			s, addr := startServer(t, Options{Version: 3, MAR: func() flow.Record { return mar }})
			c := dial(t, addr)
			c.send("START: ")
			waitFor(t, "START", startedN(1), s)
			for i := 1; i < len(recs); i++ {
				s.Publish(&recs[i])
			}
			got := make([]byte, len(file))
			copy(got, c.mar)
			if _, err := io.ReadFull(c.conn, got[128:]); err != nil {
				t.Fatalf("reading %d bytes: %v", len(file)-128, err)
			}
			if !bytes.Equal(got, file) {
				i := 0
				for i < len(got) && got[i] == file[i] {
					i++
				}
				t.Errorf("stream differs from %s at byte %d", name, i)
			}
			if st := s.Stats(); st.EncodeErrors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
