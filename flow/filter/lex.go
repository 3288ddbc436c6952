package filter

import (
	"fmt"
	"strings"
)

// tokKind is the lexical class of a token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // keyword, number, address, name (classified by the parser)
	tString         // "quoted string" (text without the quotes)
	tLParen         // (
	tRParen         // )
	tNot            // ! or not
	tAnd            // && or and
	tOr             // || or or
	tRel            // relational operator, symbol or keyword (op in token.op)
	tSlash          // /
)

// token is one lexeme with its byte offset in the expression.
type token struct {
	kind    tokKind
	off     int
	text    string // source text (for words: without a leading backslash)
	escaped bool   // the word was written \word: never a keyword
	op      relop  // for tRel
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q", t.text)
}

// relop is a relational operator.
type relop uint8

const (
	opEQ relop = iota
	opNE
	opLT
	opLE
	opGT
	opGE
)

var relWords = map[string]relop{
	"eq": opEQ, "equal": opEQ,
	"neq": opNE, "notequal": opNE,
	"lt": opLT, "less": opLT,
	"lte": opLE,
	"gt":  opGT, "greater": opGT,
	"gte": opGE,
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == ':' || c == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits expr into tokens. The scanner follows ra's (argus-clients
// common/scanner.l) rules: whitespace separates tokens, keywords are lower
// case, a backslash escapes a word that would otherwise be a keyword, and
// words are runs of letters, digits and "-_.:" (which covers numbers,
// dotted quads, IPv6 and MAC literals, UUIDs, names and port ranges).
func lex(expr string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(expr) {
		c := expr[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '(':
			toks = append(toks, token{kind: tLParen, off: i, text: "("})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, off: i, text: ")"})
			i++
		case c == '/':
			toks = append(toks, token{kind: tSlash, off: i, text: "/"})
			i++
		case c == '&' || c == '|':
			if i+1 < len(expr) && expr[i+1] == c {
				k := tAnd
				if c == '|' {
					k = tOr
				}
				toks = append(toks, token{kind: k, off: i, text: expr[i : i+2]})
				i += 2
				continue
			}
			return nil, &SyntaxError{Offset: i, Token: expr[i : i+1],
				Msg: fmt.Sprintf("unsupported operator %q (arithmetic is not supported)", expr[i:i+1]), Err: ErrUnsupported}
		case c == '!':
			if i+1 < len(expr) && expr[i+1] == '=' {
				toks = append(toks, token{kind: tRel, off: i, text: "!=", op: opNE})
				i += 2
				continue
			}
			toks = append(toks, token{kind: tNot, off: i, text: "!"})
			i++
		case c == '<' || c == '>' || c == '=':
			two := i+1 < len(expr) && expr[i+1] == '='
			t := token{kind: tRel, off: i}
			switch c {
			case '<':
				t.op = opLT
				if two {
					t.op = opLE
				}
			case '>':
				t.op = opGT
				if two {
					t.op = opGE
				}
			case '=':
				t.op = opEQ
			}
			n := 1
			if two {
				n = 2
			}
			t.text = expr[i : i+n]
			toks = append(toks, t)
			i += n
		case c == '"':
			j := strings.IndexByte(expr[i+1:], '"')
			if j < 0 {
				return nil, &SyntaxError{Offset: i, Token: expr[i:], Msg: "unterminated string"}
			}
			toks = append(toks, token{kind: tString, off: i, text: expr[i+1 : i+1+j]})
			i += j + 2
		case c == '\\':
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			if j == i+1 {
				return nil, &SyntaxError{Offset: i, Token: "\\", Msg: `"\" must be followed by a word`}
			}
			toks = append(toks, token{kind: tWord, off: i, text: expr[i+1 : j], escaped: true})
			i = j
		case isWordByte(c) || (c == '+' || c == '-') && i+1 < len(expr) && (isDigit(expr[i+1]) || expr[i+1] == '.'):
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			w := expr[i:j]
			t := token{kind: tWord, off: i, text: w}
			switch w {
			case "and":
				t.kind = tAnd
			case "or":
				t.kind = tOr
			case "not":
				t.kind = tNot
			default:
				if op, ok := relWords[w]; ok {
					t.kind, t.op = tRel, op
				}
			}
			toks = append(toks, t)
			i = j
		case c == '[' || c == ']' || c == '+' || c == '*':
			// ra's pcap heritage: proto[x:y], len + 4, ...
			return nil, &SyntaxError{Offset: i, Token: expr[i : i+1],
				Msg: fmt.Sprintf("unsupported operator %q (arithmetic is not supported)", expr[i:i+1]), Err: ErrUnsupported}
		default:
			return nil, &SyntaxError{Offset: start, Token: expr[i : i+1], Msg: fmt.Sprintf("illegal character %q", expr[i:i+1])}
		}
	}
	toks = append(toks, token{kind: tEOF, off: len(expr)})
	return toks, nil
}
