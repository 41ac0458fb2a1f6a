// baton's web UI, part 2 of 6: the graph (drawn from its layout, only what is in view;
// pan, zoom, find) and the Gantt chart of attempts.
(() => {
  "use strict";

  const { $, $$, duration, esc, icon, label, rollup, seconds } = window.baton;

  // -- the graph: drawn from its layout, only what is in view; drag, zoom, find ------------

  const MAX_LABEL = 21; // characters of a key shown in its box; the title has all of it
  const FAILING = new Set(["failed", "upstream_failed"]);
  const dags = $$(".dag").map(dagView);

  function dagView(root) {
    const data = JSON.parse($(".dag-data", root).textContent);
    const view = $(".dag-view", root);
    const { w, h, nw, nh } = data;
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("class", "dag-svg");
    svg.innerHTML = '<g class="world"><g class="edges"></g><g class="nodes"></g></g>';
    view.replaceChildren(svg);
    const world = $(".world", svg), edgeBox = $(".edges", svg), nodeBox = $(".nodes", svg);
    let s = 1, x = 0, y = 0, frame = 0;
    const size = () => [view.clientWidth, view.clientHeight];

    // A folded group is one box; its link unfolds it (the server lays the graph out again).
    const members = data.members || {};
    const groupHref = Object.fromEntries((data.groups || []).map((g) => [g.name, g.href]));
    let hover = null, near = new Set();

    function box([key, nx, ny, type]) {
      const [state, count] = data.states[key] || ["none", 0];
      const k = esc(key);
      const grp = members[key];
      const shown = esc(key.length <= MAX_LABEL ? key : key.slice(0, MAX_LABEL - 1) + "…");
      const what = grp ? `group of ${grp.length} tasks (click to unfold)` : esc(type);
      const title = `<title>${k}${count > 1 ? " ×" + count : ""} · ${what} · ${esc(label(state))}</title>`;
      const link = grp ? groupHref[key] : data.href && data.states[key] ? data.href + encodeURIComponent(key) : null;
      const cls = `n${grp ? " grp" : ""}${key === hover ? " hover" : near.has(key) ? " near" : ""} st-${state}`;
      const open = link ? `<a class="${cls}" href="${esc(link)}"` : `<g class="${cls}"`;
      const close = open.startsWith("<a") ? "</a>" : "</g>";
      const head = `${open} data-k="${k}" transform="translate(${nx},${ny})">${title}` +
        `<rect class="box" width="${nw}" height="${nh}" rx="6"/><rect class="bar" width="5" height="${nh}" rx="2"/>`;
      if (s < 0.4) return head + close; // zoomed far out: the colour and the title say it
      // Asset chips (SVG escaped by the server): beside the box's link, never inside it.
      const chips = data.chips && data.chips[key];
      return head + `<use class="ti" href="#t-${type}" x="12" y="10" width="16" height="16"/>` +
        `<text x="36" y="23">${shown}</text>` +
        (grp ? `<text class="cnt" x="${nw - 30}" y="23" text-anchor="end">${grp.length} tasks</text>`
          : count > 1 ? `<text class="cnt" x="${nw - 30}" y="23" text-anchor="end">×${count}</text>` : "") +
        `<use class="si" href="#s-${icon(state)}" x="${nw - 24}" y="10" width="16" height="16"/>` + close +
        (chips ? `<g class="chips" transform="translate(${nx},${ny})">${chips}</g>` : "");
    }

    function draw() {
      frame = 0;
      world.setAttribute("transform", `translate(${x} ${y}) scale(${s})`);
      const [vw, vh] = size();
      const pad = 200;
      const x0 = -x / s - pad, y0 = -y / s - pad, x1 = (vw - x) / s + pad, y1 = (vh - y) / s + pad;
      const nodes = [], edges = [];
      for (const n of data.nodes) {
        if (n[1] + nw >= x0 && n[1] <= x1 && n[2] + nh >= y0 && n[2] <= y1) nodes.push(box(n));
      }
      const lit = [];
      for (const e of data.edges) {
        if (e[2] >= x0 && e[0] <= x1 && e[3] >= y0 && e[1] <= y1) {
          const ends = `data-a="${esc(e[5])}" data-b="${esc(e[6])}"`;
          if (hover !== null && (e[5] === hover || e[6] === hover)) lit.push(`<path class="hl" ${ends} d="${e[4]}"/>`);
          else edges.push(`<path ${ends} d="${e[4]}"/>`);
        }
      }
      edgeBox.innerHTML = edges.join("") + lit.join(""); // lit edges on top
      nodeBox.innerHTML = nodes.join("");
      mini();
      if (hit) { const n = $(`.n[data-k="${CSS.escape(hit)}"]`, nodeBox); if (n) n.classList.add("hit"); }
    }
    const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };

    // Hovering a box lights its edges and its neighbours' boxes.
    view.addEventListener("pointerover", (e) => {
      const n = e.target.closest && e.target.closest(".n");
      const k = n ? n.dataset.k : null;
      if (k === hover) return;
      hover = k;
      near = new Set();
      if (k !== null) for (const e2 of data.edges) {
        if (e2[5] === k) near.add(e2[6]);
        if (e2[6] === k) near.add(e2[5]);
      }
      // Classes on the drawn elements, not a redraw: a box replaced under the pointer
      // between its press and release would lose the click.
      for (const el of $$(".n", nodeBox)) {
        el.classList.toggle("hover", el.dataset.k === hover);
        el.classList.toggle("near", near.has(el.dataset.k));
      }
      for (const el of $$("path", edgeBox)) {
        el.classList.toggle("hl", hover !== null && (el.dataset.a === hover || el.dataset.b === hover));
      }
    });

    // The minimap: every box as a dot in its state's colour, and the part in view; a
    // click or drag on it moves the view there. Only for graphs bigger than their view.
    const canvas = document.createElement("canvas");
    canvas.className = "dag-mini";
    canvas.setAttribute("aria-label", "Minimap: click to move the view");
    view.appendChild(canvas);
    const colours = {};
    const colour = (state) => {
      if (!(state in colours)) {
        const probe = document.createElement("span");
        probe.className = `st-${state}`;
        root.appendChild(probe);
        colours[state] = getComputedStyle(probe).getPropertyValue("--c").trim() || "#888";
        probe.remove();
      }
      return colours[state];
    };
    function mini() {
      const [vw, vh] = size();
      canvas.hidden = x >= 0 && y >= 0 && x + w * s <= vw && y + h * s <= vh; // all in view
      if (canvas.hidden) return;
      const m = Math.min(180 / w, 110 / h);
      const cw = Math.max(20, Math.round(w * m)), ch = Math.max(20, Math.round(h * m));
      const dpr = window.devicePixelRatio || 1;
      if (canvas.width !== cw * dpr) { canvas.width = cw * dpr; canvas.height = ch * dpr; canvas.style.width = `${cw}px`; canvas.style.height = `${ch}px`; }
      const g = canvas.getContext("2d");
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, cw, ch);
      for (const n of data.nodes) {
        g.fillStyle = colour((data.states[n[0]] || ["none"])[0]);
        g.fillRect(n[1] * m, n[2] * m, Math.max(1.5, nw * m), Math.max(1.5, nh * m));
      }
      g.strokeStyle = getComputedStyle(view).color;
      g.lineWidth = 1.5;
      g.strokeRect((-x / s) * m, (-y / s) * m, (vw / s) * m, (vh / s) * m);
    }
    let steering = false;
    const steer = (e) => {
      const r = canvas.getBoundingClientRect();
      const m = r.width / w;
      const [vw, vh] = size();
      x = vw / 2 - ((e.clientX - r.left) / m) * s;
      y = vh / 2 - ((e.clientY - r.top) / m) * s;
      redraw();
    };
    canvas.addEventListener("pointerdown", (e) => { e.stopPropagation(); steering = true; canvas.setPointerCapture(e.pointerId); steer(e); });
    canvas.addEventListener("pointermove", (e) => { if (steering) { e.stopPropagation(); steer(e); } });
    canvas.addEventListener("pointerup", () => { steering = false; });

    function fit() {
      const [vw, vh] = size();
      s = Math.min(vw / w, vh / h, 1);
      x = (vw - w * s) / 2;
      y = (vh - h * s) / 2;
      redraw();
    }
    function zoom(factor, cx, cy) {
      const next = Math.min(2.5, Math.max(0.02, s * factor));
      x = cx - ((cx - x) * next) / s;
      y = cy - ((cy - y) * next) / s;
      s = next;
      redraw();
    }
    let hit = null;
    function centre(node) {
      const [vw, vh] = size();
      s = Math.max(s, 0.8);
      x = vw / 2 - (node[1] + nw / 2) * s;
      y = vh / 2 - (node[2] + nh / 2) * s;
      hit = node[0];
      redraw();
    }

    // A small graph gets a box its size; a big one opens readable at its start, not as dust.
    // A phone's narrow box shows a whole small flow at once, smaller (its tasks are tapped).
    const [vw, vh] = size();
    const fits = Math.min(1, vw / w);
    if (h * fits + 24 < vh) view.style.height = `${Math.max(140, Math.ceil(h * fits) + 24)}px`;
    if (Math.min(vw / w, view.clientHeight / h) >= (vw < 600 ? 0.2 : 0.6)) fit();
    else { s = 0.75; x = 12; y = 12; redraw(); }

    let drag = null, moved = false;
    view.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { px: e.clientX, py: e.clientY, x, y };
      moved = false;
    });
    view.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.px, dy = e.clientY - drag.py;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!moved) { view.setPointerCapture(e.pointerId); view.classList.add("dragging"); }
      moved = true;
      x = drag.x + dx;
      y = drag.y + dy;
      redraw();
    });
    const end = () => { drag = null; view.classList.remove("dragging"); };
    view.addEventListener("pointerup", end);
    view.addEventListener("pointercancel", end);
    // A drag that ends on a box is not a click on it.
    view.addEventListener("click", (e) => { if (moved) { e.preventDefault(); moved = false; } }, true);
    view.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = view.getBoundingClientRect();
      zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    view.addEventListener("keydown", (e) => {
      const [cw, ch] = size();
      const moves = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] };
      if (e.key === "+" || e.key === "=") zoom(1.25, cw / 2, ch / 2);
      else if (e.key === "-") zoom(0.8, cw / 2, ch / 2);
      else if (e.key === "0") fit();
      else if (moves[e.key] && e.target === view) { x += moves[e.key][0]; y += moves[e.key][1]; redraw(); }
      else return;
      e.preventDefault();
    });
    let failAt = -1;
    const failButton = $('[data-zoom="find-failed"]', root);
    $$("[data-zoom]", root).forEach((b) => b.addEventListener("click", () => {
      const [cw, ch] = size();
      if (b.dataset.zoom === "in") zoom(1.25, cw / 2, ch / 2);
      if (b.dataset.zoom === "out") zoom(0.8, cw / 2, ch / 2);
      if (b.dataset.zoom === "fit") fit();
      if (b.dataset.zoom === "find-failed") {
        const bad = data.nodes.filter((n) => FAILING.has((data.states[n[0]] || [])[0]));
        if (!bad.length) return;
        failAt = (failAt + 1) % bad.length;
        centre(bad[failAt]);
      }
    }));
    const find = $("[data-find]", root);
    let found = [], at = 0;
    find.addEventListener("input", () => {
      const q = find.value.trim().toLowerCase();
      found = q ? data.nodes.filter((n) => n[0].toLowerCase().includes(q)) : [];
      at = 0;
      if (found.length) centre(found[0]);
    });
    find.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || !found.length) return;
      e.preventDefault();
      at = (at + 1) % found.length;
      centre(found[at]);
    });
    const showFailures = () => {
      failButton.hidden = !Object.values(data.states).some((v) => FAILING.has(v[0]));
    };
    showFailures();
    window.addEventListener("resize", redraw);

    // New states (a run moving on): recolour, and redraw what is in view.
    return (tasks) => {
      const byKey = new Map();
      for (const t of tasks) {
        if (!byKey.has(t.key)) byKey.set(t.key, []);
        byKey.get(t.key).push(t.state);
      }
      for (const [key, states] of byKey) data.states[key] = [rollup(states), states.length];
      for (const [g, keys] of Object.entries(members)) {
        const all = keys.flatMap((k) => byKey.get(k) || []);
        if (all.length) data.states[g] = [rollup(all), all.length];
      }
      showFailures();
      redraw();
    };
  }

  function paintDag(tasks) {
    for (const paint of dags) paint(tasks);
  }

  // -- the Gantt chart of attempts -----------------------------------------------------------

  // Tick steps, in seconds: from a millisecond (fast tasks) to a day.
  const NICE = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60,
    120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
  const ROW = 20; // px per task run
  const CHAR = 6.6; // px per character of the labels' 11.5px font, with room

  function tickText(v, step) {
    if (v === 0) return "0";
    if (step < 1) return `${Math.round(v * 1000)} ms`;
    if (step < 60) return `${Math.round(v)} s`;
    return duration(v).replace(" 00 s", "").replace(" 00 min", "");
  }

  // Rows are drawn only where the box is scrolled to: a 2,000-task run costs a screenful.
  // The time axis zooms (buttons, Ctrl+wheel) and pans (drag, Shift+wheel); each attempt is
  // a bar of its own (a retry is a second bar on the row), with the time it waited in the
  // queue drawn lighter before it.
  function gantt(el, run, tasks) {
    const rows = tasks
      .filter((t) => t.attempt_list.length) // none: not run in this run (or reused by a repair)
      .map((t) => ({ t, start: seconds(t.attempt_list[0].queued_at || t.attempt_list[0].started_at) }))
      .sort((a, b) => a.start - b.start);
    if (!rows.length) return;
    const now = Date.now() / 1000;
    const t0 = rows[0].start;
    let t1 = t0;
    let longest = 8;
    for (const { t } of rows) {
      for (const a of t.attempt_list) t1 = Math.max(t1, seconds(a.ended_at) ?? now);
      longest = Math.max(longest, (t.map_index == null ? t.key : `${t.key}.${t.map_index}`).length);
    }
    t1 = Math.max(t1, t0 + 0.001);
    const width = Math.max(480, el.clientWidth - 2);
    // The label column fits the longest name (up to 45% of the width; a longer one is
    // shortened, whole in its title).
    const left = Math.min(Math.round(width * 0.45), Math.max(120, Math.ceil(longest * CHAR) + 20));
    const plot = width - left - 16;
    if (!el.gantt) {
      el.innerHTML = '<div class="gantt-tools" role="toolbar" aria-label="Timeline zoom">' +
        '<button type="button" class="btn icon" data-gzoom="in" title="Zoom in (Ctrl+wheel)" aria-label="Zoom in">+</button>' +
        '<button type="button" class="btn icon" data-gzoom="out" title="Zoom out" aria-label="Zoom out">−</button>' +
        '<button type="button" class="btn" data-gzoom="reset">Whole run</button>' +
        '<span class="muted small gantt-legend"><i class="q"></i>queued <i class="r"></i>running</span></div>' +
        '<svg class="axis" height="24" role="img" aria-label="time since the first task was queued"></svg>' +
        '<div class="gantt-rows"><svg role="list" aria-label="attempts, one row per task run"></svg></div>';
      el.addEventListener("scroll", () => { if (!el.frame) el.frame = requestAnimationFrame(() => { el.frame = 0; draw(); }); });
      el.view = { k: 1, off: 0 }; // zoom factor and how far the window is into the run (s)
      const zoomAt = (factor, px) => {
        const g = el.gantt, v = el.view;
        const span = (g.t1 - g.t0) / v.k;
        const at = v.off + ((px - g.left) / g.plot) * span; // the time under the pointer
        v.k = Math.min(1e6, Math.max(1, v.k * factor));
        const next = (g.t1 - g.t0) / v.k;
        v.off = Math.min(Math.max(0, at - ((px - g.left) / g.plot) * next), g.t1 - g.t0 - next);
        axis(); draw();
      };
      $$("[data-gzoom]", el).forEach((b) => b.addEventListener("click", () => {
        const g = el.gantt;
        if (b.dataset.gzoom === "reset") { el.view = { k: 1, off: 0 }; axis(); draw(); return; }
        zoomAt(b.dataset.gzoom === "in" ? 2 : 0.5, g.left + g.plot / 2);
      }));
      el.addEventListener("wheel", (e) => {
        const g = el.gantt;
        if (e.ctrlKey || e.metaKey) {
          e.preventDefault();
          zoomAt(Math.exp(-e.deltaY * 0.004), e.clientX - el.getBoundingClientRect().left);
        } else if (e.shiftKey) {
          e.preventDefault();
          pan(((e.deltaY || e.deltaX) / g.plot) * ((g.t1 - g.t0) / el.view.k));
        }
      }, { passive: false });
      let drag = null;
      el.addEventListener("pointerdown", (e) => {
        if (e.button !== 0 || el.view.k === 1 || e.target.closest("button")) return;
        drag = { x: e.clientX, off: el.view.off, moved: false };
      });
      el.addEventListener("pointermove", (e) => {
        if (!drag) return;
        const g = el.gantt;
        if (!drag.moved && Math.abs(e.clientX - drag.x) < 4) return;
        drag.moved = true;
        el.view.off = drag.off;
        pan((-(e.clientX - drag.x) / g.plot) * ((g.t1 - g.t0) / el.view.k));
      });
      el.addEventListener("pointerup", () => { setTimeout(() => { drag = null; }, 0); });
      // A drag that ends on a bar is not a click on its task.
      el.addEventListener("click", (e) => { if (drag && drag.moved) e.preventDefault(); }, true);
      function pan(ds) {
        const g = el.gantt, v = el.view;
        v.off = Math.min(Math.max(0, v.off + ds), g.t1 - g.t0 - (g.t1 - g.t0) / v.k);
        axis(); draw();
      }
    }
    el.gantt = { rows, t0, t1, left, plot, width, now, run };
    $(".gantt-rows", el).style.height = `${rows.length * ROW + 4}px`;
    axis();
    draw();

    function scale() {
      const g = el.gantt, v = el.view;
      const span = (g.t1 - g.t0) / v.k, from = g.t0 + v.off;
      const step = NICE.find((n) => span / n <= 8) || 86400;
      const X = (ts) => g.left + ((ts - from) / span) * g.plot;
      const ticks = [];
      for (let i = Math.ceil(v.off / step); i * step <= v.off + span + 1e-9; i++) ticks.push([X(g.t0 + i * step), i * step, step]);
      return { X, ticks };
    }
    function axis() {
      const g = el.gantt;
      const { ticks } = scale();
      const svg = $(".axis", el);
      svg.setAttribute("width", g.width);
      svg.innerHTML = `<rect class="mask" x="0" y="0" width="${g.left}" height="24"/>` +
        ticks.filter(([px]) => px >= g.left - 1).map(([px, v, step]) =>
          `<line x1="${px}" x2="${px}" y1="18" y2="24"/><text x="${px + 3}" y="14">${esc(tickText(v, step))}</text>`).join("");
      const zoomed = $("[data-gzoom=reset]", el);
      if (zoomed) zoomed.disabled = el.view.k === 1;
    }

    function draw() {
      const g = el.gantt;
      const { X, ticks } = scale();
      const first = Math.max(0, Math.floor(el.scrollTop / ROW) - 10);
      const last = Math.min(g.rows.length, first + Math.ceil(el.clientHeight / ROW) + 20);
      const body = $(".gantt-rows svg", el);
      const h = (last - first) * ROW;
      body.setAttribute("width", g.width);
      body.setAttribute("height", h);
      body.style.top = `${first * ROW}px`;
      const maxChars = Math.floor((g.left - 20) / CHAR);
      const clip = (x) => Math.min(g.width, Math.max(g.left, x));
      const out = ticks.filter(([px]) => px >= g.left).map(([px]) => `<line class="grid-line" x1="${px}" x2="${px}" y1="0" y2="${h}"/>`);
      for (let i = first; i < last; i++) {
        const { t } = g.rows[i];
        const y = (i - first) * ROW;
        const name = t.map_index == null ? t.key : `${t.key}.${t.map_index}`;
        const shown = name.length > maxChars ? name.slice(0, maxChars - 1) + "…" : name;
        out.push(`<a role="listitem" href="/runs/${g.run}/tasks/${encodeURIComponent(name)}"><g class="row${i % 2 ? " odd" : ""}">` +
          `<title>${esc(name)}</title><rect class="bg" x="0" y="${y}" width="${g.width}" height="${ROW}"/>`);
        for (const a of t.attempt_list) {
          const s = seconds(a.started_at);
          if (s == null) continue;
          const e = seconds(a.ended_at);
          const q = seconds(a.queued_at);
          const x1 = clip(X(s)), x2 = Math.max(x1 + 2, clip(X(e ?? g.now)));
          const ran = duration((e ?? g.now) - s);
          const waited = q != null && q < s ? ` · queued ${duration(s - q)}` : "";
          if (q != null && q < s && X(s) > g.left) {
            const qx = clip(X(q));
            out.push(`<rect class="queued st-${esc(a.state)}" x="${qx.toFixed(1)}" y="${y + 7}" width="${Math.max(1, x1 - qx).toFixed(1)}" height="${ROW - 14}" rx="1">` +
              `<title>${esc(`${name} · attempt ${a.number} queued ${duration(s - q)}`)}</title></rect>`);
          }
          if (X(e ?? g.now) < g.left || X(s) > g.width) continue; // out of the zoomed window
          const what = `${name} · attempt ${a.number} · ${label(a.state)} · ran ${ran}${waited}`;
          out.push(`<rect class="bar st-${esc(a.state)}${e == null ? " open" : ""}" data-attempt="${a.number}" x="${x1.toFixed(1)}" y="${y + 4}" ` +
            `width="${(x2 - x1).toFixed(1)}" height="${ROW - 8}" rx="2"><title>${esc(what)}</title></rect>`);
        }
        // The label last, over a mask: bars panned left of the plot never cover it.
        out.push(`<rect class="mask" x="0" y="${y}" width="${g.left}" height="${ROW}"/>` +
          `<text class="label" x="10" y="${y + 14}">${esc(shown)}</text></g></a>`);
      }
      body.innerHTML = out.join("");
    }
  }

  Object.assign(window.baton, { dagView, paintDag, gantt });
})();
