// The page: forms, the worker conversation, and the boards that show each step. The model
// runs in worker.js; this file only draws. The shipped checkpoints are listed at
// models/index.json and named <task>-<method>, so the tasks offered are the ones that have a
// checkpoint, and new checkpoints appear without a change here.
'use strict';

const $ = (id) => document.getElementById(id);

const TASK_LABELS = { countdown: 'Countdown', sudoku: 'Sudoku 4×4', arithmetic: 'Arithmetic' };

// ---- the worker ----

const worker = new Worker('worker.js');
const pending = new Map(); // request id → {resolve, reject, onStep, onLoaded}
let nextId = 1;

worker.onmessage = ({ data }) => {
  const p = pending.get(data.id);
  if (!p) return;
  if (data.op === 'step') return p.onStep && p.onStep(data.value);
  if (data.op === 'loaded') return p.onLoaded && p.onLoaded(data.ms);
  pending.delete(data.id);
  if (data.error !== undefined) p.reject(new Error(data.error));
  else p.resolve(data.value);
};
worker.onerror = (e) => setStatus(`the worker failed: ${e.message}`, true);

// ask sends one request to the worker; hooks receive a run's steps and checkpoint timing.
function ask(op, fields, hooks = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, ...hooks });
    worker.postMessage({ id, op, ...fields });
  });
}

// ---- state ----

let info = null;    // from Go: tasks (lengths), token glyphs, EOS and mask ids
let models = [];    // models/index.json entries: name, task, method, url, bytes
let busy = false;   // a run is in progress (the worker does one at a time)
let formOK = false; // the form describes a valid request

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

const taskInfo = (name) => info.tasks.find((t) => t.name === name);
const modelsOf = (task) => models.filter((m) => m.task === task)
  .sort((a, b) => (a.method === 'base' ? -1 : b.method === 'base' ? 1 : a.name.localeCompare(b.name)));

async function init() {
  const resp = await fetch('models/index.json');
  if (!resp.ok) throw new Error(`models/index.json: ${resp.status}`);
  models = (await resp.json()).models;
  const tasks = [...new Set(models.map((m) => m.task))];
  info = await ask('about', { tasks });
  const ready = performance.now(); // since navigation started
  $('timing').dataset.readyMs = ready.toFixed(0);
  $('timing').textContent = `WebAssembly ready ${ready.toFixed(0)} ms after the page started loading.`;
  if (tasks.length === 0) return setStatus('no checkpoints are shipped', true);
  for (const t of info.tasks) $('task').add(new Option(TASK_LABELS[t.name] || t.name, t.name));
  $('task').addEventListener('change', taskChanged);
  $('form').addEventListener('input', (ev) => { if (ev.target !== $('task')) check(); });
  $('form').addEventListener('submit', (ev) => { ev.preventDefault(); run([$('model').value]); });
  $('compare').addEventListener('click', () => run(modelsOf($('task').value).map((m) => m.name)));
  taskChanged();
}

// taskChanged fills the checkpoint list and the sampler defaults (one step per answer token,
// one block). The problem seed, sampler seed and temperature stay, so the same problem can be
// run on another checkpoint.
function taskChanged() {
  const task = $('task').value;
  const sel = $('model');
  sel.replaceChildren(...modelsOf(task).map((m) => new Option(`${m.name} (${(m.bytes / 1e6).toFixed(1)} MB)`, m.name)));
  const n = taskInfo(task).answerLen;
  $('steps').value = n;
  $('block').value = n;
  for (const el of document.querySelectorAll('.own')) el.hidden = el.dataset.task !== task;
  check();
}

// ---- the form ----

// whole reads a non-negative integer field, or throws an error naming it.
function whole(id, label, max) {
  const s = $(id).value.trim();
  if (!/^\d+$/.test(s) || Number(s) > max) throw new Error(`${label}: give a whole number from 0 to ${max}`);
  return Number(s);
}

// ownProblem turns the typed problem into the task's JSONL line; Go's parser checks the rest.
function ownProblem(task) {
  switch (task) {
    case 'countdown': {
      const nums = $('cd-numbers').value.split(/[\s,]+/).filter((s) => s !== '');
      for (const s of nums) {
        if (!/^\d{1,9}$/.test(s)) throw new Error(`numbers: "${s}" is not a whole number`);
      }
      const target = $('cd-target').value.trim();
      if (!/^\d{1,9}$/.test(target)) throw new Error(`target: "${target}" is not a whole number`);
      return JSON.stringify({ numbers: nums.map(Number), target: Number(target) });
    }
    case 'sudoku':
      return JSON.stringify({ puzzle: $('sd-puzzle').value.trim() });
    case 'arithmetic':
      return JSON.stringify({ question: $('ar-question').value.trim() });
  }
  throw new Error(`typed problems are not supported for ${task}`);
}

