// baton's web UI script: actions through the REST API, live updates of a run, the graph's pan
// and zoom, the Gantt chart and log tailing. Plain JavaScript, no dependencies, no build.
// Pages work without it (links and server-rendered states); it makes them live.
(() => {
  "use strict";

  const META = JSON.parse(document.getElementById("ui-meta").textContent);
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  const REPAIRABLE = new Set(["failed", "upstream_failed", "cancelled"]);
  const TASK_DONE = new Set(["succeeded", "failed", "skipped", "upstream_failed", "cancelled"]);
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

  // A log line's time: the time of day to the millisecond, in the chosen zone (its text
  // ends with the space before the line's own text; the date comes on hover).
  const clocks = new Map();
  function lineTime(el, zone = chosenZone()) {
    let f = clocks.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
        fractionalSecondDigits: 3,
      });
      clocks.set(zone, f);
    }
    el.textContent = `${f.format(new Date(Number(el.dataset.ms)))} `;
    el.title = "";
  }

  function showTimes(root = document) {
    const zone = chosenZone();
    for (const el of $$("time[datetime]", root)) {
      if (el.dataset.ms) { lineTime(el, zone); continue; }
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) continue;
      const own = el.dataset.zone;
      if (el.classList.contains("ago")) { el.title = zoned(date, zone); continue; }
      const [text, name] = inZone(date, own || zone);
      const shown = el.dataset.short !== undefined ? text.slice(5, 16) : text; // MM-DD HH:MM
      el.innerHTML = `${esc(shown)} <span class="tz">${esc(name)}</span>`;
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
      for (const field of $$("[data-param]:not([data-partition]):not([data-extra])", triggerForm)) {
        // Only what was changed: a param left at its default gets it from the server.
        const input = $("[name]", field);
        if (input.value !== input.dataset.default && input.value.trim() !== "") {
          params[field.dataset.param] = input.value;
        }
      }
      const body = { params };
      const partition = $("[data-partition] input", triggerForm);
      if (partition && partition.value.trim() !== "") body.partition = partition.value.trim();
      for (const name of ["logical_date", "note"]) {
        const input = $(`[name="${name}"]`, triggerForm);
        if (input && input.value.trim() !== "") body[name] = input.value.trim();
      }
      if (rawMode()) {
        try { body.params = JSON.parse($("[name=raw]", triggerForm).value || "{}"); }
        catch (e) { showErrors(triggerForm, {}, `params: not JSON (${e.message})`); return; }
        if (body.params === null || typeof body.params !== "object" || Array.isArray(body.params)) {
          showErrors(triggerForm, {}, "params: a JSON object, {\"name\": value, ...}"); return;
        }
      }
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
            const name = i >= 0 ? loc[i + 1] : ["partition", "logical_date", "note"].includes(loc[1]) ? loc[1] : undefined;
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

  // Raw JSON mode: the params as one object, from and back to the fields.
  const rawMode = () => triggerForm && !$("[data-raw]", triggerForm).hidden;
  const rawToggle = triggerForm && $("[data-raw-toggle]", triggerForm);
  if (rawToggle) rawToggle.addEventListener("click", () => {
    const raw = $("[data-raw]", triggerForm);
    const fields = $$("[data-param]:not([data-partition]):not([data-extra])", triggerForm);
    if (!rawMode()) {
      const values = {};
      for (const field of fields) {
        const input = $("[name]", field);
        if (input.value.trim() === "") continue;
        let v = input.value;
        try { v = JSON.parse(v); } catch (e) { /* a string stays a string */ }
        values[field.dataset.param] = v;
      }
      $("textarea", raw).value = JSON.stringify(values, null, 2);
    } else {
      let values;
      try { values = JSON.parse($("textarea", raw).value || "{}"); }
      catch (e) { showErrors(triggerForm, {}, `params: not JSON (${e.message})`); return; }
      for (const field of fields) {
        const v = values[field.dataset.param];
        if (v !== undefined) $("[name]", field).value = typeof v === "string" ? v : JSON.stringify(v);
      }
      showErrors(triggerForm, {}, "");
    }
    const on = !rawMode();
    raw.hidden = !on;
    for (const field of fields) field.hidden = on;
    rawToggle.setAttribute("aria-pressed", String(on));
  });
  // `?rerun=RUN`: the form opens filled in with that run's params.
  const openNow = $("dialog[data-open-now]");
  if (openNow) openNow.showModal();

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

  // -- approvals: Approve or Reject with the form's fields (the API checks and names them) --

  for (const form of $$("form[data-approval]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const action = event.submitter && event.submitter.value === "reject" ? "reject" : "approve";
      const inputs = {};
      for (const field of $$("[data-field]", form)) {
        // Only what was filled in: a field left empty gets its default from the server.
        const input = $("[name]", field);
        if (input.value.trim() !== "") inputs[field.dataset.field] = input.value;
      }
      const comment = $("[data-comment]", form).value.trim();
      const top = $(".form-error", form);
      const buttons = $$("button", form);
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const path = `/runs/${form.dataset.run}/tasks/${encodeURIComponent(form.dataset.task)}/${action}`;
        const decision = await api("POST", path, { comment: comment || null, inputs });
        toast(`${form.dataset.task} ${decision.decision}`);
        form.closest("[data-approval-card]").remove();
        if (live) live.poll(true);
      } catch (error) {
        buttons.forEach((b) => { b.disabled = false; });
        top.hidden = false;
        top.textContent = error.message;
      }
    });
  }

  // -- run actions -----------------------------------------------------------------------

  async function runAction(button) {
    const page = button.closest("[data-run]");
    const run = page.dataset.run;
    const what = button.dataset.action;
    if (what === "cancel" && !confirm(`Cancel run ${run.slice(0, 8)}? Running tasks are stopped.`)) return;
    let comment = null;
    if (what === "acknowledge") {
      comment = prompt(`Acknowledge run ${run.slice(0, 8)}? A comment (optional):`, "");
      if (comment === null) return;
    }
    button.disabled = true;
    try {
      if (what === "acknowledge") {
        const ack = await api("POST", `/runs/${run}/acknowledge`, comment ? { comment } : {});
        button.hidden = true;
        const fact = $("[data-ack]", page);
        if (fact) {
          $("dd", fact).textContent = `by ${ack.acknowledged_by} at ${ack.acknowledged_at}` + (ack.comment ? `: ${ack.comment}` : "");
          fact.hidden = false;
        }
        toast(ack.already_acknowledged ? `Already acknowledged by ${ack.acknowledged_by}` : "Acknowledged: escalation stops");
        return;
      }
      if (what === "repair" || what === "retry") {
        const made = await api("POST", `/runs/${run}/repair`);
        const task = page.dataset.task;
        location.href = what === "retry" && task
          ? `/runs/${made.id}/tasks/${encodeURIComponent(task)}`
          : `/runs/${made.id}`;
        return;
      }
      if (what === "run-here") {
        await api("POST", "/workers/embedded");
        toast("A worker runs in this process now");
        const note = $("[data-no-worker]");
        if (note) note.hidden = true;
        if (live) live.poll(true);
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

  // -- live pages: one poller for every page, paused while the tab is hidden ---------------
  // A page opts in by marking the parts the server redraws with data-live-part="NAME"; the
  // page is fetched again and each part swapped for its fresh copy, unless the user is busy
  // in it (a focused field, an open list, a form field changed and not sent). A part marked
  // data-live-final (a finished task) stops the polling. The run page polls the API itself
  // through the same poller, so every page shows the same indicator.
  const LIVE_MS = Number(window.BATON_LIVE_MS) || 5000;

  function liveIndicator() {
    const head = $("main .head > div") || $("main .head");
    if (!head) return { show() {} };
    const box = document.createElement("p");
    box.className = "live-ind";
    box.dataset.liveIndicator = "";
    box.innerHTML = '<span class="live-dot" aria-hidden="true"></span><span role="status" data-live-state></span>' +
      '<span class="muted" data-live-ago></span>';
    head.append(box);
    const TEXT = { live: "Live", paused: "Paused", offline: "Offline, retrying", done: "Up to date" };
    let at = Date.now();
    const tick = () => {
      $("[data-live-ago]", box).textContent = ` · updated ${Math.max(0, Math.round((Date.now() - at) / 1000))} s ago`;
    };
    setInterval(tick, 1000);
    return {
      show(state, fresh) {
        if (fresh) at = Date.now();
        box.dataset.state = state;
        const status = $("[data-live-state]", box);
        if (status.textContent !== TEXT[state]) status.textContent = TEXT[state];
        tick();
      },
    };
  }

  // tick() answers "live" (keep polling) or "done" (the page will not change again).
  function livePoller(tick, every = LIVE_MS) {
    const indicator = liveIndicator();
    let timer = null, failures = 0, busy = false, stopped = false;
    async function run() {
      clearTimeout(timer);
      timer = null;
      if (stopped || busy) return;
      if (document.hidden) { indicator.show("paused"); return; }
      busy = true;
      try {
        const state = await tick();
        failures = 0;
        if (state === "done") { stopped = true; indicator.show("done", true); return; }
        indicator.show("live", true);
      } catch (error) {
        failures += 1;
        indicator.show("offline");
        if (error.status === 401 || error.status === 403 || error.status === 404) { stopped = true; return; }
      } finally {
        busy = false;
      }
      later(every * Math.min(8, 2 ** failures));
    }
    function later(ms) {
      clearTimeout(timer);
      if (!stopped) timer = setTimeout(run, ms);
    }
    document.addEventListener("visibilitychange", () => {
      if (stopped) return;
      if (document.hidden) { clearTimeout(timer); timer = null; indicator.show("paused"); }
      else run();  // back at once, not after a whole interval
    });
    return {
      start() { indicator.show("live"); later(every); },
      now(ms = 0) { later(ms); },
      finished() { stopped = true; indicator.show("done"); },
    };
  }

  // A form field the user changed keeps its part as it is until the form is sent.
  document.addEventListener("input", (event) => {
    const part = event.target.form && event.target.closest("[data-live-part]");
    if (part) part.dataset.liveTouched = "";
  });
  function busyIn(part) {
    const focus = document.activeElement;
    const typing = "input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit]), select, textarea, [contenteditable]";
    if (focus && part.contains(focus) && focus.matches(typing)) return true;
    return part.matches("details[open]") || Boolean($("details[open]", part)) || part.hasAttribute("data-live-touched");
  }

  function focusKey(part) {
    const focus = document.activeElement;
    if (!focus || focus === document.body || !part.contains(focus)) return null;
    for (const a of ["data-select", "data-pause", "href"]) {
      const v = focus.getAttribute(a);
      if (v) return `[${a}="${CSS.escape(v)}"]`;
    }
    return null;
  }

  async function redraw() {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok || response.redirected) {
      const error = new Error(`The server answered ${response.status}.`);
      error.status = response.redirected ? 401 : response.status;  // a redirect: signed out
      throw error;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    // A part the page lacks (the first row of an empty list) comes with the page around it.
    const have = new Set($$("[data-live-part]").map((p) => p.dataset.livePart));
    if ($$("[data-live-part]", fresh).some((p) => !have.has(p.dataset.livePart)) &&
        !$$("[data-live-part]").some(busyIn)) {
      location.reload();
      return "done";
    }
    for (const part of $$("[data-live-part]")) {
      const next = $(`[data-live-part="${CSS.escape(part.dataset.livePart)}"]`, fresh);
      if (!next || busyIn(part)) continue;
      const html = next.outerHTML;
      if (part.liveHtml === html) continue;  // nothing new: focus and hover stay put
      const el = document.importNode(next, true);
      el.liveHtml = html;
      const focused = focusKey(part);
      part.replaceWith(el);
      if (focused) { const again = $(focused, el); if (again) again.focus(); }  // keyboard users keep their place
      showTimes(el);
      document.dispatchEvent(new CustomEvent("baton:live", { detail: el }));
    }
    return $$("[data-live-part]").every((p) => p.hasAttribute("data-live-final")) ? "done" : "live";
  }

  let liveParts = null;
  if ($("[data-live-part]")) {
    for (const part of $$("[data-live-part]")) part.liveHtml = part.outerHTML;
    liveParts = livePoller(redraw);
    if ($$("[data-live-part]").every((p) => p.hasAttribute("data-live-final"))) liveParts.finished();
    else liveParts.start();
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

    // The shared poller: paused while the tab is hidden, slower after errors, its indicator.
    const poller = livePoller(async () => {
      const run = await api("GET", `/runs/${id}`);
      if (!render(run, run.tasks)) return "live";
      await refresh(page, ["#tasks", ".facts"]);
      return "done";
    }, interval);
    const poll = (soon) => poller.now(soon ? 300 : 0);

    render(data.run, data.tasks);
    if (TERMINAL.has(data.run.state)) poller.finished();
    else poller.start();
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
    const add = (text, times) => {
      if (!text) return;
      viewer.add(text, times);
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
        const part = await api("GET", `${base}?attempt=${attempt}&offset=${offset}&times=true`);
        add(part.text, part.times);
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
      await stream(`/api/v1${base}/stream?attempt=${attempt}&offset=${offset}&times=true`, add);
      say("Attempt ended");
      settle(page, () => say("Complete"));
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
    const times = $("[data-log-times]", page);
    let timed = false; // some line has its time: the Times switch shows
    const toggleTimes = () => box.classList.toggle("times", timed && times.checked);
    times.addEventListener("change", toggleTimes);
    // A line's date and zone in its title, made when the pointer comes (not for every line).
    box.addEventListener("mouseover", (e) => {
      const t = e.target.closest(".lt[data-ms]");
      if (t && !t.title) {
        const date = new Date(Number(t.dataset.ms));
        const [day, zone] = inZone(date, chosenZone());
        t.title = `${day}.${String(date.getUTCMilliseconds()).padStart(3, "0")} ${zone}`;
      }
    });
    let marks = [];
    let at = -1;
    function line(text, ms) {
      const el = document.createElement("span");
      el.className = "line";
      el.id = `L${++count}`;
      const n = document.createElement("a");
      n.className = "ln";
      n.href = `#L${count}`;
      n.dataset.n = String(count);
      n.setAttribute("aria-label", `line ${count}`);
      const t = document.createElement("time");
      t.className = "lt";
      if (ms != null) {
        t.dataset.ms = String(ms);
        t.dateTime = new Date(ms).toISOString();
        lineTime(t);
        if (!timed) { timed = true; times.closest("label").hidden = false; toggleTimes(); }
      }
      el.append(n, t, document.createTextNode(text));
      return el;
    }
    function tag(el) {
      const found = LEVEL_RE.exec(el.lastChild.textContent);
      if (!found) return;
      const name = { WARN: "WARNING", FATAL: "CRITICAL" }[found[1]] || found[1];
      el.dataset.level = String(LEVELS.indexOf(name));
      if (level) level.closest("label").hidden = false;
    }
    // `times`: when each line the text starts was written (the API's `times`), the first
    // for its first piece even when that goes on with the open line.
    function add(text, stamps) {
      const pieces = text.split(/\r\n|\r|\n/);
      const frag = document.createDocumentFragment();
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        if (last && piece === "") return;
        if (open) { open.lastChild.textContent += piece; tag(open); if (!last) open = null; return; }
        const el = line(piece, stamps ? stamps[i] : null);
        tag(el);
        frag.append(el);
        if (last) open = el;
      });
      box.append(frag);
      foldFrames();
      if (search && search.value) find();
      filter();
    }
    // Tracebacks: each run of baton's own frames (the runner, the worker, the task type that
    // called the user's function) folded under one line that opens it, so the user's frames
    // are the first in view. Which frames are baton's: as ui/tracebacks.py decides.
    const batonDir = box.dataset.batonDir;
    const FRAME = /^\s*File "([^"]+)", line \d+/;
    let scanned = 0; // lines looked at so far (the open last line is looked at once it ends)
    let frame = null; // "internal" or "user": whose source lines follow
    let fold = null; // the fold of the run of baton's frames being read
    function foldFrames() {
      const lines = box.getElementsByClassName("line");
      const end = open ? lines.length - 1 : lines.length;
      for (; scanned < end; scanned++) {
        const el = lines[scanned];
        const text = textOf(el);
        const found = FRAME.exec(text);
        if (found) {
          const path = found[1];
          frame = (batonDir && path.startsWith(batonDir + "/")) || path.includes("/site-packages/baton/") ? "internal" : "user";
          if (frame === "user") { fold = null; continue; }
          if (!fold) fold = foldOf(el);
          fold.frames += 1;
        } else if (!(frame && /^\s{4}/.test(text))) { // not a frame's source line or its ^^^
          frame = fold = null;
          continue;
        }
        if (frame !== "internal") continue;
        el.classList.add("internal", "folded");
        fold.lines.push(el);
        fold.label();
      }
    }
    // A line's own text: what follows its number and time (marks of a search included).
    const textOf = (el) => Array.from(el.childNodes).slice(2).map((n) => n.textContent).join("");
    function foldOf(first) {
      const el = document.createElement("span");
      el.className = "fold";
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      el.setAttribute("aria-expanded", "false");
      first.before(el);
      const f = { frames: 0, lines: [], el };
      f.label = () => {
        const opened = el.getAttribute("aria-expanded") === "true";
        el.textContent = `${opened ? "▾" : "▸"} ${f.frames} frame${f.frames === 1 ? "" : "s"} of baton's own code`;
      };
      f.open = (on) => {
        el.setAttribute("aria-expanded", String(on));
        for (const line of f.lines) line.classList.toggle("folded", !on);
        f.label();
      };
      el.batonFold = f;
      return f;
    }
    box.addEventListener("click", (e) => {
      const el = e.target.closest(".fold");
      if (el) el.batonFold.open(el.getAttribute("aria-expanded") !== "true");
    });
    box.addEventListener("keydown", (e) => {
      const el = e.target.closest(".fold");
      if (el && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); el.click(); }
    });
    // A folded line that must be seen (a search match, a linked line): its fold opens.
    function unfold(line) {
      if (!line || !line.classList.contains("folded")) return;
      let el = line.previousElementSibling;
      while (el && !el.classList.contains("fold")) el = el.previousElementSibling;
      if (el) el.batonFold.open(true);
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
      unfold(marks[at].closest(".line"));
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
      unfold(el);
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
      add(text, stamps) { add(text, stamps); if (pinned) pin(); },
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
    let times; // when the next message's lines were written, from the `times` event before it
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
        if (event === "times") times = JSON.parse(data.join("\n"));
        if (event === "message" && data.length) { onData(data.join("\n"), times); times = undefined; }
      }
    }
  }

  // A task page whose task has not started, or waits for a retry, refreshes when it moves.
  const taskPage = $(".task-page");
  if (taskPage && !logBox) watchTask(taskPage);
  else if (taskPage && logBox && logBox.dataset.running !== "true") watchTask(taskPage);

  function taskOf(run, name) {
    return run.tasks.find((x) => (x.map_index == null ? x.key : `${x.key}.${x.map_index}`) === name);
  }
  // The attempt whose log the page tails has ended. Its task is done: the page's live parts
  // (header, attempts, error, result) are redrawn in place. Another attempt comes (a retry,
  // a wait): the page reloads to follow it.
  async function settle(page, done) {
    try {
      const t = taskOf(await api("GET", `/runs/${page.dataset.run}`), page.dataset.task);
      if (t && TASK_DONE.has(t.state) && liveParts) { done(); liveParts.now(); return; }
    } catch (error) { /* reload: the page asks the server again */ }
    setTimeout(() => location.reload(), 600);
  }

  function watchTask(page) {
    const badgeNow = $("h1 .badge", page);
    const start = badgeNow ? [...badgeNow.classList].find((c) => c.startsWith("st-")).slice(3) : "none";
    const name = page.dataset.task;
    if (TASK_DONE.has(start)) return;
    const check = async () => {
      try {
        const run = await api("GET", `/runs/${page.dataset.run}`);
        const t = taskOf(run, name);
        if (t && t.state !== start) { location.reload(); return; }
        if (TERMINAL.has(run.state)) return;
      } catch (error) {
        return;
      }
      setTimeout(check, 1500);
    };
    setTimeout(check, 1500);
  }
  // -- the YAML editor: line numbers, the server's checks as you type, a preview, save ---------

  const editorPage = $("[data-editor-page]");
  if (editorPage) editor(editorPage);

  function editor(page) {
    const area = $("[data-yaml]", page), gutter = $("[data-gutter]", page);
    const errorBox = $("[data-editor-error]", page), preview = $("[data-preview]", page);
    const save = $("[data-save]");
    const existing = page.dataset.editorPage || null;
    let timer = 0, asked = 0, errLine = null, valid = null;

    function numbers() {
      const n = area.value.split("\n").length;
      const out = [];
      for (let i = 1; i <= n; i++) out.push(i === errLine ? `<span class="err">${i}</span>` : String(i));
      gutter.innerHTML = out.join("\n");
      gutter.scrollTop = area.scrollTop;
    }
    area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
    area.addEventListener("keydown", (e) => { // Tab indents (two spaces), as YAML wants
      if (e.key !== "Tab" || e.shiftKey) return;
      e.preventDefault();
      area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
      area.dispatchEvent(new Event("input"));
    });
    area.addEventListener("input", () => { numbers(); clearTimeout(timer); timer = setTimeout(check, 300); });

    async function check() {
      const mine = ++asked;
      const response = await fetch("/editor/check", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/yaml", "X-Baton-UI": "1" }, body: area.value,
      });
      const out = await response.json().catch(() => ({ ok: false, error: `the server answered ${response.status}` }));
      if (mine !== asked) return; // a later check is on its way
      errLine = out.ok ? null : out.line;
      valid = out.ok ? out : null;
      errorBox.hidden = out.ok;
      errorBox.textContent = out.ok ? "" : (out.line ? `Line ${out.line}: ` : "") + out.error;
      area.setAttribute("aria-invalid", String(!out.ok));
      save.disabled = !out.ok || (existing !== null && out.name !== existing);
      if (out.ok && existing !== null && out.name !== existing) {
        errorBox.hidden = false;
        errorBox.textContent = `This page edits flow “${existing}”: keep its name (a new name is a new flow: Flows → New flow).`;
      }
      $("[data-preview-name]", page).textContent = out.ok ? `${out.dag.nodes.length} tasks` : "";
      numbers();
      if (out.ok) draw(out.dag);
    }

    function draw(data) {
      const root = document.createElement("div");
      root.className = "dag";
      root.innerHTML = '<div class="dag-tools" role="toolbar" aria-label="Graph view">' +
        '<button type="button" class="btn icon" data-zoom="in" aria-label="Zoom in">+</button>' +
        '<button type="button" class="btn icon" data-zoom="out" aria-label="Zoom out">−</button>' +
        '<button type="button" class="btn" data-zoom="fit">Fit</button>' +
        '<button type="button" class="btn" data-zoom="find-failed" hidden>Next failure</button>' +
        '<label class="find"><input type="search" placeholder="Find task" aria-label="Find a task in the graph" data-find></label></div>' +
        '<div class="dag-view" tabindex="0" role="group" aria-label="Preview of the graph"></div>' +
        '<script type="application/json" class="dag-data"></script>';
      $(".dag-data", root).textContent = JSON.stringify(data);
      preview.replaceChildren(root);
      dagView(root);
    }

    save.addEventListener("click", async () => {
      if (!valid) return;
      save.disabled = true;
      try {
        const path = existing === null ? "/api/v1/flows" : `/api/v1/flows/${encodeURIComponent(existing)}`;
        const response = await fetch(path, {
          method: existing === null ? "POST" : "PUT", credentials: "same-origin",
          headers: { "Content-Type": "application/yaml", "X-Baton-UI": "1" }, body: area.value,
        });
        const text = await response.text();
        let data = null;
        try { data = JSON.parse(text); } catch (e) { data = text; }
        if (!response.ok) throw new Error(message(data, response.status));
        location.href = `/flows/${encodeURIComponent(data.name)}`;
      } catch (error) {
        errorBox.hidden = false;
        errorBox.textContent = error.message;
        save.disabled = false;
      }
    });
    numbers();
    check();
  }
  // -- the runs list: bulk actions on the selected runs, rows kept live ----------------------

  const runsTable = $("[data-runs-live]");
  if (runsTable) runsList(runsTable);

  function runsList(table) {
    const bar = $("[data-bulk]");
    const chosen = () => $$("[data-select]:checked", table).map((b) => b.dataset.select);
    function showBar() {
      if (!bar) return;
      const n = chosen().length;
      bar.hidden = n === 0;
      $("[data-bulk-count]", bar).textContent = `${n} selected`;
    }
    table.addEventListener("change", (e) => {
      if (e.target.matches("[data-select-all]")) {
        for (const b of $$("[data-select]", table)) b.checked = e.target.checked;
      }
      showBar();
    });
    if (bar) for (const button of $$("[data-bulk-action]", bar)) {
      button.addEventListener("click", async () => {
        const what = button.dataset.bulkAction, ids = chosen();
        if (!ids.length) return;
        if (what === "cancel" && !confirm(`Cancel ${ids.length} run(s)? Their running tasks are stopped.`)) return;
        button.disabled = true;
        let done = 0;
        const failed = [];
        for (const id of ids) { // one at a time: the server stays responsive for others
          try { await api("POST", `/runs/${id}/${what}`); done += 1; }
          catch (error) { failed.push(`${id.slice(0, 8)}: ${error.message}`); }
        }
        button.disabled = false;
        const verb = what === "cancel" ? "Cancelling" : "Repairing";
        toast(failed.length ? `${verb} ${done}; not ${failed.length}: ${failed.join("; ")}` : `${verb} ${done} run(s)`, failed.length > 0);
        await refreshRows();
      });
    }
    // Live through the shared poller (its tbody is a live part); a checked box stays checked.
    let kept = new Set();
    table.addEventListener("change", () => { kept = new Set(chosen()); });
    document.addEventListener("baton:live", (event) => {
      if (!table.contains(event.detail)) return;
      for (const b of $$("[data-select]", table)) b.checked = kept.has(b.dataset.select);
      showBar();
    });
    async function refreshRows() {
      if (liveParts) liveParts.now();
    }
  }

})();
