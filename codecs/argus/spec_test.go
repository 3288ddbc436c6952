package argus

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// Values in this file come from the worked examples of
// /work/shared/docs/argus-format.md (§5.4, §7, §12), which were captured
// from argus 3.0.8.2 and 5.0.3 and cross-checked with ra and tshark. The
// test builds the bytes shown there and asserts the values the spec gives.

// hx decodes spaced hex; quoted strings are taken literally.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := parseHex(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseHex(s string) ([]byte, error) {
	var out []byte
	for len(s) > 0 {
		if s[0] == '"' {
			j := strings.IndexByte(s[1:], '"')
			out = append(out, s[1:1+j]...)
			s = s[j+2:]
			continue
		}
		i := strings.IndexByte(s, '"')
		if i < 0 {
			i = len(s)
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(s[:i]), ""))
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		s = s[i:]
	}
	return out, nil
}

// marBytes builds a 128-byte initial MAR of the given version.
func marBytes(version int) []byte {
	m := make([]byte, 128)
	m[0], m[1], m[3] = 0x80|byte(version), 0x10, 32
	if version == 5 {
		be.PutUint32(m[8:], cookieV5)
	} else {
		be.PutUint32(m[8:], cookieV3)
	}
	m[40] = byte(version)
	be.PutUint32(m[124:], 0xFFFFFFFF)
	return m
}

// far wraps DSR bytes in a record header (version nibble, cause START).
func far(version byte, dsrs []byte) []byte {
	h := []byte{0x10 | version, 0x10, 0, 0}
	be.PutUint16(h[2:], uint16(1+len(dsrs)/4))
	return append(h, dsrs...)
}

