package rl

import (
	"encoding/json"
	"io"
)

// writeJSON writes v indented, the form of every JSON file a run leaves.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
