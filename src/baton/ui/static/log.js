// baton's web UI, part 4 of 6: a task run's page: its log, tailed live, numbered,
// searchable, with each line's time and baton's traceback frames folded.
(() => {
  "use strict";

  const {
    $, $$, TASK_DONE, TERMINAL, api, chosenZone, inZone, label, lineTime, live, liveParts, message,
    toast,
  } = window.baton;

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

})();
