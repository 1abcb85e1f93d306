/* capsim timeline: draws a history's operations, faults and violation on one canvas.
 *
 * Data: the JSON in #capsim-data (sim/timeline/payload.py says its shape).
 * Scale: pan and zoom. Rows (a header per key, then the lanes of that key's
 * clients; clients whose operations never overlap in time share a row unless
 * "one row per client" is ticked) are laid out once; each paint draws only the rows in view and, in
 * each lane, only the operations that overlap the time window, found by
 * binary search (operations are sorted by lane, then start). Operations
 * narrower than a pixel that would paint over the previous one are counted
 * but not painted again.
 *
 * window.capsimTimeline exposes what was laid out and painted (`drawn`,
 * `painted`), the view, and the controls (zoom, pan, fit, focus, filter), for
 * the browser test and for the curious.
 */
(function () {
  "use strict";
  var t0ms = performance.now();
  var data = JSON.parse(document.getElementById("capsim-data").textContent);
  var parseMs = performance.now() - t0ms;

  var S = data.strings;
  var O = data.ops;
  var N = O.lane.length;
  var OUTCOMES = ["ok", "fail", "info", "open"];
  var FILL = ["#6db6fe", "#feb5da", "#ffaa26", "#ffe0a8"];
  var FILL_SHOP = ["#2b7bd6", "#e0569a", "#d98200", "#e8b96a"];
  var FAULT_COLOURS = ["120,120,120", "184,134,11", "106,90,205", "46,139,87", "205,92,92", "70,130,180"];
  var ROW_H = 18, LABEL_W = 170, AXIS_H = 36, PAD_R = 12;

  var tMin = data.t[0];
  var tMax = data.t[1] > data.t[0] ? data.t[1] : data.t[0] + 1;

  // ---------------------------------------------------------------- the data, as typed arrays
  var nLanes = data.lanes.key.length;
  var start = new Float64Array(N), end = new Float64Array(N), maxEnd = new Float64Array(N);
  var laneFirst = new Int32Array(nLanes + 1);
  var mark = new Int8Array(N); // 1: in the linearized prefix, 2: could not be placed
  var order = new Int32Array(N); // position in the linearized prefix, 1-based
  var valid = 0;
  (function () {
    var lane = -1;
    for (var i = 0; i < N; i++) {
      var l = O.lane[i];
      while (lane < l) { lane++; laneFirst[lane] = i; }
      start[i] = O.start[i];
      end[i] = O.end[i] === null ? tMax : O.end[i];
      if (end[i] < start[i]) end[i] = start[i];
      maxEnd[i] = (i > laneFirst[l] && maxEnd[i - 1] > end[i]) ? maxEnd[i - 1] : end[i];
      if (isFinite(start[i]) && isFinite(end[i]) && l >= 0 && l < nLanes) valid++;
    }
    while (lane < nLanes) { lane++; laneFirst[lane] = N; }
  })();
  var faults = data.faults;
  var nFaults = faults.start.length;
  var keyOfLane = data.lanes.key;
  var badKeys = {};
  data.violations.forEach(function (v, vi) {
    if (v.key >= 0) badKeys[v.key] = true;
    v.linearized.forEach(function (row, k) { mark[row] = 1; order[row] = k + 1; });
    v.stuck.forEach(function (row) { mark[row] = 2; });
  });
  var description = {};
  data.violations.forEach(function (v) {
    v.descriptions.forEach(function (d) { description[d[0]] = d[1]; });
  });

  // ---------------------------------------------------------------- layout: rows
  var rows = []; // >= 0: a slot (index into slots); < 0: the header of key -1 - row
  var slots = []; // lanes drawn in one row, sorted by time; several only when packed
  var rowOfLane = new Int32Array(nLanes).fill(-1);
  var laneLo = new Float64Array(nLanes), laneHi = new Float64Array(nLanes);
  for (var l0 = 0; l0 < nLanes; l0++) {
    var a = laneFirst[l0], b = laneFirst[l0 + 1];
    laneLo[l0] = a < b ? start[a] : Infinity;
    laneHi[l0] = a < b ? maxEnd[b - 1] : -Infinity;
  }
  var drawn = { ops: 0, faults: 0 };
  var filterText = "", badOnly = false, packed = true;

  // Interval partitioning: the lanes of one key (clients) whose operations never overlap in
  // time share a row, the fewest rows possible (a min-heap of the rows' ends).
  function pack(lanes) {
    lanes.sort(function (x, y) { return laneLo[x] - laneLo[y] || x - y; });
    var heap = [], out = [];
    function up(i) { while (i > 0) { var j = (i - 1) >> 1; if (heap[j][0] <= heap[i][0]) break; var t = heap[i]; heap[i] = heap[j]; heap[j] = t; i = j; } }
    function down(i) {
      for (;;) {
        var m = i, c1 = 2 * i + 1, c2 = c1 + 1;
        if (c1 < heap.length && heap[c1][0] < heap[m][0]) m = c1;
        if (c2 < heap.length && heap[c2][0] < heap[m][0]) m = c2;
        if (m === i) return;
        var t = heap[i]; heap[i] = heap[m]; heap[m] = t; i = m;
      }
    }
    lanes.forEach(function (l) {
      if (heap.length && heap[0][0] < laneLo[l]) {
        var top = heap[0];
        out[top[1]].push(l);
        top[0] = laneHi[l];
        down(0);
      } else {
        heap.push([laneHi[l], out.length]);
        out.push([l]);
        up(heap.length - 1);
      }
    });
    return out;
  }

  // A lane's client as Jepsen names it: p3 for client 3, a named process (the loader) as it is.
  function procLabel(l) {
    var name = S[data.lanes.process[l]];
    return /^-?\d+$/.test(name) ? "p" + name : name;
  }

  function layout() {
    var lt = performance.now();
    rows = [];
    slots = [];
    rowOfLane.fill(-1);
    var laidOut = 0;
    var needle = filterText.toLowerCase();
    data.keys.forEach(function (key, k) {
      if (badOnly && !badKeys[k]) return;
      var keyHit = !needle || key.name.toLowerCase().indexOf(needle) >= 0;
      var lanes = [];
      for (var l = key.first; l < key.first + key.count; l++) {
        if (keyHit || procLabel(l).toLowerCase().indexOf(needle) >= 0) lanes.push(l);
      }
      if (!lanes.length) return;
      rows.push(-1 - k);
      var groups = packed ? pack(lanes) : lanes.map(function (l) { return [l]; });
      groups.forEach(function (group) {
        group.forEach(function (l) {
          rowOfLane[l] = rows.length;
          for (var i = laneFirst[l]; i < laneFirst[l + 1]; i++) {
            if (isFinite(start[i]) && isFinite(end[i])) laidOut++;
          }
        });
        rows.push(slots.length);
        slots.push(group);
      });
    });
    var bands = 0;
    for (var f = 0; f < nFaults; f++) {
      if (isFinite(faults.start[f]) && isFinite(faults.end[f])) bands++;
    }
    drawn = { ops: laidOut, faults: bands };
    api.drawn = drawn;
    api.rows = rows.length;
    api.timing.layout_ms = performance.now() - lt;
  }

  // ---------------------------------------------------------------- the canvas and the view
  var canvas = document.getElementById("timeline");
  var ctx = canvas.getContext("2d");
  var tip = document.getElementById("tip");
  var W = 800, H = 400, dpr = 1;
  var view = { t0: tMin, t1: tMax, y: 0 };

  function resize() {
    var top = canvas.parentNode.getBoundingClientRect().top;
    W = Math.max(320, document.documentElement.clientWidth);
    H = Math.max(160, window.innerHeight - top);
    dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    canvas.style.width = W + "px";
    canvas.style.height = H + "px";
  }

  function plotW() { return W - LABEL_W - PAD_R; }
  function xOf(t) { return LABEL_W + (t - view.t0) / (view.t1 - view.t0) * plotW(); }
  function tOf(x) { return view.t0 + (x - LABEL_W) / plotW() * (view.t1 - view.t0); }
  function maxY() { return Math.max(0, rows.length * ROW_H - (H - AXIS_H)); }
  function clampView() {
    var span = view.t1 - view.t0;
    var full = tMax - tMin;
    var minSpan = Math.max(full * 1e-7, 1e-6);
    if (!(span > minSpan)) { var mid = (view.t0 + view.t1) / 2; view.t0 = mid - minSpan / 2; view.t1 = mid + minSpan / 2; }
    if (span > full * 1.2) { view.t0 = tMin - full * 0.1; view.t1 = tMax + full * 0.1; }
    view.y = Math.min(Math.max(0, view.y), maxY());
  }

  // First op of lane l (from i0 to i1) that ends at or after t: maxEnd is non-decreasing in a lane.
  function firstEndingAfter(i0, i1, t) {
    var lo = i0, hi = i1;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (maxEnd[mid] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function niceStep(span, px) {
    var raw = span / Math.max(1, px / 90);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function label(t, step) {
    var digits = Math.max(0, -Math.floor(Math.log10(step)));
    return t.toFixed(Math.min(digits, 6));
  }

  function faultColour(f) {
    var name = S[faults.name[f]], h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return FAULT_COLOURS[h % FAULT_COLOURS.length];
  }

  var painted = { ops: 0, faults: 0, stuck: 0, linearized: 0 };

  function paint() {
    var pt = performance.now();
    clampView();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    var p = { ops: 0, faults: 0, stuck: 0, linearized: 0 };
    var x0Plot = LABEL_W, x1Plot = W - PAD_R;

    // Rows in view.
    var first = Math.floor(view.y / ROW_H), last = Math.min(rows.length - 1, Math.ceil((view.y + H - AXIS_H) / ROW_H));
    ctx.save();
    ctx.beginPath(); ctx.rect(0, AXIS_H, W, H - AXIS_H); ctx.clip();
    for (var r = first; r <= last; r++) {
      var y = AXIS_H + r * ROW_H - view.y;
      var row = rows[r];
      if (row < 0) {
        var k = -1 - row, key = data.keys[k];
        ctx.fillStyle = badKeys[k] ? "#fde2e2" : "#eef1f5";
        ctx.fillRect(0, y, W, ROW_H);
        ctx.fillStyle = badKeys[k] ? "#a00" : "#333";
        ctx.font = "bold 11px system-ui, sans-serif";
        var verdict = key.verdict ? "  · " + key.verdict : "";
        ctx.fillText("key " + key.name + verdict + "  (" + key.count + " lane" + (key.count === 1 ? "" : "s") + ")", 6, y + ROW_H / 2);
        ctx.font = "11px system-ui, sans-serif";
        continue;
      }
      if (r % 2) { ctx.fillStyle = "#fbfbfb"; ctx.fillRect(0, y, W, ROW_H); }
      var slot = slots[row];
      ctx.fillStyle = slot.length === 1 ? "#555" : "#999";
      ctx.textAlign = "right";
      ctx.fillText(slot.length === 1 ? procLabel(slot[0]) : slot.length + " clients", LABEL_W - 8, y + ROW_H / 2);
      ctx.textAlign = "left";
      // The slot's lanes are disjoint in time and sorted: skip to the first that reaches t0.
      var j = lanesFrom(slot, view.t0);
      for (; j < slot.length && laneLo[slot[j]] <= view.t1; j++) {
        paintLane(slot[j], y, x0Plot, x1Plot, p, slot.length > 1);
      }
    }
    // The key of the first lane in view stays named at the top (a sticky header).
    if (rows[first] >= 0) {
      var sticky = keyOfLane[slots[rows[first]][0]];
      ctx.fillStyle = badKeys[sticky] ? "rgba(253,226,226,0.95)" : "rgba(238,241,245,0.95)";
      ctx.fillRect(0, AXIS_H, LABEL_W - 40, 13);
      ctx.fillStyle = badKeys[sticky] ? "#a00" : "#333";
      ctx.font = "bold 10px system-ui, sans-serif";
      ctx.fillText("key " + data.keys[sticky].name, 6, AXIS_H + 7);
      ctx.font = "11px system-ui, sans-serif";
    }
    ctx.restore();

    // Faults: shaded bands over every lane, named in the axis.
    ctx.save();
    ctx.beginPath(); ctx.rect(x0Plot, 0, x1Plot - x0Plot, H); ctx.clip();
    for (var f = 0; f < nFaults; f++) {
      var fs = faults.start[f], fe = faults.end[f];
      if (fe < view.t0 || fs > view.t1) continue;
      var fx0 = xOf(fs), fx1 = Math.max(xOf(fe), fx0 + 2);
      var rgb = faultColour(f);
      ctx.fillStyle = "rgba(" + rgb + ",0.16)";
      ctx.fillRect(fx0, 20, fx1 - fx0, H - 20);
      ctx.fillStyle = "rgba(" + rgb + ",0.75)";
      ctx.fillRect(fx0, 20, fx1 - fx0, 4);
      ctx.fillStyle = "rgb(" + rgb + ")";
      ctx.fillText(S[faults.name[f]] + (faults.open[f] ? " (never healed)" : ""), Math.max(fx0, x0Plot) + 3, 30);
      p.faults++;
    }
    ctx.restore();

    // The time axis.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, 20);
    ctx.strokeStyle = "#ccc";
    ctx.beginPath(); ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(W, AXIS_H - 0.5); ctx.stroke();
    var step = niceStep(view.t1 - view.t0, x1Plot - x0Plot);
    ctx.fillStyle = "#444";
    ctx.textAlign = "center";
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var x = xOf(t);
      ctx.fillRect(x, 14, 1, 6);
      ctx.fillText(label(t, step), x, 8);
    }
    ctx.textAlign = "left";
    ctx.fillStyle = "#777";
    ctx.fillText("time", 6, 8);
    ctx.fillText(rows.length ? "rows " + (first + 1) + "–" + (last + 1) + " of " + rows.length : "nothing to draw", 6, 28);

    // A scroll bar when the rows do not fit.
    var total = rows.length * ROW_H, inView = H - AXIS_H;
    if (total > inView) {
      var th = Math.max(20, inView * inView / total), ty = AXIS_H + (inView - th) * view.y / maxY();
      ctx.fillStyle = "rgba(0,0,0,0.25)";
      ctx.fillRect(W - 8, ty, 5, th);
    }
    painted = p;
    api.painted = p;
    api.view = { t0: view.t0, t1: view.t1, y: view.y };
    api.timing.paint_ms = performance.now() - pt;
    api.paints++;
  }

  // The first lane of a (time-sorted, disjoint) slot that ends at or after t.
  function lanesFrom(slot, t) {
    var lo = 0, hi = slot.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (laneHi[slot[mid]] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function paintLane(l, y, x0Plot, x1Plot, p, named) {
    var i0 = laneFirst[l], i1 = laneFirst[l + 1];
    var i = firstEndingAfter(i0, i1, view.t0);
    var lastX = [-1, -1], lastC = [-1, -1];
    for (; i < i1; i++) {
      var s = start[i];
      if (s > view.t1) break;
      var e = end[i];
      if (e < view.t0) continue; // an earlier, longer op kept maxEnd high
      var shop = O.level[i] === 1;
      var track = shop ? 1 : 0;
      var by = shop ? y + 13 : y + 2, bh = shop ? 4 : 10;
      var x0 = Math.max(xOf(s), x0Plot - 2), x1 = Math.min(xOf(e), x1Plot + 2);
      var w = Math.max(1, x1 - x0);
      var m = mark[i], oc = O.outcome[i];
      p.ops++;
      if (m === 2) {
        w = Math.max(w, 4);
        ctx.fillStyle = "#d7191c";
        ctx.fillRect(x0 - 1, y, w + 2, ROW_H - 1);
        ctx.strokeStyle = "#7f0000"; ctx.lineWidth = 2;
        ctx.strokeRect(x0 - 1, y + 1, w + 2, ROW_H - 3);
        p.stuck++;
        lastX[track] = -1;
        if (O.siblings[i]) siblingsMark(x0 - 1, y + 1, w + 2, ROW_H - 3);
        continue;
      }
      if (m === 1) w = Math.max(w, 3); // the prefix stays visible when zoomed out, like the red
      var colour = (shop ? FILL_SHOP : FILL)[oc];
      if (m !== 1 && lastC[track] === oc && x1 <= lastX[track] + 0.5 && !O.siblings[i]) continue;
      ctx.fillStyle = colour;
      ctx.fillRect(x0, by, w, bh);
      lastX[track] = x0 + w; lastC[track] = oc;
      if (oc === 3 && w > 8) { // never completed: fade out to the end
        ctx.fillStyle = "#fff";
        ctx.fillRect(x0 + w - 3, by, 1, bh);
      }
      if (m === 1) {
        ctx.strokeStyle = "#1a9641"; ctx.lineWidth = 2;
        ctx.strokeRect(x0, by - 1, w, bh + 2);
        p.linearized++;
        if (w > 16) { ctx.fillStyle = "#0b4d1f"; ctx.fillText(String(order[i]), x0 + 2, by + bh / 2 + 0.5); }
        lastX[track] = -1;
      }
      if (O.siblings[i]) {
        siblingsMark(x0, by, w, bh);
        lastX[track] = -1;
      }
      if (w > 60 && !shop && m !== 1) {
        ctx.save();
        ctx.beginPath(); ctx.rect(x0, by, w, bh); ctx.clip();
        ctx.fillStyle = "#123";
        ctx.font = "9px system-ui, sans-serif";
        ctx.fillText((named ? procLabel(l) + " " : "") + S[O.f[i]] + " " + S[O.value[i]] + (oc === 0 && S[O.output[i]] !== S[O.value[i]] ? " → " + S[O.output[i]] : ""), x0 + 2, by + bh / 2 + 0.5);
        ctx.restore();
      }
    }
  }

  // A read that returned siblings: a purple stripe along its bottom and a corner at its end.
  function siblingsMark(x, y, w, h) {
    var c = Math.min(7, Math.max(w, 4));
    ctx.fillStyle = "#7b3294";
    ctx.fillRect(x, y + h - 3, w, 3);
    ctx.beginPath(); ctx.moveTo(x + w - c, y); ctx.lineTo(x + w, y); ctx.lineTo(x + w, y + c); ctx.closePath(); ctx.fill();
  }

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; paint(); });
  }

  // ---------------------------------------------------------------- controls
  function zoom(factor, atT) {
    var c = atT === undefined ? (view.t0 + view.t1) / 2 : atT;
    view.t0 = c - (c - view.t0) / factor;
    view.t1 = c + (view.t1 - c) / factor;
    paint();
  }
  function pan(dt) { view.t0 += dt; view.t1 += dt; paint(); }
  function fit() { view.t0 = tMin; view.t1 = tMax; view.y = 0; paint(); }
  function setView(t0, t1, y) { view.t0 = t0; view.t1 = t1; if (y !== undefined) view.y = y; paint(); }
  function scrollTo(row) { view.y = Math.max(0, row * ROW_H - ROW_H); }

  function rectOf(row) {
    var r = rowOfLane[O.lane[row]];
    if (r < 0) return null;
    var y = AXIS_H + r * ROW_H - view.y;
    var x0 = xOf(start[row]), x1 = xOf(end[row]);
    return { x: x0, y: y, w: Math.max(1, x1 - x0), h: ROW_H };
  }

  function focusOp(row) {
    if (rowOfLane[O.lane[row]] < 0) { filterText = ""; badOnly = false; filterInput.value = ""; badBox.checked = false; layout(); }
    var span = Math.max((end[row] - start[row]) * 8, (tMax - tMin) / 1e4);
    var mid = (start[row] + end[row]) / 2;
    view.t0 = mid - span / 2; view.t1 = mid + span / 2;
    scrollTo(rowOfLane[O.lane[row]] - 2);
    paint();
  }

  function showViolation(vi) {
    var v = data.violations[vi || 0];
    if (!v) return false;
    // The window: the first ops that could not be placed and the end of the prefix before them.
    var first = v.stuck.slice().sort(function (a, b) { return start[a] - start[b]; }).slice(0, 3);
    var rowsOf = first.concat(v.linearized.slice(-4));
    if (!rowsOf.length) return false;
    if (v.stuck.some(function (row) { return rowOfLane[O.lane[row]] < 0; })) setFilter("", false);
    var lo = Infinity, hi = -Infinity;
    rowsOf.forEach(function (row) { lo = Math.min(lo, start[row]); hi = Math.max(hi, end[row]); });
    var pad = Math.max((hi - lo) * 0.5, (tMax - tMin) / 1e5);
    view.t0 = lo - pad; view.t1 = hi + pad;
    // The key's header at the top when the stuck ops' lanes fit below it, else those lanes.
    var header = v.key >= 0 ? rows.indexOf(-1 - v.key) : 0;
    var lanesOf = first.map(function (row) { return rowOfLane[O.lane[row]]; });
    var topRow = lanesOf.length ? Math.min.apply(null, lanesOf) : Math.max(header, 0), inView = Math.floor((H - AXIS_H) / ROW_H);
    view.y = (topRow - Math.max(header, 0) < inView - 3 ? Math.max(header, 0) : topRow - 3) * ROW_H;
    paint();
    return true;
  }

  var filterInput = document.getElementById("filter");
  var badBox = document.getElementById("bad-only");
  var packBox = document.getElementById("per-client");
  function setPacked(on) {
    packed = !!on;
    packBox.checked = !packed;
    layout();
    paint();
  }
  packBox.addEventListener("change", function () { setPacked(!packBox.checked); });

  function setFilter(text, onlyBad) {
    filterText = text || "";
    badOnly = !!onlyBad;
    layout();
    view.y = 0;
    paint();
  }
  filterInput.addEventListener("input", function () { setFilter(filterInput.value, badBox.checked); });
  badBox.addEventListener("change", function () { setFilter(filterInput.value, badBox.checked); });
  document.getElementById("zoom-in").onclick = function () { zoom(2); };
  document.getElementById("zoom-out").onclick = function () { zoom(0.5); };
  document.getElementById("fit").onclick = fit;
  var violationButton = document.getElementById("show-violation");
  violationButton.onclick = function () { showViolation(0); };

  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var rect = canvas.getBoundingClientRect();
    var x = ev.clientX - rect.left;
    var unit = ev.deltaMode === 1 ? ROW_H : ev.deltaMode === 2 ? H : 1;
    if (ev.ctrlKey || ev.altKey || ev.metaKey) {
      var at = x > LABEL_W ? tOf(x) : undefined;
      var c = at === undefined ? (view.t0 + view.t1) / 2 : at;
      var factor = Math.exp(-ev.deltaY * unit * 0.002);
      view.t0 = c - (c - view.t0) / factor; view.t1 = c + (view.t1 - c) / factor;
    } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      var d = (ev.shiftKey ? ev.deltaY : ev.deltaX) * unit;
      var dt = d / plotW() * (view.t1 - view.t0);
      view.t0 += dt; view.t1 += dt;
    } else {
      view.y += ev.deltaY * unit;
    }
    schedule();
  }, { passive: false });

  var drag = null;
  canvas.addEventListener("mousedown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, t0: view.t0, t1: view.t1, vy: view.y };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mouseup", function () { drag = null; canvas.classList.remove("dragging"); });
  window.addEventListener("mousemove", function (ev) {
    if (drag) {
      var dt = (ev.clientX - drag.x) / plotW() * (drag.t1 - drag.t0);
      view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt;
      view.y = drag.vy - (ev.clientY - drag.y);
      tip.hidden = true;
      schedule();
      return;
    }
    hover(ev);
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("dblclick", function (ev) {
    var x = ev.clientX - canvas.getBoundingClientRect().left;
    zoom(ev.shiftKey ? 0.5 : 2, x > LABEL_W ? tOf(x) : undefined);
  });
  window.addEventListener("keydown", function (ev) {
    if (ev.target === filterInput) return;
    var span = view.t1 - view.t0;
    switch (ev.key) {
      case "+": case "=": zoom(2); break;
      case "-": case "_": zoom(0.5); break;
      case "0": case "Home": fit(); break;
      case "ArrowLeft": pan(-span * 0.2); break;
      case "ArrowRight": pan(span * 0.2); break;
      case "ArrowUp": view.y -= ROW_H * 3; paint(); break;
      case "ArrowDown": view.y += ROW_H * 3; paint(); break;
      case "PageUp": view.y -= H * 0.8; paint(); break;
      case "PageDown": view.y += H * 0.8; paint(); break;
      case "v": showViolation(0); break;
      default: return;
    }
    ev.preventDefault();
  });
  window.addEventListener("resize", function () { resize(); paint(); });

  // ---------------------------------------------------------------- the tooltip
  function opAt(x, y) {
    var r = Math.floor((y - AXIS_H + view.y) / ROW_H);
    if (y < AXIS_H || r < 0 || r >= rows.length || rows[r] < 0 || x < LABEL_W) return -1;
    var slot = slots[rows[r]], t = tOf(x), slack = 3 / plotW() * (view.t1 - view.t0);
    var shop = (y - AXIS_H + view.y) - r * ROW_H >= 13;
    var best = -1, bestW = Infinity;
    for (var j = lanesFrom(slot, t - slack); j < slot.length && laneLo[slot[j]] <= t + slack; j++) {
      var l = slot[j], i1 = laneFirst[l + 1];
      for (var i = firstEndingAfter(laneFirst[l], i1, t - slack); i < i1 && start[i] <= t + slack; i++) {
        if (end[i] < t - slack) continue;
        var w = end[i] - start[i] + ((O.level[i] === 1) !== shop ? 1e300 : 0);
        if (w < bestW) { best = i; bestW = w; }
      }
    }
    return best;
  }

  function hover(ev) {
    var rect = canvas.getBoundingClientRect();
    var x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    if (x < 0 || y < 0 || x > W || y > H) { tip.hidden = true; return; }
    var i = opAt(x, y);
    if (i < 0) { tip.hidden = true; return; }
    var lines = [
      procLabel(O.lane[i]) + " " + S[O.f[i]] + "  key " + data.keys[keyOfLane[O.lane[i]]].name,
      OUTCOMES[O.outcome[i]] + (O.error[i] >= 0 ? " (" + S[O.error[i]] + ")" : ""),
      "value  " + S[O.value[i]],
    ];
    if (O.outcome[i] !== 3) lines.push("result " + S[O.output[i]]);
    lines.push("time   " + O.start[i] + " .. " + (O.end[i] === null ? "never completed" : O.end[i]));
    lines.push("history event #" + (O.index[i] + 1));
    if (O.siblings[i]) lines.push(O.siblings[i] + " siblings");
    if (mark[i] === 1) lines.push("linearized: #" + order[i] + " of the longest linearizable prefix");
    if (mark[i] === 2) lines.push("COULD NOT BE PLACED after the longest linearizable prefix");
    if (description[i]) lines.push("checker: " + description[i]);
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    var tx = Math.min(x + 14, W - tip.offsetWidth - 4), ty = y + 16;
    if (ty + tip.offsetHeight > H) ty = y - tip.offsetHeight - 8;
    tip.style.left = tx + "px";
    tip.style.top = Math.max(0, ty) + "px";
  }

  // ---------------------------------------------------------------- the header and the violation panel
  function describeVerdict() {
    var c = data.check, n = data.counts;
    var plural = function (k, what) { return k + " " + what + (k === 1 ? "" : "s"); };
    var parts = [plural(n.ops, "operation"), plural(nLanes, "lane"), plural(data.keys.length, "key"), plural(n.faults, "fault")];
    if (n.orphans) parts.push(n.orphans + " completions without an invoke (not drawn)");
    var span = document.getElementById("summary");
    span.textContent = parts.join(" · ") + " · ";
    var badge = document.createElement("span");
    badge.className = "verdict " + (c ? c.verdict : "unchecked");
    badge.textContent = c ? c.verdict + " (" + c.model + " model)" + (c.unknown_reason ? ", out of " + c.unknown_reason : "") : "not checked";
    span.appendChild(badge);
  }

  function violationPanel() {
    var panel = document.getElementById("violation");
    if (!data.violations.length) return;
    panel.hidden = false;
    violationButton.hidden = false;
    data.violations.forEach(function (v, vi) {
      var h = document.createElement("h2");
      h.textContent = "key " + v.key_name + " is not linearizable: the longest linearizable prefix has " +
        v.linearized.length + " operations (green, numbered) and leaves state ";
      var st = document.createElement("span"); st.className = "state"; st.textContent = v.state;
      h.appendChild(st);
      h.appendChild(document.createTextNode("; none of these " + v.stuck.length + " could be placed next (red):"));
      h.style.cursor = "pointer";
      h.onclick = function () { showViolation(vi); };
      panel.appendChild(h);
      // The first three in view, the rest (up to 500) behind a click: the canvas keeps the room.
      var rowsByTime = v.stuck.slice().sort(function (a, b) { return start[a] - start[b]; });
      function list(from, to) {
        var ol = document.createElement("ol");
        ol.start = from + 1;
        rowsByTime.slice(from, to).forEach(function (row) {
          var li = document.createElement("li");
          li.textContent = procLabel(O.lane[row]) + " " + (description[row] || S[O.f[row]]) +
            "  [" + O.start[row] + " .. " + (O.end[row] === null ? "?" : O.end[row]) + "]";
          li.title = "show it";
          li.onclick = function () { focusOp(row); };
          ol.appendChild(li);
        });
        return ol;
      }
      panel.appendChild(list(0, 3));
      if (rowsByTime.length > 3) {
        var more = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = (rowsByTime.length - 3) + " more" + (rowsByTime.length > 503 ? " (the first 500 listed)" : "");
        more.appendChild(summary);
        more.appendChild(list(3, 503));
        panel.appendChild(more);
      }
    });
  }

  // ---------------------------------------------------------------- start
  var api = {
    drawn: drawn, painted: painted, view: null, rows: 0, paints: 0,
    counts: data.counts, violations: data.violations.length,
    timing: { parse_ms: parseMs, layout_ms: 0, paint_ms: 0, first_paint_ms: 0 },
    zoom: zoom, pan: pan, fit: fit, setView: setView, focusOp: focusOp, showViolation: showViolation,
    setFilter: setFilter, setPacked: setPacked, rectOf: rectOf, opAt: opAt, paint: paint,
    validOps: valid,
  };
  window.capsimTimeline = api;
  describeVerdict();
  violationPanel();
  layout();
  resize();
  paint();
  api.timing.first_paint_ms = performance.now() - t0ms; // from this script's start
  api.timing.since_navigation_ms = performance.now(); // from the page's navigation start
  document.body.setAttribute("data-drawn-ops", String(api.drawn.ops));
  document.body.setAttribute("data-drawn-faults", String(api.drawn.faults));
  api.ready = true;
})();
