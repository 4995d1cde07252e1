package task

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode"
)

// maxNumberDigits bounds the digits of a number ParseNumber reads, so an untrusted completion
// cannot make the rational arithmetic expensive.
const maxNumberDigits = 40

// ParseNumber reads a final answer as an exact rational: an integer or decimal with an optional
// sign ("-", "+" or "−") and comma thousands separators ("1,234,567.5", ".5", "-3"), a fraction
// "a/b", or LaTeX's \frac{a}{b} (also \dfrac, \tfrac) of such numbers with an optional sign in
// front. Around it the reward tolerates what models write around a number: spaces, $…$, \(…\)
// or \[…\] delimiters, a currency sign "$" or "\$" after the sign, LaTeX spacing (\! \, \; and
// "{,}" as a thousands separator) and one trailing period. Nothing else: "72 apples" and "1e3"
// are errors. At most 40 digits per number.
func ParseNumber(s string) (*big.Rat, error) {
	orig := s
	s = strings.TrimFunc(s, pySpace)
	for _, d := range [][2]string{{"$", "$"}, {`\(`, `\)`}, {`\[`, `\]`}} {
		if len(s) >= len(d[0])+len(d[1]) && strings.HasPrefix(s, d[0]) && strings.HasSuffix(s, d[1]) {
			s = strings.TrimFunc(s[len(d[0]):len(s)-len(d[1])], pySpace)
			break
		}
	}
	s = latexSpacing.Replace(s)
	s = strings.TrimSuffix(s, ".")
	neg := false
	for _, sign := range []string{"-", "−", "+"} {
		if rest, ok := strings.CutPrefix(s, sign); ok {
			neg, s = sign != "+", rest
			break
		}
	}
	if rest, ok := strings.CutPrefix(s, `\$`); ok {
		s = rest
	} else {
		s = strings.TrimPrefix(s, "$")
	}
	v, err := parseFraction(s)
	if err != nil {
		return nil, fmt.Errorf("number %q: %w", orig, err)
	}
	if neg {
		v.Neg(v)
	}
	return v, nil
}

// latexSpacing removes LaTeX's thin spaces and the braced comma of "1{,}000".
var latexSpacing = strings.NewReplacer(`\!`, "", `\,`, "", `\;`, "", "{,}", ",", " ", "")

// parseFraction reads \frac{a}{b}, a/b or a plain decimal.
func parseFraction(s string) (*big.Rat, error) {
	var num, den string
	for _, cmd := range []string{`\frac{`, `\dfrac{`, `\tfrac{`} {
		if rest, ok := strings.CutPrefix(s, cmd); ok {
			var ok1, ok2 bool
			num, rest, ok1 = strings.Cut(rest, "}{")
			den, ok2 = strings.CutSuffix(rest, "}")
			if !ok1 || !ok2 {
				return nil, errors.New(`\frac needs two braced numbers`)
			}
			break
		}
	}
	if num == "" && den == "" {
		var ok bool
		if num, den, ok = strings.Cut(s, "/"); !ok {
			return parseDecimal(s)
		}
	}
	a, err := parseSignedDecimal(num)
	if err != nil {
		return nil, err
	}
	b, err := parseSignedDecimal(den)
	if err != nil {
		return nil, err
	}
	if b.Sign() == 0 {
		return nil, errors.New("division by zero")
	}
	return a.Quo(a, b), nil
}

func parseSignedDecimal(s string) (*big.Rat, error) {
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, s = true, rest
	}
	v, err := parseDecimal(s)
	if err == nil && neg {
		v.Neg(v)
	}
	return v, err
}

// parseDecimal reads digits with optional comma groups of three and an optional fraction:
// "1,234.50", "12", ".5". Commas must group correctly: "1,23" is an error.
func parseDecimal(s string) (*big.Rat, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	groups := strings.Split(intPart, ",")
	for i, g := range groups {
		if !allDigits(g) || i > 0 && len(g) != 3 || len(groups) > 1 && (len(groups[0]) == 0 || len(groups[0]) > 3) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
	}
	digits := strings.Join(groups, "")
	if hasDot && (frac == "" || !allDigits(frac)) {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	if len(digits)+len(frac) > maxNumberDigits {
		return nil, fmt.Errorf("%q has over %d digits", s, maxNumberDigits)
	}
	v, ok := new(big.Rat).SetString("0" + digits + "." + frac + "0") // checked above: no exponent
	if !ok {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// pySpace is Python's str.isspace, which the official reward's \s and strip() use: Unicode
// white space plus the ASCII separators U+001C–U+001F.
func pySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// tagged returns the text between the first <tag> and the first </tag> after it (tag names
// matched ignoring ASCII case), with white space trimmed, as the official reward's
// re.search(r"<tag>\s*(.*?)\s*</tag>", DOTALL|IGNORECASE) followed by strip().
func tagged(s, tag string) (string, bool) {
	open, close := "<"+tag+">", "</"+tag+">"
	i := indexASCIIFold(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	j := indexASCIIFold(rest, close)
	if j < 0 {
		return "", false
	}
	return strings.TrimFunc(rest[:j], pySpace), true
}

// indexASCIIFold is strings.Index with ASCII letters matched in either case.
func indexASCIIFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for k := range len(sub) {
			if lowerASCII(s[i+k]) != lowerASCII(sub[k]) {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// extractBoxed returns the brace-balanced content of the first \boxed{…} in s, and false when
// there is none or its braces do not close (the official reward's extract_boxed).
func extractBoxed(s string) (string, bool) {
	i := strings.Index(s, `\boxed{`)
	if i < 0 {
		return "", false
	}
	start := i + len(`\boxed{`)
	depth := 1
	for j := start; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return s[start:j], true
			}
		}
	}
	return "", false
}

// finalAnswer is the official reward's parse_ans: the <answer> content if there is one, then
// the \boxed{} content in it if there is a non-empty one.
func finalAnswer(completion string) string {
	s := completion
	if a, ok := tagged(s, "answer"); ok {
		s = a
	}
	if b, ok := extractBoxed(s); ok && b != "" {
		s = b
	}
	return s
}
