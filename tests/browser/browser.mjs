// browser.mjs: drives the finsent dashboard in headless Chromium with
// playwright-core (tests/browser/run.sh starts Redis and the daemon first).
//
// usage: node browser.mjs URL OUTDIR ALERT(0|1)
// Checks, failing with a message and exit 1:
//   - the scope table fills, ranked by the lower Wilson bound of the negative
//     share (shown next to the share), rows are focusable; ALERT=1: during the
//     $ACME burst no scope with 3 items or fewer ranks above $ACME, and the
//     "min items" control hides small scopes;
//   - the chart draws (uPlot canvas) for the default scope;
//   - the keyboard path works: "/" focuses the search box, typing ACME and
//     Enter selects entity:ACME (chart title changes, row selected), arrow
//     keys move through rows and Enter selects;
//   - the latest items show labels and probabilities;
//   - ALERT=1 (run.sh raises one on entity:ACME: the planted burst with the
//     shipped model, a volume-only rule with a parity model): the $ACME alert
//     is in the alert list as firing, its row carries the firing badge and the
//     firing KPI counts it; a click on it opens its detail (counts at firing,
//     sample items with labels), and a sample's explanation tints its words;
//   - the chart of "all" is a history (items in >= 50 of the last 60 minutes);
//   - a click on a latest item explains it (words with deltas).
// Saves OUTDIR/dashboard.png, dashboard-acme.png, scopes-min10.png,
// alert-detail.png and explain.png.
import { chromium } from 'playwright-core';

