// browser.mjs: drives the finsent dashboard in headless Chromium with
// playwright-core (tests/browser/run.sh starts Redis and the daemon first).
//
// usage: node browser.mjs URL OUTDIR ALERT(0|1)
// Checks, failing with a message and exit 1:
//   - the scope table fills, sorted by negative share, rows are focusable;
//   - the chart draws (uPlot canvas) for the default scope;
//   - the keyboard path works: "/" focuses the search box, typing ACME and
//     Enter selects entity:ACME (chart title changes, row selected), arrow
//     keys move through rows and Enter selects;
//   - the latest items show labels and probabilities;
//   - ALERT=1 (run.sh raises one on entity:ACME: the planted burst with the
//     shipped model, a volume-only rule with a parity model): the $ACME alert
//     is in the alert list as firing, its row carries the firing badge and the
//     firing KPI counts it.
// Saves OUTDIR/dashboard.png (and dashboard-acme.png) either way.
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
  const rows = await page.$$eval('#scope-table tbody tr', (trs) => trs.map((tr) => ({
    scope: tr.dataset.scope,
    tab: tr.tabIndex,
    rate: parseFloat(tr.children[2].textContent) || 0,
  })));
  if (rows.length < 3) fail('expected several scopes, got ' + rows.length);
  if (!rows.some((r) => r.scope === 'all')) fail('no "all" scope row');
  if (!rows.some((r) => r.scope === 'entity:ACME')) fail('no entity:ACME row');
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].rate > rows[i - 1].rate + 1e-9) fail('scope table not sorted by negative share at row ' + i);
  }
  if (rows.some((r) => r.tab !== 0)) fail('scope rows are not focusable');

  // Chart for the default scope.
  await page.waitForSelector('#chart canvas', { timeout: 15000 }).catch(() => fail('no chart canvas'));
  const chartBox = await page.$eval('#chart canvas', (c) => ({ w: c.width, h: c.height }));
  if (chartBox.w < 300 || chartBox.h < 200) fail('chart too small: ' + JSON.stringify(chartBox));

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

  if (foreign.length) fail('the page fetched outside the daemon: ' + foreign.join(', '));
  if (errors.length) fail('page errors: ' + errors.join(' | '));
  console.log('browser test: OK (' + rows.length + ' scopes' + (planted ? ', $ACME alert seen' : '') + ')');
} catch (e) {
  if (!process.exitCode) { console.error('browser test: FAIL: ' + e.message); process.exitCode = 1; }
} finally {
  await browser.close();
}
