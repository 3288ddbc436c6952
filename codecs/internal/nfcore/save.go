package nfcore

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/codecs"
)

// The saved-state format is text, one item a line, fields separated by
// single spaces, so an operator can read and edit it:
//
//	# flowgate nfcore state 1
//	template <version> <exporter ip:port> <domain> <id> <scope> <options 0|1> <pen>/<id>/<len> ...
//	sysinit <version> <exporter ip:port> <domain> <ms>
//	sampler <version> <exporter ip:port> <domain> <sampler id|-> <rate>
//
// version is 9 or 10; a decoder loads only its own version's lines, so v9
// and IPFIX decoders can share one file. Lines starting with '#' and blank
// lines are ignored. Load checks every template as if it had arrived on
// the wire (limits included).
const saveHeader = "# flowgate nfcore state 1"

// Save writes the decoder's templates, system init times and sampling
// rates.
func (d *Decoder) Save(w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, saveHeader)
	addrs := make([]netip.AddrPort, 0, len(d.exps))
	for a := range d.exps {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, a := range addrs {
		e := d.exps[a]
		doms := make([]uint32, 0, len(e.doms))
		for id := range e.doms {
			doms = append(doms, id)
		}
		slices.Sort(doms)
		for _, id := range doms {
			s := e.doms[id]
			if s.hasSysInit {
				fmt.Fprintf(bw, "sysinit %d %s %d %d\n", d.ver, a, id, s.sysInit)
			}
			for _, x := range s.samplers {
				sid := "-"
				if x.hasID {
					sid = strconv.FormatUint(x.id, 10)
				}
				fmt.Fprintf(bw, "sampler %d %s %d %s %d\n", d.ver, a, id, sid, x.rate)
			}
			tids := make([]uint16, 0, len(s.tpls))
			for tid := range s.tpls {
				tids = append(tids, tid)
			}
			slices.Sort(tids)
			for _, tid := range tids {
				t := s.tpls[tid]
				opt := 0
				if t.Options {
					opt = 1
				}
				fmt.Fprintf(bw, "template %d %s %d %d %d %d", d.ver, a, id, tid, t.Scope, opt)
				for _, f := range t.Fields {
					fmt.Fprintf(bw, " %d/%d/%d", f.PEN, f.ID, f.Len)
				}
				fmt.Fprintln(bw)
			}
		}
	}
	return bw.Flush()
}

// Load reads state written by Save, adding to (and replacing) what the
// decoder holds. A bad line stops the load with an error naming it.
func (d *Decoder) Load(r io.Reader) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.cfg.Now().UnixNano()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		txt := strings.TrimSpace(sc.Text())
		if txt == "" || txt[0] == '#' {
			continue
		}
		if err := d.loadLine(strings.Fields(txt)); err != nil {
			return fmt.Errorf("nfcore: state line %d: %w", line, err)
		}
	}
	return sc.Err()
}

func (d *Decoder) loadLine(f []string) error {
	if len(f) < 5 {
		return fmt.Errorf("too few fields: %w", codecs.ErrCorrupt)
	}
	v, err := strconv.ParseUint(f[1], 10, 16)
	if err != nil {
		return err
	}
	if Version(v) != d.ver {
		return nil
	}
	ap, err := netip.ParseAddrPort(f[2])
	if err != nil {
		return err
	}
	dom, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil {
		return err
	}
	e := d.exporter(ap)
	if e == nil {
		return ErrExporterLimit
	}
	s := d.domain(e, uint32(dom))
	if s == nil {
		return ErrExporterLimit
	}
	switch f[0] {
	case "sysinit":
		ms, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			return err
		}
		s.sysInit, s.hasSysInit = ms, true
	case "sampler":
		if len(f) != 6 {
			return fmt.Errorf("sampler: %w", codecs.ErrCorrupt)
		}
		var id uint64
		has := f[4] != "-"
		if has {
			if id, err = strconv.ParseUint(f[4], 10, 64); err != nil {
				return err
			}
		}
		rate, err := strconv.ParseUint(f[5], 10, 32)
		if err != nil {
			return err
		}
		s.setSampler(id, has, rate)
	case "template":
		if len(f) < 8 {
			return fmt.Errorf("template: %w", codecs.ErrCorrupt)
		}
		tid, err1 := strconv.ParseUint(f[4], 10, 16)
		scope, err2 := strconv.ParseUint(f[5], 10, 16)
		if err1 != nil || err2 != nil || (f[6] != "0" && f[6] != "1") {
			return fmt.Errorf("template header: %w", codecs.ErrCorrupt)
		}
		specs := make([]FieldSpec, 0, len(f)-7)
		for _, x := range f[7:] {
			p := strings.Split(x, "/")
			if len(p) != 3 {
				return fmt.Errorf("field %q: %w", x, codecs.ErrCorrupt)
			}
			pen, e1 := strconv.ParseUint(p[0], 10, 32)
			id, e2 := strconv.ParseUint(p[1], 10, 16)
			l, e3 := strconv.ParseUint(p[2], 10, 16)
			if e1 != nil || e2 != nil || e3 != nil {
				return fmt.Errorf("field %q: %w", x, codecs.ErrCorrupt)
			}
			specs = append(specs, FieldSpec{PEN: uint32(pen), ID: uint16(id), Len: uint16(l)})
		}
		m := msgCtx{ver: d.ver, from: ap, domain: uint32(dom)}
		d.firstErr = nil
		d.defineTemplate(e, s, &m, uint16(tid), specs, int(scope), f[6] == "1", 0)
		if d.firstErr != nil {
			err := d.firstErr
			d.firstErr = nil
			return err
		}
	default:
		return fmt.Errorf("unknown item %q: %w", f[0], codecs.ErrCorrupt)
	}
	return nil
}
