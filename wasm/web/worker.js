// The page's Web Worker: it runs the Go WebAssembly (wasm/cmd/js), so a generation, which
// blocks the thread it runs on, never freezes the page. Messages from the page:
//
//   {id, op: 'about', tasks}                  → {id, value: Info}
//   {id, op: 'describe', request}             → {id, value: Problem}
//   {id, op: 'run', model, url, request}      → {id, op: 'progress', received} while it downloads
//                                               the checkpoint (bytes so far, decompressed),
//                                               {id, op: 'loaded', ms} when it has it,
//                                               {id, op: 'step', value: Step} at every step,
//                                               {id, value: Result}
//   {op: 'cancel', target}                    → nothing; request target is dropped if it has not
//                                               started, and its download, if any, is stopped
//
// Any failure answers {id, error: text}, the text in the page's words. Requests other than
// cancel are handled in arrival order; cancel at once, so it can stop a download.
'use strict';

importScripts('wasm_exec.js');

// ready resolves once Go's main has set globalThis.agrpo (it calls agrpoReady).
const ready = new Promise((resolve, reject) => {
  self.agrpoReady = resolve;
  const go = new Go();
  WebAssembly.instantiateStreaming(fetch('main.wasm'), go.importObject)
    .then(({ instance }) => go.run(instance).then(() => reject(new Error('the model (main.wasm) stopped'))))
    .catch((e) => reject(new Error(`the model (main.wasm) could not start: ${e.message}`)));
});

// Checkpoints already handed to Go, by name (a promise, so two runs do not fetch one twice).
const loaded = new Map();
// The download in progress: the request it is for and the controller that stops it.
let download = null;
// Requests the page has cancelled.
const cancelled = new Set();

// call runs one of Go's functions, which answer JSON text, and throws its error, if any.
function call(fn, ...args) {
  const out = JSON.parse(self.agrpo[fn](...args));
  if (out && typeof out.error === 'string') throw new Error(out.error);
  return out;
}

// fetchCheckpoint downloads a checkpoint, telling the page how many bytes have come so far
// (at most every 100 ms), so the page can show that it is downloading and how far.
async function fetchCheckpoint(id, url, signal) {
  const resp = await fetch(url, { signal });
  if (!resp.ok) throw new Error(`the server answered ${resp.status} ${resp.statusText}`);
  const reader = resp.body.getReader();
  const chunks = [];
  let received = 0;
  let told = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (performance.now() - told > 100) {
      told = performance.now();
      self.postMessage({ id, op: 'progress', received });
    }
  }
  const raw = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    raw.set(c, at);
    at += c.length;
  }
  return raw;
}

async function load(id, name, url) {
  if (!loaded.has(name)) {
    loaded.set(name, (async () => {
      const t0 = performance.now();
      const controller = new AbortController();
      download = { id, controller };
      let raw;
      try {
        raw = await fetchCheckpoint(id, url, controller.signal);
      } catch (e) {
        throw new Error(e.name === 'AbortError' ? 'cancelled' : `could not download checkpoint ${name}: ${e.message}`);
      } finally {
        download = null;
      }
      call('load', name, raw);
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
  if (msg.op === 'cancel') {
    cancelled.add(msg.target);
    if (download && download.id === msg.target) download.controller.abort();
    return;
  }
  queue = queue.then(async () => {
    try {
      if (cancelled.delete(msg.id)) throw new Error('cancelled');
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
    cancelled.delete(msg.id);
  });
};
