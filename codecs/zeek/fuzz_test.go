package zeek

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// FuzzReader: any input decodes without panic, and an input that decodes
// entirely rewrites to a log that rewrites to itself (TSV and JSON).
func FuzzReader(f *testing.F) {
	f.Add([]byte("#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tproto\tlabel\n#types\ttime\tstring\taddr\tport\tenum\tstring\n1.000001\tC\\x2d\t::1\t80\ttcp\ta\\x09b\n"))
	f.Add([]byte(`{"ts":1.5,"uid":"C\u00e9","id.orig_h":"1.2.3.4","proto":"icmp","duration":1e-7,"x":[1,"a"],"local_orig":true}` + "\n"))
	if dir := os.Getenv("FLOWGATE_CORPUS"); dir != "" {
		// Seeds from the corpus: each log's header with its first records.
		for _, p := range corpusLogs(f) {
			in, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			lines := strings.SplitAfter(string(in), "\n")
			var hdr, seed strings.Builder
			for _, l := range lines {
				if strings.HasPrefix(strings.TrimLeft(l, "\t"), "#") {
					hdr.WriteString(l)
				}
			}
			n := 0
			for _, l := range lines {
				if !strings.HasPrefix(strings.TrimLeft(l, "\t"), "#") && n < 3 {
					seed.WriteString(l)
					n++
				}
			}
			f.Add([]byte(hdr.String() + seed.String()))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, form, ok := fuzzRewrite(in, nil)
		if !ok {
			return
		}
		rd := NewReader(bytes.NewReader(in))
		var rec flow.Record
		for rd.Decode(&rec) == nil {
		}
		out2, _, ok := fuzzRewrite(out, rd.Header())
		if !ok {
			t.Fatalf("rewrite does not read back:\nin  %q\nout %q", in, out)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("rewrite not stable (form %d):\nin   %q\nout  %q\nout2 %q", form, in, out, out2)
		}
	})
}

func fuzzRewrite(in []byte, hdr *Header) ([]byte, Format, bool) {
	rd := NewReader(bytes.NewReader(in))
	if hdr == nil {
		hdr = rd.Header()
	}
	var buf bytes.Buffer
	var w *Writer
	var rec flow.Record
	for {
		err := rd.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				panic("error without position: " + err.Error())
			}
			return nil, 0, false
		}
		if w == nil {
			w = NewWriter(&buf, WithHeader(hdr), WithFormat(rd.Format()))
		}
		w.Encode(&rec)
	}
	if w == nil {
		return nil, 0, false
	}
	w.Close()
	return buf.Bytes(), rd.Format(), true
}
