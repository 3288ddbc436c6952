package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// NetFlow/IPFIX message versions: the first two bytes of every message,
// big-endian.
const (
	VersionNF5   = 5
	VersionNF9   = 9
	VersionIPFIX = 10
)

// MessageVersion returns the version word of an export message, or 0 when
// b is too short to hold one.
func MessageVersion(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// Decoders is one set of packet decoders, one per version. Template state
// lives in the decoders, so each receive worker (and each IPFIX/TCP session)
// owns a set of its own: an exporter's templates live where its messages
// arrive. A nil member refuses its version (counted as "version").
type Decoders struct {
	V5, V9, IPFIX codecs.PacketDecoder
}

// NewDecoders makes a fresh set of decoders. Listeners call it once per
// worker or session.
type NewDecoders func() Decoders

// Only keeps the decoder of one format (nf5, nf9, ipfix); FormatNF and
// FormatAuto keep all three.
func (d Decoders) Only(f Format) Decoders {
	switch f {
	case FormatNF5:
		return Decoders{V5: d.V5}
	case FormatNF9:
		return Decoders{V9: d.V9}
	case FormatIPFIX:
		return Decoders{IPFIX: d.IPFIX}
	}
	return d
}

// errTruncatedDatagram counts a datagram longer than its receive slot.
var errTruncatedDatagram = &codecs.DecodeError{Format: "netflow", Part: "datagram longer than 64 KiB", Err: codecs.ErrTruncated}

// ErrVersion is the error for a message whose version no decoder takes.
var ErrVersion = errors.New("unsupported export version")

// Decode decodes one message with the decoder its version word names,
// appending to dst.
func (d *Decoders) Decode(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error) {
	var pd codecs.PacketDecoder
	switch MessageVersion(b) {
	case VersionNF5:
		pd = d.V5
	case VersionNF9:
		pd = d.V9
	case VersionIPFIX:
		pd = d.IPFIX
	}
	if pd == nil {
		if len(b) < 2 {
			return dst, &codecs.DecodeError{Format: "netflow", Part: "version", Exporter: from, Err: codecs.ErrTruncated}
		}
		return dst, &codecs.DecodeError{Format: "netflow", Part: fmt.Sprintf("version %d", MessageVersion(b)), Exporter: from, Err: ErrVersion}
	}
	return pd.DecodePacket(b, from, dst)
}

// Reason classifies a decode error for the counters: "template" (data for
// a template not seen), "truncated", "corrupt", "unsupported", "version"
// (no decoder for the message's version) or "other".
func Reason(err error) string {
	switch {
	case errors.Is(err, codecs.ErrTemplateNotFound):
		return "template"
	case errors.Is(err, codecs.ErrTruncated):
		return "truncated"
	case errors.Is(err, codecs.ErrCorrupt):
		return "corrupt"
	case errors.Is(err, ErrVersion):
		return "version"
	case errors.Is(err, codecs.ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

// reasonKey is Reason, followed by the decoder's own words for the error
// when it says more than the class ("corrupt: reserved set id").
func reasonKey(err error) string {
	r := Reason(err)
	var de *codecs.DecodeError
	if !errors.As(err, &de) || de.Err == nil {
		return r
	}
	switch de.Err {
	case codecs.ErrTruncated, codecs.ErrCorrupt, codecs.ErrTemplateNotFound, codecs.ErrUnsupported, ErrVersion:
		return r
	}
	d := de.Err.Error()
	if i := strings.LastIndex(d, ": "); i > 0 {
		d = d[:i] // the class again
	}
	if len(d) > 80 {
		d = d[:80]
	}
	return r + ": " + d
}

// ErrorKey is one row of the per-exporter error counters.
type ErrorKey struct {
	Exporter netip.AddrPort // the zero value gathers exporters past the table's bound
	Reason   string         // Reason's class, then the decoder's words: "corrupt: reserved set id"
}

// maxErrorKeys bounds the per-exporter error table, so a flood of spoofed
// sources cannot grow it without end: past it, errors are counted under
// the zero exporter.
const maxErrorKeys = 4096

// maxLastErrors bounds the decode errors kept as examples for the report.
const maxLastErrors = 8

// Counters are the totals of a source, safe for concurrent use. Workers
// add their batch totals with Add, so the hot path touches no shared
// cache line per datagram.
type Counters struct {
	Messages atomic.Uint64 // datagrams (UDP) or messages (TCP, files) received
	Bytes    atomic.Uint64 // their bytes
	Records  atomic.Uint64 // records decoded
	Errors   atomic.Uint64 // messages that failed to decode (whole or in part)
	Sessions atomic.Uint64 // TCP/TLS sessions accepted

	mu     sync.Mutex
	byKey  map[ErrorKey]uint64
	byVer  [3]uint64 // messages per version: v5, v9, IPFIX
	sample []error   // the first few errors, for the report
}

// countError records one decode error.
func (c *Counters) countError(from netip.AddrPort, err error) {
	c.Errors.Add(1)
	k := ErrorKey{Exporter: from, Reason: reasonKey(err)}
	c.mu.Lock()
	if c.byKey == nil {
		c.byKey = make(map[ErrorKey]uint64)
	}
	if _, ok := c.byKey[k]; !ok && len(c.byKey) >= maxErrorKeys {
		k.Exporter = netip.AddrPort{}
	}
	c.byKey[k]++
	if len(c.sample) < maxLastErrors {
		c.sample = append(c.sample, err)
	}
	c.mu.Unlock()
}

// countVersions adds per-version message counts.
func (c *Counters) countVersions(v [3]uint64) {
	if v == [3]uint64{} {
		return
	}
	c.mu.Lock()
	for i := range v {
		c.byVer[i] += v[i]
	}
	c.mu.Unlock()
}

// versionIndex maps a version word to an index of Counters.byVer, or -1.
func versionIndex(v uint16) int {
	switch v {
	case VersionNF5:
		return 0
	case VersionNF9:
		return 1
	case VersionIPFIX:
		return 2
	}
	return -1
}

// ErrorCount is one row of Stats.Errors.
type ErrorCount struct {
	ErrorKey
	N uint64
}

// Stats is a snapshot of a source's counters.
type Stats struct {
	Messages, Bytes, Records, Errors uint64
	V5, V9, IPFIX                    uint64 // messages per version
	Sessions                         uint64 // TCP/TLS sessions accepted
	SessionsRefused                  uint64 // TCP/TLS sessions closed at once: too many open
	ErrorRows                        []ErrorCount
	Samples                          []error // the first decode errors, as examples

	// Files only.
	Skipped         map[string]uint64 // capture frames that are not export messages, by reason
	FirstTS, LastTS int64             // capture times of the first and last message (pcap)

	// UDP listeners only.
	Sockets      int
	RcvBufAsked  int    // bytes requested per socket
	RcvBuf       int    // bytes the kernel granted per socket (its getsockopt value halved: Linux doubles it for bookkeeping)
	KernelDrops  uint64 // datagrams the kernel dropped for want of buffer space (SO_RXQ_OVFL, /proc/net/udp)
	Truncated    uint64 // datagrams longer than the receive slot (cut, counted as errors too)
	PerSocketMsg []uint64
}

// snapshot fills the portable part of s.
func (c *Counters) snapshot(s *Stats) {
	s.Messages = c.Messages.Load()
	s.Bytes = c.Bytes.Load()
	s.Records = c.Records.Load()
	s.Errors = c.Errors.Load()
	s.Sessions = c.Sessions.Load()
	c.mu.Lock()
	s.V5, s.V9, s.IPFIX = c.byVer[0], c.byVer[1], c.byVer[2]
	s.ErrorRows = s.ErrorRows[:0]
	for k, n := range c.byKey {
		s.ErrorRows = append(s.ErrorRows, ErrorCount{k, n})
	}
	s.Samples = append(s.Samples[:0], c.sample...)
	c.mu.Unlock()
	sort.Slice(s.ErrorRows, func(i, j int) bool {
		a, b := s.ErrorRows[i], s.ErrorRows[j]
		if a.Exporter != b.Exporter {
			return a.Exporter.Addr().Less(b.Exporter.Addr()) || a.Exporter.Addr() == b.Exporter.Addr() && a.Exporter.Port() < b.Exporter.Port()
		}
		return a.Reason < b.Reason
	})
}

// Handler receives the records decoded from a batch of messages. The
// records, and the byte slices inside them, alias the source's buffers
// until it returns (flow.Record.Detach copies them). A listener with
// several workers calls it from each worker's goroutine: it must be safe
// for concurrent use (a mutex around a writer is enough, as batches are
// large). An error stops the source, which returns it.
type Handler func(recs []flow.Record) error

// An OwnedHandler takes a batch's buffers instead of copying them: the
// records' byte slices are detached into arena (they point nowhere
// else), and each record's Extra is an array of its slot's own. On
// success it owns recs and arena and returns spare buffers (emptied; the
// decoders reset each slot they reuse) for the next batch; on error the
// source keeps its own. A listener with several workers calls it from
// each worker's goroutine.
type OwnedHandler func(recs []flow.Record, arena []byte) ([]flow.Record, []byte, error)

// maxBatchRecords bounds the records a batch holds before it goes to the
// handler (a record is about 2.3 KB): a batch of large datagrams full of
// small records must not grow memory without end.
const maxBatchRecords = 4096

// batchDecoder decodes a run of messages into one record slice and keeps
// local totals that it hands to Counters once per batch.
type batchDecoder struct {
	dec   Decoders
	c     *Counters
	recs  []flow.Record
	msgs  uint64
	bytes uint64
	ver   [3]uint64
	raw   *rawTap      // nfraw.go: messages handed on as received; nil if unset
	owned OwnedHandler // takes the batch instead of h when set
	arena []byte       // owned: the bytes the batch's records point at
}

// add decodes one message, appending its records to bd.recs.
func (bd *batchDecoder) add(b []byte, from netip.AddrPort) {
	bd.msgs++
	bd.bytes += uint64(len(b))
	if i := versionIndex(MessageVersion(b)); i >= 0 {
		bd.ver[i]++
	}
	if bd.raw != nil {
		bd.raw.add(b, from)
		if !bd.raw.decode {
			return
		}
	}
	var err error
	bd.recs, err = bd.dec.Decode(b, from, bd.recs)
	if err != nil {
		bd.c.countError(from, err)
	}
}

// full reports whether the batch should go to the handler now.
func (bd *batchDecoder) full() bool { return len(bd.recs) >= maxBatchRecords }

// flush hands the batch to h and resets it.
func (bd *batchDecoder) flush(h Handler) error {
	bd.c.Messages.Add(bd.msgs)
	bd.c.Bytes.Add(bd.bytes)
	bd.c.Records.Add(uint64(len(bd.recs)))
	bd.c.countVersions(bd.ver)
	bd.msgs, bd.bytes, bd.ver = 0, 0, [3]uint64{}
	var err error
	if bd.raw != nil {
		err = bd.raw.flush()
	}
	if len(bd.recs) > 0 && err == nil {
		if bd.owned != nil {
			arena := bd.arena[:0]
			for i := range bd.recs {
				arena = bd.recs[i].DetachInto(arena)
			}
			var recs []flow.Record
			if recs, arena, err = bd.owned(bd.recs, arena); err == nil {
				bd.recs = recs
			}
			bd.arena = arena[:0]
		} else {
			err = h(bd.recs)
		}
	}
	bd.recs = bd.recs[:0]
	return err
}
