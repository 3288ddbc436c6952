package gateway

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// heldBatches is an OwnedHandler that keeps each batch while two newer
// ones arrive, then reads it and gives its buffers back as the spare: a
// listener that wrote into buffers it had handed over would show here.
type heldBatches struct {
	mu    sync.Mutex
	held  []ownedBatch
	seen  []string
	spare int
}

type ownedBatch struct {
	recs  []flow.Record
	arena []byte
}

func (h *heldBatches) take(recs []flow.Record, arena []byte) ([]flow.Record, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, ownedBatch{recs, arena})
	if len(h.held) < 3 {
		return nil, nil, nil
	}
	old := h.held[0]
	h.held = h.held[1:]
	h.read(old)
	h.spare++
	return old.recs[:0], old.arena[:0], nil
}

func (h *heldBatches) read(b ownedBatch) {
	for i := range b.recs {
		h.seen = append(h.seen, fingerprint(&b.recs[i]))
	}
}

// fingerprint prints a record but for its exporter (each run has its own
// sender ports).
func fingerprint(r *flow.Record) string {
	c := *r
	c.Exporter = netip0
	return fmt.Sprintf("%+v", c)
}

var netip0 = (&net.UDPAddr{}).AddrPort()

// TestUDPListenerOwned: the corpus's vendor datagrams through real
// decoders give the same records whether the listener's batches are
// copied by a Handler or taken, with their buffers, by an OwnedHandler
// that holds them a while and hands old ones back.
func TestUDPListenerOwned(t *testing.T) {
	dats := corpusDat(t)
	run := func(owned *heldBatches) []string {
		l, err := ListenUDP("127.0.0.1:0", Options{Workers: 2, Batch: 4}, NewCodecSet().New)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var c collector
		if owned != nil {
			l.SetOwned(owned.take)
		}
		senders := dialUDP(t, l.Addr().String(), 4)
		sent := 0
		serveUntil(t, l, c.handle, func() {
			for round := 0; round < 5; round++ {
				for i, b := range dats {
					if _, err := senders[(i+round)%len(senders)].Write(b); err != nil {
						t.Fatal(err)
					}
					sent++
				}
			}
		}, func() bool { return l.Stats().Messages == uint64(sent) })
		if st := l.Stats(); st.Messages != uint64(sent) {
			t.Fatalf("received %d of %d datagrams", st.Messages, sent)
		}
		var out []string
		if owned != nil {
			for _, b := range owned.held {
				owned.read(b)
			}
			out = owned.seen
		} else {
			for i := range c.recs {
				out = append(out, fingerprint(&c.recs[i]))
			}
		}
		sort.Strings(out)
		return out
	}
	want := run(nil)
	h := &heldBatches{}
	got := run(h)
	if len(want) == 0 || h.spare == 0 {
		t.Fatalf("%d records; %d spares given back", len(want), h.spare)
	}
	if len(got) != len(want) {
		t.Fatalf("owned: %d records, copied: %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d differs:\nowned  %s\ncopied %s", i, got[i], want[i])
		}
	}
	t.Logf("%d records, %d spares given back", len(got), h.spare)
}
