package serve

import (
	"io"
	"testing"
)

// BenchmarkPublish publishes to four started clients that read and
// discard everything; drops/offer says how often a client fell behind.
func BenchmarkPublish(b *testing.B) {
	for _, v := range []int{3, 5} {
		b.Run(map[int]string{3: "v3", 5: "v5"}[v], func(b *testing.B) {
			s, addr := startServer(b, Options{Version: v})
			const nc = 4
			for range nc {
				c := dial(b, addr)
				c.send("START: ")
				go io.Copy(io.Discard, c.conn)
			}
			waitFor(b, "START", startedN(nc), s)
			r := flowRec(6, 1)
			s.Publish(&r)
			st := waitFor(b, "sent", func(st Stats) bool { return st.Sent == nc }, s)
			b.SetBytes(st.SentBytes / nc)
			b.ReportAllocs()
			for b.Loop() {
				s.Publish(&r)
			}
			st = s.Stats()
			b.ReportMetric(float64(st.Dropped)/float64(st.Offered), "drops/offer")
		})
	}
}
