// baton's web UI, part 6 of 6: the runs list's bulk actions.
(() => {
  "use strict";

  const { $, $$, api, live, liveParts, toast } = window.baton;

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
