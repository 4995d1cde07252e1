package task

import (
	"fmt"
	"math/big"
	"unicode/utf8"
)

// Limits on an expression: they keep parsing an untrusted completion cheap and bounded.
const (
	maxExprLen    = 256
	maxExprDepth  = 32
	maxExprDigits = 6
)

// ParseExpr parses and evaluates an arithmetic expression over non-negative integers in exact
// rational arithmetic:
//
//	expr   := term (('+'|'-') term)*
//	term   := factor (('*'|'/') factor)*
//	factor := number | '(' expr ')'
//
// Spaces may separate tokens; there is no unary minus; a number is at most 6 digits;
// parentheses nest at most 32 deep; s is at most 256 bytes. It returns the value and the
// numbers in order of appearance. Division by zero is an error.
func ParseExpr(s string) (*big.Rat, []int, error) {
	v, nums, err := parseExpr(s)
	if err != nil {
		return nil, nil, err
	}
	if v == nil {
		return nil, nil, fmt.Errorf("expression %q divides by zero", s)
	}
	return v, nums, nil
}

// parseExpr is ParseExpr, except that a division by zero leaves the value nil instead of
// failing: Countdown's format credit asks only whether the text is an expression.
func parseExpr(s string) (*big.Rat, []int, error) {
	if len(s) > maxExprLen {
		return nil, nil, fmt.Errorf("expression is %d bytes, over the %d-byte limit", len(s), maxExprLen)
	}
	p := exprParser{s: s}
	v, err := p.expr()
	if err == nil {
		p.skipSpaces()
		if p.pos < len(s) {
			err = p.errorf("unexpected %q", charAt(s, p.pos))
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("expression %q: %w", s, err)
	}
	return v, p.nums, nil
}

type exprParser struct {
	s     string
	pos   int
	depth int
	nums  []int
}

// charAt is the character that starts at byte i of s, so a message quotes "é", not its first byte.
func charAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

func (p *exprParser) errorf(format string, args ...any) error {
	return fmt.Errorf("byte %d: "+format, append([]any{p.pos}, args...)...)
}

func (p *exprParser) skipSpaces() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

// nextOp consumes and returns the next token if it is the operator a or b, else returns 0.
func (p *exprParser) nextOp(a, b byte) byte {
	p.skipSpaces()
	if p.pos < len(p.s) && (p.s[p.pos] == a || p.s[p.pos] == b) {
		p.pos++
		return p.s[p.pos-1]
	}
	return 0
}

func (p *exprParser) expr() (*big.Rat, error) {
	v, err := p.term()
	for err == nil {
		op := p.nextOp('+', '-')
		if op == 0 {
			return v, nil
		}
		var w *big.Rat
		if w, err = p.term(); err == nil {
			v = apply(v, op, w)
		}
	}
	return nil, err
}

func (p *exprParser) term() (*big.Rat, error) {
	v, err := p.factor()
	for err == nil {
		op := p.nextOp('*', '/')
		if op == 0 {
			return v, nil
		}
		var w *big.Rat
		if w, err = p.factor(); err == nil {
			v = apply(v, op, w)
		}
	}
	return nil, err
}

func (p *exprParser) factor() (*big.Rat, error) {
	p.skipSpaces()
	if p.pos == len(p.s) {
		return nil, p.errorf("expected a number or '(', found the end")
	}
	c := p.s[p.pos]
	switch {
	case c == '(':
		if p.depth == maxExprDepth {
			return nil, p.errorf("parentheses nest deeper than %d", maxExprDepth)
		}
		p.depth++
		p.pos++
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skipSpaces()
		if p.pos == len(p.s) || p.s[p.pos] != ')' {
			return nil, p.errorf("expected ')'")
		}
		p.pos++
		p.depth--
		return v, nil
	case isDigit(c):
		start, n := p.pos, int64(0)
		for p.pos < len(p.s) && isDigit(p.s[p.pos]) {
			if p.pos-start == maxExprDigits {
				return nil, p.errorf("number longer than %d digits", maxExprDigits)
			}
			n = n*10 + int64(p.s[p.pos]-'0')
			p.pos++
		}
		p.nums = append(p.nums, int(n))
		return new(big.Rat).SetInt64(n), nil
	}
	return nil, p.errorf("expected a number or '(', found %q", charAt(p.s, p.pos))
}

// apply computes v op w into v; nil (undefined, after a division by zero) propagates.
func apply(v *big.Rat, op byte, w *big.Rat) *big.Rat {
	if v == nil || w == nil {
		return nil
	}
	switch op {
	case '+':
		return v.Add(v, w)
	case '-':
		return v.Sub(v, w)
	case '*':
		return v.Mul(v, w)
	}
	if w.Sign() == 0 {
		return nil
	}
	return v.Quo(v, w)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
