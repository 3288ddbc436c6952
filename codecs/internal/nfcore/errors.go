package nfcore

import (
	"fmt"

	"github.com/flowgate/flowgate/codecs"
)

// Sentinel errors. Each unwraps to codecs.ErrCorrupt, codecs.ErrTruncated
// or codecs.ErrTemplateNotFound, and every error a decoder returns is a
// *codecs.DecodeError naming exporter, domain, template and byte offset.
var (
	ErrShortHeader      = fmt.Errorf("message shorter than its header: %w", codecs.ErrTruncated)
	ErrVersion          = fmt.Errorf("wrong version: %w", codecs.ErrCorrupt)
	ErrMessageLength    = fmt.Errorf("message length past the datagram: %w", codecs.ErrTruncated)
	ErrSetLength        = fmt.Errorf("set length past the message or below 4: %w", codecs.ErrTruncated)
	ErrSetID            = fmt.Errorf("reserved set id: %w", codecs.ErrCorrupt)
	ErrTemplateTrunc    = fmt.Errorf("template record past the end of its set: %w", codecs.ErrTruncated)
	ErrTemplateID       = fmt.Errorf("template id below 256: %w", codecs.ErrCorrupt)
	ErrZeroLength       = fmt.Errorf("template records have zero length: %w", codecs.ErrCorrupt)
	ErrScope            = fmt.Errorf("bad options template scope: %w", codecs.ErrCorrupt)
	ErrTemplateLimit    = fmt.Errorf("exporter template limit reached (template flood): %w", codecs.ErrCorrupt)
	ErrExporterLimit    = fmt.Errorf("exporter or domain limit reached: %w", codecs.ErrCorrupt)
	ErrTemplateMismatch = fmt.Errorf("data set does not fit its template (template changed?): %w", codecs.ErrCorrupt)
	ErrFieldPastEnd     = fmt.Errorf("variable-length field past the end of its set: %w", codecs.ErrTruncated)
	ErrPendingFull      = fmt.Errorf("no template and the pending buffer is full: %w", codecs.ErrTemplateNotFound)
	ErrTooManyRecords   = fmt.Errorf("more data records in one message than the bound: %w", codecs.ErrCorrupt)
)

// Reason indexes Stats.Rejected: why a message, set or template was
// rejected.
type Reason uint8

// Reasons, one per sentinel.
const (
	ReasonShortHeader Reason = iota
	ReasonVersion
	ReasonMessageLength
	ReasonSetLength
	ReasonSetID
	ReasonTemplateTrunc
	ReasonTemplateID
	ReasonZeroLength
	ReasonScope
	ReasonTemplateLimit
	ReasonExporterLimit
	ReasonTemplateMismatch
	ReasonFieldPastEnd
	ReasonPendingFull
	ReasonTooManyRecords
	NumReasons
)

var reasonErr = [NumReasons]error{
	ErrShortHeader, ErrVersion, ErrMessageLength, ErrSetLength, ErrSetID,
	ErrTemplateTrunc, ErrTemplateID, ErrZeroLength, ErrScope,
	ErrTemplateLimit, ErrExporterLimit, ErrTemplateMismatch, ErrFieldPastEnd,
	ErrPendingFull, ErrTooManyRecords,
}

var reasonName = [NumReasons]string{
	"short_header", "version", "message_length", "set_length", "set_id",
	"template_truncated", "template_id", "zero_length", "scope",
	"template_limit", "exporter_limit", "template_mismatch",
	"field_past_end", "pending_full", "too_many_records",
}

// String returns the reason's metric-friendly name.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonName[r]
	}
	return "unknown"
}

// Err returns the reason's sentinel error.
func (r Reason) Err() error {
	if r < NumReasons {
		return reasonErr[r]
	}
	return codecs.ErrCorrupt
}

// Stats are a decoder's counters. They only grow.
type Stats struct {
	Packets uint64 // messages given to DecodePacket
	Records uint64 // flow records decoded (including late ones)

	Templates          uint64 // template records accepted (new or re-sent)
	OptionsTemplates   uint64 // options template records accepted
	TemplatesChanged   uint64 // a template id re-defined with other fields
	TemplatesExpired   uint64 // dropped for age (WithTemplateTimeout)
	TemplatesWithdrawn uint64
	OptionsRecords     uint64 // options data records read (sampling, system init time)

	PendingSets    uint64 // data sets held for a template not yet seen
	PendingDecoded uint64 // held sets decoded when their template came
	PendingRecords uint64 // records from those sets
	PendingExpired uint64 // held sets that expired undecoded
	PendingDropped uint64 // sets not held: buffer full (also in Rejected)

	// Sequence numbers (v9: export packets, IPFIX: data records).
	SeqLost      uint64 // messages (v9) or records (IPFIX) missing: real loss
	SeqQuirks    uint64 // jumps that are not loss: resets, reordering, odd counting
	SeqResets    uint64 // of which: the exporter restarted or jumped far
	SeqReordered uint64 // of which: late or duplicated messages

	NoTime    uint64 // records with no time element (given the export time)
	NoSysInit uint64 // IPFIX uptime times without systemInitTimeMilliseconds
	// TimeClamped counts flows whose uptime times fell more than 10 s
	// after the export time (an exporter bug): moved to end at it.
	TimeClamped uint64
	// Unmapped counts values a user mapping's rule could not read (out of
	// the field's range, an enum value not listed): kept in Extra.
	Unmapped uint64

	Rejected [NumReasons]uint64 // rejected input, by reason
}

// RejectedTotal sums Rejected.
func (s *Stats) RejectedTotal() uint64 {
	var n uint64
	for _, v := range s.Rejected {
		n += v
	}
	return n
}
