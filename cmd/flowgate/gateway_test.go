package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runGatewayCmd(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	cmd := newGatewayCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

// TestGatewayCheck: --check on the embedded default prints the pipeline
// issue 6 asks `make run` to start; a bad file exits 1 with its errors as
// file:line:col lines;
func TestGatewayCheck(t *testing.T) {
	out, _, err := runGatewayCmd("--check")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"listen on udp :2055", "listen on udp :4739", "serve Argus 5 records to ra clients on tcp :561", "argus file data/", "json on stdout"} {
		if !strings.Contains(out, w) {
			t.Errorf("default summary lacks %q:\n%s", w, out)
		}
	}

	bad := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(bad, []byte("version: 1\npipelines:\n  - name: a\n    sources: [nf+udp://:2055]\n    filter: tcp and\n    sinks: [json:-]\n    sink: x\n"), 0o644)
	_, stderr, err := runGatewayCmd("-c", bad, "--check")
	var st exitStatus
	if !asExit(err, &st) || st.code != 1 {
		t.Fatalf("bad file: %v, want exit 1", err)
	}
	want := bad + `:5:20: pipelines[0].filter: bad filter: "tcp and": offset 7: unexpected end of expression` + "\n" +
		bad + `:7:5: pipelines[0].sink: unknown key: "sink" (want one of name, sources, filter, mapping, sinks, queue)` + "\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if st.err == nil || st.err.Error() != "gateway: 2 error(s) in "+bad {
		t.Errorf("status error %v", st.err)
	}

	_, _, err = runGatewayCmd("-c", filepath.Join(t.TempDir(), "none.yaml"), "--check")
	if !asExit(err, &st) || st.code != 1 || !errors.Is(err.(exitStatus).err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
