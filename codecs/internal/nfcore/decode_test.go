package nfcore

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// RFC 7011 Appendix A.2.1 (template 256: sourceIPv4Address,
// destinationIPv4Address, ipNextHopIPv4Address, packetDeltaCount,
// octetDeltaCount, 4 bytes each) and A.3 (its data set of three records).
var (
	rfcTemplate = set(2, tplRec(256, fs(8, 4), fs(12, 4), fs(15, 4), fs(2, 4), fs(1, 4)))
	rfcData     = set(256,
		ip4("192.0.2.12"), ip4("192.0.2.254"), ip4("192.0.2.1"), u32(5009), u32(5344385),
		ip4("192.0.2.27"), ip4("192.0.2.23"), ip4("192.0.2.2"), u32(748), u32(388934),
		ip4("192.0.2.56"), ip4("192.0.2.65"), ip4("192.0.2.3"), u32(5), u32(6534))
)

func TestRFC7011Example(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	recs, err := d.DecodePacket(ipfixMsg(1700000000, 0, 7, rfcTemplate, rfcData), exporterA, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		src, dst, nh string
		pkts, bytes  uint64
	}{
		{"192.0.2.12", "192.0.2.254", "192.0.2.1", 5009, 5344385},
		{"192.0.2.27", "192.0.2.23", "192.0.2.2", 748, 388934},
		{"192.0.2.56", "192.0.2.65", "192.0.2.3", 5, 6534},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for i, w := range want {
		r := &recs[i]
		if r.Key.Src.String() != w.src || r.Key.Dst.String() != w.dst || r.NextHop.String() != w.nh ||
			r.Pkts[0] != w.pkts || r.Bytes[0] != w.bytes {
			t.Errorf("record %d: %v -> %v nh %v %d pkts %d bytes", i, r.Key.Src, r.Key.Dst, r.NextHop, r.Pkts[0], r.Bytes[0])
		}
		if r.Exporter != exporterA || r.ObsDomain != 7 || r.Has&(flow.HasKey|flow.HasMetrics|flow.HasExporter|flow.HasNextHop|flow.HasTime) == 0 ||
			r.Key.Kind != flow.Kind5Tuple || r.Key.AddrType != flow.AddrIPv4 || r.Type != RecordType {
			t.Errorf("record %d context: %+v", i, r.Key)
		}
		// No time element: the export time.
		if r.Start != 1700000000e9 || r.Last != 1700000000e9 {
			t.Errorf("record %d times %d %d", i, r.Start, r.Last)
		}
	}
	if s := d.Stats(); s.Records != 3 || s.Templates != 1 || s.NoTime != 3 {
		t.Errorf("stats %+v", s)
	}
}

// decodeErr asserts err is a *codecs.DecodeError with the reason and
// context given.
func decodeErr(t *testing.T, err error, reason Reason, tid uint16, off int64) {
	t.Helper()
	var de *codecs.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T), want *codecs.DecodeError", err, err)
	}
	if !errors.Is(err, reason.Err()) {
		t.Errorf("error %v, want %v", err, reason.Err())
	}
	if de.Template != tid || de.PartOff != off || !de.Exporter.IsValid() {
		t.Errorf("error context: template %d offset %d exporter %v; want template %d offset %d (%v)", de.Template, de.PartOff, de.Exporter, tid, off, err)
	}
}

// TestHostile: each kind of bad input is rejected with an error naming
// exporter, domain, template and offset, counted by reason, and the good
// sets around it still decode.
func TestHostile(t *testing.T) {
	good := func() []byte { return cat(rfcTemplate, rfcData) } // 3 records
	cases := []struct {
		name   string
		msg    func() []byte
		reason Reason
		tid    uint16
		off    int64
		recs   int
	}{
		{"template id below 256", func() []byte {
			return ipfixMsg(1, 0, 1, set(2, tplRec(255, fs(8, 4))), good())
		}, ReasonTemplateID, 255, 20, 3},
		{"zero-length fields only", func() []byte {
			return ipfixMsg(1, 0, 1, set(2, tplRec(300, fs(8, 0), fs(12, 0))), good())
		}, ReasonZeroLength, 300, 20, 3},
		{"field count past the set", func() []byte {
			b := set(2, tplRec(300, fs(8, 4), fs(12, 4)))
			be.PutUint16(b[6:], 500) // claims 500 fields
			return ipfixMsg(1, 0, 1, good(), b)
		}, ReasonTemplateTrunc, 300, 16 + int64(len(good())) + 4, 3},
		{"set length past the message", func() []byte {
			b := ipfixMsg(1, 0, 1, good(), set(256, make([]byte, 20)))
			be.PutUint16(b[16+len(good())+2:], 400)
			return b
		}, ReasonSetLength, 0, 16 + int64(len(good())), 3},
		{"reserved set id", func() []byte {
			return ipfixMsg(1, 0, 1, set(7, u32(0)), good())
		}, ReasonSetID, 0, 16, 3},
		{"data set for a template that changed length", func() []byte {
			// 3 records of a 24-byte layout read with the 20-byte template:
			// 72 bytes = 3 records + 12 bytes.
			var body []byte
			for range 3 {
				body = cat(body, ip4("10.0.0.1"), ip4("10.0.0.2"), ip4("10.0.0.3"), u32(1), u32(2), u32(99))
			}
			return ipfixMsg(1, 0, 1, good(), set(256, body), rfcData)
		}, ReasonTemplateMismatch, 256, 16 + int64(len(good())) + 4 + 60, 6},
		{"variable-length field past the end", func() []byte {
			return ipfixMsg(1, 0, 1, set(2, tplRec(400, fs(8, 4), fs(82, VarLen))), good(),
				set(400, ip4("10.0.0.1"), u8(255), u16(1000), []byte("short")))
		}, ReasonFieldPastEnd, 400, 16 + 16 + int64(len(good())) + 4, 3},
		{"options scope count above field count", func() []byte {
			return ipfixMsg(1, 0, 1, set(3, optTplRec(500, 3, fs(149, 4))), good())
		}, ReasonScope, 500, 20, 3},
		{"tiny records past the per-message bound", func() []byte {
			// protocolIdentifier alone: 1-byte records, 9000 of them
			// after the 3 good ones; the bound (8192) cuts the set.
			return ipfixMsg(1, 0, 1, good(), set(2, tplRec(600, fs(4, 1))), set(600, make([]byte, 9000)))
		}, ReasonTooManyRecords, 600, 16 + int64(len(good())) + 12 + 4 + 8189, 8192},
		{"wrong version", func() []byte {
			b := ipfixMsg(1, 0, 1, good())
			b[1] = 5
			return b
		}, ReasonVersion, 0, 0, 0},
		{"short header", func() []byte { return []byte{0, 10, 0} }, ReasonShortHeader, 0, 0, 0},
		{"message length past the datagram", func() []byte {
			b := ipfixMsg(1, 0, 1, good())
			be.PutUint16(b[2:], uint16(len(b)+10))
			return b
		}, ReasonMessageLength, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(IPFIX, Config{})
			recs, err := d.DecodePacket(c.msg(), exporterA, nil)
			decodeErr(t, err, c.reason, c.tid, c.off)
			if len(recs) != c.recs {
				t.Errorf("%d records, want %d", len(recs), c.recs)
			}
			if s := d.Stats(); s.Rejected[c.reason] != 1 || s.RejectedTotal() != 1 {
				t.Errorf("rejected %v", s.Rejected)
			}
			if !strings.Contains(err.Error(), exporterA.String()) {
				t.Errorf("error %q does not name the exporter", err)
			}
		})
	}
}

