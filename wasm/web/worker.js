// The page's Web Worker: it runs the Go WebAssembly (wasm/cmd/js), so a generation, which
// blocks the thread it runs on, never freezes the page. Messages from the page:
//
//   {id, op: 'about', tasks}                  → {id, value: Info}
//   {id, op: 'describe', request}             → {id, value: Problem}
//   {id, op: 'run', model, url, request}      → {id, op: 'loaded', ms} when it fetched the checkpoint,
//                                               {id, op: 'step', value: Step} at every step,
//                                               {id, value: Result}
//
// Any failure answers {id, error: text}. Requests are handled in arrival order.
'use strict';

importScripts('wasm_exec.js');

// ready resolves once Go's main has set globalThis.agrpo (it calls agrpoReady).
const ready = new Promise((resolve, reject) => {
  self.agrpoReady = resolve;
  const go = new Go();
  WebAssembly.instantiateStreaming(fetch('main.wasm'), go.importObject)
    .then(({ instance }) => go.run(instance).then(() => reject(new Error('the Go program exited'))))
    .catch(reject);
});

// Checkpoints already handed to Go, by name (a promise, so two runs do not fetch one twice).
const loaded = new Map();

// call runs one of Go's functions, which answer JSON text, and throws its error, if any.
function call(fn, ...args) {
  const out = JSON.parse(self.agrpo[fn](...args));
  if (out && typeof out.error === 'string') throw new Error(out.error);
  return out;
}

async function load(id, name, url) {
  if (!loaded.has(name)) {
    loaded.set(name, (async () => {
      const t0 = performance.now();
      const resp = await fetch(url);
      if (!resp.ok) throw new Error(`checkpoint ${name}: ${resp.status} ${resp.statusText}`);
      call('load', name, new Uint8Array(await resp.arrayBuffer()));
      self.postMessage({ id, op: 'loaded', ms: performance.now() - t0 });
    })());
  }
  try {
    await loaded.get(name);
  } catch (e) {
    loaded.delete(name); // let a later run try again
    throw e;
  }
}

// queue makes the requests run one after another: a run waits for its checkpoint's fetch.
let queue = Promise.resolve();

self.onmessage = (ev) => {
  const msg = ev.data;
  queue = queue.then(async () => {
    try {
      await ready;
      let value;
      switch (msg.op) {
        case 'about':
          value = call('about', JSON.stringify(msg.tasks));
          break;
        case 'describe':
          value = call('describe', JSON.stringify(msg.request));
          break;
        case 'run':
          await load(msg.id, msg.model, msg.url);
          value = call('generate', JSON.stringify({ ...msg.request, model: msg.model }),
            (step) => self.postMessage({ id: msg.id, op: 'step', value: JSON.parse(step) }));
          break;
        default:
          throw new Error(`unknown request ${msg.op}`);
      }
      self.postMessage({ id: msg.id, value });
    } catch (e) {
      self.postMessage({ id: msg.id, error: e.message || String(e) });
    }
  });
};
