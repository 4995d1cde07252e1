package models

import (
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
)

// TestShippedModelsLoad: every embedded file is a valid checkpoint of this project.
func TestShippedModelsLoad(t *testing.T) {
	names := Shipped.Names()
	if len(names) == 0 {
		t.Fatal("no shipped models")
	}
	for _, n := range names {
		raw, ok := Shipped.Bytes(n)
		if !ok {
			t.Fatalf("%s listed but not readable", n)
		}
		if _, err := model.Decode(n, raw, cpu.New()); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, ok := Shipped.Bytes("no-such-model"); ok {
		t.Error("an unknown name was found")
	}
}
