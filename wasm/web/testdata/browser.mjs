// The browser demo's end-to-end check, run by TestBrowser (browser_test.go), which starts
// `demo serve`, computes the native results and writes the config this script reads:
//
//   node browser.mjs CONFIG.json
//
// CONFIG: {url, chromium, outDir, docShots: {desktop, phone}, firstScreen: {task, problemSeed,
// panels: [{name, accuracy, answer, correct}]}, cases: [{name, task, model, puzzle |
// numbers+target | problemSeed, steps, block, temperature, remasking, seed, expect: {states,
// answer, reward, correct}}]}. In order it checks:
//
//   - while the WebAssembly loads, the form is hidden, not half-drawn;
//   - the first screen: the showcase task's checkpoints, each with its accuracies from
//     accuracy.json, compared on the showcase problem with the native answers, side by side,
//     the status announcing the result; the legend has every mark a board uses;
//   - every control has an accessible name, distinct across compare panels; keyboard focus on
//     a token shows its confidence;
//   - at 390×844 nothing overflows the viewport and replay buttons sit inside their panels;
//   - the form has no browser constraints and gives its own messages, in the page's words;
//   - a compare can be cancelled while a checkpoint downloads (shown as downloading), and
//     switching task stops the runs; a failed download names the checkpoint and leaves the
//     status in error; a worker that cannot load is named;
//   - each case: fill the form, Run, scrub the step slider through every recorded state and
//     compare each with the native one, the answer and the reward, save screenshots.
//
// It writes outDir/result.json with the timings and exits 1 with the reason on the first
// failed check.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// The flags from docs/tooling-notes: headless, no sandbox (CI containers run as root), no GPU,
// and none of Chromium's own network traffic (nothing outside this machine is reachable).
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

