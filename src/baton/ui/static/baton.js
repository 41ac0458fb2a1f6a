// baton's web UI script: actions through the REST API, live updates of a run, the graph's pan
// and zoom, the Gantt chart and log tailing. Plain JavaScript, no dependencies, no build.
// Pages work without it (links and server-rendered states); it makes them live.
(() => {
  "use strict";

  const META = JSON.parse(document.getElementById("ui-meta").textContent);
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  const REPAIRABLE = new Set(["failed", "upstream_failed", "cancelled"]);
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // -- the REST API, with the sign-in cookie (the header makes the API accept it) ---------

  async function api(method, path, body) {
    const init = { method, headers: { "X-Baton-UI": "1" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch("/api/v1" + path, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!response.ok) {
      const error = new Error(message(data, response.status));
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  function message(data, status) {
    const d = data && data.detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((e) => e.msg).join("; ");
    if (status === 401) return "Your sign-in has expired: sign in again.";
    if (status === 403) return "Your role may not do this.";
    return `The server answered ${status}.`;
  }

  function toast(text, bad = false) {
    const el = $("#toast");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("bad", bad);
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 3500);
  }

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const label = (s) => (META.states[s] || [s])[0];
  const icon = (s) => (META.states[s] || [s, "pending"])[1];
  const badge = (s, big) =>
    `<span class="badge st-${esc(s)}${big ? " big" : ""}"><svg class="i" aria-hidden="true">` +
    `<use href="#s-${esc(icon(s))}"/></svg>${esc(label(s))}</span>`;
  const rollup = (states) => META.rollup.find((s) => states.includes(s)) || "none";
  const seconds = (iso) => (iso ? Date.parse(iso) / 1000 : null);

  function duration(s) {
    if (s == null) return "";
    s = Math.max(0, s);
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 10) return s.toFixed(1) + " s";
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  }

  // Durations of things still running tick every second; "5 min ago" keeps true too.
  function ago(seconds) {
    if (seconds < 0) return "in " + duration(-seconds);
    if (seconds < 45) return "just now";
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  }
  setInterval(() => {
    const now = Date.now() / 1000;
    for (const el of $$("[data-since]")) el.textContent = duration(now - Number(el.dataset.since));
    for (const el of $$("time.ago[datetime]")) {
      const at = Date.parse(el.getAttribute("datetime")) / 1000;
      if (!isNaN(at)) el.textContent = ago(now - at);
    }
  }, 1000);

  // -- times: in UTC as served, or in the zone the user chose (kept in this browser) ---------
  // A time with data-zone is a schedule's, shown in the schedule's own zone whatever the
  // choice; its title gives it in the chosen zone too.

  const TZ_KEY = "baton.tz";
  const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  function chosenZone() {
    let v = "utc";
    try { v = localStorage.getItem(TZ_KEY) || "utc"; } catch (e) { /* storage off: UTC */ }
    if (v === "local") return browserZone();
    if (v === "utc" || !validZone(v)) return "UTC";
    return v;
  }
  function validZone(zone) {
    try { new Intl.DateTimeFormat("en-GB", { timeZone: zone }); return true; } catch (e) { return false; }
  }
  const formats = new Map();
  function inZone(date, zone) {
    let f = formats.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short",
      });
      formats.set(zone, f);
    }
    const p = Object.fromEntries(f.formatToParts(date).map((x) => [x.type, x.value]));
    const name = zone === "UTC" ? "UTC" : p.timeZoneName;
    return [`${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`, name];
  }
  const zoned = (date, zone) => inZone(date, zone).join(" ");

  function showTimes(root = document) {
    const zone = chosenZone();
    for (const el of $$("time[datetime]", root)) {
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) continue;
      const own = el.dataset.zone;
      if (el.classList.contains("ago")) { el.title = zoned(date, zone); continue; }
      const [text, name] = inZone(date, own || zone);
      el.innerHTML = `${esc(text)} <span class="tz">${esc(name)}</span>`;
      el.title = own && own !== zone ? `${zoned(date, zone)} · ${zoned(date, "UTC")}` : zoned(date, "UTC");
    }
  }

  const tzPick = $("[data-tz]");
  if (tzPick) {
    const local = tzPick.querySelector('option[value="local"]');
    local.textContent = `this browser's zone (${browserZone()})`;
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    tzPick.insertAdjacentHTML("beforeend", zones.filter((z) => z !== "UTC")
      .map((z) => `<option value="${esc(z)}">${esc(z)}</option>`).join(""));
    let saved = "utc";
    try { saved = localStorage.getItem(TZ_KEY) || "utc"; } catch (e) { /* UTC */ }
    tzPick.value = saved;
    if (tzPick.value !== saved) tzPick.value = "utc";  // a zone this browser does not know
    tzPick.addEventListener("change", () => {
      try { localStorage.setItem(TZ_KEY, tzPick.value); } catch (e) { /* for this page only */ }
      showTimes();
    });
  }
  showTimes();

  // -- small behaviours --------------------------------------------------------------------

  // The menu of a narrow window (the side bar folded into a top bar).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-menu]");
    if (!button) return;
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.closest(".side").classList.toggle("open", open);
  });

  document.addEventListener("change", async (event) => {
    const el = event.target;
    if (el.matches("[data-autosubmit]")) el.form.submit();
    if (el.matches("[data-pause]")) {
      const name = el.dataset.pause;
      const pause = !el.checked;
      el.disabled = true;
      try {
        await api("POST", `/flows/${encodeURIComponent(name)}/${pause ? "pause" : "unpause"}`);
        toast(`${name} ${pause ? "paused" : "active again"}`);
        if (el.hasAttribute("data-reload")) location.reload();
      } catch (error) {
        el.checked = pause;
        toast(error.message, true);
      } finally {
        el.disabled = false;
      }
    }
  });

  // -- "Backfill missing": one run per missing partition, made by the server's timers ----

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-backfill]");
    if (!button) return;
    const body = { missing: true, max_parallel: 4 };
    if (button.dataset.partitions) body.partitions = button.dataset.partitions;
    button.disabled = true;
    try {
      const made = await api("POST", `/flows/${encodeURIComponent(button.dataset.backfill)}/backfills`, body);
      toast(`Backfill ${made.id} started: ${made.partitions.length} partitions`);
      setTimeout(() => location.reload(), 1500);
    } catch (error) {
      button.disabled = false;
      toast(error.message, true);
    }
  });

  document.addEventListener("click", (event) => {
    const open = event.target.closest("[data-open]");
    if (open) {
      const dialog = document.getElementById(open.dataset.open);
      dialog.showModal();
      const first = $("input, select, textarea", dialog);
      if (first) first.focus();
    }
    const close = event.target.closest("[data-close]");
    if (close) close.closest("dialog").close();
    const action = event.target.closest("[data-action]");
    if (action) runAction(action);
  });

  // The flows list's "Trigger" shortcut lands on the flow's page with its trigger form open.
  if (location.hash === "#trigger" && document.getElementById("trigger")) {
    history.replaceState(null, "", location.pathname + location.search);
    const dialog = document.getElementById("trigger");
    dialog.showModal();
    const first = $("input, select, textarea", dialog);
    if (first) first.focus();
  }

  // A sign-in link from `baton ui` carries the token after '#', which never reaches a server.
  const signin = $("form[data-signin]");
  if (signin && location.hash.startsWith("#token=")) {
    signin.token.value = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", location.pathname + location.search);
    signin.submit();
  }

  // -- the trigger form: params as typed; the API checks them, errors go next to the field --

  const triggerForm = $("form[data-trigger]");
  if (triggerForm) {
    triggerForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const flow = triggerForm.dataset.trigger;
      const params = {};
      for (const field of $$("[data-param]:not([data-partition])", triggerForm)) {
        // Only what was changed: a param left at its default gets it from the server.
        const input = $("[name]", field);
        if (input.value !== input.dataset.default && input.value.trim() !== "") {
          params[field.dataset.param] = input.value;
        }
      }
      const body = { params };
      const partition = $("[data-partition] input", triggerForm);
      if (partition && partition.value.trim() !== "") body.partition = partition.value.trim();
      showErrors(triggerForm, {}, "");
      const button = $("button[type=submit]", triggerForm);
      button.disabled = true;
      try {
        const run = await api("POST", `/flows/${encodeURIComponent(flow)}/runs`, body);
        location.href = `/runs/${run.id}`;
      } catch (error) {
        button.disabled = false;
        const byField = {};
        let rest = "";
        const detail = error.data && error.data.detail;
        if (Array.isArray(detail)) {
          for (const e of detail) {
            const loc = e.loc || [];
            const i = loc.indexOf("params");
            const name = i >= 0 ? loc[i + 1] : loc[1] === "partition" ? "partition" : undefined;
            if (name !== undefined && $(`[data-param="${CSS.escape(name)}"]`, triggerForm)) {
              byField[name] = (byField[name] ? byField[name] + "; " : "") + e.msg;
            } else {
              rest += (rest ? "; " : "") + (name !== undefined ? `${name}: ${e.msg}` : e.msg);
            }
          }
        } else {
          rest = error.message;
        }
        showErrors(triggerForm, byField, rest);
      }
    });
  }

  function showErrors(form, byField, rest) {
    for (const field of $$("[data-param]", form)) {
      const text = byField[field.dataset.param];
      const out = $(".error", field);
      const input = $("[name]", field);
      field.classList.toggle("invalid", Boolean(text));
      out.hidden = !text;
      out.textContent = text || "";
      out.id = `err-${field.dataset.param}`;
      if (text) input.setAttribute("aria-describedby", out.id);
      else input.removeAttribute("aria-describedby");
      input.setAttribute("aria-invalid", text ? "true" : "false");
    }
    const top = $(".form-error", form);
    top.hidden = !rest;
    top.textContent = rest;
    const bad = $(".invalid [name]", form);
    if (bad) bad.focus();
  }

  // -- run actions -----------------------------------------------------------------------

  async function runAction(button) {
    const page = button.closest("[data-run]");
    const run = page.dataset.run;
    const what = button.dataset.action;
    if (what === "cancel" && !confirm(`Cancel run ${run.slice(0, 8)}? Running tasks are stopped.`)) return;
    button.disabled = true;
    try {
      if (what === "repair" || what === "retry") {
        const made = await api("POST", `/runs/${run}/repair`);
        const task = page.dataset.task;
        location.href = what === "retry" && task
          ? `/runs/${made.id}/tasks/${encodeURIComponent(task)}`
          : `/runs/${made.id}`;
        return;
      }
      await api("POST", `/runs/${run}/${what}`);
      toast(what === "cancel" ? "Cancelling the run…" : "Resuming the run…");
      if (live) live.poll(true);
    } catch (error) {
      toast(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

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

    function box([key, nx, ny, type]) {
      const [state, count] = data.states[key] || ["none", 0];
      const k = esc(key);
      const shown = esc(key.length <= MAX_LABEL ? key : key.slice(0, MAX_LABEL - 1) + "…");
      const title = `<title>${k}${count > 1 ? " ×" + count : ""} · ${esc(type)} · ${esc(label(state))}</title>`;
      const open = data.href && data.states[key]
        ? `<a class="n st-${state}" href="${esc(data.href + encodeURIComponent(key))}"` : `<g class="n st-${state}"`;
      const close = open.startsWith("<a") ? "</a>" : "</g>";
      const head = `${open} data-k="${k}" transform="translate(${nx},${ny})">${title}` +
        `<rect class="box" width="${nw}" height="${nh}" rx="6"/><rect class="bar" width="5" height="${nh}" rx="2"/>`;
      if (s < 0.4) return head + close; // zoomed far out: the colour and the title say it
      // Asset chips (SVG escaped by the server): beside the box's link, never inside it.
      const chips = data.chips && data.chips[key];
      return head + `<use class="ti" href="#t-${type}" x="12" y="10" width="16" height="16"/>` +
        `<text x="36" y="23">${shown}</text>` +
        (count > 1 ? `<text class="cnt" x="${nw - 30}" y="23" text-anchor="end">×${count}</text>` : "") +
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
      for (const e of data.edges) {
        if (e[2] >= x0 && e[0] <= x1 && e[3] >= y0 && e[1] <= y1) edges.push(`<path d="${e[4]}"/>`);
      }
      edgeBox.innerHTML = edges.join("");
      nodeBox.innerHTML = nodes.join("");
      if (hit) { const n = $(`.n[data-k="${CSS.escape(hit)}"]`, nodeBox); if (n) n.classList.add("hit"); }
    }
    const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };

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
      showFailures();
      redraw();
    };
  }

  function paintDag(tasks) {
    for (const paint of dags) paint(tasks);
  }

  // -- the Gantt chart of attempts -----------------------------------------------------------

  const NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
  const ROW = 20; // px per task run

  // Rows are drawn only where the box is scrolled to: a 2,000-task run costs a screenful.
  function gantt(el, run, tasks) {
    const rows = tasks
      .filter((t) => t.attempt_list.length) // none: not run in this run (or reused by a repair)
      .map((t) => ({ t, start: seconds(t.attempt_list[0].started_at) }))
      .sort((a, b) => a.start - b.start);
    if (!rows.length) return;
    const now = Date.now() / 1000;
    const t0 = rows[0].start;
    let t1 = t0 + 1;
    for (const { t } of rows) {
      for (const a of t.attempt_list) t1 = Math.max(t1, seconds(a.ended_at) ?? now);
    }
    const width = Math.max(480, el.clientWidth - 2);
    const left = Math.min(260, Math.round(width * 0.28));
    const plot = width - left - 16;
    const X = (ts) => left + ((ts - t0) / (t1 - t0)) * plot;
    const step = NICE.find((n) => (t1 - t0) / n <= 8) || 86400;
    const ticks = [];
    for (let v = 0; v <= t1 - t0; v += step) ticks.push(X(t0 + v));
    const tick = (i) => (i === 0 ? "0" : step >= 60 ? duration(i * step).replace(" 00 s", "") : `${i * step} s`);
    if (!el.gantt) {
      el.innerHTML = '<svg class="axis" height="24" role="img" aria-label="seconds since the first task started"></svg>' +
        '<div class="gantt-rows"><svg role="list" aria-label="attempts, one row per task run"></svg></div>';
      el.addEventListener("scroll", () => { if (!el.frame) el.frame = requestAnimationFrame(() => { el.frame = 0; draw(); }); });
    }
    el.gantt = { rows, X, ticks, width, now, run };
    $(".axis", el).setAttribute("width", width);
    $(".axis", el).innerHTML = ticks.map((px, i) =>
      `<line x1="${px}" x2="${px}" y1="18" y2="24"/><text x="${px + 3}" y="14">${esc(tick(i))}</text>`).join("");
    $(".gantt-rows", el).style.height = `${rows.length * ROW + 4}px`;
    draw();

    function draw() {
      const g = el.gantt;
      const first = Math.max(0, Math.floor(el.scrollTop / ROW) - 10);
      const last = Math.min(g.rows.length, first + Math.ceil(el.clientHeight / ROW) + 20);
      const body = $(".gantt-rows svg", el);
      body.setAttribute("width", g.width);
      body.setAttribute("height", (last - first) * ROW);
      body.style.top = `${first * ROW}px`;
      const out = g.ticks.map((px) => `<line class="grid-line" x1="${px}" x2="${px}" y1="0" y2="${(last - first) * ROW}"/>`);
      for (let i = first; i < last; i++) {
        const { t } = g.rows[i];
        const y = (i - first) * ROW;
        const name = t.map_index == null ? t.key : `${t.key}.${t.map_index}`;
        const shown = name.length > 34 ? name.slice(0, 33) + "…" : name;
        out.push(`<a role="listitem" href="/runs/${g.run}/tasks/${encodeURIComponent(name)}"><g class="row${i % 2 ? " odd" : ""}">` +
          `<rect class="bg" x="0" y="${y}" width="${g.width}" height="${ROW}"/>` +
          `<text class="label" x="10" y="${y + 14}">${esc(shown)}</text>`);
        for (const a of t.attempt_list) {
          const s = seconds(a.started_at);
          if (s == null) continue;
          const e = seconds(a.ended_at);
          const x1 = g.X(s), x2 = Math.max(x1 + 2, g.X(e ?? g.now));
          const what = `${name} · attempt ${a.number} · ${label(a.state)} · ${duration((e ?? g.now) - s)}`;
          out.push(`<rect class="bar st-${esc(a.state)}${e == null ? " open" : ""}" x="${x1.toFixed(1)}" y="${y + 4}" ` +
            `width="${(x2 - x1).toFixed(1)}" height="${ROW - 8}" rx="2"><title>${esc(what)}</title></rect>`);
        }
        out.push("</g></a>");
      }
      body.innerHTML = out.join("");
    }
  }

  // -- a run's page, live: poll the run while it is not finished --------------------------------

  let live = null;
  const runPage = $(".run-page");
  const runData = $("#run-data");
  if (runPage && runData) live = liveRun(runPage, JSON.parse(runData.textContent));

  function liveRun(page, data) {
    const id = data.run.id;
    const chart = $("[data-gantt]", page);
    const interval = data.tasks.length > 500 ? 3000 : 1000;
    let timer = null;
    let failures = 0;
    let latest = data.tasks;

    function render(run, tasks) {
      latest = tasks;
      gantt(chart, id, tasks);
      paintDag(tasks);
      const stateBox = $("[data-run-state]", page);
      if (stateBox) stateBox.innerHTML = badge(run.state, true);
      const ended = TERMINAL.has(run.state);
      const repairable = ended && tasks.some((t) => REPAIRABLE.has(t.state));
      for (const b of $$("[data-when]", page)) {
        b.hidden = b.dataset.when === "active" ? ended : !repairable;
      }
      const d = $("[data-run-duration]", page);
      if (d && run.started_at) {
        if (ended) { d.removeAttribute("data-since"); d.textContent = duration(seconds(run.ended_at) - seconds(run.started_at)); }
        else d.dataset.since = seconds(run.started_at);
      }
      const byName = new Map(tasks.map((t) => [t.map_index == null ? t.key : `${t.key}.${t.map_index}`, t]));
      for (const row of $$("[data-task-rows] tr[data-name]", page)) {
        const t = byName.get(row.dataset.name);
        if (!t) continue;
        const cell = (c) => $(`[data-col="${c}"]`, row);
        if (!cell("state").querySelector(`.st-${CSS.escape(t.state)}`)) cell("state").innerHTML = badge(t.state);
        cell("attempts").textContent = t.attempts || "";
        const s = seconds(t.started_at), e = seconds(t.ended_at);
        if (s != null) {
          cell("started").textContent = new Date(s * 1000).toISOString().slice(11, 19);
          if (e == null) cell("duration").dataset.since = s;
          else { cell("duration").removeAttribute("data-since"); cell("duration").textContent = duration(e - s); }
        }
        // Why a queued task cannot be placed comes and goes with the workers: kept current.
        const why = $("[data-unschedulable]", row);
        if (why && why.dataset.text !== (t.unschedulable || "")) why.remove();
        if (t.unschedulable && !$("[data-unschedulable]", row)) {
          cell("error").insertAdjacentHTML("beforeend", `<span data-unschedulable data-text="${esc(t.unschedulable)}"><span class="tag kind">unschedulable</span> <span class="muted">${esc(t.unschedulable)}</span></span>`);
        }
        const last = t.attempt_list.length ? t.attempt_list[t.attempt_list.length - 1] : null;
        const kind = (last && last.error_kind) || t.error_kind;
        if (kind && !cell("error").textContent.trim()) {
          cell("error").innerHTML = `<span class="tag kind">${esc(kind)}</span> <span class="muted">${esc((t.error || "").slice(0, 120))}</span>`;
        }
      }
      const counts = {};
      for (const t of tasks) counts[t.state] = (counts[t.state] || 0) + 1;
      const box = $("[data-counts]", page);
      if (box) {
        box.innerHTML = Object.keys(counts).sort().map((s) =>
          `<a class="count st-${esc(s)}" href="?state=${esc(s)}#tasks" title="${counts[s]} ${esc(label(s).toLowerCase())}">` +
          `<svg class="i"><use href="#s-${esc(icon(s))}"/></svg>${counts[s]} <span>${esc(label(s).toLowerCase())}</span></a>`).join("");
      }
      return ended;
    }

    async function poll(soon) {
      clearTimeout(timer);
      if (soon) { timer = setTimeout(poll, 300); return; }
      try {
        const run = await api("GET", `/runs/${id}`);
        failures = 0;
        if (render(run, run.tasks)) { refresh(page, ["#tasks", ".facts"]); return; }
      } catch (error) {
        failures += 1;
        if (error.status === 401 || error.status === 404 || failures > 20) return;
      }
      timer = setTimeout(poll, interval * Math.min(8, 1 + failures));
    }

    render(data.run, data.tasks);
    if (!TERMINAL.has(data.run.state)) timer = setTimeout(poll, interval);
    window.addEventListener("resize", () => gantt(chart, id, latest));
    return { poll };
  }

  // Parts of a page drawn afresh by the server (a run that ended: its filters and errors).
  async function refresh(page, selectors) {
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const sel of selectors) {
        const now = $(sel, page), next = $(sel, fresh);
        if (now && next) now.replaceWith(document.importNode(next, true));
      }
    } catch (error) {
      // The page as it is stays right but for these details.
    }
  }

  // -- a task run's page: its log, tailed live while the attempt runs ------------------------

  const logBox = $("pre[data-log]");
  if (logBox) tailLog($(".task-page"), logBox);

  async function tailLog(page, box) {
    const run = page.dataset.run;
    const task = encodeURIComponent(page.dataset.task);
    const attempt = box.dataset.attempt;
    const status = $("[data-log-status]", page);
    const follow = $("[data-log-follow]", page);
    const wrap = $("[data-log-wrap]", page);
    wrap.addEventListener("change", () => box.classList.toggle("wrap", wrap.checked));
    const viewer = logViewer(page, box);
    const add = (text) => {
      if (!text) return;
      viewer.add(text);
      if (follow.checked && !viewer.pinned()) box.scrollTop = box.scrollHeight;
    };
    const say = (text, on) => { status.textContent = text; status.classList.toggle("live", Boolean(on)); };
    const base = `/runs/${run}/logs/${task}`;
    // Download: the whole log as the server has it now (not what the page holds), as text.
    const download = $("[data-log-download]", page);
    if (download) download.addEventListener("click", async () => {
      download.disabled = true;
      try {
        const parts = [];
        for (let at = 0; ;) {
          const part = await api("GET", `${base}?attempt=${attempt}&offset=${at}&limit=1048576`);
          parts.push(part.text);
          if (part.complete || part.next_offset === at) break;
          at = part.next_offset;
        }
        const link = document.createElement("a");
        link.href = URL.createObjectURL(new Blob(parts, { type: "text/plain;charset=utf-8" }));
        link.download = download.dataset.logDownload;
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      } catch (error) {
        toast(error.message, true);
      } finally {
        download.disabled = false;
      }
    });
    let offset = 0;
    try {
      for (let i = 0; i < 32; i++) { // at most 2 MB up front; the rest is a click away
        const part = await api("GET", `${base}?attempt=${attempt}&offset=${offset}`);
        add(part.text);
        box.classList.add("loaded");
        offset = part.next_offset;
        if (part.complete) { say("Complete"); return; }
        if (!part.text) break;
      }
    } catch (error) {
      say(error.status === 404 ? "No log" : error.message);
      return;
    }
    if (box.dataset.running !== "true") { say("Complete"); return; }
    say("Live", true);
    try {
      await stream(`/api/v1${base}/stream?attempt=${attempt}&offset=${offset}`, add);
      say("Attempt ended");
      setTimeout(() => location.reload(), 600); // its state, error and result are known now
    } catch (error) {
      say("Live updates stopped: " + error.message);
    }
  }

  // The log as numbered lines (each a link: #L12), searchable with the matches marked and
  // stepped through, and filtered by level when its lines say one (INFO, WARNING, ...).
  const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
  const LEVEL_RE = /\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b/;
  function logViewer(page, box) {
    let open = null; // the last line, while it has no newline yet
    let count = 0;
    const search = $("[data-log-search]", page);
    const counter = $("[data-log-count]", page);
    const level = $("[data-log-level]", page);
    let marks = [];
    let at = -1;
    function line(text) {
      const el = document.createElement("span");
      el.className = "line";
      el.id = `L${++count}`;
      const n = document.createElement("a");
      n.className = "ln";
      n.href = `#L${count}`;
      n.dataset.n = String(count);
      n.setAttribute("aria-label", `line ${count}`);
      el.append(n, document.createTextNode(text));
      return el;
    }
    function tag(el) {
      const found = LEVEL_RE.exec(el.lastChild.textContent);
      if (!found) return;
      const name = { WARN: "WARNING", FATAL: "CRITICAL" }[found[1]] || found[1];
      el.dataset.level = String(LEVELS.indexOf(name));
      if (level) level.closest("label").hidden = false;
    }
    function add(text) {
      const pieces = text.split("\n");
      const frag = document.createDocumentFragment();
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        if (last && piece === "") return;
        if (open) { open.lastChild.textContent += piece; tag(open); if (!last) open = null; return; }
        const el = line(piece);
        tag(el);
        frag.append(el);
        if (last) open = el;
      });
      box.append(frag);
      if (search && search.value) find();
      filter();
    }
    function unmark() {
      for (const m of $$("mark", box)) m.replaceWith(document.createTextNode(m.textContent));
      box.normalize();
      marks = [];
    }
    function find() {
      unmark();
      const q = search.value;
      if (q) {
        const lower = q.toLowerCase();
        for (const el of $$(".line", box)) {
          if (marks.length >= 5000) break;
          const node = el.lastChild;
          const text = node.textContent;
          let i = text.toLowerCase().indexOf(lower);
          if (i < 0) continue;
          const frag = document.createDocumentFragment();
          let from = 0;
          while (i >= 0 && marks.length < 5000) {
            frag.append(text.slice(from, i));
            const m = document.createElement("mark");
            m.textContent = text.slice(i, i + q.length);
            frag.append(m);
            marks.push(m);
            from = i + q.length;
            i = text.toLowerCase().indexOf(lower, from);
          }
          frag.append(text.slice(from));
          node.replaceWith(frag);
          el.normalize();
        }
      }
      at = marks.length ? 0 : -1;
      show();
    }
    function show() {
      for (const m of $$("mark.current", box)) m.classList.remove("current");
      if (counter) counter.textContent = search && search.value ? `${marks.length ? at + 1 : 0} of ${marks.length}` : "";
      if (at < 0) return;
      marks[at].classList.add("current");
      const top = marks[at].closest(".line").offsetTop;
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
    function step(by) {
      if (!marks.length) return;
      at = (at + by + marks.length) % marks.length;
      show();
    }
    function filter() {
      if (!level) return;
      const min = Number(level.value || -1);
      box.classList.toggle("filtered", min > 0);
      for (const el of $$(".line[data-level]", box)) el.hidden = min > 0 && Number(el.dataset.level) < min;
    }
    if (search) {
      search.addEventListener("input", find);
      search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); step(e.shiftKey ? -1 : 1); } });
      $("[data-log-next]", page).addEventListener("click", () => step(1));
      $("[data-log-prev]", page).addEventListener("click", () => step(-1));
    }
    if (level) level.addEventListener("change", filter);
    // A link to a line: the line marked and in view once the log has it.
    let pinned = /^#L\d+$/.test(location.hash) ? location.hash.slice(1) : null;
    function pin() {
      for (const el of $$(".line.target", box)) el.classList.remove("target");
      const el = pinned && document.getElementById(pinned);
      if (!el) return false;
      el.classList.add("target");
      box.scrollTop = Math.max(0, el.offsetTop - box.clientHeight / 3);
      return true;
    }
    box.addEventListener("click", (e) => {
      const n = e.target.closest("a.ln");
      if (!n) return;
      e.preventDefault();
      pinned = `L${n.dataset.n}`;
      history.replaceState(null, "", `${location.pathname}${location.search}#${pinned}`);
      pin();
    });
    return {
      add(text) { add(text); if (pinned) pin(); },
      pinned: () => Boolean(pinned),
    };
  }

  // Server-sent events read with fetch: EventSource cannot send the header the API needs.
  async function stream(url, onData) {
    const response = await fetch(url, { headers: { "X-Baton-UI": "1" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
        if (event === "end") return;
        if (event === "message" && data.length) onData(data.join("\n"));
      }
    }
  }

  // A task page whose task has not started, or waits for a retry, refreshes when it moves.
  const taskPage = $(".task-page");
  if (taskPage && !logBox) watchTask(taskPage);
  else if (taskPage && logBox && logBox.dataset.running !== "true") watchTask(taskPage);

  function watchTask(page) {
    const badgeNow = $("h1 .badge", page);
    const start = badgeNow ? [...badgeNow.classList].find((c) => c.startsWith("st-")).slice(3) : "none";
    const name = page.dataset.task;
    if (["succeeded", "failed", "skipped", "upstream_failed", "cancelled"].includes(start)) return;
    const check = async () => {
      try {
        const run = await api("GET", `/runs/${page.dataset.run}`);
        const t = run.tasks.find((x) => (x.map_index == null ? x.key : `${x.key}.${x.map_index}`) === name);
        if (t && t.state !== start) { location.reload(); return; }
        if (TERMINAL.has(run.state)) return;
      } catch (error) {
        return;
      }
      setTimeout(check, 1500);
    };
    setTimeout(check, 1500);
  }
})();