// TestTemplateFlood: an exporter sending more templates than its bound
// gets the extra ones rejected and counted; memory stays bounded and
// another exporter is not affected.
func TestTemplateFlood(t *testing.T) {
	d := NewDecoder(IPFIX, Config{MaxTemplates: 10})
	var recs []flow.Record
	var errs int
	for i := range 1000 {
		id := uint16(256 + i)
		_, err := d.DecodePacket(ipfixMsg(1, 0, 1, set(2, tplRec(id, fs(8, 4), fs(12, 4)))), exporterA, nil)
		if err != nil {
			errs++
			if i == 10 {
				decodeErr(t, err, ReasonTemplateLimit, id, 20)
			}
		}
	}
	if errs != 990 {
		t.Errorf("%d rejected, want 990", errs)
	}
	s := d.Stats()
	if s.Rejected[ReasonTemplateLimit] != 990 || s.Templates != 10 {
		t.Errorf("stats %+v", s)
	}
	e := d.exps[exporterA]
	if e.nTpl != 10 || e.tplBytes > 10*(64+2*24) {
		t.Errorf("exporter holds %d templates, %d bytes", e.nTpl, e.tplBytes)
	}
	// Re-sending a known template is not a new one.
	if _, err := d.DecodePacket(ipfixMsg(1, 0, 1, set(2, tplRec(256, fs(8, 4), fs(12, 4)))), exporterA, nil); err != nil {
		t.Error(err)
	}
	recs, err := d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate, rfcData), exporterB, recs)
	if err != nil || len(recs) != 3 {
		t.Errorf("other exporter: %d records, %v", len(recs), err)
	}
	// The byte bound too.
	d = NewDecoder(IPFIX, Config{MaxTemplateBytes: 1000})
	big := make([]FieldSpec, 100)
	for i := range big {
		big[i] = fs(uint16(1000+i), 1)
	}
	_, err = d.DecodePacket(ipfixMsg(1, 0, 1, set(2, tplRec(256, big...))), exporterA, nil)
	decodeErr(t, err, ReasonTemplateLimit, 256, 20)
}

// TestPending: data sets that come before their template are held and
// come out of the call that brings the template; held sets that wait too
// long are counted as expired; a full buffer is counted.
func TestPending(t *testing.T) {
	c := newClock()
	d := NewDecoder(IPFIX, Config{Now: c.now, PendingTimeout: time.Minute, PendingBytes: 200})
	recs, err := d.DecodePacket(ipfixMsg(1700000000, 0, 1, rfcData), exporterA, nil)
	if err != nil || len(recs) != 0 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	// The template of another domain does not release it.
	recs, _ = d.DecodePacket(ipfixMsg(1700000001, 0, 2, rfcTemplate), exporterA, recs)
	if len(recs) != 0 {
		t.Fatalf("released by another domain's template")
	}
	// Its own data (decoded at once) then the held set's records.
	recs, err = d.DecodePacket(ipfixMsg(1700000002, 3, 1, rfcTemplate, rfcData), exporterA, recs)
	if err != nil || len(recs) != 6 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[3].Key.Src.String() != "192.0.2.12" || recs[3].Start != 1700000000e9 || recs[5].Bytes[0] != 6534 {
		t.Errorf("late record %+v start %d", recs[3].Key, recs[3].Start)
	}
	s := d.Stats()
	if s.PendingSets != 1 || s.PendingDecoded != 1 || s.PendingRecords != 3 || s.Records != 6 {
		t.Errorf("stats %+v", s)
	}
	// Expiry.
	d.DecodePacket(ipfixMsg(1700000003, 0, 9, set(300, make([]byte, 8))), exporterA, nil)
	c.add(2 * time.Minute)
	d.DecodePacket(ipfixMsg(1700000004, 0, 9, set(2, tplRec(301, fs(8, 4)))), exporterA, nil)
	if s := d.Stats(); s.PendingExpired != 1 {
		t.Errorf("expired %d", s.PendingExpired)
	}
	// Full buffer: 200 bytes.
	_, err = d.DecodePacket(ipfixMsg(1, 0, 9, set(302, make([]byte, 150)), set(303, make([]byte, 100))), exporterA, nil)
	decodeErr(t, err, ReasonPendingFull, 303, 16+154)
	if s := d.Stats(); s.PendingDropped != 1 {
		t.Errorf("dropped %d", s.PendingDropped)
	}
}

