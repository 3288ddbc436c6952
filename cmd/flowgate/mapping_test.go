package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMappingCmd: `flowgate mapping check` exits 0 on a built-in, 1 on a
// file with an unknown key (the error naming file:line:col and the path
// in the file), and `--strict` exits 2 where a rule narrows; `list` names
// the built-ins and `explain` prints a plan.
func TestMappingCmd(t *testing.T) {
	if code := run([]string{"mapping", "check", "zeek-conn"}); code != 0 {
		t.Errorf("check zeek-conn: exit %d", code)
	}
	if code := run([]string{"mapping", "check", "--strict", "zeek-conn"}); code != 2 {
		t.Errorf("check --strict zeek-conn (ts is cut to 6 digits): exit %d, want 2", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nschema: zeek\nfields:\n  - external: ts\n    canonical: start_time\n    bogus: 1\n"), 0o644)
	f, err := openMapping(bad, "")
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:6:5: fields[0].bogus: unknown key") {
		t.Errorf("bad file: %v (%v)", err, f)
	}
	if code := run([]string{"mapping", "check", bad}); code != 1 {
		t.Errorf("check bad file: exit %d, want 1", code)
	}
	if code := run([]string{"mapping", "explain", "zeek-conn", "json-ecs"}); code != 0 {
		t.Errorf("explain: exit %d", code)
	}
	user := filepath.Join(t.TempDir(), "user.yaml")
	os.WriteFile(user, []byte("version: 1\nschema: zeek\nfields:\n  - external: orig_bytes\n    canonical: src_app_bytes\n    direction: in\n"), 0o644)
	if _, err := openMapping(user, "zeek-conn"); err != nil {
		t.Errorf("user file over zeek-conn: %v", err)
	}
	if code := run([]string{"mapping", "list"}); code != 0 {
		t.Errorf("list: exit %d", code)
	}
}
