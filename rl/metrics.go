package rl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dllmrl/agrpo/core/atomicfile"
)

// Metrics appends one JSON object per line to a run's metrics.jsonl. It is the run folder's
// one writer: it holds the folder's lock (lockRunFolder) from OpenMetrics to Close.
type Metrics struct {
	f, lock *os.File
}

// OpenMetrics opens path for appending, first dropping every record the run is about to write
// again: the records of steps after upTo, and at upTo itself its evaluation unless evalAtUpTo.
// A fresh run passes (0, false): a folder left by a run killed before its first checkpoint starts
// over. A resumed run passes its checkpoint's step, and evalAtUpTo false where Run evaluates
// that step again (the starting evaluation at step 0, the final one of a finished run).
func OpenMetrics(path string, upTo int, evalAtUpTo bool) (*Metrics, error) {
	lock, err := lockRunFolder(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if err := truncateMetrics(path, upTo, evalAtUpTo); err != nil {
		lock.Close()
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &Metrics{f: f, lock: lock}, nil
}

func truncateMetrics(path string, upTo int, evalAtUpTo bool) error {
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
			Step *int            `json:"step"`
			Eval json.RawMessage `json:"eval"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step == nil || *rec.Step > upTo ||
			(*rec.Step == upTo && rec.Eval != nil && !evalAtUpTo) {
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

// Close closes the file and releases the run folder.
func (m *Metrics) Close() error {
	err := m.f.Close()
	m.lock.Close() // nil where there is no lock: (*os.File).Close then returns ErrInvalid
	return err
}
