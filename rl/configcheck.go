package rl

import (
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
)

// nonFinite reports every float key of a config (a struct with toml tags, walked recursively)
// that holds a NaN or an Inf, by its dotted key: TOML accepts nan and inf, and a range check
// such as lr > 0 lets +Inf through.
func nonFinite(prefix string, v reflect.Value) []error {
	var errs []error
	for i := 0; i < v.NumField(); i++ {
		f, key := v.Field(i), strings.Split(v.Type().Field(i).Tag.Get("toml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		switch f.Kind() {
		case reflect.Struct:
			errs = append(errs, nonFinite(prefix+key+".", f)...)
		case reflect.Float32, reflect.Float64:
			if x := f.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				errs = append(errs, fmt.Errorf("%s%s: %g, must be finite", prefix, key, x))
			}
		}
	}
	return errs
}

// maxConfigBytes bounds a config file: a real one is a few kilobytes, and /dev/zero is endless.
const maxConfigBytes = 1 << 20

// readCapped reads the file at path, refusing one longer than max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > max {
		return nil, fmt.Errorf("%s is longer than %d bytes: not a config", path, max)
	}
	return raw, nil
}
