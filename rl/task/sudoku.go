package task

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// SudokuData is what a Sudoku reward needs: the puzzle ('.' for an empty cell) and its
// solution, 16 characters each, row by row.
type SudokuData struct {
	Puzzle   string
	Solution string
}

// Sudoku's puzzle distribution and split.
const (
	sudokuMinClues = 4 // the fewest clues a 4×4 puzzle with a unique solution can have
	sudokuMaxClues = 10
	sudokuTestSize = 500
	sudokuSorted   = "1111222233334444"
)

type sudoku struct{}

func (sudoku) Name() string          { return "sudoku" }
func (sudoku) Chat() bool            { return false }
func (sudoku) PromptLen() int        { return 17 }
func (sudoku) AnswerLen() int        { return 16 }
func (sudoku) RewardNames() []string { return []string{partFormat, partCorrectness} }

// grid is a 4×4 board row by row: '1'–'4', or '.' for an empty cell.
type grid [16]byte

// sudokuPeers lists, for each cell, the 7 other cells in its row, column or box.
var sudokuPeers = func() (peers [16][]int) {
	for i := range 16 {
		for j := range 16 {
			if i != j && (i/4 == j/4 || i%4 == j%4 || i/8 == j/8 && i%4/2 == j%4/2) {
				peers[i] = append(peers[i], j)
			}
		}
	}
	return peers
}()

// allows reports whether digit d may go in cell i: none of its peers holds d.
func (g *grid) allows(i int, d byte) bool {
	for _, j := range sudokuPeers[i] {
		if g[j] == d {
			return false
		}
	}
	return true
}

// repeat returns the first cell whose digit appears again in its row, column or box, or -1.
func (g *grid) repeat() int {
	for i, d := range g {
		if d != '.' && !g.allows(i, d) {
			return i
		}
	}
	return -1
}

// solutions counts g's completions, stopping at limit, and returns the first one found. It
// assumes g's clues do not repeat (see repeat).
func (g grid) solutions(limit int) (n int, first grid) {
	i := slices.Index(g[:], '.')
	if i < 0 {
		return 1, g
	}
	for d := byte('1'); d <= '4' && n < limit; d++ {
		if g.allows(i, d) {
			g[i] = d
			m, f := g.solutions(limit - n)
			if n == 0 {
				first = f
			}
			n += m
		}
	}
	return n, first
}

// sudokuGrids lists the 288 valid grids.
var sudokuGrids = sync.OnceValue(func() []grid {
	var out []grid
	var fill func(g grid, i int)
	fill = func(g grid, i int) {
		if i == 16 {
			out = append(out, g)
			return
		}
		for d := byte('1'); d <= '4'; d++ {
			if g.allows(i, d) {
				g[i] = d
				fill(g, i+1)
			}
		}
	}
	fill(grid{'.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.'}, 0)
	return out
})

// generateSudoku empties cells of a random grid in random order while the solution stays
// unique, until a random clue count is reached or no cell can go.
func generateSudoku(rng *rand.Rand) SudokuData {
	grids := sudokuGrids()
	sol := grids[rng.IntN(len(grids))]
	stop := sudokuMinClues + rng.IntN(sudokuMaxClues-sudokuMinClues+1)
	puz, clues := sol, 16
	for _, i := range rng.Perm(16) {
		if clues == stop {
			break
		}
		puz[i] = '.'
		if n, _ := puz.solutions(2); n == 1 {
			clues--
		} else {
			puz[i] = sol[i]
		}
	}
	return SudokuData{Puzzle: string(puz[:]), Solution: string(sol[:])}
}

// sudokuTest is the test split and the set of its puzzles.
var sudokuTest = sync.OnceValues(func() ([]SudokuData, map[string]bool) {
	rng := rand.New(rand.NewPCG(0, 0))
	var test []SudokuData
	seen := map[string]bool{}
	for len(test) < sudokuTestSize {
		d := generateSudoku(rng)
		if !seen[d.Puzzle] {
			seen[d.Puzzle] = true
			test = append(test, d)
		}
	}
	return test, seen
})

func sudokuProblem(d SudokuData) Problem {
	return Problem{Prompt: d.Puzzle + ":", Answer: d.Solution, Data: d}
}

// SampleTrain generates puzzles until one is not in the test split.
func (sudoku) SampleTrain(rng *rand.Rand) Problem {
	_, test := sudokuTest()
	for {
		if d := generateSudoku(rng); !test[d.Puzzle] {
			return sudokuProblem(d)
		}
	}
}

// Test returns the test split.
func (sudoku) Test() []Problem {
	test, _ := sudokuTest()
	out := make([]Problem, len(test))
	for i, d := range test {
		out[i] = sudokuProblem(d)
	}
	return out
}

