// baton's web UI, part 5 of 6: the YAML editor.
(() => {
  "use strict";

  const { $, $$, api, dagView, icon, label, message } = window.baton;

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

})();