// TestWithdrawal: RFC 7011 §8.1 withdrawals, one template and all.
func TestWithdrawal(t *testing.T) {
	d := NewDecoder(IPFIX, Config{PendingBytes: -1})
	msg := func(sets ...[]byte) int {
		recs, _ := d.DecodePacket(ipfixMsg(1, 0, 1, sets...), exporterA, nil)
		return len(recs)
	}
	if n := msg(rfcTemplate, rfcData); n != 3 {
		t.Fatal(n)
	}
	if n := msg(set(2, u16(256), u16(0)), rfcData); n != 0 {
		t.Errorf("withdrawn template still decodes: %d", n)
	}
	msg(rfcTemplate, set(2, tplRec(257, fs(8, 4))))
	if n := msg(set(2, u16(2), u16(0)), rfcData); n != 0 {
		t.Errorf("all-templates withdrawal left template 256")
	}
	if s := d.Stats(); s.TemplatesWithdrawn != 3 {
		t.Errorf("withdrawn %d", s.TemplatesWithdrawn)
	}
}

// TestTemplateTimeout: a template neither re-sent nor used expires; one
// in use does not.
func TestTemplateTimeout(t *testing.T) {
	c := newClock()
	d := NewDecoder(IPFIX, Config{Now: c.now, TemplateTimeout: 10 * time.Minute, PendingBytes: -1})
	d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate), exporterA, nil)
	for range 5 {
		c.add(5 * time.Minute)
		if recs, _ := d.DecodePacket(ipfixMsg(1, 0, 1, rfcData), exporterA, nil); len(recs) != 3 {
			t.Fatalf("used template expired")
		}
	}
	c.add(11 * time.Minute)
	if recs, _ := d.DecodePacket(ipfixMsg(1, 0, 1, rfcData), exporterA, nil); len(recs) != 0 {
		t.Errorf("idle template did not expire")
	}
	if s := d.Stats(); s.TemplatesExpired != 1 {
		t.Errorf("expired %d", s.TemplatesExpired)
	}
}

// TestSaveLoad: templates, system init time and samplers survive a
// restart through Save/Load.
func TestSaveLoad(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	opt := set(3, optTplRec(260, 1, fs(302, 4), fs(305, 4), fs(306, 4)))
	sysInit := set(3, optTplRec(261, 1, fs(143, 4), fs(160, 8)))
	d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate, opt, set(260, u32(5), u32(1), u32(99)),
		sysInit, set(261, u32(1), u64(1699999000000)),
		set(2, tplRec(262, FieldSpec{PEN: 9, ID: 12, Len: VarLen}, fs(8, 4)))), exporterA, nil)
	var buf bytes.Buffer
	if err := d.Save(&buf); err != nil {
		t.Fatal(err)
	}
	want := `# flowgate nfcore state 1
sysinit 10 192.0.2.1:4739 1 1699999000000
sampler 10 192.0.2.1:4739 1 5 100
template 10 192.0.2.1:4739 1 256 0 0 0/8/4 0/12/4 0/15/4 0/2/4 0/1/4
template 10 192.0.2.1:4739 1 260 1 1 0/302/4 0/305/4 0/306/4
template 10 192.0.2.1:4739 1 261 1 1 0/143/4 0/160/8
template 10 192.0.2.1:4739 1 262 0 0 9/12/65535 0/8/4
`
	if buf.String() != want {
		t.Errorf("saved:\n%s\nwant:\n%s", buf.String(), want)
	}
	d2 := NewDecoder(IPFIX, Config{})
	if err := d2.Load(strings.NewReader(buf.String())); err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	d2.Save(&b2)
	if b2.String() != want {
		t.Errorf("reloaded state differs:\n%s", b2.String())
	}
	recs, err := d2.DecodePacket(ipfixMsg(1, 0, 1, rfcData), exporterA, nil)
	if err != nil || len(recs) != 3 || recs[0].SamplingRate != 100 {
		t.Errorf("after load: %d records, rate %v, %v", len(recs), recs, err)
	}
	// A v9 decoder skips IPFIX lines; bad lines are errors.
	if err := NewDecoder(V9, Config{}).Load(strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := d2.Load(strings.NewReader("template 10 192.0.2.1:4739 1 12 0 0 0/8/4\n")); !errors.Is(err, ErrTemplateID) {
		t.Errorf("bad template loaded: %v", err)
	}
}

