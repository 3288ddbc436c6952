package filter

import (
	"fmt"
)

// dir is a direction qualifier.
type dir uint8

const (
	dirDefault dir = iota // src or dst
	dirSrc
	dirDst
	dirOr
	dirAnd
)

// qual is the qualifier set of a primitive ([pqual] [dqual] [attr]),
// reused by bare values that follow "and"/"or".
type qual struct {
	valid bool // a bare value may inherit these qualifiers
	proto kw   // protocol qualifier (pname) or kwNone
	dir   dir
	attr  kw   // kwHost, kwNet, kwPort, kwProto, an iqual/fqual, ... or kwNone (= host)
	inode bool // "inode": attr (host, net or as) applies to the ICMP intermediate node
}

type parser struct {
	toks []token
	pos  int
	cfg  *config
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

// keyword returns the keyword a token spells, or kwNone.
func keyword(t token) kw {
	if t.kind != tWord || t.escaped {
		return kwNone
	}
	return keywords[t.text]
}

func (p *parser) unexpected(t token) error {
	if t.kind == tEOF {
		return &SyntaxError{Offset: t.off, Msg: "unexpected end of expression"}
	}
	return &SyntaxError{Offset: t.off, Token: t.text, Msg: fmt.Sprintf("unexpected %q", t.text)}
}

// unsupported is the error for a recognised ra keyword this package does
// not evaluate.
func (p *parser) unsupported(t token) error {
	if why, ok := unsupportedWhy[t.text]; ok {
		return p.errAt(t, ErrUnsupported, "%q is not supported: %s", t.text, why)
	}
	return p.errAt(t, ErrUnsupported, "%q is not supported", t.text)
}

func (p *parser) errAt(t token, cause error, format string, args ...any) error {
	return &SyntaxError{Offset: t.off, Token: t.text, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// parseExpr: expr := term { (and|or) (term | id) }, left-associative with
// equal precedence for "and" and "or".
func (p *parser) parseExpr() (node, qual, error) {
	n, q, err := p.parseTerm()
	if err != nil {
		return nil, q, err
	}
	for {
		t := p.peek()
		if t.kind != tAnd && t.kind != tOr {
			return n, q, nil
		}
		p.next()
		var m node
		if q.valid && p.bareIDAhead() {
			m, err = p.parseID(q)
		} else {
			m, q, err = p.parseTerm()
		}
		if err != nil {
			return nil, q, err
		}
		if t.kind == tAnd {
			n = andNode(n, m)
		} else {
			n = orNode(n, m)
		}
	}
}

// bareIDAhead reports whether the next tokens, after any "(" and "not",
// start a value with no qualifiers of its own (an address, number, name or
// relational operator), which then inherits the previous qualifiers.
func (p *parser) bareIDAhead() bool {
	for i := 0; ; i++ {
		t := p.peekAt(i)
		switch t.kind {
		case tLParen, tNot:
			continue
		case tRel, tString:
			return true
		case tWord:
			return keyword(t) == kwNone
		default:
			return false
		}
	}
}

// parseTerm: term := not term | ( expr ) | rterm.
func (p *parser) parseTerm() (node, qual, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.next()
		n, q, err := p.parseTerm()
		if err != nil {
			return nil, q, err
		}
		return notNode(n), q, nil
	case tLParen:
		p.next()
		n, _, err := p.parseExpr()
		if err != nil {
			return nil, qual{}, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, qual{}, p.unexpected(c)
		}
		return n, qual{}, nil
	case tWord, tString, tRel:
		return p.parseRTerm()
	}
	return nil, qual{}, p.unexpected(t)
}

// parseRTerm parses a primitive: [pqual] [dqual] followed by an attribute
// and a value, a TCP indicator, broadcast/multicast, or nothing (a
// protocol name alone); or a stand-alone keyword.
func (p *parser) parseRTerm() (node, qual, error) {
	var q qual
	first := p.peek()
	k := keyword(first)
	if k == kwUnsupported || k == kwGateway {
		return nil, q, p.unsupported(first)
	}
	if isSname(k) && k != kwCocode {
		p.next()
		return snameNode(k), qual{}, nil
	}
	if isPname(k) {
		q.proto = k
		p.next()
	}
	// direction: src, dst, src or dst, src and dst (either order)
	if d := keyword(p.peek()); d == kwSrc || d == kwDst {
		p.next()
		q.dir = dirSrc
		if d == kwDst {
			q.dir = dirDst
		}
		if c := p.peek(); c.kind == tAnd || c.kind == tOr {
			if d2 := keyword(p.peekAt(1)); (d2 == kwSrc || d2 == kwDst) && d2 != d {
				p.next()
				p.next()
				q.dir = dirOr
				if c.kind == tAnd {
					q.dir = dirAnd
				}
			}
		}
	}
	t := p.peek()
	k = keyword(t)
	switch {
	case k == kwUnsupported || k == kwGateway:
		return nil, q, p.unsupported(t)
	case k == kwCocode:
		// "cocode" alone: the record carries country codes; "cocode us"
		// is "co us".
		p.next()
		if n := p.peek(); (n.kind == tWord || n.kind == tString || n.kind == tRel) && keyword(n) == kwNone {
			q.attr, q.valid = kwCo, true
			nd, err := p.parseID(q)
			return nd, q, err
		}
		return andProto(q.proto, cocodeNode(q.dir)), qual{}, nil
	case k == kwInode:
		// inode [host|net|as] value: the ICMP intermediate node (the
		// sender of an ICMP error mapped onto the flow) has no direction.
		p.next()
		if q.dir != dirDefault {
			return nil, q, p.errAt(t, nil, "direction applied to %q", t.text)
		}
		q.attr, q.inode, q.valid = kwHost, true, true
		switch a := keyword(p.peek()); a {
		case kwHost, kwNet, kwASN:
			p.next()
			q.attr = a
		}
		n, err := p.parseID(q)
		return n, q, err
	case k == kwHost || k == kwNet || k == kwSrcID || k == kwInf || k == kwProto ||
		isIqual(k) || isFqual(k):
		p.next()
		if k == kwProto && q.dir != dirDefault {
			return nil, q, p.errAt(t, nil, "direction applied to %q", t.text)
		}
		q.attr = k
		q.valid = true
		n, err := p.parseID(q)
		return n, q, err
	case isTname(k):
		p.next()
		n, err := tnameNode(k, q.dir)
		if err != nil {
			return nil, q, p.errAt(t, err, "%v", err)
		}
		return andProto(q.proto, n), qual{}, nil
	case k == kwBroadcast || k == kwMulticast:
		p.next()
		if q.dir != dirDefault {
			return nil, q, p.errAt(t, nil, "direction applied to %q", t.text)
		}
		return castNode(k, q.proto), qual{}, nil
	case k != kwNone:
		if q.proto != kwNone && q.dir == dirDefault {
			// a protocol name alone ("tcp"); the keyword that follows
			// is the caller's problem (juxtaposition is not "and").
			n, err := pnameNode(q.proto)
			if err != nil {
				return nil, q, p.errAt(first, err, "%v", err)
			}
			return n, qual{}, nil
		}
		return nil, q, p.unexpected(t)
	}
	// A value with no attribute qualifier.
	if q.proto != kwNone && q.dir == dirDefault {
		if q.proto == kwLink && t.kind == tWord && !t.escaped && classOf(t.text) == clMAC {
			// "ether 00:11:..." is not ra syntax but is unambiguous.
			q.valid = true
			n, err := p.parseID(q)
			return n, q, err
		}
		n, err := pnameNode(q.proto)
		if err != nil {
			return nil, q, p.errAt(first, err, "%v", err)
		}
		return n, qual{}, nil
	}
	// [dqual] value: the attribute defaults to host. ra requires at least
	// a direction here; a bare address is accepted as "host address".
	if t.kind == tRel {
		return nil, q, p.errAt(t, nil, "%q needs an attribute (e.g. \"pkts %s 10\")", t.text, t.text)
	}
	q.valid = true
	n, err := p.parseID(q)
	return n, q, err
}

// parseID parses a value for qualifiers q:
// id := value [/ len | mask m.a.s.k] | relop value | ( id {and|or id} ) | not id.
func (p *parser) parseID(q qual) (node, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.next()
		n, err := p.parseID(q)
		if err != nil {
			return nil, err
		}
		return notNode(n), nil
	case tLParen:
		p.next()
		n, err := p.parseID(q)
		if err != nil {
			return nil, err
		}
		for {
			c := p.next()
			switch c.kind {
			case tRParen:
				return n, nil
			case tAnd, tOr:
				m, err := p.parseID(q)
				if err != nil {
					return nil, err
				}
				if c.kind == tAnd {
					n = andNode(n, m)
				} else {
					n = orNode(n, m)
				}
			default:
				return nil, p.unexpected(c)
			}
		}
	case tRel:
		p.next()
		v := p.next()
		if v.kind != tWord {
			return nil, p.unexpected(v)
		}
		return p.genValue(q, t.op, true, v)
	case tWord, tString:
		if k := keyword(t); k != kwNone && !(q.attr == kwProto && isPname(k)) {
			return nil, p.unexpected(t)
		}
		p.next()
		return p.genValue(q, opEQ, false, t)
	}
	return nil, p.unexpected(t)
}
