//go:build js && wasm

// Command js is the browser demo's WebAssembly (GOOS=js GOARCH=wasm), run in the page's Web
// Worker (wasm/web/worker.js). It sets globalThis.agrpo to an object of functions, each taking
// and returning JSON text so the worker needs no knowledge of Go values:
//
//	about(tasksJSON)              → Info: the tasks' lengths and the token glyphs
//	load(name, bytes)             → {} once the checkpoint (a Uint8Array) is decoded
//	describe(requestJSON)         → Problem: the resolved problem, or why the request is wrong
//	generate(requestJSON, onStep) → Result; onStep(stepJSON) is called at every step
//
// Each returns {"error": "..."} instead when something is wrong, never throwing, so a typed
// mistake shows as text in the page. The calls are synchronous: the worker's thread is the
// one that waits, not the page's.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/dllmrl/agrpo/wasm/infer"
)

// models holds the checkpoints loaded so far, by name, so runs and comparisons do not decode
// a checkpoint again.
var models = map[string]*infer.Model{}

func main() {
	api := map[string]any{
		"about":    js.FuncOf(func(_ js.Value, a []js.Value) any { return call(a, 1, about) }),
		"load":     js.FuncOf(func(_ js.Value, a []js.Value) any { return call(a, 2, load) }),
		"describe": js.FuncOf(func(_ js.Value, a []js.Value) any { return call(a, 1, describe) }),
		"generate": js.FuncOf(func(_ js.Value, a []js.Value) any { return call(a, 2, generate) }),
	}
	js.Global().Set("agrpo", js.ValueOf(api))
	// Tell the worker the functions exist: Go's main runs asynchronously after go.run starts.
	js.Global().Call("agrpoReady")
	select {} // keep the functions alive for the worker's lifetime
}

// call checks the argument count, runs f and encodes its result or error as JSON text. A
// panic becomes an error too: otherwise the Go program would exit and every later call from
// the page would fail with no explanation.
func call(args []js.Value, n int, f func([]js.Value) (any, error)) (out any) {
	defer func() {
		if p := recover(); p != nil {
			out = errorJSON(fmt.Errorf("internal error: %v", p))
		}
	}()
	if len(args) != n {
		return errorJSON(fmt.Errorf("want %d arguments, got %d", n, len(args)))
	}
	v, err := f(args)
	if err != nil {
		return errorJSON(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errorJSON(err)
	}
	return string(b)
}

func errorJSON(err error) string {
	b, _ := json.Marshal(map[string]string{"error": err.Error()}) // a map of strings always encodes
	return string(b)
}

// text returns a string argument, or an error naming what it is for.
func text(v js.Value, what string) (string, error) {
	if v.Type() != js.TypeString {
		return "", fmt.Errorf("%s: want a string, got %s", what, v.Type())
	}
	return v.String(), nil
}

func request(v js.Value) (infer.Request, error) {
	s, err := text(v, "request")
	if err != nil {
		return infer.Request{}, err
	}
	var r infer.Request
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return infer.Request{}, fmt.Errorf("request: %w", err)
	}
	return r, nil
}

func about(a []js.Value) (any, error) {
	s, err := text(a[0], "tasks")
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal([]byte(s), &names); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	return infer.About(names)
}

func load(a []js.Value) (any, error) {
	name, err := text(a[0], "name")
	if err != nil {
		return nil, err
	}
	if !a[1].InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, errors.New("checkpoint: want a Uint8Array")
	}
	raw := make([]byte, a[1].Get("length").Int())
	js.CopyBytesToGo(raw, a[1])
	m, err := infer.Load(name, raw)
	if err != nil {
		return nil, err
	}
	models[name] = m
	return struct{}{}, nil
}

func describe(a []js.Value) (any, error) {
	r, err := request(a[0])
	if err != nil {
		return nil, err
	}
	return infer.Describe(r)
}

// generate runs a request on a loaded model; the request's "model" field names it.
func generate(a []js.Value) (any, error) {
	s, err := text(a[0], "request")
	if err != nil {
		return nil, err
	}
	var r struct {
		infer.Request
		Model string `json:"model"`
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	m, ok := models[r.Model]
	if !ok {
		return nil, fmt.Errorf("model %q is not loaded", r.Model)
	}
	if a[1].Type() != js.TypeFunction {
		return nil, errors.New("onStep: want a function")
	}
	return infer.Generate(m, r.Request, func(s infer.Step) {
		b, _ := json.Marshal(s) // a Step is ints and bools: it always encodes
		a[1].Invoke(string(b))
	})
}