// TestSampling: rates from options data per sampler id (IPFIX selectorId
// with samplingPacketInterval/Space, v9 FLOW_SAMPLER_ID with
// FLOW_SAMPLER_RANDOM_INTERVAL), from IE 34 in the data record (Huawei),
// and renormalisation.
func TestSampling(t *testing.T) {
	d := NewDecoder(V9, Config{Renormalise: true})
	// v9 options template: scope system (type 1, len 4); options 48 (1
	// byte) and 50 (4 bytes); flowset padded to 4 bytes.
	optTpl := set(1, u16(300), u16(4), u16(8), u16(1), u16(4), u16(48), u16(1), u16(50), u16(4), u16(0))
	opts := set(300, u32(0), u8(2), u32(64), u32(0), u8(3), u32(1000), []byte{0, 0})
	tpl := set(0, tplRec(301, fs(8, 4), fs(12, 4), fs(2, 4), fs(1, 4), fs(48, 1)))
	data := set(301, ip4("10.0.0.1"), ip4("10.0.0.2"), u32(2), u32(100), u8(2),
		ip4("10.0.0.3"), ip4("10.0.0.4"), u32(1), u32(50), u8(3))
	recs, err := d.DecodePacket(v9Msg(1000, 1700000000, 1, 5, optTpl, opts, tpl, data), exporterA, nil)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[0].SamplingRate != 64 || recs[0].Pkts[0] != 128 || recs[0].Bytes[0] != 6400 || recs[0].Has&flow.HasSampling == 0 {
		t.Errorf("sampler 2: rate %d pkts %d bytes %d", recs[0].SamplingRate, recs[0].Pkts[0], recs[0].Bytes[0])
	}
	if recs[1].SamplingRate != 1000 || recs[1].Pkts[0] != 1000 {
		t.Errorf("sampler 3: rate %d pkts %d", recs[1].SamplingRate, recs[1].Pkts[0])
	}
	// A sampler id with no options: no rate (not sampler 2's or 3's).
	recs, _ = d.DecodePacket(v9Msg(1000, 1700000000, 2, 5, set(301, ip4("10.0.0.1"), ip4("10.0.0.2"), u32(1), u32(1), u8(9))), exporterA, nil)
	if len(recs) != 1 || recs[0].SamplingRate != 0 || recs[0].Has&flow.HasSampling != 0 {
		t.Errorf("unknown sampler id got rate %d", recs[0].SamplingRate)
	}
	// A default rate for exporters that give none, and a forced one.
	for _, c := range []struct {
		force bool
		want  uint32
	}{{false, 1000}, {true, 7}} {
		d2 := NewDecoderOpts(V9, WithSamplingRate(7, c.force))
		recs, _ = d2.DecodePacket(v9Msg(1000, 1700000000, 1, 5, optTpl, opts, tpl, data), exporterA, nil)
		recs2, _ := d2.DecodePacket(v9Msg(1000, 1700000000, 1, 6, tpl, data), exporterA, nil)
		if len(recs) != 2 || recs[1].SamplingRate != c.want || len(recs2) != 2 || recs2[0].SamplingRate != 7 {
			t.Errorf("force %v: rates %d, %d", c.force, recs[1].SamplingRate, recs2[0].SamplingRate)
		}
	}
	// Huawei: samplingInterval in the data record.
	d = NewDecoder(V9, Config{})
	recs, _ = d.DecodePacket(v9Msg(1000, 1700000000, 1, 5, set(0, tplRec(302, fs(8, 4), fs(34, 4))),
		set(302, ip4("10.0.0.1"), u32(512))), exporterA, nil)
	if len(recs) != 1 || recs[0].SamplingRate != 512 || recs[0].Pkts[0] != 0 || len(recs[0].Extra) != 0 {
		t.Errorf("IE 34 in data: %+v", recs)
	}
	// Written back once, as it came.
	n := 0
	for _, f := range RecordFields(nil, &recs[0], &EncOptions{Version: V9}) {
		if f.ID == 34 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("IE 34 written %d times", n)
	}
}

