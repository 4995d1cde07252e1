//go:build unix

package rl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockRunFolder takes the run folder dir for this process: an exclusive flock on dir/.lock,
// which the kernel drops when the process ends, however it ends. A second trainer on the same
// folder is refused, naming the holder's process id: before the first checkpoint both would
// otherwise write the folder's config, metrics and checkpoint over each other.
func lockRunFolder(dir string) (*os.File, error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run folder lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("run folder %s is in use by another trainer (process %s); wait for it or stop it first",
				dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("run folder lock %s: %w", path, err)
	}
	// The holder's pid, for the message above; the lock itself is the flock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
