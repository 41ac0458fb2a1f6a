// baton's web UI, part 3 of 6: live pages (one poller for every page) and a run's page,
// polled while the run is not finished.
(() => {
  "use strict";

  const {
    $, $$, REPAIRABLE, TERMINAL, ago, api, badge, duration, esc, gantt, icon, label, paintDag,
    seconds, showTimes,
  } = window.baton;

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

  Object.assign(window.baton, { liveParts, live });
})();