// TestTimes: every time encoding to Unix ns.
func TestTimes(t *testing.T) {
	const export = 1700000100 // s
	cases := []struct {
		name        string
		v           Version
		fields      []FieldSpec
		vals        []byte
		sysUp       uint32
		start, last int64 // ns
	}{
		{"seconds", IPFIX, []FieldSpec{fs(150, 4), fs(151, 4)}, cat(u32(1700000000), u32(1700000010)), 0, 1700000000e9, 1700000010e9},
		{"milliseconds", IPFIX, []FieldSpec{fs(152, 8), fs(153, 8)}, cat(u64(1700000000123), u64(1700000000456)), 0, 1700000000123e6, 1700000000456e6},
		// NTP: seconds since 1900, fraction/2^32: 0x80000000 = .5 s.
		{"nanoseconds NTP", IPFIX, []FieldSpec{fs(156, 8), fs(157, 8)}, cat(u32(1700000000+2208988800), u32(0x80000000), u32(1700000001+2208988800), u32(0x40000000)), 0, 1700000000500000000, 1700000001250000000},
		// RFC 7011 6.1.9: whole microseconds, the fraction's lower 11 bits
		// ignored. softflowd writes the microsecond's fraction plus 4294
		// (just under one more microsecond): 0 and 1000 µs, 512345 µs.
		{"microseconds NTP", IPFIX, []FieldSpec{fs(154, 8), fs(155, 8)}, cat(u32(1700000000+2208988800), u32(4294), u32(1700000000+2208988800), u32(4299261)), 0, 1700000000e9, 1700000000001000000},
		{"microseconds NTP 512345", IPFIX, []FieldSpec{fs(154, 8), fs(155, 8)}, cat(u32(1700000000+2208988800), u32(0), u32(1700000000+2208988800), u32(2200509313)), 0, 1700000000e9, 1700000000512345000},
		{"delta microseconds", IPFIX, []FieldSpec{fs(158, 4), fs(159, 4)}, cat(u32(5000000), u32(1000)), 0, (export - 5) * 1e9, export*1e9 - 1e6},
		{"start ms + duration", IPFIX, []FieldSpec{fs(152, 8), fs(161, 4)}, cat(u64(1700000000000), u32(2500)), 0, 1700000000e9, 1700000002500e6},
		{"uptime with systemInitTimeMilliseconds", IPFIX, []FieldSpec{fs(160, 8), fs(22, 4), fs(21, 4)}, cat(u64(1699990000000), u32(10000000), u32(10000500)), 0, 1700000000e9, 1700000000500e6},
		{"v9 uptime", V9, []FieldSpec{fs(22, 4), fs(21, 4)}, cat(u32(40000), u32(90000)), 100000, (export - 60) * 1e9, (export - 10) * 1e9},
		// sysUpTime wrapped (49.7 days) between the flow's start and the export.
		{"v9 uptime wrap", V9, []FieldSpec{fs(22, 4), fs(21, 4)}, cat(u32(0xFFFFF000), u32(100)), 1000, export*1e9 - (1000+0x1000)*1e6, export*1e9 - 900e6},
		// A flow seen after the header's uptime was sampled: signed.
		{"v9 uptime after header", V9, []FieldSpec{fs(22, 4), fs(21, 4)}, cat(u32(1000), u32(1200)), 1000, export * 1e9, export*1e9 + 200e6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(c.v, Config{})
			var msg []byte
			if c.v == IPFIX {
				msg = ipfixMsg(export, 0, 0, set(2, tplRec(256, c.fields...)), set(256, c.vals))
			} else {
				msg = v9Msg(c.sysUp, export, 0, 0, set(0, tplRec(256, c.fields...)), set(256, c.vals))
			}
			recs, err := d.DecodePacket(msg, exporterA, nil)
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			if recs[0].Start != c.start || recs[0].Last != c.last {
				t.Errorf("start %d last %d, want %d %d", recs[0].Start, recs[0].Last, c.start, c.last)
			}
		})
	}
	// IPFIX uptime with the system init time from options data (softflowd).
	d := NewDecoder(IPFIX, Config{})
	recs, _ := d.DecodePacket(ipfixMsg(export, 0, 0,
		set(3, optTplRec(300, 1, fs(143, 4), fs(160, 8))), set(300, u32(0), u64(1699990000000)),
		set(2, tplRec(256, fs(22, 4), fs(21, 4))), set(256, u32(10000000), u32(10000007))), exporterA, nil)
	if len(recs) != 1 || recs[0].Start != 1700000000e9 || recs[0].Last != 1700000000007e6 {
		t.Errorf("options system init time: %+v", recs)
	}
}

// TestBiflow: RFC 5103 reverse elements and Cisco ASA initiator and
// responder counters fill flow.Dst; tcpControlBits give an Argus state.
func TestBiflow(t *testing.T) {
	rev := func(id, n uint16) FieldSpec { return FieldSpec{PEN: PENReverse, ID: id, Len: n} }
	d := NewDecoder(IPFIX, Config{})
	tpl := set(2, tplRec(256, fs(8, 4), fs(12, 4), fs(4, 1), fs(1, 8), fs(2, 8), rev(1, 8), rev(2, 8), fs(6, 2), rev(6, 2), fs(5, 1), rev(5, 1), rev(58, 2), rev(8, 4)))
	data := set(256, ip4("10.0.0.1"), ip4("10.0.0.2"), u8(6), u64(258), u64(6), u64(659), u64(4), u16(0x1b), u16(0x1b), u8(8), u8(16), u16(100), ip4("1.2.3.4"))
	recs, err := d.DecodePacket(ipfixMsg(1, 0, 0, tpl, data), exporterA, nil)
	if err != nil || len(recs) != 1 {
		t.Fatal(len(recs), err)
	}
	r := &recs[0]
	if r.Bytes != [2]uint64{258, 659} || r.Pkts != [2]uint64{6, 4} || r.TCP.Side[1].Flags != 0x1b || r.IPAttr.TOS != [2]uint8{8, 16} || r.VLAN.TCI[1] != 100 {
		t.Errorf("biflow %+v %+v %+v", r.Bytes, r.Pkts, r.IPAttr)
	}
	if r.TCP.Status != tcpSawSyn|tcpSawSynSent|tcpEstablished|tcpFin|tcpFinAck|tcpNormalClose || r.Has&flow.HasTCP == 0 {
		t.Errorf("tcp status %#x", r.TCP.Status)
	}
	// The reverse source address has no field: it is kept.
	if len(r.Extra) != 1 || r.Extra[0].Enterprise != PENReverse || r.Extra[0].ID != 8 || string(r.Extra[0].Value) != string(ip4("1.2.3.4")) {
		t.Errorf("extra %+v", r.Extra)
	}
	// Cisco ASA (v9): 231/232/298/299.
	d = NewDecoder(V9, Config{})
	recs, _ = d.DecodePacket(v9Msg(0, 1, 0, 0, set(0, tplRec(263, fs(8, 4), fs(231, 4), fs(232, 4), fs(298, 4), fs(299, 4))),
		set(263, ip4("10.0.0.1"), u32(1000), u32(2000), u32(10), u32(20))), exporterA, nil)
	if len(recs) != 1 || recs[0].Bytes != [2]uint64{1000, 2000} || recs[0].Pkts != [2]uint64{10, 20} {
		t.Errorf("ASA %+v", recs)
	}
}

