// Package sexp reads the S-expressions that libgcrypt writes and libotr
// keeps its private keys in (otr.private_key): lists in parentheses whose
// atoms are tokens, "quoted strings", #hex# strings, |base-64| strings or
// length-prefixed verbatim strings (3:abc). Parsing is strict and bounded.
package sexp

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("sexp: syntax error")

// Limits of Parse.
const (
	MaxDepth = 32
	MaxNodes = 1 << 16
)

// Node is an atom (List == nil and IsList false) or a list.
type Node struct {
	Atom   []byte
	List   []*Node
	IsList bool
}

// String returns the atom as a string ("" for a list).
func (n *Node) String() string { return string(n.Atom) }

// Head returns the first element's atom of a list ("" if none).
func (n *Node) Head() string {
	if !n.IsList || len(n.List) == 0 || n.List[0].IsList {
		return ""
	}
	return string(n.List[0].Atom)
}

// Find returns the first element of the list n that is a list headed by
// name, or nil.
func (n *Node) Find(name string) *Node {
	for _, c := range n.List {
		if c.IsList && c.Head() == name {
			return c
		}
	}
	return nil
}

// Value returns the atom after the head of the list (name value), or nil.
func (n *Node) Value(name string) []byte {
	c := n.Find(name)
	if c == nil || len(c.List) != 2 || c.List[1].IsList {
		return nil
	}
	return c.List[1].Atom
}

type parser struct {
	s     string
	i     int
	nodes int
}

// Parse reads one S-expression, which must be a list, followed only by
// white space.
func Parse(s string) (*Node, error) {
	p := &parser{s: s}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, p.fail("expected '('")
	}
	n, err := p.node(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.fail("trailing data")
	}
	return n, nil
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, p.i, what)
}

func (p *parser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n\f\v", p.s[p.i]) >= 0 {
		p.i++
	}
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-./_:*+=", c) >= 0
}

func (p *parser) node(depth int) (*Node, error) {
	p.nodes++
	if p.nodes > MaxNodes {
		return nil, p.fail("too many nodes")
	}
	if p.i >= len(p.s) {
		return nil, p.fail("unexpected end")
	}
	c := p.s[p.i]
	switch {
	case c == '(':
		if depth >= MaxDepth {
			return nil, p.fail("nested too deeply")
		}
		p.i++
		n := &Node{IsList: true}
		for {
			p.space()
			if p.i >= len(p.s) {
				return nil, p.fail("unclosed list")
			}
			if p.s[p.i] == ')' {
				p.i++
				return n, nil
			}
			child, err := p.node(depth + 1)
			if err != nil {
				return nil, err
			}
			n.List = append(n.List, child)
		}
	case c == '"':
		return p.quoted()
	case c == '#':
		end := strings.IndexByte(p.s[p.i+1:], '#')
		if end < 0 {
			return nil, p.fail("unterminated hex string")
		}
		h := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" \t\r\n", r) {
				return -1
			}
			return r
		}, p.s[p.i+1:p.i+1+end])
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, p.fail("bad hex string")
		}
		p.i += end + 2
		return &Node{Atom: b}, nil
	case c == '|':
		end := strings.IndexByte(p.s[p.i+1:], '|')
		if end < 0 {
			return nil, p.fail("unterminated base-64 string")
		}
		b, err := base64.StdEncoding.DecodeString(p.s[p.i+1 : p.i+1+end])
		if err != nil {
			return nil, p.fail("bad base-64 string")
		}
		p.i += end + 2
		return &Node{Atom: b}, nil
	case c >= '0' && c <= '9':
		// A verbatim string "N:bytes", or a token that starts with a digit.
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j < len(p.s) && p.s[j] == ':' && j-p.i <= 9 {
			n, _ := strconv.Atoi(p.s[p.i:j])
			if n > len(p.s)-j-1 {
				return nil, p.fail("verbatim string longer than the input")
			}
			b := []byte(p.s[j+1 : j+1+n])
			p.i = j + 1 + n
			return &Node{Atom: b}, nil
		}
		fallthrough
	case isTokenByte(c):
		j := p.i
		for j < len(p.s) && isTokenByte(p.s[j]) {
			j++
		}
		b := []byte(p.s[p.i:j])
		p.i = j
		return &Node{Atom: b}, nil
	}
	return nil, p.fail(fmt.Sprintf("unexpected byte %q", c))
}

func (p *parser) quoted() (*Node, error) {
	p.i++ // opening quote
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return &Node{Atom: b}, nil
		case '\\':
			if p.i+1 >= len(p.s) {
				return nil, p.fail("unterminated escape")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			case 'r':
				b = append(b, '\r')
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'v':
				b = append(b, '\v')
			case '"', '\'', '\\':
				b = append(b, e)
			case '\n':
				// line continuation
			case 'x':
				if p.i+2 > len(p.s) {
					return nil, p.fail("short \\x escape")
				}
				v, err := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8)
				if err != nil {
					return nil, p.fail("bad \\x escape")
				}
				b = append(b, byte(v))
				p.i += 2
			default:
				if e >= '0' && e <= '7' && p.i+2 <= len(p.s) {
					v, err := strconv.ParseUint(p.s[p.i-1:p.i+2], 8, 8)
					if err != nil {
						return nil, p.fail("bad octal escape")
					}
					b = append(b, byte(v))
					p.i += 2
					continue
				}
				return nil, p.fail("bad escape")
			}
		default:
			b = append(b, c)
			p.i++
		}
	}
	return nil, p.fail("unterminated string")
}