// decodeOne decodes stream data and returns its second record (the first
// after the MAR), checking that a rewrite gives the same bytes.
func decodeOne(t *testing.T, data []byte) *flow.Record {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var mar, rec flow.Record
	if err := r.Decode(&mar); err != nil {
		t.Fatal(err)
	}
	if err := r.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if err := r.Decode(&flow.Record{}); err != io.EOF {
		t.Fatalf("want EOF after one record, got %v", err)
	}
	out, _, _, err := rewrite(t, data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Errorf("rewrite differs:\nwant % x\ngot  % x", data, out)
	}
	return &rec
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

const (
	t0 = int64(1700000000) * 1e9
	us = int64(1000)
)

func check[T comparable](t *testing.T, name string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// §12.1: captured 3.x TCP flow.
func TestSpec12_1(t *testing.T) {
	rec := decodeOne(t, append(marBytes(3), hx(t, `
13 10 00 35
01 03 00 03 00000000 00000001
02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000
03 02 18 05 6553f100 00000000 6553f100 00011170
10 01 02 03 0005 012c 0003 00be
30 05 00 1e 0000001f 00000009 00700000 00002710 00002710
  6553f100 00011170 0000001c 000003e8 000003fb 000013a1 00000002 00000012 00000000 00000000 00000000 2000 1b 07
  6553f100 0000ea60 0000001a 00001388 000013a1 000003fb 00000002 00000018 00000000 00000000 00000000 2000 1b 00
48 00 03 03 40 00 0800 3f 00 0700
20 00 00 03 00000002 00000002`)...))
	check(t, "Type", rec.Type, flow.TypeFlow)
	check(t, "Cause", rec.Cause, flow.CauseStart)
	check(t, "Seq", rec.Seq, 1)
	check(t, "Src", rec.Key.Src, ip("10.0.0.1"))
	check(t, "Dst", rec.Key.Dst, ip("10.0.0.2"))
	check(t, "SrcPort", rec.Key.SrcPort, 40000)
	check(t, "DstPort", rec.Key.DstPort, 80)
	check(t, "Proto", rec.Key.Proto, 6)
	check(t, "Start", rec.Start, t0)
	check(t, "Last", rec.Last, t0+70000*us)
	check(t, "Pkts", rec.Pkts, [2]uint64{5, 3})
	check(t, "Bytes", rec.Bytes, [2]uint64{300, 190})
	check(t, "ra total pkts", rec.Pkts[0]+rec.Pkts[1], 8)
	check(t, "ra total bytes", rec.Bytes[0]+rec.Bytes[1], 490)
	tc := rec.TCP
	check(t, "TCP.Object", tc.Object, flow.TCPPerf)
	check(t, "TCP.Status", tc.Status, 0x1f)
	check(t, "TCP.State", tc.State, 9)
	check(t, "TCP.Options", tc.Options, 0x00700000)
	check(t, "SynAck", tc.SynAck, 10000)
	check(t, "AckDat", tc.AckDat, 10000)
	check(t, "src SeqBase", tc.Side[0].SeqBase, 1000)
	check(t, "src Bytes", tc.Side[0].Bytes, 18)
	check(t, "src Win", tc.Side[0].Win, 0x2000)
	check(t, "src Flags", tc.Side[0].Flags, 0x1b)
	check(t, "src WinShift", tc.Side[0].WinShift, 7)
	check(t, "src LastTime", tc.Side[0].LastTime, t0+70000*us)
	check(t, "dst SeqBase", tc.Side[1].SeqBase, 5000)
	check(t, "dst Bytes", tc.Side[1].Bytes, 24)
	check(t, "dst Flags", tc.Side[1].Flags, 0x1b)
	check(t, "HasDst", tc.HasDst, true)
	check(t, "sTtl", rec.IPAttr.TTL[0], 64)
	check(t, "dTtl", rec.IPAttr.TTL[1], 63)
	check(t, "sIpId (as ra prints)", rec.IPAttr.IPID[0], 0x0800)
	check(t, "dIpId (as ra prints)", rec.IPAttr.IPID[1], 0x0700)
	check(t, "Encaps", rec.Encaps.Mask, [2]uint32{2, 2})
	check(t, "srcid type", rec.SrcID.Type, flow.SrcIDNone)
}

// §12.4 and the §5.4 5.x MAR: captured 5.x TCP flow with every option.
func TestSpec12_4(t *testing.T) {
	data := spec124(t)
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	check(t, "Version", r.Version(), 5)
	var m flow.Record
	if err := r.Decode(&m); err != nil {
		t.Fatal(err)
	}
	check(t, "MAR type", m.Type, flow.TypeMgmt)
	check(t, "MAR has", m.Has&flow.HasMgmt != 0, true)
	check(t, "MAR status", m.Mgmt.Status, 0x00b00000)
	check(t, "MAR cookie", m.Mgmt.Cookie, cookieV5)
	check(t, "MAR major", m.Mgmt.Major, 5)
	check(t, "MAR startime", m.Mgmt.StartTime, int64(0x6b085666)*1e9+271432*us)
	check(t, "MAR report", m.Mgmt.ReportInterval, 5)
	check(t, "MAR marint", m.Mgmt.MarInterval, 60)
	check(t, "MAR srcid", m.SrcID.ID, [16]byte(hx(t, "00112233445566778899aabbccddeeff")))
	check(t, "MAR srcid type", m.SrcID.Type, flow.SrcIDUUID)

	rec := decodeOne(t, data)
	check(t, "srcid type", rec.SrcID.Type, flow.SrcIDUUID)
	check(t, "srcid", rec.SrcID.ID, [16]byte(hx(t, "00112233445566778899aabbccddeeff")))
	check(t, "inf", string(rec.SrcID.Inf[:]), "eth0")
	check(t, "Seq", rec.Seq, 1)
	check(t, "Start", rec.Start, t0)
	check(t, "Last", rec.Last, t0+7170000)
	check(t, "TimeNS", rec.Argus.TimeNS, true)
	check(t, "Pkts", rec.Pkts, [2]uint64{5, 3})
	check(t, "Bytes", rec.Bytes, [2]uint64{308, 301})
	check(t, "AppBytes", rec.AppBytes, [2]uint64{18, 119})
	tc := rec.TCP
	check(t, "options", tc.Options, 0x04700000)
	check(t, "synAck", tc.SynAck, 1234)
	check(t, "ackDat", tc.AckDat, 100)
	check(t, "src lasttime", tc.Side[0].LastTime, t0+7170000)
	check(t, "dst lasttime", tc.Side[1].LastTime, t0+5936000)
	check(t, "src ack", tc.Side[0].Ack, 5120)
	check(t, "src win", tc.Side[0].Win, 29200)
	check(t, "dst win", tc.Side[1].Win, 28960)
	check(t, "SrcMss", tc.Side[0].MSS, 1460)
	check(t, "DstMss", tc.Side[1].MSS, 1400)
	check(t, "dst wscale", tc.Side[1].WinShift, 8)
	j := rec.Jitter
	check(t, "jitter present", j.Present, 0x0a)
	check(t, "src idle n", j.Idle[0].N, 4)
	check(t, "src idle min", j.Idle[0].Min, 100000)
	check(t, "src idle mean", j.Idle[0].Mean, 1792500)
	check(t, "src idle max", j.Idle[0].Max, 2968000)
	check(t, "dst idle n", j.Idle[1].N, 2)
	check(t, "dst idle min", j.Idle[1].Min, 1734000)
	check(t, "dst idle mean", j.Idle[1].Mean, 2351000)
	check(t, "sTos", rec.IPAttr.TOS[0], 0x10)
	check(t, "sIpId", rec.IPAttr.IPID[0], 0x3812)
	check(t, "dIpId", rec.IPAttr.IPID[1], 0x7a56)
	check(t, "psize", rec.PktSize.Min, [2]uint16{54, 54})
	check(t, "psize max", rec.PktSize.Max, [2]uint16{74, 173})
	check(t, "suser", string(rec.SrcUser.Data), "GET / HTTP/1.0\r\n\r\n")
	check(t, "suser limit", rec.SrcUser.Limit, 32)
	check(t, "duser", string(rec.DstUser.Data), "HTTP/1.0 200 OK\r\n\r\nxxxxxxxxxxxxx")
	check(t, "SrcMac", rec.MAC.Src, [6]byte{2, 0, 0, 0, 0, 1})
	check(t, "DstMac", rec.MAC.Dst, [6]byte{2, 0, 0, 0, 0, 2})
	check(t, "ether type", rec.MAC.EtherType, 0x0800)
}

// §7 single-DSR examples.
func TestSpecDSRs(t *testing.T) {
	flowV4 := "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000"
	time1 := "03 01 18 03 6553f100 00000000"
	cases := []struct {
		name  string
		ver   byte
		dsrs  string
		check func(t *testing.T, r *flow.Record)
	}{
		{"icmp echo key LE", 3, "02 01 01 05 0a000001 0a000002 01 00 08 00 34 12 01 00 " + time1, func(t *testing.T, r *flow.Record) {
			check(t, "type", r.Key.ICMPType, 8)
			check(t, "id", r.Key.ICMPID, 0x1234)
			check(t, "seq", r.Key.ICMPSeq, 1)
			check(t, "has", r.Has&flow.HasICMPKey != 0, true)
		}},
		{"icmp unreach key", 3, "02 01 01 05 0a000002 0a000001 01 11 03 03 0f 27 00 00", func(t *testing.T, r *flow.Record) {
			check(t, "tp_p", r.Key.TpProto, 17)
			check(t, "code", r.Key.ICMPCode, 3)
			check(t, "quoted dport", r.Key.ICMPID, 9999)
		}},
		{"fragment key", 3, "02 01 81 05 0a000001 0a000002 11000000 0000cdab", func(t *testing.T, r *flow.Record) {
			check(t, "fragid", r.Key.FragID, 0xabcd)
			check(t, "has", r.Has&flow.HasFragKey != 0, true)
		}},
		// argus 3.0.8.2 on zeek ipv6-fragmented-dns.pcap: identification
		// 1 of 2607:f740:b::f93 is on the wire as 01 00 00 00 (ra: ports
		// 256 and 0), 2 as 02 00 00 00.
		{"ipv6 fragment key", 3, "02 01 82 0b 2607f740000b00000000000000000f93 20010470 1f11081f d1385f55 06d41fe2 11000000 02000000", func(t *testing.T, r *flow.Record) {
			check(t, "fragid", r.Key.FragID, 2)
			check(t, "has", r.Has&flow.HasFragKey != 0, true)
		}},
		// Stored reversed (flowgate's sensor before this codec rule wrote
		// it so; ra prints it as the one above): the port halves swap.
		{"ipv6 fragment key reversed", 3, "02 41 82 0b 20010470 1f11081f d1385f55 06d41fe2 2607f740000b00000000000000000f93 11000000 00000200", func(t *testing.T, r *flow.Record) {
			check(t, "fragid", r.Key.FragID, 2)
			check(t, "Src", r.Key.Src, ip("2607:f740:b::f93"))
		}},
		{"reverse numeric ipv4", 5, "02 41 01 05 09000003 0a000002 06 00 0050 c350 0000", func(t *testing.T, r *flow.Record) {
			check(t, "Src", r.Key.Src, ip("10.0.0.2"))
			check(t, "Dst", r.Key.Dst, ip("9.0.0.3"))
			check(t, "SrcPort", r.Key.SrcPort, 50000)
			check(t, "RevBit", r.Key.RevBit, true)
		}},
		{"dns txid reverse", 3, "02 41 01 05 0a000001 0a000035 11 00 14e9 0035 00 10", func(t *testing.T, r *flow.Record) {
			check(t, "Src", r.Key.Src, ip("10.0.0.53"))
			check(t, "SrcPort", r.Key.SrcPort, 53)
			check(t, "DstPort", r.Key.DstPort, 5353)
			check(t, "txid bytes kept", [2]byte{r.Key.DstMask, r.Key.SrcMask}, [2]byte{0x00, 0x10})
		}},
		{"ipv6 reverse", 3, "02 41 02 0b 20010db8000000000000000000000002 20010db8000000000000000000000001 11000000 162e 04d2", func(t *testing.T, r *flow.Record) {
			check(t, "Src", r.Key.Src, ip("2001:db8::1"))
			check(t, "SrcPort", r.Key.SrcPort, 1234)
			check(t, "Dst", r.Key.Dst, ip("2001:db8::2"))
			check(t, "DstPort", r.Key.DstPort, 5678)
			check(t, "Proto", r.Key.Proto, 17)
		}},
		{"ipv6 masklen (upstream sample)", 5, "02 01 42 0c 20010db8000000000000000000000001 20010db8000000000000000000000002 11000000 14e914e9 80008000", func(t *testing.T, r *flow.Record) {
			check(t, "masks", [2]uint8{r.Key.SrcMask, r.Key.DstMask}, [2]uint8{128, 128})
			check(t, "MaskLen", r.Key.MaskLen, true)
		}},
		{"arp key truncated haddr", 5, "02 06 04 06 00010800 06040001 0a000001 0a000002 02000000", func(t *testing.T, r *flow.Record) {
			check(t, "op", r.Key.ARPOp, 1)
			check(t, "spa", r.Key.Src, ip("10.0.0.1"))
			check(t, "tpa", r.Key.Dst, ip("10.0.0.2"))
			check(t, "hln", r.Key.ARPHln, 6)
		}},
		{"qinq ether key", 5, "02 01 03 05 020000000002 020000000001 88a8 00 00", func(t *testing.T, r *flow.Record) {
			check(t, "ethertype", r.Key.EtherType, 0x88a8)
			check(t, "SrcMAC", r.Key.SrcMAC, [6]byte{2, 0, 0, 0, 0, 1})
		}},
		{"relative range (racluster)", 3, flowV4 + " 03 1d 18 04 6553f100 000186a0 000493e0", func(t *testing.T, r *flow.Record) {
			check(t, "SrcStart", r.SrcStart, t0+100000*us)
			check(t, "SrcLast", r.SrcLast, t0+400000*us)
			check(t, "Start", r.Start, t0+100000*us)
			check(t, "Last", r.Last, t0+400000*us)
		}},
		{"relative range 4 bits (racluster 5)", 5, flowV4 + " 03 7d 18 06 6553f100 00000000 00001c02 00000000 00001c02", func(t *testing.T, r *flow.Record) {
			check(t, "SrcLast", r.SrcLast, t0+7170*us)
			check(t, "DstStart", r.DstStart, t0)
			check(t, "DstLast", r.DstLast, t0+7170*us)
		}},
		{"ns timestamp", 5, flowV4 + " 03 01 19 03 6553f100 075bcd15", func(t *testing.T, r *flow.Record) {
			check(t, "Start", r.Start, t0+123456789)
			check(t, "Last", r.Last, t0+123456789)
		}},
		{"metric byte", 3, flowV4 + " 10 01 01 02 01 32 01 32", func(t *testing.T, r *flow.Record) {
			check(t, "Pkts", r.Pkts, [2]uint64{1, 1})
			check(t, "Bytes", r.Bytes, [2]uint64{0x32, 0x32})
		}},
		{"metric src only", 3, flowV4 + " 10 01 06 02 0001 003e", func(t *testing.T, r *flow.Record) {
			check(t, "Pkts", r.Pkts, [2]uint64{1, 0})
			check(t, "Bytes", r.Bytes, [2]uint64{62, 0})
		}},
		{"metric app", 3, flowV4 + " 10 04 02 04 0005 012c 0012 0003 00be 0018", func(t *testing.T, r *flow.Record) {
			check(t, "AppBytes", r.AppBytes, [2]uint64{18, 24})
		}},
		{"psize 3.x", 3, flowV4 + " 12 00 02 03 0036 0048 0036 004e", func(t *testing.T, r *flow.Record) {
			check(t, "min", r.PktSize.Min, [2]uint16{54, 54})
			check(t, "max", r.PktSize.Max, [2]uint16{72, 78})
		}},
		{"user data 3.x", 3, flowV4 + ` 50 90 00 04 0008 0008 "GET / HT" 50 a0 00 04 0008 0008 "HTTP/1.0"`, func(t *testing.T, r *flow.Record) {
			check(t, "suser", string(r.SrcUser.Data), "GET / HT")
			check(t, "duser", string(r.DstUser.Data), "HTTP/1.0")
		}},
		{"vlan", 5, flowV4 + " 40 00 03 02 6064 6064", func(t *testing.T, r *flow.Record) {
			check(t, "vid", r.VLAN.TCI[0]&0x0fff, 100)
			check(t, "prio", r.VLAN.TCI[1]>>13, 3)
		}},
		{"mpls", 5, flowV4 + " 44 03 11 03 003e8140 003e9140", func(t *testing.T, r *flow.Record) {
			check(t, "src label", r.MPLS.Label[0]>>12, 1000)
			check(t, "dst label", r.MPLS.Label[1]>>12, 1001)
			check(t, "counts", r.MPLS.Count, [2]uint8{1, 1})
		}},
		{"gre", 5, "02 01 01 05 ac100001 ac100002 11000457 08ae0000 20 00 00 03 00000142 00000000 41 00 00 07 00000800 02010105 0102020a 0202020a 2f000000 00000000", func(t *testing.T, r *flow.Record) {
			check(t, "inner src", r.Key.Src, ip("172.16.0.1"))
			check(t, "inner sport", r.Key.SrcPort, 1111)
			check(t, "outer src", r.GRE.Src, ip("10.2.2.1"))
			check(t, "outer dst", r.GRE.Dst, ip("10.2.2.2"))
			check(t, "outer proto", r.GRE.IPProto, 47)
			check(t, "gre proto", r.GRE.Proto, 0x0800)
		}},
		{"vxlan", 5, flowV4 + " 43 00 03 03 00001388 00001389", func(t *testing.T, r *flow.Record) {
			check(t, "vni", r.VXLAN, [2]uint32{5000, 5001})
		}},
		{"icmp mapped", 3, flowV4 + " 34 00 01 08 03030000 0a000002 0a000001 0a000001 0a000002 00000000 00000000", func(t *testing.T, r *flow.Record) {
			check(t, "qual", r.ICMPMap.Qual, 1)
			check(t, "type", r.ICMPMap.Type, 3)
			check(t, "code", r.ICMPMap.Code, 3)
			check(t, "osrc", r.ICMPMap.OSrc, ip("10.0.0.2"))
			check(t, "idst", r.ICMPMap.IDst, ip("10.0.0.2"))
		}},
		{"icmp object LE", 3, "02 01 01 05 0a000001 0a000002 01 00 08 00 34 12 01 00 30 34 00 07 08 00 01 00 0100000a 0200000a 00000000 00000000 00000000", func(t *testing.T, r *flow.Record) {
			check(t, "seq", r.ICMP.Seq, 1)
			check(t, "osrc", r.ICMP.OSrc, ip("10.0.0.1"))
			check(t, "odst", r.ICMP.ODst, ip("10.0.0.2"))
		}},
		{"arp object 5.x", 5, "02 06 04 06 00010800 06040001 0a000001 0a000002 02000000 30 10 00 03 02000000 00020000", func(t *testing.T, r *flow.Record) {
			check(t, "resp", r.ARPResp, [6]byte{2, 0, 0, 0, 0, 2})
		}},
		{"tcp init v2", 5, flowV4 + " 30 03 02 06 00000001 000003e8 00700000 0000 02 07 05b4 0000", func(t *testing.T, r *flow.Record) {
			check(t, "object", r.TCP.Object, flow.TCPInit)
			check(t, "isn", r.TCP.Side[0].SeqBase, 1000)
			check(t, "flags", r.TCP.Side[0].Flags, 0x02)
			check(t, "wscale", r.TCP.Side[0].WinShift, 7)
			check(t, "mss", r.TCP.Side[0].MSS, 1460)
		}},
		{"tcp init v1 stale win", 3, flowV4 + " 30 03 00 05 00000001 000003e8 00700000 0110 02 07", func(t *testing.T, r *flow.Record) {
			check(t, "win (stale, kept)", r.TCP.Side[0].Win, 0x0110)
		}},
		{"jitter 3.x", 3, flowV4 + " 46 00 0a 0b 00000004 461c4000 4688b800 45875104 469c4000 00000002 469c4000 46c35000 459c4000 46ea6000", func(t *testing.T, r *flow.Record) {
			check(t, "src idle n", r.Jitter.Idle[0].N, 4)
			check(t, "src idle min ns", r.Jitter.Idle[0].Min, 10000e3)
			check(t, "src idle mean ns", r.Jitter.Idle[0].Mean, 17500e3)
			check(t, "dst idle max ns", r.Jitter.Idle[1].Max, 30000e3)
		}},
		{"transport 5.x int + inf", 5, "01 03 30 04 000004d2 74636170 00000001 " + flowV4, func(t *testing.T, r *flow.Record) {
			check(t, "type", r.SrcID.Type, flow.SrcIDInt)
			check(t, "id", [4]byte(r.SrcID.ID[:4]), [4]byte{0, 0, 4, 0xd2})
			check(t, "inf", string(r.SrcID.Inf[:]), "tcap")
			check(t, "seq", r.Seq, 1)
		}},
		{"5.0.3 placeholder", 5, "00 00 00 01 " + flowV4, func(t *testing.T, r *flow.Record) {
			check(t, "no srcid", r.Has&flow.HasSrcID, 0)
			check(t, "Src", r.Key.Src, ip("10.0.0.1"))
		}},
		{"mac", 3, flowV4 + " 42 00 00 05 020000000002 020000000001 0008 0000", func(t *testing.T, r *flow.Record) {
			check(t, "SrcMac", r.MAC.Src, [6]byte{2, 0, 0, 0, 0, 1})
			check(t, "ether", r.MAC.EtherType, 0x0800)
		}},
		{"flow hash + behavior", 5, flowV4 + " 54 01 00 03 00000133 00000000 07 00 00 03 ec4b4a63 00000cf8", func(t *testing.T, r *flow.Record) {
			check(t, "keystrokes", r.Behavior[0], 0x133)
			check(t, "hash", r.FlowHash, flow.FlowHash{Hash: 0xec4b4a63, Index: 0xcf8})
		}},
		{"unknown dsr kept", 5, flowV4 + " 7e 01 02 02 deadbeef", func(t *testing.T, r *flow.Record) {
			if len(r.Extra) != 1 || r.Extra[0].ID != 0x7e010202 || !bytes.Equal(r.Extra[0].Value, []byte{0xde, 0xad, 0xbe, 0xef}) {
				t.Errorf("Extra = %+v", r.Extra)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := append(marBytes(int(c.ver)), far(c.ver, hx(t, c.dsrs))...)
			c.check(t, decodeOne(t, data))
		})
	}
}

// §12.3 AGR: count big-endian, the rest host order.
func TestSpecAgr(t *testing.T) {
	agr := "60 04 01 14 00000003 " + strings.Repeat("00", 16) + " 03000000 00000000 00000000 00000000 00000000 0000000000000000" +
		" 00000000 00000000 00000000 00000000 009a8d48 0000000000000000"
	rec := decodeOne(t, append(marBytes(3), far(3, hx(t, "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000 "+agr))...))
	check(t, "count", rec.Agr.Count, 3)
	check(t, "act n", rec.Agr.Act.N, 3)
	check(t, "idle max", rec.Agr.Idle.Max, 290000)
}

// §5.4 3.x MAR: thisid at offset 120, string ids byte-reversed.
func TestSpecMar3(t *testing.T) {
	m := marBytes(3)
	be.PutUint32(m[4:], idisString)
	copy(m[120:], "dcba")
	r, err := NewReader(bytes.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	var rec flow.Record
	if err := r.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	check(t, "Version", r.Version(), 3)
	check(t, "string id", string(rec.SrcID.ID[:4]), "abcd")
	check(t, "ID[12:]", string(rec.Mgmt.ID[12:]), "dcba")
}
