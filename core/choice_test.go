package core

import (
	"strings"
	"testing"
)

// TestChoiceText: every remasking rule and confidence definition writes its name and reads it
// back; an unknown name is an error naming the kind, the name and every allowed one; a value
// outside the names (made by conversion) cannot be written.
func TestChoiceText(t *testing.T) {
	for _, r := range []Remasking{LowConfidence, RandomOrder, LowEntropy} {
		text, err := r.MarshalText()
		var back Remasking
		if err != nil || back.UnmarshalText(text) != nil || back != r || string(text) != r.String() {
			t.Errorf("%v: wrote %q (%v), read back %v", r, text, err, back)
		}
	}
	for _, c := range []Confidence{Tempered, Untempered} {
		text, err := c.MarshalText()
		var back Confidence
		if err != nil || back.UnmarshalText(text) != nil || back != c || string(text) != c.String() {
			t.Errorf("%v: wrote %q (%v), read back %v", c, text, err, back)
		}
	}
	var r Remasking
	if err := r.UnmarshalText([]byte("best")); err == nil || err.Error() != `unknown remasking "best" (want low_confidence, random or entropy)` {
		t.Errorf("bad remasking: %v", err)
	}
	var c Confidence
	if err := c.UnmarshalText([]byte("")); err == nil || err.Error() != `unknown confidence "" (want tempered or untempered)` {
		t.Errorf("empty confidence: %v", err)
	}
	if _, err := Remasking(3).MarshalText(); err == nil || !strings.Contains(err.Error(), "remasking 3") {
		t.Errorf("Remasking(3) written: %v", err)
	}
	if s := Confidence(7).String(); s != "confidence(?)" {
		t.Errorf("Confidence(7) is %q", s)
	}
	for names, want := range map[string]string{"": "", "a": "a", "a b": "a or b", "a b c": "a, b or c"} {
		if got := Alternatives(strings.Fields(names)); got != want {
			t.Errorf("Alternatives(%q) = %q, want %q", names, got, want)
		}
	}
}
