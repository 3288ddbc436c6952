// Package codecs defines the contracts every flow codec implements and the
// errors they share. The codecs themselves live in sub-packages.
package codecs

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/flowgate/flowgate/flow"
)

// Decoder reads records from a stream. Decode returns io.EOF at the end;
// errors are sticky unless the decoder documents a way to resynchronise.
type Decoder interface {
	Decode(r *flow.Record) error
}

// PacketDecoder decodes one export packet (NetFlow, IPFIX), appending records.
type PacketDecoder interface {
	DecodePacket(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error)
}

// Encoder writes records.
type Encoder interface {
	Encode(r *flow.Record) error
	Flush() error
	Close() error
}

// Sentinel errors. Context structs below unwrap to them.
var (
	ErrTruncated        = errors.New("truncated")
	ErrCorrupt          = errors.New("corrupt")
	ErrUnsupported      = errors.New("unsupported")
	ErrNotRepresentable = errors.New("value not representable in target format")
	ErrTemplateNotFound = errors.New("template not found")
	ErrUnknownFormat    = errors.New("unknown format")
)

// DecodeError says where decoding failed.
type DecodeError struct {
	Format   string // "argus", "ipfix", ...
	File     string // file name when known
	Offset   int64  // byte offset of the record (or packet) in the stream
	Part     string // the part that failed: "DSR 0x30 (network)", "MAR", "template 256"
	PartOff  int64  // byte offset of the part in the stream
	Exporter netip.AddrPort
	Domain   uint32
	Template uint16
	Err      error
}

func (e *DecodeError) Error() string {
	s := e.Format
	if e.File != "" {
		s += " " + e.File
	}
	s += fmt.Sprintf(": record at byte %d", e.Offset)
	if e.Part != "" {
		s += fmt.Sprintf(": %s at byte %d", e.Part, e.PartOff)
	}
	if e.Exporter.IsValid() {
		s += fmt.Sprintf(" (exporter %s domain %d template %d)", e.Exporter, e.Domain, e.Template)
	}
	return s + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// NotRepresentableError reports a value a target format cannot hold.
type NotRepresentableError struct {
	Format string // target format, e.g. "argus3"
	Field  string // canonical (ra) field name, e.g. "srcid"
	Reason string
}

func (e *NotRepresentableError) Error() string {
	return fmt.Sprintf("%s cannot represent %s: %s", e.Format, e.Field, e.Reason)
}

func (e *NotRepresentableError) Unwrap() error { return ErrNotRepresentable }
