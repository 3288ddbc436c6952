package jsonl

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestTimesMatchRa: the argus dialect's stime, ltime and dur are the text
// Debian ra prints for them (-u: epoch seconds; 6 digits, truncated as ra
// truncates), for every flow of the corpus Argus v5 files, dur included
// when both times are zero.
func TestTimesMatchRa(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus(t), "argus/oracle/*/v5.argus"))
	if len(files) == 0 {
		t.Skip("no corpus argus files")
	}
	n, bad := 0, 0
	for _, file := range files {
		recs := argusFlows(t, file)
		rows := raCSV(t, strings.TrimSuffix(file, ".argus")+".ra5.csv")
		if len(rows) != len(recs) {
			continue
		}
		out := write(t, "argus", recs)
		for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			d := json.NewDecoder(bytes.NewReader(line))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			for _, c := range [][2]string{{"stime", "StartTime"}, {"ltime", "LastTime"}, {"dur", "Dur"}} {
				want := rows[i][c[1]]
				got, _ := m[c[0]].(json.Number)
				if string(got) != want {
					bad++
					if bad <= 10 {
						t.Errorf("%s flow %d: %s = %q, ra prints %q", file, i+1, c[0], got, want)
					}
				}
			}
			n++
		}
	}
	if bad > 0 || n == 0 {
		t.Errorf("%d of %d flows' times differ from ra's", bad, n)
	}
	t.Logf("%d flows: stime, ltime, dur as ra prints them", n)
}
