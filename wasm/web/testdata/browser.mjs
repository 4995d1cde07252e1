// The browser demo's end-to-end check, run by TestBrowser (browser_test.go), which starts
// `demo serve`, computes the native results and writes the config this script reads:
//
//   node browser.mjs CONFIG.json
//
// CONFIG: {url, chromium, outDir, docShot, cases: [{name, task, model, puzzle | numbers+target |
// problemSeed, steps, block, temperature, remasking, seed, expect: {states, answer, reward,
// correct}}]}. For each case it fills the form, presses Run, waits for the end, scrubs the step
// slider through every recorded state and checks each against the native one, checks the
// answer and reward, and saves screenshots. It writes outDir/result.json with the timings and
// exits 1 with the reason on the first mismatch.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// The flags from docs/tooling-notes: headless, no sandbox (CI containers run as root), no GPU,
// and none of Chromium's own network traffic (nothing outside this machine is reachable).
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function assert(ok, message) {
  if (!ok) throw new Error(message);
}

// A fresh profile each time: a reused one could serve the page from an old cache.
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agrpo-chromium-'));
const t0 = performance.now();
const browser = await chromium.launchPersistentContext(profile, { executablePath: cfg.chromium, headless: true, args });
const result = { launchMs: performance.now() - t0, cases: [] };
const problems = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(120000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(cfg.url);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  result.wasmReadyMs = Number(await page.getAttribute('#timing', 'data-ready-ms'));

  // Typed problems: a bad one shows the parser's reason and disables Run.
  const expectFormError = async (want) => {
    await page.waitForFunction((w) => {
      const v = document.getElementById('problem-view');
      return v.classList.contains('error') && v.textContent.includes(w);
    }, want);
    assert(await page.isDisabled('#run'), `Run is enabled although the form says "${want}"`);
  };
  await page.selectOption('#task', 'sudoku');
  await page.check('input[name=source][value=own]');
  await page.fill('#sd-puzzle', '12');
  await expectFormError('is 2 bytes, want 16');
  await page.fill('#sd-puzzle', '11' + '.'.repeat(14));
  await expectFormError('repeats');
  await page.selectOption('#task', 'countdown');
  await page.fill('#cd-numbers', '3 x 12');
  await expectFormError('numbers: "x" is not a whole number');
  await page.fill('#cd-numbers', '3 7');
  await expectFormError('numbers: want 3, got 2');
  await page.fill('#steps', '13');
  await page.fill('#cd-numbers', '3 7 12');
  await expectFormError('steps = 13');
  // Put the typed problems back to valid ones (the screenshots show the form).
  await page.fill('#steps', '12');
  await page.selectOption('#task', 'sudoku');
  await page.fill('#sd-puzzle', '..2..34.3...41..');

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
    await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
    await page.$$eval('.panel', (ps) => ps.forEach((p) => { p.dataset.stale = '1'; }));
    await page.click('#run');
    const panel = `.panel[data-model="${c.model}"]:not([data-stale])`;
    await page.waitForSelector(`${panel}[data-done="1"], ${panel}[data-done="error"]`);
    const verdict = await page.$eval(`${panel} .verdict`, (v) => ({ text: v.textContent, ...v.dataset }));
    assert(verdict.answer !== undefined, `${c.name}: the run failed: ${verdict.text}`);

    // Scrub through every state; each must be the native one.
    const states = c.expect.states;
    const max = Number(await page.getAttribute(`${panel} .slider`, 'max'));
    assert(max === states.length - 1, `${c.name}: the slider has ${max + 1} states, native Go recorded ${states.length}`);
    const setStep = (k) => page.$eval(`${panel} .slider`, (el, v) => {
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      return el.closest('.panel').querySelector('.board').dataset.state;
    }, k);
    const shown = [];
    for (let k = max; k >= 0; k--) shown[k] = await setStep(k); // backwards, then forwards below
    for (let k = 0; k <= max; k++) {
      const again = await setStep(k);
      assert(shown[k] === states[k] && again === states[k],
        `${c.name}: the slider's state ${k} shows ${shown[k]} (then ${again}), native Go ${states[k]}`);
    }
    assert(new Set(shown).size > 2, `${c.name}: scrubbing shows only ${new Set(shown).size} distinct states`);
    assert(verdict.answer === c.expect.answer && Number(verdict.reward) === c.expect.reward &&
      verdict.correct === String(c.expect.correct),
      `${c.name}: the page shows answer "${verdict.answer}", reward ${verdict.reward}, correct ${verdict.correct}; ` +
      `native Go "${c.expect.answer}", ${c.expect.reward}, ${c.expect.correct}`);

    const mid = Math.floor(max / 2);
    await setStep(mid);
    await page.locator(panel).screenshot({ path: path.join(cfg.outDir, `${c.name}-step${mid}.png`) });
    if (c.docShot) await page.screenshot({ path: c.docShot, fullPage: true });
    await setStep(max);
    await page.screenshot({ path: path.join(cfg.outDir, `${c.name}.png`), fullPage: true });
    const ds = await page.$eval(panel, (p) => ({ ...p.dataset }));
    result.cases.push({ name: c.name, answer: verdict.answer, reward: Number(verdict.reward),
      firstTokenMs: Number(ds.firstTokenMs), totalMs: Number(ds.totalMs),
      checkpointLoadMs: ds.loadMs === undefined ? null : Number(ds.loadMs), states: max + 1 });
  }
  assert(problems.length === 0, `the page reported errors:\n${problems.join('\n')}`);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
fs.writeFileSync(path.join(cfg.outDir, 'result.json'), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