function assert(ok, message) {
  if (!ok) throw new Error(message);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A fresh profile each time: a reused one could serve the page from an old cache.
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agrpo-chromium-'));
const t0 = performance.now();
const browser = await chromium.launchPersistentContext(profile, { executablePath: cfg.chromium, headless: true, args, viewport: DESKTOP });
const result = { launchMs: performance.now() - t0, cases: [] };
const problems = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(120000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The one failure provoked on purpose (a checkpoint answered 404) logs a console error.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.includes('countdown-diffugrpo')) problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  const status = () => page.$eval('#status', (s) => ({ text: s.textContent, state: s.dataset.state }));
  const waitState = (...states) => page.waitForFunction((ss) => ss.includes(document.getElementById('status').dataset.state), states);

  // While loading: the WebAssembly is held back a second, so the page is seen mid-load.
  await page.route('**/main.wasm', async (r) => { await sleep(1000); await r.continue(); });
  await page.goto(cfg.url);
  const loading = await page.evaluate(() => ({
    form: document.getElementById('form').hidden,
    own: [...document.querySelectorAll('.own')].filter((e) => !e.hidden).length,
    state: document.getElementById('status').dataset.state,
  }));
  assert(loading.form && loading.own === 0 && loading.state === 'loading',
    `while loading, the form is ${loading.form ? 'hidden' : 'shown'}, ${loading.own} "my own" inputs shown, status ${loading.state}`);
  await page.unroute('**/main.wasm');

  // The first screen: the showcase comparison, run by itself.
  const first = cfg.firstScreen;
  await waitState('done', 'error');
  result.wasmReadyMs = Number(await page.getAttribute('#timing', 'data-ready-ms'));
  let st = await status();
  assert(st.state === 'done', `the first screen's comparison ended with "${st.text}"`);
  assert(await page.inputValue('#task') === first.task && await page.inputValue('#problem-seed') === String(first.problemSeed),
    'the page does not open on the showcase task and problem');
  const shown = await page.$$eval('.panel', (ps) => ps.map((p) => ({ name: p.dataset.model, ...p.querySelector('.verdict').dataset,
    prompt: p.querySelector('.prompt').textContent, top: p.getBoundingClientRect().top })));
  assert(shown.map((p) => p.name).join() === first.panels.map((p) => p.name).join(),
    `the first screen compares ${shown.map((p) => p.name)}, want ${first.panels.map((p) => p.name)}`);
  for (const [i, want] of first.panels.entries()) {
    const got = shown[i];
    assert(got.answer === want.answer && got.correct === String(want.correct),
      `first screen, ${want.name}: the page shows "${got.answer}" (${got.correct}), native Go "${want.answer}" (${want.correct})`);
    const line = await page.$eval(`#model-list li[data-model="${want.name}"]`, (li) => li.textContent);
    for (const part of want.accuracy) assert(line.includes(part), `the line for ${want.name} lacks "${part}": ${line}`);
    assert(/reinforcement learning|supervised/.test(line), `the line for ${want.name} does not say what it is: ${line}`);
  }
  // The first panel's timing is the first use of a checkpoint: download and decode included.
  const ds0 = await page.$eval('.panel', (p) => ({ ...p.dataset }));
  result.firstScreen = { name: `first screen, ${ds0.model}`, firstTokenMs: Number(ds0.firstTokenMs), totalMs: Number(ds0.totalMs),
    checkpointLoadMs: ds0.loadMs === undefined ? null : Number(ds0.loadMs) };
  assert(new Set(first.panels.map((p) => p.correct)).size === 2, 'the showcase problem does not tell the checkpoints apart');
  assert(shown.every((p) => p.top === shown[0].top), `at ${DESKTOP.width} px the compare panels are not side by side`);
  assert(shown.every((p) => /^fill the \d+ empty cells/.test(p.prompt)), `the prompt is not in words: ${shown[0].prompt}`);
  for (const want of first.panels) {
    assert(st.text.includes(`${want.name} ${want.correct ? 'right' : 'wrong'}`), `the status does not announce ${want.name}'s result: ${st.text}`);
  }

  // One live region, the status; the boards are not live, so steps are not announced.
  const live = await page.$$eval('[aria-live], [role=status], [role=alert]', (es) => es.map((e) => e.id || e.className));
  assert(live.join() === 'status', `live regions: ${live}, want only the status`);
  // The legend explains every mark a board can carry.
  for (const mark of ['fresh', 'mask', 'eos', 'filled', 'clue', 'clash', 'off']) {
    assert(await page.$(`.legend .cell.sample.${mark}`), `the legend has no sample of the "${mark}" mark`);
  }

  // Every visible control has an accessible name, and no two share one.
  const names = await page.$$eval('input, select, button', (es) => es.filter((e) => e.offsetParent !== null).map((e) => {
    const by = e.getAttribute('aria-labelledby');
    const name = e.getAttribute('aria-label') || (by && document.getElementById(by).textContent) ||
      [...(e.labels || [])].map((l) => l.textContent).join(' ') || (e.tagName === 'BUTTON' ? e.textContent : '');
    return { what: e.id || e.className || e.type, name: name.replace(/\s+/g, ' ').trim() };
  }));
  const unnamed = names.filter((n) => n.name === '');
  assert(unnamed.length === 0, `controls without an accessible name: ${unnamed.map((n) => n.what)}`);
  const seen = new Map();
  for (const n of names) {
    assert(!seen.has(n.name), `two controls are both named "${n.name}": ${seen.get(n.name)}, ${n.what}`);
    seen.set(n.name, n.what);
  }
  if (cfg.docShots.desktop) await page.screenshot({ path: cfg.docShots.desktop });
  // Confidence without a mouse: the board is one tab stop, arrows move, focus shows numbers.
  const rl = `.panel[data-model="${first.panels[1].name}"]`;
  await page.focus(`${rl} .cell[tabindex="0"]`);
  const detail0 = await page.textContent(`${rl} .detail`);
  await page.keyboard.press('ArrowRight');
  const detail1 = await page.textContent(`${rl} .detail`);
  assert(/probability \d/.test(detail0) && /column 2/.test(detail1) && detail0 !== detail1,
    `keyboard focus on the board shows "${detail0}", then "${detail1}"`);

  // A phone: nothing wider than the screen, the replay buttons inside their panels.
  const checkPhone = async (when, shot) => {
    await page.setViewportSize(PHONE);
    const fit = await page.evaluate(() => ({
      width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
      outside: [...document.querySelectorAll('.panel')].filter((p) => {
        const a = p.getBoundingClientRect();
        const b = p.querySelector('.play').getBoundingClientRect();
        return b.left < a.left || b.right > a.right || b.top < a.top || b.bottom > a.bottom;
      }).map((p) => p.dataset.model),
    }));
    assert(fit.width <= PHONE.width, `${when}: at ${PHONE.width} px the page is ${fit.width} px wide`);
    assert(fit.outside.length === 0, `${when}: replay buttons outside their panels: ${fit.outside}`);
    if (shot) await page.screenshot({ path: shot });
    await page.setViewportSize(DESKTOP);
  };
  await checkPhone('the first screen', cfg.docShots.phone);

  // The form: no browser constraints that would refuse to submit silently, and the page's own
  // messages, in its words.
  const constraints = await page.$$eval('#form [min], #form [max], #form [step], #form [pattern], #form [required], #form [maxlength]', (es) => es.map((e) => e.id));
  assert(constraints.length === 0 && await page.$eval('#form', (f) => f.noValidate), `browser constraints on ${constraints}`);
  const engineWords = /bytes|tokens|block_length|gen_length|give "|JSONL|want \d/;
  const expectFormError = async (want) => {
    await page.waitForFunction((w) => {
      const v = document.getElementById('problem-view');
      return v.classList.contains('error') && v.textContent.includes(w);
    }, want);
    const text = await page.textContent('#problem-view');
    assert(!engineWords.test(text), `the message "${text}" is in the engine's words`);
    assert(await page.isDisabled('#run') && await page.isDisabled('#compare'), `Run is enabled although the form says "${text}"`);
    assert((await status()).text === 'fix the form to run', 'the status does not say the form needs fixing');
  };
  const expectReady = async (want) => {
    await page.waitForFunction((w) => {
      const v = document.getElementById('problem-view');
      return !v.classList.contains('error') && v.textContent.includes(w);
    }, want);
    assert(!await page.isDisabled('#run'), `Run is disabled although the form says "${await page.textContent('#problem-view')}"`);
  };
  // Each edit in turn (a task, then a problem source, then fields), and what the form then says.
  const edits = [
    { fill: { '#temperature': '0.25' }, ready: 'Problem: fill the' }, // step="0.1" refused this
    { fill: { '#steps': 'abc' }, error: 'Steps: type a whole number' },
    { fill: { '#steps': '0', '#block': '5' }, error: 'a block must be 1, 2, 4, 8 or 16 long' },
    { fill: { '#block': '0' }, ready: 'Problem:' }, // min="1" refused this
    { source: 'own', fill: { '#sd-puzzle': '12' }, error: 'type the 16 cells row by row (there are 2)' },
    { fill: { '#sd-puzzle': '11' + '.'.repeat(14) }, error: 'repeats' },
    { fill: { '#sd-puzzle': '1' + '.'.repeat(15) }, error: 'more than one solution' },
    { task: 'countdown', fill: { '#cd-numbers': '3 x 12' }, error: 'Numbers: type three whole numbers' },
    { fill: { '#cd-numbers': '3 7' }, error: '(there are 2)' },
    { fill: { '#cd-numbers': '12345 678 9' }, error: 'at most 9 digits' },
    { fill: { '#cd-numbers': '1 1 1', '#cd-target': '100' }, ready: '100 cannot be reached with 1, 1 and 1' },
    { fill: { '#cd-numbers': '3 7 12', '#cd-target': '33', '#steps': '13' }, error: 'Steps: from 1 to 12' },
    { source: 'test', fill: { '#steps': '12', '#temperature': '0' }, ready: 'Problem: reach' },
  ];
  for (const e of edits) {
    if (e.task) await page.selectOption('#task', e.task);
    if (e.source) await page.check(`input[name=source][value=${e.source}]`);
    for (const [field, value] of Object.entries(e.fill)) await page.fill(field, value);
    await (e.error ? expectFormError(e.error) : expectReady(e.ready));
  }

  // Cancelling, while a checkpoint downloads (held back so the download lasts).
  await page.route('**/models/countdown-*.safetensors', async (r) => { await sleep(1500); await r.continue().catch(() => {}); });
  await page.click('#compare');
  await page.waitForFunction(() => /^downloading checkpoint countdown-base/.test(document.getElementById('status').textContent));
  assert(/downloading checkpoint countdown-base/.test(await page.textContent('.panel[data-model="countdown-base"] .step-label')),
    'the panel of a downloading checkpoint does not say so');
  await page.click('#cancel');
  st = await status();
  const after = await page.$$eval('.panel', (ps) => ps.map((p) => p.dataset.done));
  assert(st.state === 'cancelled' && after.every((d) => d === 'cancelled') && after.length === 3,
    `after Cancel: status "${st.text}" (${st.state}), panels ${after}`);
  assert(!await page.isDisabled('#compare') && await page.isHidden('#cancel'), 'after Cancel the page is not ready for another run');
  // Switching task stops the runs: nothing of the old task's comes back.
  await page.click('#compare');
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'busy');
  await page.selectOption('#task', 'sudoku');
  await sleep(2500);
  st = await status();
  const left = await page.$$eval('.panel', (ps) => ps.length);
  assert(st.state === 'ready' && left === 0, `after switching task during a compare: status "${st.text}", ${left} panels`);
  await page.unroute('**/models/countdown-*.safetensors');

  // A failed download names the checkpoint and leaves the status in error.
  await page.route('**/models/countdown-diffugrpo.safetensors', (r) => r.fulfill({ status: 404, body: 'not here' }));
  await page.selectOption('#task', 'countdown');
  await expectReady('Problem: reach');
  await page.click('#compare');
  await waitState('done', 'error');
  st = await status();
  const failed = await page.$eval('.panel[data-model="countdown-diffugrpo"]', (p) => ({ done: p.dataset.done, text: p.querySelector('.verdict').textContent }));
  assert(st.state === 'error' && st.text.includes('countdown-diffugrpo') && failed.done === 'error' &&
    failed.text.includes('could not download checkpoint countdown-diffugrpo'),
    `a failed download: status "${st.text}" (${st.state}), panel "${failed.text}"`);
  await page.unroute('**/models/countdown-diffugrpo.safetensors');
  await checkPhone('a Countdown compare');

  for (const c of cfg.cases) {
    await page.selectOption('#task', c.task);
    await page.selectOption('#model', c.model);
    if (c.problemSeed !== undefined) {
      await page.check('input[name=source][value=test]');
      await page.fill('#problem-seed', String(c.problemSeed));
    } else {
      await page.check('input[name=source][value=own]');
      if (c.task === 'sudoku') await page.fill('#sd-puzzle', c.puzzle);
      else {
        await page.fill('#cd-numbers', c.numbers);
        await page.fill('#cd-target', c.target);
      }
    }
    await page.fill('#steps', String(c.steps));
    await page.fill('#block', String(c.block));
    await page.fill('#temperature', String(c.temperature));
    await page.selectOption('#remasking', c.remasking);
    await page.fill('#seed', String(c.seed));
    await waitState('ready');
    await page.$$eval('.panel', (ps) => ps.forEach((p) => { p.dataset.stale = '1'; }));
    await page.click('#run');
    const panel = `.panel[data-model="${c.model}"]:not([data-stale])`;
    await page.waitForSelector(`${panel}[data-done="1"], ${panel}[data-done="error"]`);
    const verdict = await page.$eval(`${panel} .verdict`, (v) => ({ text: v.textContent, ...v.dataset }));
    assert(verdict.answer !== undefined, `${c.name}: the run failed: ${verdict.text}`);
    // 0 steps or block means the default, and the panel shows the number used.
    const settings = await page.textContent(`${panel} .settings`);
    const n = c.expect.states[0].length;
    assert(settings.startsWith(`${c.steps || n} steps · block ${c.block || n} `), `${c.name}: the panel says "${settings}"`);

    // Scrub through every state; each must be the native one.
    const states = c.expect.states;
    const max = Number(await page.getAttribute(`${panel} .slider`, 'max'));
    assert(max === states.length - 1, `${c.name}: the slider has ${max + 1} states, native Go recorded ${states.length}`);
    const setStep = (k) => page.$eval(`${panel} .slider`, (el, v) => {
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      return el.closest('.panel').querySelector('.board').dataset.state;
    }, k);
    const seenStates = [];
    for (let k = max; k >= 0; k--) seenStates[k] = await setStep(k); // backwards, then forwards below
    for (let k = 0; k <= max; k++) {
      const again = await setStep(k);
      assert(seenStates[k] === states[k] && again === states[k],
        `${c.name}: the slider's state ${k} shows ${seenStates[k]} (then ${again}), native Go ${states[k]}`);
    }
    assert(new Set(seenStates).size > 2, `${c.name}: scrubbing shows only ${new Set(seenStates).size} distinct states`);
    assert(verdict.answer === c.expect.answer && Number(verdict.reward) === c.expect.reward &&
      verdict.correct === String(c.expect.correct),
      `${c.name}: the page shows answer "${verdict.answer}", reward ${verdict.reward}, correct ${verdict.correct}; ` +
      `native Go "${c.expect.answer}", ${c.expect.reward}, ${c.expect.correct}`);

    const mid = Math.floor(max / 2);
    await setStep(mid);
    await page.locator(panel).screenshot({ path: path.join(cfg.outDir, `${c.name}-step${mid}.png`) });
    await setStep(max);
    await page.screenshot({ path: path.join(cfg.outDir, `${c.name}.png`), fullPage: true });
    const ds = await page.$eval(panel, (p) => ({ ...p.dataset }));
    result.cases.push({ name: c.name, answer: verdict.answer, reward: Number(verdict.reward),
      firstTokenMs: Number(ds.firstTokenMs), totalMs: Number(ds.totalMs),
      checkpointLoadMs: ds.loadMs === undefined ? null : Number(ds.loadMs), states: max + 1 });
  }
  assert(problems.length === 0, `the page reported errors:\n${problems.join('\n')}`);

  // A worker that cannot load is named, not "undefined".
  const broken = await browser.newPage();
  await broken.route('**/worker.js', (r) => r.fulfill({ status: 404, body: 'not here' }));
  await broken.goto(cfg.url);
  await broken.waitForFunction(() => document.getElementById('status').dataset.state === 'error');
  const why = await broken.textContent('#status');
  assert(why.includes('worker.js') && !why.includes('undefined'), `a worker that cannot load: "${why}"`);
  await broken.close();
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
fs.writeFileSync(path.join(cfg.outDir, 'result.json'), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