function buildRequest() {
  const task = $('task').value;
  const temperature = Number($('temperature').value);
  if ($('temperature').value.trim() === '' || !Number.isFinite(temperature) || temperature < 0) {
    throw new Error('temperature: give a number ≥ 0');
  }
  const req = {
    task,
    steps: whole('steps', 'steps', 10000),
    block: whole('block', 'block length', 10000),
    temperature,
    remasking: $('remasking').value,
    seed: whole('seed', 'seed', 2 ** 32 - 1),
  };
  if (document.querySelector('input[name=source]:checked').value === 'own') req.problem = ownProblem(task);
  else req.problemSeed = whole('problem-seed', 'problem seed', Number.MAX_SAFE_INTEGER);
  return req;
}

// check validates the form as it is edited: JavaScript checks the fields' syntax, then Go
// resolves the request (the task's JSONL parser, the sampler's schedule rules) and either
// shows the problem's prompt or says what is wrong.
let checking = 0;
async function check() {
  const mine = ++checking;
  let text;
  let ok = false;
  try {
    const p = await ask('describe', { request: buildRequest() });
    text = `prompt: ${p.prompt}`;
    ok = true;
  } catch (e) {
    text = e.message;
  }
  if (mine !== checking) return; // a later edit has been checked meanwhile
  formOK = ok;
  $('problem-view').textContent = text;
  $('problem-view').classList.toggle('error', !ok);
  updateButtons();
  if (!busy) setStatus(ok ? 'ready' : 'fix the form to run');
}

function updateButtons() {
  $('run').disabled = busy || !formOK;
  const n = modelsOf($('task').value).length;
  $('compare').disabled = busy || !formOK || n < 2;
  $('compare').title = n < 2 ? 'only one checkpoint of this task is shipped so far' : 'run every checkpoint of this task on the same problem and seed';
}

// ---- runs ----

async function run(names) {
  if (busy) return;
  busy = true;
  updateButtons();
  $('runs').replaceChildren();
  let req;
  let problem;
  try {
    req = buildRequest();
    problem = await ask('describe', { request: req });
  } catch (e) {
    busy = false;
    updateButtons();
    return setStatus(e.message, true);
  }
  const panels = names.map((name) => new Panel(name, req, problem));
  for (const p of panels) {
    setStatus(`running ${p.name}…`);
    const t0 = performance.now();
    try {
      const res = await ask('run', { model: p.name, url: models.find((m) => m.name === p.name).url, request: req }, {
        onStep: (s) => {
          if (s.step >= 0 && p.firstMs === undefined) p.firstMs = performance.now() - t0;
          p.add(s);
        },
        onLoaded: (ms) => { p.loadMs = ms; },
      });
      p.finish(res, performance.now() - t0);
    } catch (e) {
      p.fail(e.message);
    }
  }
  busy = false;
  updateButtons();
  setStatus('done');
}

// confidenceColour maps a probability to a background: red (unsure) through yellow to green.
const confidenceColour = (c) => `hsl(${(120 * c).toFixed(0)}, 75%, 78%)`;

// Panel is one checkpoint's run: a board, a step slider and the verdict.
class Panel {
  constructor(name, req, problem) {
    this.name = name;
    this.req = req;
    this.problem = problem;
    this.task = req.task;
    this.states = [];
    this.res = null;
    this.follow = true; // the slider tracks the newest step until the user moves it
    this.el = $('panel').content.firstElementChild.cloneNode(true);
    this.el.dataset.model = name;
    this.el.dataset.done = '0';
    this.el.querySelector('.name').textContent = name;
    this.el.querySelector('.settings').textContent =
      `${req.steps} steps · block ${req.block} · T=${req.temperature} · ${req.remasking} · seed ${req.seed}`;
    this.el.querySelector('.prompt').textContent = `prompt ${problem.prompt}`;
    this.board = this.el.querySelector('.board');
    this.board.classList.add(this.task);
    this.slider = this.el.querySelector('.slider');
    this.slider.addEventListener('input', () => {
      this.follow = Number(this.slider.value) === this.states.length - 1;
      this.stopReplay();
      this.show(Number(this.slider.value));
    });
    this.play = this.el.querySelector('.play');
    this.play.addEventListener('click', () => this.replay());
    $('runs').append(this.el);
  }

