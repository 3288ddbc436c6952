package jsonl

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// FuzzRead: any input ends in EOF or an error, never a panic or a loop,
// and every record read writes back as valid JSON (encoding/json.Valid).
func FuzzRead(f *testing.F) {
	f.Add([]byte("{\"saddr\":\"10.0.0.1\",\"sport\":80,\"stime\":1.5}\n"))
	f.Add([]byte("[{\"source\":{\"ip\":\"::1\"}},\n{\"x\":[1,{\"y\":\"\\u00e9\"}]}]"))
	f.Add([]byte("[\nNo matching flows\n]\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, d := range Dialects {
			rd, err := NewReader(bytes.NewReader(append([]byte(nil), in...)), d)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w, _ := NewWriter(&out, d)
			var r flow.Record
			for n := 0; n < 1000; n++ {
				if err := rd.Decode(&r); err != nil {
					break
				}
				w.Encode(&r)
			}
			w.Close()
			for _, line := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n")) {
				if len(line) > 0 && !json.Valid(line) {
					t.Fatalf("%s: wrote invalid JSON %s", d, line)
				}
			}
		}
	})
}
