// baton's web UI script, part 1 of 6: the helpers every part uses (the REST API, times,
// badges), the small behaviours, and the forms and buttons that act through the API. The
// other parts (graph.js, live.js, log.js, editor.js, runs.js) load after it, in that order,
// and share what each defines through `window.baton`. Plain JavaScript, no dependencies, no
// build. Pages work without it (links and server-rendered states); it makes them live.
(() => {
  "use strict";

  window.baton = {};  // what each part defines, for the parts after it

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
        if (window.baton.live) window.baton.live.poll(true);
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
        if (window.baton.live) window.baton.live.poll(true);
        return;
      }
      await api("POST", `/runs/${run}/${what}`);
      toast(what === "cancel" ? "Cancelling the run…" : "Resuming the run…");
      if (window.baton.live) window.baton.live.poll(true);
    } catch (error) {
      toast(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  Object.assign(window.baton, {
    $, $$,
    TERMINAL, REPAIRABLE, TASK_DONE, api, message, toast, esc, label, icon, badge, rollup, seconds,
    duration, ago, chosenZone, inZone, lineTime, showTimes,
  });
})();
