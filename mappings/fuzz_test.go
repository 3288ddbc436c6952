package mappings

import (
	"bytes"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// Any file either loads or gives positioned errors; never a panic.
func FuzzLoad(f *testing.F) {
	for _, n := range Builtins() {
		b, _ := builtinFS.ReadFile("builtin/" + n + ".yaml")
		f.Add(b)
	}
	f.Add([]byte("version: 1\nschema: csv\nfields:\n  - {external: a, canonical: src_port, convert: {enum: {values: {x: \"1\"}}}, default: x}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Load("f.yaml", b)
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		Check(m)
		for _, d := range []Direction{In, Out} {
			if _, err := Compile(m, d); err != nil {
				t.Fatalf("loaded but does not compile: %v", err)
			}
		}
	})
}

// Any row decodes to values or an ApplyError; what decodes encodes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("929.052075\tClFRAG4qdAIC5IPU95\t10.0.2.112\t49170\t195.113.214.221\t443\ttcp\tssl\t0.182943\t480\t34266\tRSTR\tShADadRr\t18\t1212\t38\t35790"))
	f.Add([]byte("-1.5\t\t::ffff:1.2.3.4%eth0\t99999999999999999999\t-\t-\ticmp\t\t1e9\t\t\t\t\t\t\t\t"))
	z, _ := Builtin("zeek-conn")
	in, _ := Compile(z, In)
	out, _ := Compile(z, Out)
	header := []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
		"orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}
	f.Fuzz(func(t *testing.T, line []byte) {
		src := bindTSV(in, header)
		src.split(bytes.Clone(line))
		var r flow.Record
		err := in.Decode(src, &r)
		if err != nil {
			if _, ok := err.(*ApplyError); !ok {
				t.Fatalf("%T %v", err, err)
			}
		}
		dst := bindTSV(out, header)
		out.Encode(&r, dst, nil)
	})
}

// BenchmarkZeekRow decodes and encodes one full conn.log row (23 columns)
// through the zeek-conn plans.
func BenchmarkZeekRow(b *testing.B) {
	z, _ := Builtin("zeek-conn")
	in, _ := Compile(z, In)
	out, _ := Compile(z, Out)
	header := []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
		"orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}
	src, dst := bindTSV(in, header), bindTSV(out, header)
	src.split([]byte("929.052075\tClFRAG4qdAIC5IPU95\t10.0.2.112\t49170\t195.113.214.221\t443\ttcp\tssl\t0.182943\t480\t34266\tRSTR\tShADadRr\t18\t1212\t38\t35790"))
	for i := range dst.cols {
		dst.cols[i] = make([]byte, 0, 64)
	}
	scratch := make([]byte, 0, 512)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var r flow.Record
		for b.Loop() {
			r = flow.Record{}
			in.Decode(src, &r)
		}
	})
	var r flow.Record
	in.Decode(src, &r)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			scratch, _ = out.Encode(&r, dst, scratch)
		}
	})
}