// TestVariableLengthAndEnterprise: 1- and 3-byte length prefixes (RFC
// 7011 §7) and enterprise elements go to Extra with PEN, id and value.
func TestVariableLengthAndEnterprise(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	long := bytes.Repeat([]byte("x"), 300)
	tpl := set(2, tplRec(256, fs(8, 4), fs(82, VarLen), FieldSpec{PEN: 9, ID: 12235, Len: VarLen}, FieldSpec{PEN: 5951, ID: 128, Len: 4}))
	data := set(256, ip4("10.0.0.1"), u8(4), []byte("eth0"), u8(255), u16(300), long, u32(77),
		ip4("10.0.0.2"), u8(0), u8(1), []byte("z"), u32(78), []byte{0, 0, 0})
	recs, err := d.DecodePacket(ipfixMsg(1, 0, 0, tpl, data), exporterA, nil)
	if err != nil || len(recs) != 2 {
		t.Fatal(len(recs), err)
	}
	x := recs[0].Extra
	if len(x) != 3 || string(x[0].Value) != "eth0" || x[0].ID != 82 || x[0].Offset != VarLen ||
		len(x[1].Value) != 300 || x[1].Enterprise != 9 || x[1].ID != 12235 ||
		x[2].Enterprise != 5951 || x[2].ID != 128 || be.Uint32(x[2].Value) != 77 || x[2].Source != flow.SourceIPFIX {
		t.Errorf("extra %+v", x)
	}
	if y := recs[1].Extra; len(y[0].Value) != 0 || string(y[1].Value) != "z" {
		t.Errorf("second record extra %+v", y)
	}
}

// TestSequence: v9 counts packets, IPFIX data records; gaps are loss,
// steps back are reordering, far jumps resets; an exporter counting the
// other way is a quirk, not loss.
func TestSequence(t *testing.T) {
	d := NewDecoder(V9, Config{})
	tpl := set(0, tplRec(256, fs(8, 4)))
	data := set(256, ip4("10.0.0.1"), ip4("10.0.0.2"))
	for _, seq := range []uint32{10, 11, 12, 15, 14, 16, 900000000, 900000001} {
		d.DecodePacket(v9Msg(0, 1, seq, 1, tpl, data), exporterA, nil)
	}
	s := d.Stats()
	if s.SeqLost != 2 || s.SeqReordered != 1 || s.SeqResets != 1 || s.SeqQuirks != 2 {
		t.Errorf("v9: lost %d reordered %d resets %d quirks %d", s.SeqLost, s.SeqReordered, s.SeqResets, s.SeqQuirks)
	}
	// IPFIX: 3 records a message.
	d = NewDecoder(IPFIX, Config{})
	for _, seq := range []uint32{0, 3, 6, 12, 15} {
		d.DecodePacket(ipfixMsg(1, seq, 1, rfcTemplate, rfcData), exporterA, nil)
	}
	if s := d.Stats(); s.SeqLost != 3 || s.SeqQuirks != 0 {
		t.Errorf("ipfix: lost %d quirks %d", s.SeqLost, s.SeqQuirks)
	}
	// A v9 exporter counting records (3 a packet): one quirk, then no loss.
	d = NewDecoder(V9, Config{})
	data3 := set(256, ip4("10.0.0.1"), ip4("10.0.0.2"), ip4("10.0.0.3"))
	for _, seq := range []uint32{0, 3, 6, 9, 12} {
		d.DecodePacket(v9Msg(0, 1, seq, 1, tpl, data3), exporterA, nil)
	}
	if s := d.Stats(); s.SeqLost != 0 || s.SeqQuirks != 1 {
		t.Errorf("v9 counting records: lost %d quirks %d", s.SeqLost, s.SeqQuirks)
	}
	// Domains are tracked apart.
	d = NewDecoder(V9, Config{})
	for i := range uint32(5) {
		d.DecodePacket(v9Msg(0, 1, i, 1, tpl, data), exporterA, nil)
		d.DecodePacket(v9Msg(0, 1, 100+i, 2, tpl, data), exporterA, nil)
	}
	if s := d.Stats(); s.SeqLost != 0 || s.SeqQuirks != 0 {
		t.Errorf("two domains: %+v", s)
	}
}

// TestV9Padding: a zero-filled datagram tail ends the flowsets (Palo Alto)
// and a data flowset padded to 4 bytes decodes its records only.
func TestV9Padding(t *testing.T) {
	d := NewDecoder(V9, Config{})
	msg := v9Msg(0, 1, 0, 0, set(0, tplRec(256, fs(8, 4), fs(4, 1))), set(256, ip4("10.0.0.1"), u8(6), ip4("10.0.0.2"), u8(17), []byte{0, 0}))
	msg = append(msg, make([]byte, 500)...)
	recs, err := d.DecodePacket(msg, exporterA, nil)
	if err != nil || len(recs) != 2 || recs[1].Key.Proto != 17 {
		t.Errorf("%d records, %v", len(recs), err)
	}
}

// TestSetOrder: within one message, options data applies to flow records
// before it (akvorado#89), a template serves the data sets before it, and
// a template redefined mid-message decodes each set with the template it
// came under.
func TestSetOrder(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	opt := set(3, optTplRec(260, 1, fs(143, 4), fs(34, 4)))
	recs, err := d.DecodePacket(ipfixMsg(1, 0, 1, rfcData, rfcTemplate, set(260, u32(1), u32(10)), opt), exporterA, nil)
	if err != nil || len(recs) != 3 || recs[0].SamplingRate != 10 || recs[2].SamplingRate != 10 {
		t.Fatalf("%d records, %v, %+v", len(recs), err, recs)
	}
	if s := d.Stats(); s.PendingSets != 0 || s.OptionsRecords != 1 {
		t.Errorf("stats %+v", s)
	}
	d = NewDecoder(IPFIX, Config{})
	other := set(2, tplRec(256, fs(12, 4), fs(8, 4), fs(15, 4), fs(2, 4), fs(1, 4))) // addresses swapped
	recs, err = d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate, rfcData, other, rfcData), exporterA, nil)
	if err != nil || len(recs) != 6 || recs[0].Key.Src.String() != "192.0.2.12" || recs[3].Key.Src.String() != "192.0.2.254" {
		t.Errorf("redefinition: %d records, %v", len(recs), err)
	}
}