const [url, outDir, alertArg] = process.argv.slice(2);
const planted = alertArg === '1';
const exe = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(msg) {
  console.error('browser test: FAIL: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // Nothing outside the daemon may be fetched (no CDN).
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) foreign.push(r.url()); });

  await page.goto(url, { waitUntil: 'load' });

  // Table of scopes.
  await page.waitForSelector('#scope-table tbody tr', { timeout: 20000 })
    .catch(() => fail('the scope table stayed empty'));
  const readRows = () => page.$$eval('#scope-table tbody tr', (trs) => trs.map((tr) => ({
    scope: tr.dataset.scope,
    tab: tr.tabIndex,
    n: Number(tr.children[1].textContent.replace(/,/g, '')),
    rate: parseFloat(tr.children[2].textContent) || 0,
    lower: parseFloat((tr.querySelector('.lower') || { textContent: '' }).textContent.replace(/[^0-9.]/g, '')),
  })));
  const rows = await readRows();
  if (rows.length < 3) fail('expected several scopes, got ' + rows.length);
  if (!rows.some((r) => r.scope === 'all')) fail('no "all" scope row');
  if (!rows.some((r) => r.scope === 'entity:ACME')) fail('no entity:ACME row');
  if (rows.some((r) => Number.isNaN(r.lower))) fail('a row lacks its lower bound');
  for (let i = 1; i < rows.length; i++) {
    // percentages with one decimal: equal bounds may come in either order
    if (rows[i].lower > rows[i - 1].lower + 0.05) fail('scope table not ranked by the lower bound at row ' + i);
  }
  if (planted) {
    const acme = rows.findIndex((r) => r.scope === 'entity:ACME');
    const noisy = rows.slice(0, acme).filter((r) => r.n <= 3);
    if (noisy.length) fail('scopes with 3 items or fewer outrank $ACME: ' + noisy.map((r) => r.scope).join(', '));
  }
  // The minimum count hides small scopes, and goes back.
  await page.fill('#min-n', '10');
  await page.dispatchEvent('#min-n', 'change');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#scope-table tbody tr'))
    .every((tr) => Number(tr.children[1].textContent.replace(/,/g, '')) >= 10), null, { timeout: 10000 })
    .catch(() => fail('min items 10 still lists smaller scopes'));
  await page.screenshot({ path: outDir + '/scopes-min10.png', fullPage: false });
  await page.fill('#min-n', '1');
  await page.dispatchEvent('#min-n', 'change');
  if (rows.some((r) => r.tab !== 0)) fail('scope rows are not focusable');

  // Chart for the default scope.
  await page.waitForSelector('#chart canvas', { timeout: 15000 }).catch(() => fail('no chart canvas'));
  const chartBox = await page.$eval('#chart canvas', (c) => ({ w: c.width, h: c.height }));
  if (chartBox.w < 300 || chartBox.h < 200) fail('chart too small: ' + JSON.stringify(chartBox));
  // The stream's event times span the last 77 minutes (backfilled history):
  // the 1h chart of "all" has items in nearly every minute, not one bar.
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.filled) >= 50,
    null, { timeout: 15000 }).catch(async () => fail('the chart is not a history: ' +
      await page.$eval('#chart', (c) => c.dataset.filled + ' of ' + c.dataset.steps + ' steps with items')));

  // Latest items with labels and probabilities.
  await page.waitForSelector('#item-table tbody tr .pill', { timeout: 15000 })
    .catch(() => fail('no items with sentiment labels'));
  const probs = await page.$$eval('#item-table tbody tr .probs-text', (els) => els.map((e) => e.textContent));
  if (!probs.length || !/neg \d\.\d\d · neu \d\.\d\d · pos \d\.\d\d/.test(probs[0])) {
    fail('items lack probabilities: ' + probs[0]);
  }

  // Sparklines are drawn (canvas pixels not all blank) for the top row.
  await page.waitForFunction(() => {
    const c = document.querySelector('#scope-table tbody tr canvas');
    if (!c) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
    return false;
  }, null, { timeout: 20000 }).catch(() => fail('sparklines are not drawn'));

  await page.screenshot({ path: outDir + '/dashboard.png', fullPage: true });

  // Keyboard: "/" then type the ticker and Enter.
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('/');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  if (focused !== 'search') fail('"/" did not focus the search box (focus on ' + focused + ')');
  await page.keyboard.type('ACME');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('chart-title').textContent.includes('$ACME'),
    null, { timeout: 10000 }).catch(() => fail('search + Enter did not select $ACME'));
  const selRow = await page.$eval('#scope-table tbody tr.sel', (tr) => tr.dataset.scope)
    .catch(() => null);
  if (selRow !== 'entity:ACME') fail('selected row is ' + selRow);

  // Arrow keys through the rows, Enter selects the focused one.
  await page.focus('#scope-table tbody tr:first-child');
  await page.keyboard.press('ArrowDown');
  const second = await page.evaluate(() => document.activeElement.dataset.scope);
  await page.keyboard.press('Enter');
  await page.waitForFunction((s) => {
    const tr = document.querySelector('#scope-table tbody tr.sel');
    return tr && tr.dataset.scope === s;
  }, second, { timeout: 5000 }).catch(() => fail('ArrowDown + Enter did not select ' + second));

  // Back to ACME for the alert checks and the second screenshot.
  await page.keyboard.press('/');
  await page.keyboard.type('entity:ACME');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('chart-title').textContent.includes('$ACME'),
    null, { timeout: 10000 });

  if (planted) {
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#alert-list li.firing'))
      .some((li) => li.dataset.scope === 'entity:ACME'), null, { timeout: 30000 })
      .catch(() => fail('the $ACME alert did not appear as firing'));
    await page.waitForSelector('#scope-table tr[data-scope="entity:ACME"] .badge.firing', { timeout: 15000 })
      .catch(() => fail('the $ACME row has no firing badge'));
    // the chart of $ACME draws a mark per alert of its scope in range
    await page.waitForFunction(() => Number(document.getElementById('chart').dataset.marks) >= 1,
      null, { timeout: 15000 }).catch(() => fail('the $ACME chart has no alert mark'));
    const kpi = await page.$eval('#kpi-firing', (e) => Number(e.textContent));
    if (!(kpi >= 1)) fail('firing KPI is ' + kpi);
  }
  await page.waitForTimeout(1500); // let the ACME chart and items settle
  await page.screenshot({ path: outDir + '/dashboard-acme.png', fullPage: true });

  if (planted) {
    // The alert's detail: rule, counts at firing, samples with labels, and an
    // explanation of the first sample with its words tinted.
    await page.click('#alert-list li.firing[data-scope="entity:ACME"]');
    await page.waitForSelector('#detail[open] .detail-counts tr[data-state="firing"] td.num', { timeout: 10000 })
      .catch(() => fail('the alert detail did not open with its counts'));
    const title = await page.$eval('#detail-title', (e) => e.textContent);
    if (!title.includes('$ACME') || !title.includes('entity_spike')) fail('alert detail title: ' + title);
    await page.waitForSelector('#detail .sample .pill', { timeout: 10000 })
      .catch(() => fail('the alert detail shows no sample item with its label'));
    await page.click('#detail .sample .explain-btn');
    await page.waitForSelector('#detail .sample .explain .w', { timeout: 30000 })
      .catch(() => fail('the sample was not explained'));
    await page.screenshot({ path: outDir + '/alert-detail.png', fullPage: false });
    await page.click('#detail-close');
  }

  // Any latest item: a click explains it; its most negative word is tinted red.
  await page.click('#item-table tbody tr:first-child');
  await page.waitForSelector('#detail[open] .explain .w', { timeout: 30000 })
    .catch(() => fail('clicking an item did not explain it'));
  const deltas = await page.$$eval('#detail .explain .w', (ws) => ws.map((w) => Number(w.dataset.delta)));
  if (!deltas.length || deltas.some((d) => Number.isNaN(d))) fail('explanation words lack deltas');
  await page.screenshot({ path: outDir + '/explain.png', fullPage: false });
  await page.click('#detail-close');

  if (foreign.length) fail('the page fetched outside the daemon: ' + foreign.join(', '));
  if (errors.length) fail('page errors: ' + errors.join(' | '));
  console.log('browser test: OK (' + rows.length + ' scopes' + (planted ? ', $ACME alert seen' : '') + ')');
} catch (e) {
  if (!process.exitCode) { console.error('browser test: FAIL: ' + e.message); process.exitCode = 1; }
} finally {
  await browser.close();
}
