package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dllmrl/agrpo/rl"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", "plot RUNDIR", stderr)
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	path, note, err := plotRun(fs.Arg(0))
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(stderr, note)
	}
	fmt.Fprintln(stdout, path)
	return nil
}

// plotFile is the PNG a run's curves are drawn into.
const plotFile = "curves.png"

// plotRun draws a run's metrics: on the left the training signal (rollout reward and accuracy for
// RL, the loss for SFT), on the right test accuracy per sampling-step count at each
// evaluation. It writes dir/curves.png and returns its path, and a note when it skipped a torn
// last line (a run killed mid-write, or a full disk); a damaged line before the last is an error.
func plotRun(dir string) (path, note string, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, rl.MetricsFile))
	if err != nil {
		return "", "", fmt.Errorf("plot: %w", err)
	}
	train := map[string]plotter.XYs{}
	evals := map[int]plotter.XYs{}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	for i, text := range lines {
		line := i + 1
		var rec map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			if line == len(lines) && !strings.HasSuffix(string(raw), "\n") {
				note = fmt.Sprintf("plot: skipped the torn last line %d of %s (%v)", line, rl.MetricsFile, err)
				break
			}
			return "", "", fmt.Errorf("plot: %s line %d: %w", rl.MetricsFile, line, err)
		}
		var step float64
		if json.Unmarshal(rec["step"], &step) != nil {
			continue
		}
		if raw, ok := rec["eval"]; ok {
			var res []rl.EvalResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return "", "", fmt.Errorf("plot: %s line %d: %w", rl.MetricsFile, line, err)
			}
			for _, r := range res {
				evals[r.Steps] = append(evals[r.Steps], plotter.XY{X: step, Y: 100 * r.Accuracy})
			}
			continue
		}
		for _, key := range []string{"reward", "accuracy", "loss"} {
			var v float64
			if json.Unmarshal(rec[key], &v) == nil {
				train[key] = append(train[key], plotter.XY{X: step, Y: v})
			}
		}
	}
	left := plot.New()
	left.X.Label.Text = "step"
	if _, rl := train["reward"]; rl {
		left.Title.Text = "training rollouts"
		left.Y.Label.Text = "mean reward (of 4) / accuracy"
		if err := addLines(left, map[string]plotter.XYs{"reward": smooth(train["reward"], 5), "accuracy": smooth(train["accuracy"], 5)}); err != nil {
			return "", "", err
		}
	} else {
		left.Title.Text = "training loss"
		left.Y.Label.Text = "masked-diffusion loss"
		if err := addLines(left, map[string]plotter.XYs{"loss": train["loss"]}); err != nil {
			return "", "", err
		}
	}
	right := plot.New()
	right.Title.Text = "test accuracy (greedy)"
	right.X.Label.Text = "step"
	right.Y.Label.Text = "accuracy %"
	named := map[string]plotter.XYs{}
	for steps, xy := range evals {
		named[fmt.Sprintf("%3d sampling steps", steps)] = xy // width-padded so names sort by step count
	}
	if err := addLines(right, named); err != nil {
		return "", "", err
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	path = filepath.Join(dir, plotFile)
	out, err := os.Create(path)
	if err != nil {
		return "", "", fmt.Errorf("plot: %w", err)
	}
	defer out.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		return "", "", fmt.Errorf("plot: %w", err)
	}
	return path, note, out.Close()
}

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255}, color.RGBA{214, 39, 40, 255},
}

// addLines adds one line per series, in name order for stable colours.
func addLines(p *plot.Plot, series map[string]plotter.XYs) error {
	names := make([]string, 0, len(series))
	for n, xy := range series {
		if len(xy) > 0 {
			names = append(names, n)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for i, n := range names {
		l, err := plotter.NewLine(series[n])
		if err != nil {
			return fmt.Errorf("plot %s: %w", n, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(n, l)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return nil
}

// smooth is a trailing moving average over w points, to make noisy rollout curves readable.
func smooth(xy plotter.XYs, w int) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i := range xy {
		lo := max(0, i-w+1)
		var s float64
		for _, p := range xy[lo : i+1] {
			s += p.Y
		}
		out[i] = plotter.XY{X: xy[i].X, Y: s / float64(i+1-lo)}
	}
	return out
}
