// Package models holds the shipped checkpoints, embedded in every binary that imports it, so
// `go run ./demo` and the browser demo work on a fresh clone without downloads. Each is a
// safetensors file of this project's format; docs/results.md says how each was trained.
//
// Only the command imports it (and tests): package rl finds models by name through the
// rl.Catalog it is given, Shipped for the command, so that importing rl embeds no weights.
package models

import (
	"embed"
	"sort"
	"strings"
)

//go:embed *.safetensors
var files embed.FS

// Catalog is the shipped models by name; its methods make it an rl.Catalog.
type Catalog struct{}

// Shipped is the catalog of the shipped models.
var Shipped Catalog

// Names lists the shipped models, sorted.
func (Catalog) Names() []string {
	entries, _ := files.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".safetensors"))
	}
	sort.Strings(names)
	return names
}

// Bytes returns a shipped model's file, or false when there is no model of that name.
func (Catalog) Bytes(name string) ([]byte, bool) {
	raw, err := files.ReadFile(name + ".safetensors")
	return raw, err == nil
}
