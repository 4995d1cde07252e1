package rl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/dllmrl/agrpo/core/atomicfile"
)

// Metrics appends one JSON object per line to a run's metrics.jsonl.
type Metrics struct {
	f *os.File
}

// OpenMetrics opens path for appending, first dropping every record of a step after keepUpTo
// (a resumed run rewrites what happened after its checkpoint). keepUpTo < 0 keeps everything.
func OpenMetrics(path string, keepUpTo int) (*Metrics, error) {
	if keepUpTo >= 0 {
		if err := truncateMetrics(path, keepUpTo); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &Metrics{f: f}, nil
}

func truncateMetrics(path string, keepUpTo int) error {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step == nil || *rec.Step > keepUpTo {
			continue
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(kept.Bytes()); return err })
}

// Write appends one record.
func (m *Metrics) Write(rec any) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if _, err := m.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Close closes the file.
func (m *Metrics) Close() error { return m.f.Close() }
