package core

import (
	"encoding"
	"fmt"
	"strings"
)

// A choice is a setting with a few named values (a remasking rule, a schedule, …): a small
// integer type whose value i is named names[i]. Its String, MarshalText and UnmarshalText are
// these helpers, so that configs (TOML) and flags parse a name once, into the type, and a bad
// name is an error listing the allowed ones.

// ChoiceName is the name of choice v of the kind named kind, or an error for a value outside
// names.
func ChoiceName[T ~uint8](kind string, names []string, v T) (string, error) {
	if int(v) >= len(names) {
		return "", fmt.Errorf("%s %d is not one of %s", kind, v, Alternatives(names))
	}
	return names[v], nil
}

// ParseChoice reads the value of a choice of the kind named kind from its name.
func ParseChoice[T ~uint8](kind string, names []string, name string) (T, error) {
	for i, n := range names {
		if n == name {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want %s)", kind, name, Alternatives(names))
}

// Alternatives lists names as a sentence does: "a", "a or b", "a, b or c".
func Alternatives(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ChoiceString is the name of choice v, or kind(?) for a value outside names (for String).
func ChoiceString[T ~uint8](kind string, names []string, v T) string {
	if n, err := ChoiceName(kind, names, v); err == nil {
		return n
	}
	return kind + "(?)"
}

// CheckChoice reports a choice holding a value that has no name (made by conversion, or a
// zero value that names nothing): its MarshalText error.
func CheckChoice(c encoding.TextMarshaler) error {
	_, err := c.MarshalText()
	return err
}