// Reward gives format 0.25 for 16 characters, 0.25 for the right digit counts and 0.5 for
// keeping the clues, and correctness 3 × the fraction of empty cells filled right.
func (sudoku) Reward(p Problem, completion string) Reward {
	d, ok := p.Data.(SudokuData)
	if !ok || len(d.Puzzle) != 16 || len(d.Solution) != 16 {
		return newReward(0, 0, false)
	}
	format := 0.0
	if len(completion) == 16 {
		format += 0.25
		b := []byte(completion)
		slices.Sort(b)
		if string(b) == sudokuSorted {
			format += 0.25
		}
	}
	// Read cells as the official code does: left-padded with '0' (zfill), then cut to 16.
	cells := completion
	if len(cells) < 16 {
		cells = strings.Repeat("0", 16-len(cells)) + cells
	}
	keeps, empty, right := true, 0, 0
	for i := range 16 {
		switch {
		case d.Puzzle[i] != '.':
			keeps = keeps && cells[i] == d.Puzzle[i]
		case cells[i] == d.Solution[i]:
			empty++
			right++
		default:
			empty++
		}
	}
	if keeps {
		format += 0.5
	}
	if empty == 0 {
		return newReward(format, 0, false)
	}
	rw := newReward(format, correctnessWeight*float64(right)/float64(empty), right == empty)
	rw.CellsRight, rw.Cells = right, empty
	return rw
}

type sudokuJSON struct {
	Puzzle   *string `json:"puzzle"`
	Solution *string `json:"solution"`
}

// ParseJSONL reads {"puzzle":"12..34....43..21","solution":"1234341221434321"} lines, '.' or
// '0' for an empty cell; without a solution, the puzzle's unique one is filled in.
func (s sudoku) ParseJSONL(r io.Reader) ([]Problem, error) {
	return parseJSONL(s.Name(), r, func(line []byte) (Problem, error) {
		var j sudokuJSON
		if err := decodeObject(line, &j); err != nil {
			return Problem{}, err
		}
		if j.Puzzle == nil {
			return Problem{}, errors.New("puzzle: missing")
		}
		puz, err := parseGrid(*j.Puzzle, true)
		if err != nil {
			return Problem{}, fmt.Errorf("puzzle: %w", err)
		}
		if !slices.Contains(puz[:], '.') {
			return Problem{}, errors.New("puzzle: no empty cell")
		}
		if i := puz.repeat(); i >= 0 {
			return Problem{}, fmt.Errorf("puzzle %q: %s repeats %c in its row, column or box", *j.Puzzle, cellName(i), puz[i])
		}
		var sol grid
		if j.Solution == nil {
			var n int
			if n, sol = puz.solutions(2); n == 0 {
				return Problem{}, fmt.Errorf("puzzle %q has no solution", *j.Puzzle)
			} else if n > 1 {
				return Problem{}, fmt.Errorf("puzzle %q has several solutions; give \"solution\"", *j.Puzzle)
			}
		} else {
			if sol, err = parseGrid(*j.Solution, false); err != nil {
				return Problem{}, fmt.Errorf("solution: %w", err)
			}
			if i := sol.repeat(); i >= 0 {
				return Problem{}, fmt.Errorf("solution %q: %s repeats %c in its row, column or box", *j.Solution, cellName(i), sol[i])
			}
			for i := range 16 {
				if puz[i] != '.' && puz[i] != sol[i] {
					return Problem{}, fmt.Errorf("solution %q: %s is %c, the puzzle's clue is %c", *j.Solution, cellName(i), sol[i], puz[i])
				}
			}
		}
		return sudokuProblem(SudokuData{Puzzle: string(puz[:]), Solution: string(sol[:])}), nil
	})
}

// cellName names cell i for an error message: by index and by row and column from 1.
func cellName(i int) string {
	return fmt.Sprintf("cell %d (row %d, column %d)", i, i/4+1, i%4+1)
}

// parseGrid reads 16 cells of '1'–'4', or with empty set also '.' or '0' (read as '.').
func parseGrid(s string, empty bool) (grid, error) {
	var g grid
	if n := utf8.RuneCountInString(s); n != 16 {
		return g, fmt.Errorf("%q has %d characters, want 16", s, n)
	}
	for i, c := range []rune(s) {
		switch {
		case '1' <= c && c <= '4':
			g[i] = byte(c)
		case empty && (c == '.' || c == '0'):
			g[i] = '.'
		default:
			want := "1–4"
			if empty {
				want = "1–4, '.' or '0'"
			}
			return g, fmt.Errorf("%q: cell %d is %q, want %s", s, i, c, want)
		}
	}
	return g, nil
}
