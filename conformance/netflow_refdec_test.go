package conformance

// The independent decoders of the differential tests: calmh/ipfix (IPFIX)
// and tehmaze/netflow (NetFlow v9 and IPFIX), reduced to element records so
// that the goldens, both of them and ours compare element by element.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/calmh/ipfix"
	tipfix "github.com/tehmaze/netflow/ipfix"
	"github.com/tehmaze/netflow/netflow9"
	"github.com/tehmaze/netflow/session"
)

// elemRecord is one data record: its template and element values in
// template order. Options records are flagged (their values configure the
// exporter, e.g. sampling; flowbeat's goldens leave them out).
type elemRecord struct {
	Template uint16
	Options  bool
	Elems    []elemVal
}

type elemVal struct {
	Key ieKey
	Raw []byte
}

func (r elemRecord) get(k ieKey) ([]byte, bool) { return r.getN(k, 0) }

// getN returns the n-th (0-based) occurrence of an element: a template may
// repeat one (vendors do; the fuzzer does).
func (r elemRecord) getN(k ieKey, n int) ([]byte, bool) {
	for _, e := range r.Elems {
		if e.Key == k {
			if n == 0 {
				return e.Raw, true
			}
			n--
		}
	}
	return nil, false
}

// refDecoder decodes whole datagrams into element records, keeping
// templates per exporter and observation domain / source id.
type refDecoder interface {
	decode(b []byte, from netip.AddrPort) ([]elemRecord, error)
	name() string
}

type scopeKey struct {
	from   netip.AddrPort
	domain uint32
}

// optionTemplates remembers which template ids are options templates, per
// scope, by scanning the template sets itself (calmh/ipfix does not say).
type optionTemplates map[scopeKey]map[uint16]bool

func (o optionTemplates) scan(b []byte, from netip.AddrPort) {
	if len(b) < 20 {
		return
	}
	ver := binary.BigEndian.Uint16(b)
	var hdr, optSet int
	switch ver {
	case 9:
		hdr, optSet = 20, 1
	case 10:
		hdr, optSet = 16, 3
	default:
		return
	}
	sk := scopeKey{from, binary.BigEndian.Uint32(b[hdr-4:])}
	for off := hdr; off+4 <= len(b); {
		id, n := int(binary.BigEndian.Uint16(b[off:])), int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			return
		}
		if id == optSet && n >= 10 {
			// First record only: enough to mark the ids vendors send
			// (one options template per set in every corpus capture).
			if o[sk] == nil {
				o[sk] = map[uint16]bool{}
			}
			o[sk][binary.BigEndian.Uint16(b[off+4:])] = true
		}
		off += n
	}
}

func (o optionTemplates) is(b []byte, from netip.AddrPort, tid uint16) bool {
	if len(b) < 20 {
		return false
	}
	hdr := 16
	if binary.BigEndian.Uint16(b) == 9 {
		hdr = 20
	}
	return o[scopeKey{from, binary.BigEndian.Uint32(b[hdr-4:])}][tid]
}

// ---- calmh/ipfix ----

type calmhDecoder struct {
	sessions map[scopeKey]*ipfix.Session
	opts     optionTemplates
}

func newCalmhDecoder() *calmhDecoder {
	return &calmhDecoder{sessions: map[scopeKey]*ipfix.Session{}, opts: optionTemplates{}}
}

func (*calmhDecoder) name() string { return "calmh" }

func (d *calmhDecoder) decode(b []byte, from netip.AddrPort) (out []elemRecord, err error) {
	if len(b) < 16 || binary.BigEndian.Uint16(b) != 10 {
		return nil, fmt.Errorf("calmh/ipfix: not IPFIX")
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("calmh/ipfix panicked: %v", r)
		}
	}()
	sk := scopeKey{from, binary.BigEndian.Uint32(b[12:])}
	s := d.sessions[sk]
	if s == nil {
		s = ipfix.NewSession()
		d.sessions[sk] = s
	}
	d.opts.scan(b, from)
	msg, err := s.ParseBuffer(b)
	if err != nil {
		return nil, err
	}
	in := ipfix.NewInterpreter(s)
	for _, dr := range msg.DataRecords {
		r := elemRecord{Template: dr.TemplateID, Options: d.opts.is(b, from, dr.TemplateID)}
		// Interpret names the fields in template order; RawValue is set
		// only for unknown ones, so the bytes come from the record.
		for i, f := range in.Interpret(dr) {
			if i < len(dr.Fields) {
				r.Elems = append(r.Elems, elemVal{Key: ieKey{f.EnterpriseID, f.FieldID}, Raw: append([]byte(nil), dr.Fields[i]...)})
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// ---- tehmaze/netflow ----

type tehmazeDecoder struct {
	sessions map[scopeKey]session.Session
	opts     optionTemplates
}

func newTehmazeDecoder() *tehmazeDecoder {
	return &tehmazeDecoder{sessions: map[scopeKey]session.Session{}, opts: optionTemplates{}}
}

func (*tehmazeDecoder) name() string { return "tehmaze" }

func (d *tehmazeDecoder) decode(b []byte, from netip.AddrPort) (out []elemRecord, err error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("tehmaze/netflow: short datagram")
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("tehmaze/netflow panicked: %v", r)
		}
	}()
	ver := binary.BigEndian.Uint16(b)
	hdr := 16
	if ver == 9 {
		hdr = 20
	}
	sk := scopeKey{from, binary.BigEndian.Uint32(b[hdr-4:])}
	s := d.sessions[sk]
	if s == nil {
		s = session.New()
		d.sessions[sk] = s
	}
	d.opts.scan(b, from)
	switch ver {
	case 9:
		p, err := netflow9.Read(bytes.NewReader(b), s, netflow9.NewTranslate(s))
		if err != nil {
			return nil, err
		}
		for _, sets := range [][]netflow9.DataFlowSet{p.DataFlowSets, p.OptionsDataFlowSets} {
			for _, ds := range sets {
				for _, dr := range ds.Records {
					r := elemRecord{Template: dr.TemplateID, Options: d.opts.is(b, from, dr.TemplateID)}
					for _, f := range dr.Fields {
						r.Elems = append(r.Elems, elemVal{Key: ieKey{0, f.Type}, Raw: f.Bytes})
					}
					out = append(out, r)
				}
			}
		}
	case 10:
		m, err := tipfix.Read(bytes.NewReader(b), s, tipfix.NewTranslate(s))
		if err != nil {
			return nil, err
		}
		for _, sets := range [][]tipfix.DataSet{m.DataSets, m.OptionsDataSets} {
			for _, ds := range sets {
				for _, dr := range ds.Records {
					r := elemRecord{Template: dr.TemplateID, Options: d.opts.is(b, from, dr.TemplateID)}
					for _, f := range dr.Fields {
						if f.Translated == nil {
							return nil, fmt.Errorf("tehmaze/netflow: untranslated field in template %d", dr.TemplateID)
						}
						r.Elems = append(r.Elems, elemVal{Key: ieKey{f.Translated.EnterpriseNumber, f.Translated.InformationElementID}, Raw: f.Bytes})
					}
					out = append(out, r)
				}
			}
		}
	default:
		return nil, fmt.Errorf("tehmaze/netflow: version %d", ver)
	}
	return out, nil
}
