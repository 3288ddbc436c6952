package main

import (
	"fmt"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// resolveMapping routes convert's --mapping FILE by the file's schema:
// json stays with the JSON-lines codec (--dialect); ipfix and netflow9
// go to the NetFlow/IPFIX decoders and encoders (o.codecs); zeek to the
// Zeek reader and writer (o.zeekMap). A file whose schema neither SRC nor
// DST has is an error, so that a mapping never silently does nothing.
func resolveMapping(o *convertOpts, in, out gateway.Endpoint) error {
	if o.mapping == "" {
		return nil
	}
	f, err := mappings.LoadFile(o.mapping)
	if err != nil {
		return fmt.Errorf("convert: --mapping: %w", err)
	}
	uses := func(fs ...gateway.Format) bool {
		for _, x := range fs {
			if in.Format == x || out.Format == x {
				return true
			}
		}
		return false
	}
	switch f.Schema {
	case "json", "csv":
		return nil // the JSON-lines (and CSV) codecs read o.mapping themselves
	case "ipfix", "netflow9":
		want := gateway.FormatIPFIX
		if f.Schema == "netflow9" {
			want = gateway.FormatNF9
		}
		if !uses(want, gateway.FormatNF) {
			return fmt.Errorf("convert: --mapping %s is a %s mapping: neither %s nor %s is %s", o.mapping, f.Schema, in, out, f.Schema)
		}
		if err := o.codecs.SetMapping(f); err != nil {
			return fmt.Errorf("convert: --mapping: %w", err)
		}
	case "zeek":
		if !uses(gateway.FormatZeek, gateway.FormatZeekJSON) {
			return fmt.Errorf("convert: --mapping %s is a zeek mapping: neither %s nor %s is a conn.log", o.mapping, in, out)
		}
		m, err := zeek.NewMapping(f)
		if err != nil {
			return fmt.Errorf("convert: --mapping: %w", err)
		}
		o.zeekMap = m
	}
	// Not for the JSON-lines codec, whose schema is json; the field
	// account of --report still lays it over the sink's table.
	o.codecMapping = f
	o.mapping = ""
	return nil
}