// TestScopes: templates are scoped by exporter address and port and by
// observation domain: the same template id means different layouts.
func TestScopes(t *testing.T) {
	d := NewDecoder(IPFIX, Config{PendingBytes: -1})
	swapped := set(2, tplRec(256, fs(12, 4), fs(8, 4), fs(15, 4), fs(2, 4), fs(1, 4)))
	other := exporterA
	other = netip.AddrPortFrom(other.Addr(), other.Port()+1)
	d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate), exporterA, nil)
	d.DecodePacket(ipfixMsg(1, 0, 1, swapped), other, nil)
	d.DecodePacket(ipfixMsg(1, 0, 2, swapped), exporterA, nil)
	for _, c := range []struct {
		from netip.AddrPort
		dom  uint32
		src  string
	}{{exporterA, 1, "192.0.2.12"}, {other, 1, "192.0.2.254"}, {exporterA, 2, "192.0.2.254"}, {exporterB, 1, ""}} {
		recs, _ := d.DecodePacket(ipfixMsg(1, 0, c.dom, rfcData), c.from, nil)
		got := ""
		if len(recs) > 0 {
			got = recs[0].Key.Src.String()
			if recs[0].Exporter != c.from || recs[0].ObsDomain != c.dom {
				t.Errorf("context %v %d", recs[0].Exporter, recs[0].ObsDomain)
			}
		}
		if got != c.src {
			t.Errorf("%v domain %d: source %q, want %q", c.from, c.dom, got, c.src)
		}
	}
}

// TestObservationTime: a record whose only time is observationTime*
// (Cisco ASA NSEL: 323) takes it, and keeps the element.
func TestObservationTime(t *testing.T) {
	d := NewDecoder(V9, Config{})
	recs, _ := d.DecodePacket(v9Msg(5000, 1700000100, 0, 0, set(0, tplRec(256, fs(8, 4), fs(323, 8))),
		set(256, ip4("10.0.0.1"), u64(1700000000123))), exporterA, nil)
	if len(recs) != 1 || recs[0].Start != 1700000000123e6 || recs[0].Last != recs[0].Start ||
		len(recs[0].Extra) != 1 || recs[0].Extra[0].ID != 323 {
		t.Errorf("%+v", recs)
	}
	if s := d.Stats(); s.NoTime != 0 {
		t.Errorf("NoTime %d", s.NoTime)
	}
}

// TestTemplatePadding: template sets padded with zeros (to 8 bytes and
// more) are not read as template records.
func TestTemplatePadding(t *testing.T) {
	d := NewDecoder(V9, Config{})
	recs, err := d.DecodePacket(v9Msg(0, 1, 0, 0, set(0, tplRec(256, fs(8, 4)), make([]byte, 8)),
		set(1, u16(300), u16(4), u16(4), u16(1), u16(4), u16(34), u16(4), make([]byte, 10)),
		set(256, ip4("10.0.0.1"))), exporterA, nil)
	if err != nil || len(recs) != 1 {
		t.Errorf("%d records, %v", len(recs), err)
	}
}

// TestExporterLimit: exporters past the bound are rejected and counted;
// quiet exporters that hold nothing are forgotten, so the bound is not
// used up for good by one-off (spoofed) sources; exporters with templates
// are kept.
func TestExporterLimit(t *testing.T) {
	c := newClock()
	d := NewDecoder(IPFIX, Config{MaxExporters: 2, MaxDomains: 1, PendingBytes: -1, Now: c.now})
	d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate), exporterA, nil)
	d.DecodePacket(ipfixMsg(1, 0, 1, rfcData), exporterB, nil)
	third := netip.MustParseAddrPort("198.51.100.7:9995")
	_, err := d.DecodePacket(ipfixMsg(1, 0, 1, rfcData), third, nil)
	decodeErr(t, err, ReasonExporterLimit, 0, 0)
	_, err = d.DecodePacket(ipfixMsg(1, 0, 2, rfcData), exporterA, nil)
	decodeErr(t, err, ReasonExporterLimit, 0, 0)
	c.add(2 * time.Minute)
	d.DecodePacket(ipfixMsg(1, 0, 1, rfcData), exporterA, nil) // sweeps: B held nothing
	if recs, err := d.DecodePacket(ipfixMsg(1, 0, 1, rfcTemplate, rfcData), third, nil); err != nil || len(recs) != 3 {
		t.Errorf("third exporter after the sweep: %d records, %v", len(recs), err)
	}
	if recs, _ := d.DecodePacket(ipfixMsg(1, 0, 1, rfcData), exporterA, nil); len(recs) != 3 {
		t.Errorf("exporter with templates forgotten")
	}
}

// TestDomains: per exporter and domain state for operators.
func TestDomains(t *testing.T) {
	d := NewDecoder(V9, Config{})
	tpl := set(0, tplRec(256, fs(8, 4)))
	data := set(256, ip4("10.0.0.1"))
	for _, seq := range []uint32{1, 2, 5} {
		d.DecodePacket(v9Msg(0, 1, seq, 7, tpl, data), exporterB, nil)
	}
	d.DecodePacket(v9Msg(0, 1, 1, 3, tpl, set(1, u16(300), u16(4), u16(4), u16(1), u16(4), u16(34), u16(4)), set(300, u32(0), u32(512))), exporterA, nil)
	got := d.Domains()
	if len(got) != 2 || got[0].Exporter != exporterA || got[0].Domain != 3 || got[0].Templates != 1 || got[0].OptionsTemplates != 1 ||
		got[0].SamplingRate != 512 || got[1].Exporter != exporterB || got[1].SeqLost != 2 || got[1].Templates != 1 {
		t.Errorf("%+v", got)
	}
}

