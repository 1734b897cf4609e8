// faultline report: draws the timeline from the JSON in <script id="data"> on a <canvas>.
// Only bars inside the visible window are drawn (binary search over invoke times), so a
// 100,000-operation history pans and zooms smoothly. No network, no libraries.
(function () {
  'use strict';
  var status = document.getElementById('status');
  function fail(msg) {
    document.body.setAttribute('data-script-error', msg);
    if (status) status.textContent = 'script-error: ' + msg;
  }
  window.addEventListener('error', function (e) { fail(String(e.message)); });
  try { main(); } catch (e) { fail(String(e && e.stack || e)); }

  function main() {
    var T0 = performance.now();
    var D = JSON.parse(document.getElementById('data').textContent);
    var N = D.c.length, END = Math.max(D.end, 1), SCALE = D.scale;
    var COLORS = ['#3b8f5a', '#d98c8c', '#f0a030'];
    var NEM = { partition: '255,152,0', kill: '229,57,53', pause: '142,36,170', clock: '30,136,229', loss: '0,137,123', figure8: '109,76,65' };
    var OUT = ['ok', 'fail', 'info'];
    var canvas = document.getElementById('timeline'), wrap = document.getElementById('tl-wrap');
    var tip = document.getElementById('tip'), select = document.getElementById('key');
    var ctx = canvas.getContext('2d');
    // One strip row (label and span) per set of overlapping faults: `a+b` stack, not overlap.
    var TRACKS = D.nem.reduce(function (m, n) { return Math.max(m, (n.t || 0) + 1); }, 1);
    // Each label may run up to the next fault's start on its row (D.nem is ordered by start).
    D.nem.forEach(function (n, i) {
      n.next = Infinity;
      for (var j = i + 1; j < D.nem.length; j++) if ((D.nem[j].t || 0) === (n.t || 0)) { n.next = D.nem[j].s; break; }
    });
    var GUT = 64, TRACK = 14, AXIS = 30 + TRACK * (TRACKS - 1), PAD = 10;

    // ---- static indexes ----
    var byKey = new Map();
    for (var id = 0; id < N; id++) {
      var k = D.k[id];
      if (!byKey.has(k)) byKey.set(k, []);
      byKey.get(k).push(id);
    }
    var verdictOf = new Map();
    D.verdicts.forEach(function (v) { verdictOf.set(v.k, v.verdict); });

    // ---- key selector ----
    function addOption(value, text) {
      var o = document.createElement('option');
      o.value = String(value); o.textContent = text; select.appendChild(o);
    }
    addOption('all', 'all keys (' + N + ' ops)');
    D.keys.forEach(function (name, i) {
      var v = verdictOf.get(i), n = (byKey.get(i) || []).length;
      addOption(i, (v === 'illegal' ? '✗ ' : v === 'unknown' ? '? ' : '') + name + ' (' + n + ' ops)');
    });

    // ---- state for the selected key ----
    var S = {};
    function selectKey(value) {
      select.value = String(value);
      var all = value === 'all';
      var ids = all ? null : (byKey.get(Number(value)) || []);
      var count = all ? N : ids.length;
      var at = all ? function (i) { return i; } : function (i) { return ids[i]; };
      var lanesUsed = new Int32Array(D.lanes.length).fill(-1), rows = [], maxDur = 0, open = [];
      var laneOps = [];
      for (var i = 0; i < count; i++) {
        var id = at(i), l = D.p[id];
        if (lanesUsed[l] < 0) { lanesUsed[l] = 1; }
        var r = D.r[id];
        if (r < 0) open.push(id); else if (r - D.c[id] > maxDur) maxDur = r - D.c[id];
      }
      for (var l = 0; l < D.lanes.length; l++) if (lanesUsed[l] > 0) { lanesUsed[l] = rows.length; rows.push(l); laneOps.push([]); }
      for (i = 0; i < count; i++) { id = at(i); laneOps[lanesUsed[D.p[id]]].push(id); }
      var viols = D.violations.filter(function (v) { return all || v.k === Number(value); });
      var prefixPos = new Map(), stuck = new Map(), blocking = new Set();
      viols.forEach(function (v) {
        v.prefix.forEach(function (id, j) { prefixPos.set(id, j + 1); });
        v.stuck.forEach(function (s) { stuck.set(s[0], s[1]); });
        if (v.blocking !== null && v.blocking !== undefined) blocking.add(v.blocking);
      });
      var laneH = Math.max(4, Math.min(22, Math.floor(14000 / Math.max(rows.length, 1))));
      S = { all: all, key: all ? -1 : Number(value), ids: ids, count: count, at: at, rowOf: lanesUsed, rows: rows, laneOps: laneOps,
            maxDur: maxDur, open: open, viols: viols, prefixPos: prefixPos, stuck: stuck,
            blocking: blocking, laneH: laneH };
      document.getElementById('zoom-violation').hidden = viols.length === 0;
    }

    // ---- geometry ----
    var t0 = 0, t1 = END, W = 0, H = 0;
    function resize() {
      W = Math.max(320, wrap.clientWidth);
      H = AXIS + S.rows.length * S.laneH + PAD;
      // Many lanes on a high-density screen would make a huge canvas: cap it at ~32M pixels.
      var dpr = Math.max(0.5, Math.min(window.devicePixelRatio || 1, Math.sqrt(32e6 / (W * H))));
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      canvas.style.height = H + 'px';
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    function plotW() { return W - GUT - PAD; }
    function X(t) { return GUT + (t - t0) / (t1 - t0) * plotW(); }
    function T(x) { return t0 + (x - GUT) / plotW() * (t1 - t0); }
    function rowY(row) { return AXIS + row * S.laneH; }

    // ---- text ----
    function fmtTime(units) {
      var ns = units * SCALE, a = Math.abs(ns);
      if (a >= 1e9) return (ns / 1e9).toFixed(a >= 1e11 ? 2 : 3) + ' s';
      if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e8 ? 1 : 3) + ' ms';
      if (a >= 1e3) return (ns / 1e3).toFixed(1) + ' µs';
      return Math.round(ns) + ' ns';
    }
    function shortLabel(id) {
      var f = D.fs[D.f[id]], o = D.o[id];
      var inp = D.i[id], out = D.out[id];
      if (f === 'read' || f === 'get') return 'r ' + (o === 0 ? (out === '' ? '∅' : out) : '?');
      if (f === 'write' || f === 'put') return 'w ' + inp;
      if (f === 'append') return 'a ' + inp;
      if (f === 'cas') { try { var a = JSON.parse(inp); return 'cas ' + a[0] + '→' + a[1]; } catch (e) { return 'cas'; } }
      return f + ' ' + inp;
    }
    function describe(id) {
      var r = D.r[id], lines = [];
      lines.push('op ' + id + ' · process ' + D.lanes[D.p[id]] + (D.k[id] >= 0 ? ' · key ' + D.keys[D.k[id]] : ''));
      lines.push(D.fs[D.f[id]] + '  ' + (D.i[id] || 'null') + '  →  ' + (D.o[id] === 0 ? (D.out[id] || 'null') : OUT[D.o[id]]));
      lines.push('outcome: ' + OUT[D.o[id]] + (D.err[id] ? ' (' + D.err[id] + ')' : ''));
      if (D.sv[id]) lines.push('answered by: ' + D.sv[id]);
      lines.push('invoked t=' + fmtTime(D.c[id]) + (r >= 0 ? ', completed t=' + fmtTime(r) + ' (latency ' + fmtTime(r - D.c[id]) + ')' : ', never completed'));
      if (D.o[id] === 2) lines.push('may take effect at any time after its invoke, or never');
      (D.related || []).forEach(function (rel) { if (rel[0] === id) lines.push('in the explanation: ' + rel[1]); });
      if (S.prefixPos.has(id)) lines.push('linearized as #' + S.prefixPos.get(id) + ' of the longest prefix');
      if (S.stuck.has(id)) lines.push((S.blocking.has(id) ? 'BLOCKING — ' : '') + 'cannot be linearized next: ' + S.stuck.get(id));
      else if (S.blocking.has(id)) lines.push('BLOCKING — its completion forced the dead end');
      return lines.join('\n');
    }

    // ---- search over invoke times (ops are ordered by invoke) ----
    function lower(tmin) { // first index i in the selection with c >= tmin
      var lo = 0, hi = S.count;
      while (lo < hi) { var m = (lo + hi) >> 1; if (D.c[S.at(m)] < tmin) lo = m + 1; else hi = m; }
      return lo;
    }

    // ---- drawing ----
    var drawn = 0, outlined = [];
    function niceStep(spanUnits, px) {
      var target = spanUnits / Math.max(2, px / 110), p = Math.pow(10, Math.floor(Math.log10(target)));
      var m = target / p; return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    }
    function draw() {
      var lh = S.laneH, bh = Math.max(2, lh - (lh > 8 ? 4 : 1));
      ctx.clearRect(0, 0, W, H);
      ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
      // lane stripes and labels
      ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'middle';
      for (var row = 0; row < S.rows.length; row++) {
        if (row % 2) { ctx.fillStyle = '#f6f7f9'; ctx.fillRect(GUT, rowY(row), plotW(), lh); }
        if (lh >= 10) { ctx.fillStyle = '#6b7280'; ctx.fillText('p' + D.lanes[S.rows[row]], 6, rowY(row) + lh / 2); }
      }
      ctx.save(); ctx.beginPath(); ctx.rect(GUT, 0, plotW(), H); ctx.clip();
      // faults
      D.nem.forEach(function (n) {
        var x0 = X(n.s), x1 = Math.max(X(n.e), x0 + 2), rgb = NEM[n.kind] || '120,120,120';
        if (x1 < GUT || x0 > W) return;
        ctx.fillStyle = 'rgba(' + rgb + ',0.13)'; ctx.fillRect(x0, AXIS, x1 - x0, H - AXIS);
      });
      // grid lines (the axis labels are drawn last, over the bars, at the visible top)
      var step = niceStep(t1 - t0, plotW());
      ctx.strokeStyle = '#e5e7eb'; ctx.lineWidth = 1;
      for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
        var x = Math.round(X(t)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x, AXIS); ctx.lineTo(x, H); ctx.stroke();
      }
      // bars
      drawn = 0;
      var from = lower(t0 - S.maxDur), to = lower(t1 + 1), hasViol = S.viols.length > 0;
      ctx.font = (lh >= 16 ? 11 : 9) + 'px system-ui, sans-serif';
      // Bars are batched: one path per colour, and touching bars of one colour in one lane
      // merge into one rectangle (zoomed out, thousands of bars share a few pixels).
      var nrows = S.rows.length, runX0 = new Float64Array(nrows), runX1 = new Float64Array(nrows);
      var runC = new Int8Array(nrows).fill(-1), paths = [], labels = [];
      for (var c = 0; c < 8; c++) paths.push(new Path2D());
      var off = (lh - bh) / 2;
      function flush(row) {
        if (runC[row] >= 0) paths[runC[row]].rect(runX0[row], rowY(row) + off, runX1[row] - runX0[row], bh);
      }
      function add(id, r) {
        var row = S.rowOf[D.p[id]], x0 = X(D.c[id]), x1 = Math.max(X(r), x0 + 1.5);
        if (x1 < GUT - 2 || x0 > W) return;
        drawn++;
        x0 = Math.max(x0, GUT - 2); x1 = Math.min(x1, W + 2);
        var blk = S.blocking.has(id);
        var dim = hasViol && !S.prefixPos.has(id) && !S.stuck.has(id) && !blk;
        var col = (blk ? 3 : D.o[id]) + (dim ? 4 : 0);
        if (runC[row] === col && x0 <= runX1[row] + 1) { if (x1 > runX1[row]) runX1[row] = x1; }
        else { flush(row); runC[row] = col; runX0[row] = x0; runX1[row] = x1; }
        if (x1 - x0 > 30 && bh >= 9) labels.push(id, x0, x1, row);
      }
      for (var i = from; i < to; i++) {
        var id = S.at(i), r = D.r[id];
        if (r < 0 || r < t0) continue;
        add(id, r);
      }
      for (var row2 = 0; row2 < nrows; row2++) flush(row2);
      var FILL = [COLORS[0], COLORS[1], COLORS[2], '#c62828'];
      for (c = 0; c < 8; c++) {
        ctx.globalAlpha = c >= 4 ? 0.45 : 1; ctx.fillStyle = FILL[c % 4]; ctx.fill(paths[c]);
      }
      ctx.globalAlpha = 1;
      // Never-completed info ops fade towards the end: they may take effect any time.
      for (var j = 0; j < S.open.length; j++) {
        var oid = S.open[j];
        if (D.c[oid] > t1) continue;
        var ox0 = X(D.c[oid]), ox1 = Math.max(X(END), ox0 + 1.5), oy = rowY(S.rowOf[D.p[oid]]) + off;
        var g = ctx.createLinearGradient(ox0, 0, ox1, 0);
        g.addColorStop(0, COLORS[2]); g.addColorStop(1, 'rgba(240,160,48,0.08)');
        ctx.fillStyle = g; ctx.fillRect(ox0, oy, ox1 - ox0, bh); drawn++;
        if (ox1 - ox0 > 30 && bh >= 9) labels.push(oid, ox0, ox1, S.rowOf[D.p[oid]]);
      }
      for (var q = 0; q < labels.length; q += 4) {
        var lid = labels[q], lx0 = labels[q + 1], lx1 = labels[q + 2], ly = rowY(labels[q + 3]) + off;
        var text = shortLabel(lid), o = D.o[lid];
        if (ctx.measureText(text).width > lx1 - lx0 - 6) continue;
        ctx.fillStyle = S.blocking.has(lid) ? '#fff' : o === 1 ? '#5b1f1f' : '#fff';
        ctx.fillText(text, Math.max(lx0, GUT) + 3, ly + bh / 2 + 0.5);
      }
      // the linearization path and the ops that cannot go next
      S.viols.forEach(function (v) { drawViolation(v, bh); });
      drawRelated(bh);
      ctx.restore();
      drawAxis(step);
      if (status) status.textContent = 'timeline-drawn bars=' + drawn + ' lanes=' + S.rows.length +
        ' key=' + (S.all ? 'all' : D.keys[S.key]) + ' window-ns=' + Math.round(t0 * SCALE) + '..' + Math.round(t1 * SCALE) +
        ' plots=' + document.querySelectorAll('figure.plot svg').length +
        ' outlined=' + outlined.slice().sort(function (a, b) { return a - b; }).join(',');
      document.body.setAttribute('data-timeline', 'drawn');
    }
    function linPoints(v) {
      var pts = [], prev = -Infinity;
      v.prefix.forEach(function (id) {
        var r = D.r[id] < 0 ? END : D.r[id], t = Math.min(Math.max(prev, D.c[id] + (r - D.c[id]) * 0.15), r);
        prev = t;
        pts.push([X(t), rowY(S.rowOf[D.p[id]]) + S.laneH / 2]);
      });
      return pts;
    }
    function drawViolation(v, bh) {
      var pts = linPoints(v);
      // Zoomed out, a long prefix is a blur: draw only its last steps, up to the anomaly.
      if (pts.length > plotW() / 4) pts = pts.slice(-40);
      ctx.strokeStyle = '#1565c0'; ctx.lineWidth = 2; ctx.fillStyle = '#1565c0';
      if (pts.length) {
        ctx.beginPath(); ctx.moveTo(pts[0][0], pts[0][1]);
        for (var i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
        ctx.stroke();
        var every = pts.length > 400 ? Math.ceil(pts.length / 400) : 1;
        for (i = 0; i < pts.length; i += every) { ctx.beginPath(); ctx.arc(pts[i][0], pts[i][1], 3, 0, 7); ctx.fill(); }
      }
      var last = pts[pts.length - 1];
      v.stuck.forEach(function (s) {
        var id = s[0], row = S.rowOf[D.p[id]];
        if (row === undefined || row < 0) return;
        var y = rowY(row) + (S.laneH - bh) / 2, x0 = X(D.c[id]), x1 = Math.max(X(D.r[id] < 0 ? END : D.r[id]), x0 + 3);
        if (last) {
          ctx.setLineDash([5, 4]); ctx.strokeStyle = '#c62828'; ctx.lineWidth = 1.5;
          ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(Math.max(x0, Math.min(last[0], x1)), y + bh / 2); ctx.stroke();
          ctx.setLineDash([]);
        }
        ctx.strokeStyle = S.blocking.has(id) ? '#7f0000' : '#c62828'; ctx.lineWidth = 3;
        ctx.strokeRect(x0 - 1.5, y - 1.5, x1 - x0 + 3, bh + 3);
        ctx.font = 'bold 11px system-ui, sans-serif';
        // The tag goes right of the bar (left when there is no room), on the bar's line.
        var tag = '✗ cannot be linearized', tw = ctx.measureText(tag).width + 8, ty = y + bh / 2 - 7;
        var tx = x1 + 6 + tw <= W ? x1 + 6 : Math.max(GUT, x0 - tw - 6);
        ctx.fillStyle = '#c62828'; ctx.fillRect(tx, ty, tw, 14);
        ctx.fillStyle = '#fff'; ctx.fillText(tag, tx + 4, ty + 7);
      });
    }

    // The time axis and fault labels stay at the top of the visible part of the timeline.
    function drawAxis(step) {
      var sy = Math.max(0, Math.min(wrap.scrollTop, H - AXIS));
      ctx.fillStyle = 'rgba(255,255,255,0.96)'; ctx.fillRect(0, sy, W, AXIS);
      ctx.save(); ctx.beginPath(); ctx.rect(GUT, 0, plotW(), H); ctx.clip();
      D.nem.forEach(function (n) {
        var x0 = X(n.s), x1 = Math.max(X(n.e), x0 + 2);
        if (x1 < GUT || x0 > W) return;
        ctx.fillStyle = 'rgba(' + (NEM[n.kind] || '120,120,120') + ',0.9)'; ctx.fillRect(x0, sy + 25 + TRACK * (n.t || 0), x1 - x0, 4);
      });
      ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'middle';
      ctx.fillStyle = '#374151'; ctx.strokeStyle = '#9ca3af'; ctx.lineWidth = 1;
      for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
        var x = Math.round(X(t)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x, sy + AXIS - 8); ctx.lineTo(x, sy + AXIS - 5); ctx.stroke();
        ctx.fillText(fmtTime(t), x + 3, sy + 9);
      }
      D.nem.forEach(function (n) {
        var x0 = Math.max(X(n.s), GUT + 2);
        if (x0 > W || X(n.e) < GUT) return;
        var room = (n.next === Infinity ? W : X(n.next)) - x0 - 6, text = n.label;
        if (ctx.measureText(text).width > room) {
          while (text.length > 0 && ctx.measureText(text + '…').width > room) text = text.slice(0, -1);
          text = text.length > 0 ? text + '…' : '';
        }
        ctx.fillStyle = 'rgba(' + (NEM[n.kind] || '120,120,120') + ',1)'; ctx.fillText(text, x0 + 2, sy + 19 + TRACK * (n.t || 0));
      });
      ctx.restore();
    }
    function drawRelated(bh) {
      ctx.font = 'bold 11px system-ui, sans-serif';
      outlined = [];
      (D.related || []).forEach(function (rel) {
        var id = rel[0], row = S.rowOf[D.p[id]];
        if (!S.prefixPos.has(id) && !S.stuck.has(id) && S.viols.length === 0) return;
        if (row === undefined || row < 0 || (!S.all && S.ids.indexOf(id) < 0)) return;
        var y = rowY(row) + (S.laneH - bh) / 2, x0 = X(D.c[id]), x1 = Math.max(X(D.r[id] < 0 ? END : D.r[id]), x0 + 3);
        if (x1 < GUT || x0 > W) return;
        outlined.push(id);
        ctx.strokeStyle = '#6a1b9a'; ctx.lineWidth = 2.5; ctx.strokeRect(x0 - 1, y - 1, x1 - x0 + 2, bh + 2);
        var w = ctx.measureText(rel[1]).width + 8, ty = Math.max(AXIS, y - 15);
        ctx.fillStyle = '#6a1b9a'; ctx.fillRect(x0, ty, w, 14);
        ctx.fillStyle = '#fff'; ctx.fillText(rel[1], x0 + 4, ty + 7);
      });
    }

    // ---- view changes ----
    var pending = false;
    function redraw() { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; draw(); }); } }
    function setWindow(a, b) {
      var span = Math.max(b - a, 1e-3), margin = END * 0.05;
      a = Math.max(-margin, Math.min(a, END + margin - span)); t0 = a; t1 = a + span; redraw();
    }
    function zoom(factor, at) { setWindow(at - (at - t0) * factor, at + (t1 - at) * factor); }
    function zoomToViolation() {
      if (!S.viols.length) return;
      var v = S.viols[0], ids = v.stuck.map(function (s) { return s[0]; });
      (D.related || []).forEach(function (rel) { if (S.all || S.ids.indexOf(rel[0]) >= 0) ids.push(rel[0]); });
      if (ids.length < 3) ids = ids.concat(v.prefix.slice(-3));
      var lo = Infinity, hi = -Infinity;
      ids.forEach(function (id) { lo = Math.min(lo, D.c[id]); hi = Math.max(hi, D.r[id] < 0 ? D.c[id] : D.r[id]); });
      if (lo === Infinity) return;
      var pad = Math.max((hi - lo) * 0.35, 1);
      setWindow(lo - pad, hi + pad);
      var row = S.rowOf[D.p[ids[0]]];
      if (row >= 0) wrap.scrollTop = Math.max(0, rowY(row) - wrap.clientHeight / 2);
    }
    // Choosing a key shows that key: its anomaly when it has one, else all of its operations.
    function fitKey() {
      if (S.viols.length) { zoomToViolation(); return; }
      if (S.all || !S.count) { setWindow(0, END); return; }
      var lo = Infinity, hi = -Infinity;
      for (var i = 0; i < S.count; i++) {
        var id = S.at(i);
        lo = Math.min(lo, D.c[id]); hi = Math.max(hi, D.r[id] < 0 ? END : D.r[id]);
      }
      var pad = Math.max((hi - lo) * 0.03, 1);
      setWindow(lo - pad, hi + pad);
    }
    select.addEventListener('change', function () { selectKey(select.value); resize(); fitKey(); draw(); });
    document.getElementById('zoom-in').onclick = function () { zoom(0.5, (t0 + t1) / 2); };
    document.getElementById('zoom-out').onclick = function () { zoom(2, (t0 + t1) / 2); };
    document.getElementById('zoom-reset').onclick = function () { setWindow(0, END); };
    document.getElementById('zoom-violation').onclick = zoomToViolation;
    Array.prototype.forEach.call(document.querySelectorAll('button.goto'), function (b) {
      b.onclick = function () {
        var name = b.getAttribute('data-key'), i = D.keys.indexOf(name);
        selectKey(i >= 0 ? i : 'all'); resize(); fitKey(); draw();
        document.getElementById('timeline-section').scrollIntoView({ behavior: 'smooth' });
      };
    });
    canvas.addEventListener('wheel', function (e) {
      if (!(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      var rect = canvas.getBoundingClientRect();
      zoom(Math.exp(e.deltaY * 0.002), T(e.clientX - rect.left));
    }, { passive: false });
    canvas.addEventListener('dblclick', function (e) {
      var rect = canvas.getBoundingClientRect(); zoom(e.shiftKey ? 2 : 0.5, T(e.clientX - rect.left));
    });
    var drag = null;
    canvas.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: t0, t1: t1 }; canvas.classList.add('dragging'); });
    window.addEventListener('mouseup', function () { drag = null; canvas.classList.remove('dragging'); });
    window.addEventListener('mousemove', function (e) {
      if (drag) {
        var dt = (e.clientX - drag.x) / plotW() * (drag.t1 - drag.t0);
        setWindow(drag.t0 - dt, drag.t1 - dt); tip.hidden = true; return;
      }
    });
    canvas.addEventListener('mousemove', function (e) {
      if (drag) return;
      var rect = canvas.getBoundingClientRect(), x = e.clientX - rect.left, y = e.clientY - rect.top;
      var row = Math.floor((y - AXIS) / S.laneH), id = -1;
      if (row >= 0 && row < S.rows.length && x > GUT) {
        var ops = S.laneOps[row], t = T(x), tol = 3 / plotW() * (t1 - t0);
        var lo = 0, hi = ops.length;
        while (lo < hi) { var m = (lo + hi) >> 1; if (D.c[ops[m]] <= t + tol) lo = m + 1; else hi = m; }
        for (var j = lo - 1; j >= 0 && j >= lo - 3; j--) {
          var cand = ops[j], r = D.r[cand] < 0 ? END : D.r[cand];
          if (r >= t - tol) { id = cand; break; }
        }
      }
      if (id < 0) { tip.hidden = true; return; }
      tip.textContent = describe(id); tip.hidden = false;
      var left = x + 14; if (left + 360 > W) left = Math.max(4, x - 370);
      tip.style.left = left + 'px'; tip.style.top = (y + 14) + 'px';
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
    window.addEventListener('resize', function () { resize(); draw(); });
    wrap.addEventListener('scroll', redraw);

    // ---- first draw, synchronously (so a headless --dump-dom sees it) ----
    // `report.html#key=NAME` opens on that key; else on the first anomaly's key, else all.
    var wanted = /^#key=(.*)$/.exec(location.hash), named = wanted ? D.keys.indexOf(decodeURIComponent(wanted[1])) : -1;
    var first = named >= 0 ? named : D.violations.length ? D.violations[0].k : 'all';
    selectKey(first === -1 ? 'all' : first);
    resize();
    if (!S.all || S.viols.length) fitKey();
    pending = false;
    draw();
    var loadMs = performance.now() - T0, perf = document.getElementById('perf');
    if (perf) perf.textContent = 'script-ms=' + Math.round(loadMs);
    // `report.html#bench`: time redraws of the whole history, all keys (the worst pan/zoom).
    if (location.hash === '#bench' && perf) {
      selectKey('all'); resize(); t0 = 0; t1 = END;
      var b0 = performance.now();
      for (var n = 0; n < 10; n++) draw();
      perf.textContent += ' full-redraw-ms=' + ((performance.now() - b0) / 10).toFixed(1) + ' bars=' + drawn;
    }
  }
})();
