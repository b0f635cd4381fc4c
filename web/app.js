/*
 * finsent dashboard: plain JavaScript over the read API (docs/dashboard.md).
 *
 * State lives in one object S; each panel has a refresh function (fetch +
 * render) run on its own timer. Everything that comes from the data (item
 * ids, scope names, entities) is put into the page with textContent, never
 * as HTML. Keyboard: "/" focuses the search box (Enter selects a scope),
 * arrow keys move through the scope table, Enter selects the focused row or
 * alert.
 */
(function () {
  'use strict';

  var POLL_RATES_MS = 5000, POLL_ALERTS_MS = 3000, POLL_ITEMS_MS = 5000;
  var POLL_CHART_MS = 10000, POLL_SPARK_MS = 30000;
  var MAX_ROWS = 100, MAX_SPARKS = 40, MAX_ALERTS_KEPT = 500;
  var RANGES = { 60: 1, 360: 5, 1440: 15 }; /* chart range (min) -> step (min) */

  var S = {
    window: null, windows: [], rates: [], selected: null, userPicked: false, minN: 1,
    range: 60, alerts: [], lastAlertId: null, active: [],
    spark: {}, chart: null, chartScope: null, series: null
  };

  /* ---- helpers --------------------------------------------------------- */

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function getJSON(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return { error: r.status + ' ' + r.statusText }; })
        .then(function (j) {
          if (!r.ok) throw new Error(j && j.error ? j.error : 'HTTP ' + r.status);
          return j;
        });
    });
  }

  function setConn(ok, msg) {
    var c = $('conn');
    c.className = 'conn ' + (ok ? 'ok' : 'bad');
    c.textContent = msg;
  }

  function pct(x) {
    if (x === null || x === undefined || isNaN(x)) return '–';
    return (x * 100).toFixed(x >= 0.995 || x === 0 ? 0 : 1) + '%';
  }

  function fmtInt(n) { return Number(n || 0).toLocaleString('en-US'); }

  function hhmm(d, secs) {
    var p = function (v) { return (v < 10 ? '0' : '') + v; };
    return p(d.getHours()) + ':' + p(d.getMinutes()) + (secs ? ':' + p(d.getSeconds()) : '');
  }

  /* a topic's slug as docs/redis.md defines it (alr_slug) */
  function slug(label) {
    return String(label).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  }

  /* topic labels seen in items, by slug: the table shows "Energy | Oil",
   * not "energy-oil", once an item of that topic has been seen */
  var topicLabels = {};

  function scopeParts(scope) {
    if (scope === 'all') return { kind: 'all', name: 'All items' };
    var i = scope.indexOf(':');
    var kind = scope.slice(0, i), name = scope.slice(i + 1);
    if (kind === 'topic') return { kind: 'topic', name: topicLabels[name] || name };
    return { kind: kind === 'entity' ? 'ticker' : kind, name: kind === 'entity' ? '$' + name : name };
  }

  function activeFor(scope) {
    var best = null;
    S.active.forEach(function (a) {
      if (a.scope === scope && (!best || a.state === 'firing')) best = a;
    });
    return best;
  }

  /* ---- scope table ----------------------------------------------------- */

  function refreshRates() {
    var q = '?min_n=' + S.minN + (S.window ? '&window=' + encodeURIComponent(S.window) : '');
    return getJSON('api/rates' + q).then(function (j) {
      setConn(true, 'live · ' + hhmm(new Date(), true));
      S.rates = j.scopes || [];
      if (!S.window || S.windows.join() !== (j.windows || []).join()) {
        S.windows = j.windows || [];
        S.window = j.window;
        fillWindows();
      }
      $('scopes-window').textContent = '· last ' + j.window;
      renderKpis();
      renderScopes();
      fillDatalist();
      if (!S.selected && S.rates.length) {
        var all = S.rates.filter(function (r) { return r.scope === 'all'; })[0];
        select((all || S.rates[0]).scope, false);
      }
    }).catch(function (e) { setConn(false, 'error: ' + e.message); });
  }

  function fillWindows() {
    var sel = $('window');
    sel.textContent = '';
    S.windows.forEach(function (w) {
      var o = el('option', null, w);
      o.value = w;
      if (w === S.window) o.selected = true;
      sel.appendChild(o);
    });
  }

  function renderKpis() {
    var all = S.rates.filter(function (r) { return r.scope === 'all'; })[0];
    $('kpi-items').textContent = all ? fmtInt(all.n) : '0';
    $('kpi-neg').textContent = all && all.n ? pct(all.neg_rate) : '–';
    $('kpi-scopes').textContent = fmtInt(S.rates.filter(function (r) { return r.scope !== 'all'; }).length);
    var firing = S.active.filter(function (a) { return a.state === 'firing'; }).length;
    $('kpi-firing').textContent = String(firing);
    $('kpi-firing').classList.toggle('alarm', firing > 0);
  }

  function renderScopes() {
    var tb = document.querySelector('#scope-table tbody');
    var focusedScope = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.scope : null;
    var rows = S.rates.slice(0, MAX_ROWS);
    tb.textContent = '';
    $('scopes-empty').hidden = rows.length > 0;
    rows.forEach(function (r) {
      var tr = el('tr');
      tr.tabIndex = 0;
      tr.dataset.scope = r.scope;
      if (r.scope === S.selected) { tr.className = 'sel'; tr.setAttribute('aria-selected', 'true'); }
      var p = scopeParts(r.scope);
      var td = el('td');
      td.appendChild(el('span', 'scope-kind', p.kind));
      td.appendChild(el('span', 'scope-name', p.name));
      var a = activeFor(r.scope);
      if (a) td.appendChild(el('span', 'badge ' + a.state, a.state));
      tr.appendChild(td);
      tr.appendChild(el('td', 'num', fmtInt(r.n)));
      var rt = el('td', 'num');
      var wrap = el('span', 'rate');
      var bar = el('span', 'bar'), fill = el('i');
      fill.style.width = Math.round(Math.min(1, r.neg_rate || 0) * 100) + '%';
      bar.appendChild(fill);
      wrap.appendChild(el('span', null, pct(r.neg_rate)));
      var lb = el('span', 'lower', '\u2265 ' + pct(r.lower || 0));
      lb.title = 'lower bound of the 95% Wilson interval: what the ranking uses';
      wrap.appendChild(lb);
      wrap.appendChild(bar);
      rt.appendChild(wrap);
      tr.appendChild(rt);
      var sp = el('td');
      var cv = el('canvas', 'spark');
      cv.width = 240; cv.height = 52;
      cv.setAttribute('aria-hidden', 'true');
      sp.appendChild(cv);
      tr.appendChild(sp);
      tb.appendChild(tr);
      if (S.spark[r.scope]) drawSpark(cv, S.spark[r.scope]);
      if (r.scope === focusedScope) tr.focus();
    });
  }

  function fillDatalist() {
    var dl = $('scope-list');
    dl.textContent = '';
    S.rates.slice(0, 500).forEach(function (r) {
      var o = el('option');
      o.value = r.scope;
      dl.appendChild(o);
    });
  }

  /* ---- sparklines -------------------------------------------------------- */

  function refreshSparks() {
    var to = Date.now(), from = to - 60 * 60000;
    var scopes = S.rates.slice(0, MAX_SPARKS).map(function (r) { return r.scope; });
    /* one request at a time: cheap for Redis, and the table fills in order */
    return scopes.reduce(function (p, scope) {
      return p.then(function () {
        return getJSON('api/series?scope=' + encodeURIComponent(scope) + '&from=' + from +
          '&to=' + to + '&step=5m').then(function (j) {
          S.spark[scope] = j;
          var cv = document.querySelector('#scope-table tr[data-scope="' + cssEscape(scope) + '"] canvas');
          if (cv) drawSpark(cv, j);
        }).catch(function () { /* a failed sparkline is simply left empty */ });
      });
    }, Promise.resolve());
  }

  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/"/g, '\\"'); }

  function drawSpark(cv, j) {
    var ctx = cv.getContext('2d'), w = cv.width, h = cv.height, n = j.t.length;
    var maxN = Math.max.apply(null, j.n.concat([1]));
    ctx.clearRect(0, 0, w, h);
    var bw = w / n;
    ctx.fillStyle = '#d5dbe5';
    for (var i = 0; i < n; i++) {
      var bh = Math.round((j.n[i] / maxN) * (h * 0.45));
      ctx.fillRect(i * bw + 1, h - bh, Math.max(1, bw - 2), bh);
    }
    ctx.strokeStyle = '#d64545';
    ctx.lineWidth = 3;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    var started = false;
    for (i = 0; i < n; i++) {
      var r = j.neg_rate[i];
      if (r === null) { started = false; continue; }
      var x = i * bw + bw / 2, y = 3 + (1 - r) * (h - 6);
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    }
    ctx.stroke();
  }

  /* ---- selection --------------------------------------------------------- */

  function select(scope, byUser) {
    if (byUser) S.userPicked = true;
    if (scope === S.selected) return;
    S.selected = scope;
    var p = scopeParts(scope);
    $('chart-title').textContent = (p.kind === 'all' ? '' : p.kind + ' ') + p.name;
    $('items-scope').textContent = $('items-follow').checked ? '· ' + scope : '';
    document.querySelectorAll('#scope-table tbody tr').forEach(function (tr) {
      var on = tr.dataset.scope === scope;
      tr.classList.toggle('sel', on);
      if (on) tr.setAttribute('aria-selected', 'true'); else tr.removeAttribute('aria-selected');
    });
    refreshChart();
    refreshItems();
  }

  /* search box: exact scope, "ACME"/"$ACME" as a ticker, or a topic/ticker
   * containing the text */
  function searchSelect() {
    var v = $('search').value.trim();
    if (!v) return;
    var scopes = S.rates.map(function (r) { return r.scope; });
    var lower = v.toLowerCase().replace(/^\$/, '');
    var hit = scopes.filter(function (s) { return s.toLowerCase() === v.toLowerCase(); })[0] ||
      scopes.filter(function (s) { return s.toLowerCase() === 'entity:' + lower; })[0] ||
      scopes.filter(function (s) { return s.toLowerCase() === 'topic:' + lower; })[0] ||
      scopes.filter(function (s) { return s.toLowerCase().indexOf(lower) >= 0; })[0];
    if (!hit && /^(all|topic:.+|entity:.+)$/.test(v)) hit = v; /* not current, still has history */
    if (hit) {
      select(hit, true);
      $('search').value = '';
      var row = document.querySelector('#scope-table tr[data-scope="' + cssEscape(hit) + '"]');
      if (row) row.scrollIntoView({ block: 'nearest' });
    } else {
      $('search').setCustomValidity('no such topic or ticker');
      $('search').reportValidity();
      setTimeout(function () { $('search').setCustomValidity(''); }, 1500);
    }
  }

  /* ---- chart --------------------------------------------------------------- */

  function marksFor(scope, fromMs, toMs) {
    return S.alerts.filter(function (a) {
      var t = Date.parse(a.ts);
      return a.scope === scope && t >= fromMs && t <= toMs;
    }).map(function (a) { return { t: Date.parse(a.ts) / 1000, state: a.state, threshold: a.threshold }; });
  }

  function markPlugin() {
    return {
      hooks: {
        draw: [function (u) {
          var marks = u._marks || [], ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
          var dpr = window.devicePixelRatio || 1;
          ctx.save();
          if (u._threshold !== null && u._threshold !== undefined) {
            var y = u.valToPos(u._threshold, 'rate', true);
            ctx.strokeStyle = 'rgba(214,69,69,0.55)';
            ctx.setLineDash([6 * dpr, 4 * dpr]);
            ctx.lineWidth = 1 * dpr;
            ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
            ctx.setLineDash([]);
          }
          marks.forEach(function (m) {
            var x = u.valToPos(m.t, 'x', true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            var col = m.state === 'firing' ? '#d64545' : '#2f9e6e';
            ctx.strokeStyle = col;
            ctx.lineWidth = 2 * dpr;
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
            ctx.fillStyle = col;
            ctx.font = (11 * dpr) + 'px system-ui, sans-serif';
            var label = m.state === 'firing' ? '▲ firing' : '▼ resolved';
            var tw = ctx.measureText(label).width;
            var tx = x + 4 * dpr + tw > u.bbox.left + u.bbox.width ? x - 4 * dpr - tw : x + 4 * dpr;
            ctx.fillText(label, tx, top + 12 * dpr);
          });
          ctx.restore();
        }]
      }
    };
  }

  function chartSize() {
    var w = $('chart').clientWidth || 600;
    return { width: w, height: Math.max(260, Math.min(380, Math.round(w * 0.5))) };
  }

  function makeChart(data, xr) {
    var sz = chartSize();
    var opts = {
      width: sz.width, height: sz.height,
      plugins: [markPlugin()],
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: true, range: function (u, lo, hi) { return u._xr || [lo, hi]; } }, rate: { range: [0, 1] }, n: { range: function (u, lo, hi) { return [0, Math.max(4, hi * 1.15)]; } } },
      axes: [
        { stroke: '#667085', grid: { stroke: '#eef1f5' }, ticks: { stroke: '#e3e7ee' },
          values: function (u, vals) { return vals.map(function (v) { return hhmm(new Date(v * 1000)); }); } },
        { scale: 'rate', stroke: '#667085', grid: { stroke: '#eef1f5' }, size: 48,
          values: function (u, vals) { return vals.map(function (v) { return Math.round(v * 100) + '%'; }); } },
        { scale: 'n', side: 1, stroke: '#98a2b3', grid: { show: false }, size: 48 }
      ],
      series: [
        {},
        { label: 'items', scale: 'n', fill: 'rgba(185,195,211,0.75)', stroke: 'rgba(185,195,211,1)', width: 0,
          paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false } },
        { label: 'negative share', scale: 'rate', stroke: '#d64545', width: 2.5, spanGaps: false,
          points: { show: true, size: 5, fill: '#d64545' } }
      ]
    };
    var u = new uPlot(opts, [[], [], []], $('chart'));
    u._xr = xr;
    u.setData(data);
    return u;
  }

  function refreshChart() {
    var scope = S.selected;
    if (!scope) return Promise.resolve();
    var to = Date.now(), from = to - S.range * 60000, step = RANGES[S.range] || 1;
    return getJSON('api/series?scope=' + encodeURIComponent(scope) + '&from=' + from + '&to=' + to +
      '&step=' + step + 'm').then(function (j) {
      if (scope !== S.selected) return;
      var xs = j.t.map(function (t) { return t / 1000; });
      var data = [xs, j.n, j.neg_rate];
      /* steps with items: a backfilled history fills the range (for tests) */
      $('chart').dataset.filled = String((j.n || []).filter(function (v) { return v > 0; }).length);
      $('chart').dataset.steps = String((j.n || []).length);
      /* x spans the whole requested range, so an alert raised this minute
       * (after the last point's start) still gets its mark */
      var xr = [xs.length ? Math.min(xs[0], from / 1000) : from / 1000, to / 1000 + 30];
      if (!S.chart) { S.chart = makeChart(data, xr); } else { S.chart._xr = xr; S.chart.setData(data); }
      var marks = marksFor(scope, from, to);
      S.chart._marks = marks;
      $('chart').dataset.marks = String(marks.length); /* for tests and assistive tools */
      var thr = null;
      /* The line is a negative share: a surge's is its baseline plus the
       * minimum lift; a volume alert has none. */
      S.alerts.forEach(function (a) {
        if (a.scope !== scope) return;
        thr = a.basis === 'volume' ? null
          : a.basis === 'surge' && !a.fallback ? (a.baseline_share || 0) + a.threshold : a.threshold;
      });
      S.chart._threshold = thr;
      S.chart.redraw(false, false);
      S.series = j;
    }).catch(function (e) { setConn(false, 'error: ' + e.message); });
  }

  /* ---- alerts -------------------------------------------------------------- */

  function refreshAlerts() {
    var url = 'api/alerts' + (S.lastAlertId ? '?since=' + encodeURIComponent(S.lastAlertId) : '?limit=200');
    return getJSON(url).then(function (j) {
      var fresh = j.alerts || [];
      S.alerts = S.alerts.concat(fresh).slice(-MAX_ALERTS_KEPT);
      if (j.last_id) S.lastAlertId = j.last_id;
      S.active = j.active || [];
      renderAlerts();
      renderKpis();
      if (fresh.length) {
        renderScopes();
        if (S.chart && S.selected) refreshChart();
      }
      if (j.more) return refreshAlerts(); /* catch up after a pause */
    }).catch(function (e) { setConn(false, 'error: ' + e.message); });
  }

  function renderAlerts() {
    var ol = $('alert-list');
    ol.textContent = '';
    var firing = S.active.filter(function (a) { return a.state === 'firing'; }).length;
    $('alerts-active').textContent = firing ? firing + ' firing now' : 'none firing';
    var list = S.alerts.slice(-100).reverse();
    $('alerts-empty').hidden = list.length > 0;
    list.forEach(function (a) {
      var li = el('li', a.state);
      li.tabIndex = 0;
      li.dataset.scope = a.scope;
      li.dataset.id = a.id;
      li.appendChild(el('span', 'state', a.state));
      var what = el('div', 'what');
      var p = scopeParts(a.scope);
      what.appendChild(el('b', null, p.name));
      what.appendChild(document.createTextNode(' · ' + a.rule));
      what.appendChild(el('span', 'detail', alertDetail(a)));
      li.appendChild(what);
      var d = new Date(a.ts);
      var t = el('time', null, hhmm(d, true));
      t.dateTime = a.ts;
      li.appendChild(t);
      ol.appendChild(li);
    });
  }

  /* alertDetail: the numbers behind an alert, in the terms of its basis. */
  function alertDetail(a) {
    var base = 'negative ' + pct(a.neg_rate) + ' of ' + fmtInt(a.n) + ' in ' + a.window;
    if (a.fallback) return base + ' (threshold ' + pct(a.threshold) + ': baseline too short)';
    if (a.basis === 'surge') {
      return base + ' against ' + pct(a.baseline_share) + ' of ' + fmtInt(a.baseline_n) +
        ' in the ' + a.baseline + ' before (lift ' + pct(a.lift) + ', bound ' + pct(a.value) +
        ' \u2265 ' + pct(a.threshold) + ')';
    }
    if (a.basis === 'volume') {
      return fmtInt(a.negative) + ' negative in ' + a.window + ', ' +
        Number(a.expected || 0).toFixed(1) + ' expected from the ' + a.baseline + ' before (' +
        Number(a.ratio || 0).toFixed(1) + '\u00d7, p ' + Number(a.p_value || 0).toPrecision(2) + ')';
    }
    return base + ' (threshold ' + pct(a.threshold) + ')';
  }

  /* ---- items ----------------------------------------------------------------- */

  function refreshItems() {
    var follow = $('items-follow').checked && S.selected && S.selected !== 'all';
    var url = 'api/recent?limit=50' + (follow ? '&scope=' + encodeURIComponent(S.selected) : '');
    return getJSON(url).then(function (j) { renderItems(j.items || []); })
      .catch(function (e) { setConn(false, 'error: ' + e.message); });
  }

  function renderItems(items) {
    var tb = document.querySelector('#item-table tbody');
    tb.textContent = '';
    $('items-empty').hidden = items.length > 0;
    var newLabel = false;
    items.forEach(function (it) {
      if (it.topic && topicLabels[slug(it.topic)] !== it.topic) {
        topicLabels[slug(it.topic)] = it.topic;
        newLabel = true;
      }
      var tr = el('tr');
      var d = new Date(it.ts);
      tr.appendChild(el('td', 'when', isNaN(d) ? '' : hhmm(d, true)));
      var idc = el('td');
      if (it.title || it.text) idc.appendChild(el('span', 'item-title', it.title || it.text));
      idc.appendChild(el('span', 'item-id', it.id));
      tr.appendChild(idc);
      tr.appendChild(el('td', null, it.topic || '–'));
      var sc = el('td');
      if (it.sentiment) sc.appendChild(el('span', 'pill ' + it.sentiment, it.sentiment));
      tr.appendChild(sc);
      var pc = el('td');
      var sp = it.sentiment_p || {};
      var bar = el('div', 'probs');
      bar.title = 'negative ' + pct(sp.negative) + ', neutral ' + pct(sp.neutral) + ', positive ' + pct(sp.positive);
      [['n', sp.negative], ['u', sp.neutral], ['p', sp.positive]].forEach(function (x) {
        var i = el('i', x[0]);
        i.style.width = ((x[1] || 0) * 100).toFixed(1) + '%';
        bar.appendChild(i);
      });
      pc.appendChild(bar);
      pc.appendChild(el('div', 'probs-text', 'neg ' + (sp.negative || 0).toFixed(2) + ' · neu ' +
        (sp.neutral || 0).toFixed(2) + ' · pos ' + (sp.positive || 0).toFixed(2)));
      tr.appendChild(pc);
      var ec = el('td');
      (it.entities || []).forEach(function (e) { ec.appendChild(el('span', 'ent', '$' + e)); });
      tr.appendChild(ec);
      tr.tabIndex = 0;
      tr.title = 'why this label? (click)';
      tr.addEventListener('click', function () { showItem(it); });
      tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') showItem(it); });
      tb.appendChild(tr);
    });
    if (newLabel) renderScopes();
  }

  /* ---- explanations and the detail dialog ------------------------------------ */

  /* explainInto fetches the per-word explanation of an item (by id) or of a
   * text and renders the words, tinted by how much each one moves the
   * negative probability (red: towards negative, green: away from it). */
  function explainInto(box, query) {
    box.textContent = 'explaining…';
    box.className = 'explain loading';
    return getJSON('api/explain?' + query).then(function (j) {
      box.textContent = '';
      box.className = 'explain';
      var text = j.text || '', pos = 0, enc = new TextEncoder(), dec = new TextDecoder();
      var bytes = enc.encode(text), words = j.words || [];
      var maxd = words.reduce(function (m, w) {
        return Math.max(m, Math.abs((w.delta && w.delta.negative) || 0));
      }, 0.05);
      var line = el('p', 'explained');
      words.forEach(function (w) {
        if (w.start > pos) line.appendChild(document.createTextNode(dec.decode(bytes.slice(pos, w.start))));
        var d = (w.delta && w.delta.negative) || 0;
        var sp = el('span', 'w ' + (d >= 0 ? 'neg' : 'pos'), dec.decode(bytes.slice(w.start, w.start + w.len)));
        sp.style.setProperty('--a', (Math.min(1, Math.abs(d) / maxd) * 0.75).toFixed(3));
        sp.title = 'without this word: negative ' + (d >= 0 ? '−' : '+') + pct(Math.abs(d));
        sp.dataset.delta = d.toFixed(4);
        line.appendChild(sp);
        pos = w.start + w.len;
      });
      if (pos < bytes.length) line.appendChild(document.createTextNode(dec.decode(bytes.slice(pos))));
      box.appendChild(line);
      var sp2 = j.sentiment_p || {};
      box.appendChild(el('p', 'muted small', 'tagged ' + (j.sentiment || '–') + ' (neg ' +
        pct(sp2.negative) + ') · red words push towards negative, green away · ' +
        (j.truncated ? 'first words only · ' : '') + Math.round(j.ms || 0) + ' ms'));
    }).catch(function (e) {
      box.className = 'explain error';
      box.textContent = 'no explanation: ' + e.message;
    });
  }

  /* wilsonLower: lower bound of the 95% Wilson interval of k of n (as the
   * server ranks scopes and the wilson rules judge them). */
  function wilsonLower(k, n) {
    if (!n || !k) return 0;
    var z = 1.959964, p = k / n, z2 = z * z;
    var c = p + z2 / (2 * n), s = z * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
    return Math.max(0, (c - s) / (1 + z2 / n));
  }

  function openDialog(title) {
    var d = $('detail');
    $('detail-title').textContent = title;
    $('detail-body').textContent = '';
    if (!d.open) d.showModal();
    return $('detail-body');
  }

  function itemBlock(it) {
    var div = el('div', 'sample');
    div.dataset.id = it.id;
    var head = el('div', 'sample-head');
    if (it.sentiment) head.appendChild(el('span', 'pill ' + it.sentiment, it.sentiment));
    head.appendChild(el('span', 'item-title', it.title || it.text || it.id));
    div.appendChild(head);
    var sp = it.sentiment_p || {};
    div.appendChild(el('div', 'probs-text', it.id + ' · ' + (it.topic || '–') + ' · neg ' +
      (sp.negative || 0).toFixed(2) + ' · neu ' + (sp.neutral || 0).toFixed(2) + ' · pos ' +
      (sp.positive || 0).toFixed(2)));
    var btn = el('button', 'explain-btn', 'Explain');
    btn.type = 'button';
    var box = el('div', 'explain');
    btn.addEventListener('click', function () {
      btn.disabled = true;
      explainInto(box, 'id=' + encodeURIComponent(it.id)).then(function () { btn.disabled = false; });
    });
    div.appendChild(btn);
    div.appendChild(box);
    return div;
  }

  /* showItem: one item of the latest-items table, explained at once. */
  function showItem(it) {
    var body = openDialog('Why ' + (it.sentiment || 'this label') + '?');
    var b = itemBlock(it);
    body.appendChild(b);
    b.querySelector('.explain-btn').click();
  }

  /* showAlert: the story of an alert: rule and basis, the counts at firing
   * and at resolving, and its sample items with their labels, explainable. */
  function showAlert(a) {
    var p = scopeParts(a.scope);
    var body = openDialog(p.name + ' · ' + a.rule);
    body.dataset.alert = a.id || '';
    var fire = a.state === 'firing' ? a : null, res = null;
    S.alerts.forEach(function (x) {
      if (x.rule !== a.rule || x.scope !== a.scope || x.since !== a.since) return;
      if (x.state === 'firing') fire = x;
      if (x.state === 'resolved') res = x;
    });
    body.appendChild(el('p', null, 'Rule ' + a.rule + ' on ' + a.scope + ', basis ' + (a.basis || 'rate') +
      ', window ' + a.window + '.'));
    var tbl = el('table', 'grid detail-counts');
    var hd = el('tr');
    ['', 'items', 'negative', 'share', 'bound (95%)', 'value', 'threshold', 'when'].forEach(function (h) {
      hd.appendChild(el('th', null, h));
    });
    tbl.appendChild(hd);
    [['firing', fire], ['resolved', res]].forEach(function (r) {
      var x = r[1], tr = el('tr');
      tr.dataset.state = r[0];
      tr.appendChild(el('th', null, r[0]));
      if (!x) {
        var td = el('td', 'muted', r[0] === 'resolved' ? 'still firing' : 'not in the alerts kept');
        td.colSpan = 7;
        tr.appendChild(td);
      } else {
        [fmtInt(x.n), fmtInt(x.negative), pct(x.neg_rate), pct(wilsonLower(x.negative, x.n)),
          x.basis === 'volume' ? Number(x.value).toFixed(2) + '×' : pct(x.value),
          x.basis === 'volume' ? Number(x.threshold).toFixed(2) + '×' : pct(x.threshold),
          hhmm(new Date(x.ts), true)].forEach(function (v) { tr.appendChild(el('td', 'num', v)); });
      }
      tbl.appendChild(tr);
    });
    body.appendChild(tbl);
    body.appendChild(el('p', 'muted', alertDetail(fire || a)));
    var samples = (fire || a).samples || [];
    body.appendChild(el('h3', null, 'Sample negative items (' + samples.length + ')'));
    var list = el('div', 'samples');
    body.appendChild(list);
    if (!samples.length) return;
    getJSON('api/recent?limit=200&scope=' + encodeURIComponent(a.scope)).then(function (j) {
      var byId = {};
      (j.items || []).forEach(function (it) { byId[it.id] = it; });
      samples.forEach(function (id) {
        list.appendChild(itemBlock(byId[id] || { id: id, title: id + ' (no longer in the recent list)' }));
      });
    }).catch(function (e) { list.textContent = 'samples unavailable: ' + e.message; });
  }

  /* ---- wiring ------------------------------------------------------------------ */

  function rowsArray() { return Array.prototype.slice.call(document.querySelectorAll('#scope-table tbody tr')); }

  function wire() {
    $('detail-close').addEventListener('click', function () { $('detail').close(); });
    var tbody = document.querySelector('#scope-table tbody');
    tbody.addEventListener('click', function (e) {
      var tr = e.target.closest('tr');
      if (tr) { select(tr.dataset.scope, true); tr.focus(); }
    });
    tbody.addEventListener('keydown', function (e) {
      var tr = e.target.closest('tr');
      if (!tr) return;
      var rows = rowsArray(), i = rows.indexOf(tr), next = null;
      if (e.key === 'Enter' || e.key === ' ') { select(tr.dataset.scope, true); e.preventDefault(); }
      else if (e.key === 'ArrowDown') next = rows[i + 1];
      else if (e.key === 'ArrowUp') next = rows[i - 1];
      else if (e.key === 'Home') next = rows[0];
      else if (e.key === 'End') next = rows[rows.length - 1];
      if (next) { next.focus(); e.preventDefault(); }
    });
    var ol = $('alert-list');
    var alertOf = function (li) {
      return S.alerts.filter(function (a) { return a.id === li.dataset.id; })[0];
    };
    ol.addEventListener('click', function (e) {
      var li = e.target.closest('li');
      if (!li) return;
      select(li.dataset.scope, true);
      var a = alertOf(li);
      if (a) showAlert(a);
    });
    ol.addEventListener('keydown', function (e) {
      var li = e.target.closest('li');
      if (li && e.key === 'Enter') {
        select(li.dataset.scope, true);
        var a = alertOf(li);
        if (a) showAlert(a);
      }
    });
    $('search').addEventListener('keydown', function (e) {
      if (e.key === 'Enter') { searchSelect(); e.preventDefault(); }
      if (e.key === 'Escape') { $('search').value = ''; $('search').blur(); }
    });
    $('search').addEventListener('change', function () {
      /* choosing from the datalist */
      var v = $('search').value;
      if (S.rates.some(function (r) { return r.scope === v; })) searchSelect();
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === '/' && document.activeElement !== $('search')) { $('search').focus(); e.preventDefault(); }
    });
    $('window').addEventListener('change', function () {
      S.window = $('window').value;
      refreshRates();
    });
    $('min-n').addEventListener('change', function () {
      var v = Math.floor(Number($('min-n').value));
      S.minN = v >= 1 && v <= 100000 ? v : 1;
      $('min-n').value = String(S.minN);
      refreshRates();
    });
    document.querySelectorAll('.seg button').forEach(function (b) {
      b.addEventListener('click', function () {
        document.querySelectorAll('.seg button').forEach(function (x) { x.classList.remove('on'); });
        b.classList.add('on');
        S.range = Number(b.dataset.range);
        refreshChart();
      });
    });
    $('items-follow').addEventListener('change', function () {
      $('items-scope').textContent = $('items-follow').checked && S.selected ? '· ' + S.selected : '';
      refreshItems();
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (S.chart) { var sz = chartSize(); S.chart.setSize(sz); }
      }).observe($('chart'));
    }
  }

  function every(ms, fn) {
    var run = function () { Promise.resolve(fn()).then(function () { setTimeout(run, ms); }, function () { setTimeout(run, ms); }); };
    setTimeout(run, ms);
  }

  wire();
  refreshAlerts().then(refreshRates).then(function () {
    refreshSparks();
    every(POLL_RATES_MS, refreshRates);
    every(POLL_ALERTS_MS, refreshAlerts);
    every(POLL_ITEMS_MS, refreshItems);
    every(POLL_CHART_MS, refreshChart);
    every(POLL_SPARK_MS, refreshSparks);
  });
})();