// TestKeptElements: elements flow/fields.csv maps to Argus fields fill
// them and stay in Extra, so the encoder writes them back unchanged.
func TestKeptElements(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	tpl := set(2, tplRec(256, fs(8, 4), fs(12, 4), fs(4, 1), fs(25, 2), fs(26, 2), fs(54, 2), fs(186, 2), fs(184, 4),
		fs(256, 2), fs(58, 2), fs(244, 1), fs(136, 1)))
	data := set(256, ip4("10.0.0.1"), ip4("10.0.0.2"), u8(6), u16(40), u16(1500), u16(0x1234), u16(65535), u32(1000),
		u16(0x0800), u16(100), u8(5), u8(1))
	recs, err := d.DecodePacket(ipfixMsg(1, 0, 0, tpl, data), exporterA, nil)
	if err != nil || len(recs) != 1 {
		t.Fatal(len(recs), err)
	}
	r := &recs[0]
	if r.PktSize.Min[0] != 40 || r.PktSize.Max[0] != 1500 || r.Has&flow.HasPktSize == 0 || r.IPAttr.IPID[0] != 0x1234 ||
		r.TCP.Side[0].Win != 65535 || r.TCP.Side[0].SeqBase != 1000 || r.Has&flow.HasTCP == 0 || r.MAC.EtherType != 0x0800 ||
		r.VLAN.TCI[0] != 5<<13|100 || r.Cause != flow.CauseTimeout {
		t.Errorf("fields: %+v %+v %+v %#x cause %#x", r.PktSize, r.IPAttr, r.TCP.Side[0], r.VLAN.TCI[0], r.Cause)
	}
	if len(r.Extra) != 8 {
		t.Fatalf("extra %+v", r.Extra)
	}
	o := &EncOptions{Version: IPFIX}
	f := RecordFields(nil, r, o)
	n := 0
	for _, x := range f {
		if x.op == OpExtra {
			n++
		}
	}
	if n != 8 {
		t.Errorf("encoder writes %d of the 8 kept elements", n)
	}
}

// TestConcurrent: one decoder shared by several goroutines (go test
// -race) decodes every exporter's records.
func TestConcurrent(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	done := make(chan int)
	for g := range 4 {
		go func() {
			from := netip.AddrPortFrom(exporterA.Addr(), uint16(1000+g))
			var recs []flow.Record
			n := 0
			for i := range 200 {
				recs, _ = d.DecodePacket(ipfixMsg(1, uint32(3*i), 1, rfcTemplate, rfcData), from, recs[:0])
				n += len(recs)
				_ = d.Stats()
			}
			done <- n
		}()
	}
	for range 4 {
		if n := <-done; n != 600 {
			t.Errorf("%d records, want 600", n)
		}
	}
	if s := d.Stats(); s.Records != 2400 || s.SeqLost != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestDecodeAllocsExtra: records with Extra values (enterprise and
// variable-length elements) decode into reused records with no
// allocation once the records' Extra slices have grown.
func TestDecodeAllocsExtra(t *testing.T) {
	d := NewDecoder(IPFIX, Config{})
	tpl := set(2, tplRec(256, fs(8, 4), fs(82, VarLen), FieldSpec{PEN: 9, ID: 12235, Len: 4}, fs(136, 1)))
	var body []byte
	for i := range 20 {
		body = cat(body, ip4("10.0.0.1"), u8(4), []byte("eth0"), u32(uint32(i)), u8(1))
	}
	d.DecodePacket(ipfixMsg(1, 0, 1, tpl), exporterA, nil)
	msg := ipfixMsg(1, 0, 1, set(256, body))
	recs, _ := d.DecodePacket(msg, exporterA, nil)
	a := testing.AllocsPerRun(100, func() {
		recs, _ = d.DecodePacket(msg, exporterA, recs[:0])
	})
	if a != 0 || len(recs) != 20 || len(recs[19].Extra) != 3 {
		t.Errorf("%v allocations, %d records", a, len(recs))
	}
}

// BenchmarkDecodeExtra: 20-record messages whose records carry a
// variable-length string, an enterprise element and a kept element.
func BenchmarkDecodeExtra(b *testing.B) {
	d := NewDecoder(IPFIX, Config{})
	tpl := set(2, tplRec(256, fs(8, 4), fs(12, 4), fs(7, 2), fs(11, 2), fs(4, 1), fs(1, 8), fs(2, 8), fs(152, 8), fs(153, 8),
		fs(82, VarLen), FieldSpec{PEN: 9, ID: 12235, Len: 4}, fs(136, 1)))
	var body []byte
	for i := range 20 {
		body = cat(body, ip4("10.0.0.1"), ip4("10.0.0.2"), u16(uint16(i)), u16(443), u8(6), u64(1500), u64(3),
			u64(1700000000000), u64(1700000001000), u8(4), []byte("eth0"), u32(uint32(i)), u8(1))
	}
	d.DecodePacket(ipfixMsg(1, 0, 1, tpl), exporterA, nil)
	msg := ipfixMsg(1, 0, 1, set(256, body))
	recs, _ := d.DecodePacket(msg, exporterA, nil)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		recs, _ = d.DecodePacket(msg, exporterA, recs[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20), "ns/record")
}
