// Package configs embeds the shipped run configs (the TOML files beside this file), so the
// one-command story in demo/ runs the very recipe that `demo train -config configs/FILE.toml`
// runs: the recipe is written once, here.
package configs

import "embed"

//go:embed *.toml
var files embed.FS

// Read returns the shipped config file name (e.g. "sudoku-agrpo.toml").
func Read(name string) ([]byte, error) {
	return files.ReadFile(name)
}