  add(state) {
    this.states.push(state);
    this.slider.max = this.states.length - 1;
    if (this.follow) {
      this.slider.value = this.states.length - 1;
      this.show(this.states.length - 1);
    }
  }

  finish(res, totalMs) {
    this.res = res;
    this.states = res.states;
    this.slider.max = this.states.length - 1;
    this.show(Number(this.slider.value));
    this.play.disabled = false;
    const v = this.el.querySelector('.verdict');
    v.textContent = `answer “${res.answer}” · reward ${res.reward.toFixed(2)} of 4 · ${res.correct ? 'right ✓' : 'wrong ✗'}` +
      (res.problem.reference ? ` (a reference answer: ${res.problem.reference})` : '');
    v.classList.add(res.correct ? 'right' : 'wrong');
    Object.assign(v.dataset, { answer: res.answer, reward: String(res.reward), correct: String(res.correct) });
    Object.assign(this.el.dataset, { done: '1', firstTokenMs: this.firstMs.toFixed(1), totalMs: totalMs.toFixed(1) });
    if (this.loadMs !== undefined) this.el.dataset.loadMs = this.loadMs.toFixed(1);
    $('timing').textContent = `WebAssembly ready ${$('timing').dataset.readyMs} ms after the page started loading. ` +
      `Last run: first token ${this.firstMs.toFixed(0)} ms after Run` +
      (this.loadMs !== undefined ? ` (${this.loadMs.toFixed(0)} ms of it fetching and decoding the checkpoint)` : '') +
      `, all ${res.stepsRun} steps in ${totalMs.toFixed(0)} ms.`;
  }

  fail(message) {
    const v = this.el.querySelector('.verdict');
    v.textContent = message;
    v.classList.add('error');
    this.el.dataset.done = 'error';
  }

  // show draws state k: masks, the tokens revealed at its step, every revealed token coloured
  // by its confidence when it was revealed (carried by each step while the run goes on, and by
  // the result once it has finished; a revealed token never changes).
  show(k) {
    const s = this.states[k];
    if (!s) return;
    const fresh = new Set(s.revealed || []);
    const prompt = this.problem.prompt;
    const cells = [];
    for (let j = 0; j < s.tokens.length; j++) {
      const id = s.tokens[j];
      const c = document.createElement('span');
      c.className = 'cell';
      if (id === info.mask) {
        c.classList.add('mask');
      } else if (id === info.eos) {
        c.classList.add('eos');
        c.textContent = '·';
      } else {
        c.textContent = info.glyphs[id];
      }
      if (fresh.has(j)) c.classList.add('fresh');
      if (this.task === 'sudoku' && /[1-4]/.test(prompt[j] || '')) {
        c.classList.add('clue');
        if (id !== info.mask && info.glyphs[id] !== prompt[j]) c.classList.add('clash');
      }
      // A Sudoku has one solution, so a finished grid's wrong cells can be marked.
      const solution = this.task === 'sudoku' && this.res ? this.res.problem.reference : '';
      if (solution && id !== info.mask && info.glyphs[id] !== solution[j]) c.classList.add('off');
      if (id !== info.mask && this.res && !this.res.filled[j]) {
        const conf = this.res.confidence[j];
        c.style.backgroundColor = confidenceColour(conf);
        c.title = `revealed at step ${this.res.revealStep[j] + 1}, probability ${conf.toFixed(3)}, entropy ${this.res.entropy[j].toFixed(2)}`;
      } else if (id !== info.mask && !this.res && s.confidence && !s.fill) {
        // While the run goes on, each step carries the confidences recorded so far.
        c.style.backgroundColor = confidenceColour(s.confidence[j]);
      } else if (id !== info.mask && !this.res) {
        c.classList.add('pending');
      }
      cells.push(c);
    }
    this.board.replaceChildren(...cells);
    this.board.dataset.state = s.tokens.map((id) => (id === info.mask ? '_' : info.glyphs[id])).join('');
    const total = this.res ? this.res.stepsRun : this.req.steps;
    this.el.querySelector('.step-label').textContent =
      s.step < 0 ? `start: all ${s.tokens.length} masked` :
      s.fill ? `after step ${s.step}: a block came out all end-of-answer, the rest is filled` :
      `step ${s.step + 1} of ${total}: ${fresh.size} revealed`;
  }

  replay() {
    this.stopReplay();
    let k = 0;
    const tick = () => {
      this.slider.value = k;
      this.show(k);
      if (++k < this.states.length) this.timer = setTimeout(tick, 300);
    };
    tick();
  }

  stopReplay() {
    clearTimeout(this.timer);
  }
}

init().catch((e) => setStatus(`could not start: ${e.message}`, true));
