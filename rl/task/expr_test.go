package task

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseExpr(t *testing.T) {
	for _, c := range []struct {
		in, want string
		nums     []int
	}{
		{"8/17*17", "8", []int{8, 17, 17}},
		{"(1+2)*3", "9", []int{1, 2, 3}},
		{"6/4", "3/2", []int{6, 4}},
		{"1-2-3", "-4", []int{1, 2, 3}},
		{"1-(2-3)", "2", []int{1, 2, 3}},
		{"100/10/5", "2", []int{100, 10, 5}},
		{"2*3+4*5", "26", []int{2, 3, 4, 5}},
		{" 12 + 3 * 7 ", "33", []int{12, 3, 7}},
		{"((((0))))", "0", []int{0}},
		{"007", "7", []int{7}},
		{"999999*999999", "999998000001", []int{999999, 999999}},
		{"1/3+1/6", "1/2", []int{1, 3, 1, 6}},
	} {
		v, nums, err := ParseExpr(c.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.in, err)
			continue
		}
		if v.RatString() != c.want || !slices.Equal(nums, c.nums) {
			t.Errorf("ParseExpr(%q) = %s, %v, want %s, %v", c.in, v.RatString(), nums, c.want, c.nums)
		}
	}
}

func TestParseExprErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1//2", "byte 2: expected a number or '(', found '/'"},
		{"(1+2", "byte 4: expected ')'"},
		{"1/0", "divides by zero"},
		{"1/(2-2)", "divides by zero"},
		{"-1", "byte 0: expected a number or '(', found '-'"},
		{"", "byte 0: expected a number or '(', found the end"},
		{"1+", "byte 2: expected a number or '(', found the end"},
		{"1 2", "byte 2: unexpected '2'"},
		{"1 é", "byte 2: unexpected 'é'"},
		{"é", "byte 0: expected a number or '(', found 'é'"},
		{"1)", "byte 1: unexpected ')'"},
		{"()", "byte 1: expected a number or '(', found ')'"},
		{"2=2", "byte 1: unexpected '='"},
		{"1_", "byte 1: unexpected '_'"},
		{"1234567", "byte 6: number longer than 6 digits"},
		{strings.Repeat("(", 33) + "1" + strings.Repeat(")", 33), "byte 32: parentheses nest deeper than 32"},
		{"1" + strings.Repeat("+1", 128), "257 bytes, over the 256-byte limit"},
	} {
		if _, _, err := ParseExpr(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseExpr(%q) error %v, want one containing %q", c.in, err, c.want)
		}
	}
	// Just inside each limit.
	for _, in := range []string{
		strings.Repeat("(", 32) + "1" + strings.Repeat(")", 32),
		"1" + strings.Repeat("+1", 127) + " ",
	} {
		if _, _, err := ParseExpr(in); err != nil {
			t.Errorf("ParseExpr(%q): %v", in, err)
		}
	}
}

// A division by zero is still an expression for Countdown's format credit.
func TestParseExprDivisionByZero(t *testing.T) {
	v, nums, err := parseExpr("3/(7-7)+1")
	if err != nil || v != nil || !slices.Equal(nums, []int{3, 7, 7, 1}) {
		t.Errorf("parseExpr = %v, %v, %v, want nil value, [3 7 7 1], no error", v, nums, err)
	}
}

// FuzzParseExpr checks that the parser never panics, that what it accepts is within the
// limits, that its numbers are the string's digit runs, and that spaces do not matter.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"8/17*17", "(1+2)*3", "1//2", "(1+2", "1/0", "-1", "((((", " 3 * (4 - 1) / 2 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, nums, err := ParseExpr(s)
		if err != nil {
			return
		}
		if len(s) > maxExprLen || v == nil {
			t.Fatalf("ParseExpr(%q) accepted: value %v", s, v)
		}
		var runs []int
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
			n, err := strconv.Atoi(f)
			if err != nil || len(f) > maxExprDigits {
				t.Fatalf("ParseExpr(%q) accepted the number %q", s, f)
			}
			runs = append(runs, n)
		}
		if !slices.Equal(nums, runs) {
			t.Fatalf("ParseExpr(%q) numbers %v, digit runs %v", s, nums, runs)
		}
		w, _, err := ParseExpr(strings.ReplaceAll(s, " ", ""))
		if err != nil || w.Cmp(v) != 0 {
			t.Fatalf("ParseExpr(%q) = %s, without spaces %v, %v", s, v.RatString(), w, err)
		}
	})
}
