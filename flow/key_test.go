package flow

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestKeyReverseHash(t *testing.T) {
	k := Key{Kind: Kind5Tuple, AddrType: AddrIPv4, Proto: 6,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 40000, DstPort: 80}
	r := k.Reverse()
	if r.Src != k.Dst || r.SrcPort != 80 || r.DstPort != 40000 {
		t.Fatalf("Reverse = %+v", r)
	}
	if r.Reverse() != k {
		t.Fatal("Reverse is not an involution")
	}
	if k.Hash() != k.Hash() || k.Hash() == r.Hash() {
		t.Fatal("hash not stable or not direction-sensitive")
	}
	// IPv4 and IPv4-mapped IPv6 are different keys and hash differently.
	m := k
	m.Src = netip.AddrFrom16(k.Src.As16())
	if m == k || m.Hash() == k.Hash() {
		t.Fatal("4-in-6 address collides with IPv4")
	}
	if n := testing.AllocsPerRun(100, func() { _ = k.Hash() }); n != 0 {
		t.Fatalf("Hash allocates %v times", n)
	}
}

func TestRecordDetach(t *testing.T) {
	buf := []byte("GET / HTTP/1.0")
	var r Record
	r.SrcUser.Data = buf[:3]
	r.Extra = append(r.Extra, Field{Source: SourceArgusDSR, Value: buf[4:5]})
	r.Detach()
	buf[0], buf[4] = 'X', 'X'
	if string(r.SrcUser.Data) != "GET" || string(r.Extra[0].Value) != "/" {
		t.Fatalf("Detach kept aliases: %q %q", r.SrcUser.Data, r.Extra[0].Value)
	}
	r.Reset()
	if cap(r.Extra) == 0 || len(r.Extra) != 0 {
		t.Fatal("Reset did not keep Extra capacity")
	}
}

func ExampleKey_Reverse() {
	k := Key{Proto: 17, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.53"), SrcPort: 5353, DstPort: 53}
	seen := map[Key]int{k: 1}
	r := k.Reverse()
	fmt.Println(r.Src, r.SrcPort, "->", r.Dst, r.DstPort, seen[r.Reverse()])
	// Output: 10.0.0.53 53 -> 10.0.0.1 5353 1
}
