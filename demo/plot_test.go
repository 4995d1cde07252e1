package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/rl"
)

// TestPlotRun: a run's metrics become curves.png; a torn last line (a run killed mid-write) is
// skipped with a note, a damaged line before it is an error naming the line.
func TestPlotRun(t *testing.T) {
	run := t.TempDir()
	metrics := `{"step":0,"eval":[{"steps":12,"n":8,"accuracy":0.25,"mean_reward":1}]}
{"step":1,"loss":0.5,"reward":1.5,"accuracy":0.2}
{"step":2,"loss":0.4,"reward":1.7,"accuracy":0.3}
{"step":2,"eval":[{"steps":12,"n":8,"accuracy":0.5,"mean_reward":2}]}
`
	path := filepath.Join(run, rl.MetricsFile)
	os.WriteFile(path, []byte(metrics), 0o644)
	png, note, err := plotRun(run)
	if err != nil || note != "" {
		t.Fatalf("plot: %v (note %q)", err, note)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 || filepath.Base(png) != plotFile {
		t.Fatalf("curves: %s, %v", png, err)
	}
	os.WriteFile(path, []byte(metrics+`{"step":3,"rew`), 0o644)
	if _, note, err := plotRun(run); err != nil || !strings.Contains(note, "torn last line") {
		t.Fatalf("plot with a torn last line: note %q, error %v", note, err)
	}
	os.WriteFile(path, []byte("{oops\n"+metrics), 0o644)
	if _, _, err := plotRun(run); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("plot with a damaged first line: %v", err)
	}
}
