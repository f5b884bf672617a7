// eventkit console: the live-events list polls for rows newer than the newest shown. Rows arrive as
// HTML the server rendered (and escaped); without this script the page still works, by reloading.
"use strict";
(function () {
  const table = document.getElementById("events");
  if (!table || !table.dataset.poll) return;
  const body = table.querySelector("tbody");
  const toggle = document.getElementById("live-toggle");
  const status = document.getElementById("live-status");
  const maxRows = 500;
  let lastId = Number(table.dataset.lastId || 0);
  let busy = false;

  function setCounts(counts) {
    for (const key of ["good", "bad", "total"]) {
      const el = document.querySelector('[data-count="' + key + '"]');
      if (el && counts[key] !== undefined) el.textContent = String(counts[key]);
    }
  }

  async function poll() {
    if (busy || document.hidden || (toggle && !toggle.checked)) return;
    busy = true;
    try {
      const sep = table.dataset.poll.includes("?") ? "&" : "?";
      const response = await fetch(table.dataset.poll + sep + "after=" + lastId, { headers: { Accept: "application/json" } });
      if (!response.ok) { if (status) status.textContent = "update failed (" + response.status + ")"; return; }
      const data = await response.json();
      if (data.rows > 0) {
        body.insertAdjacentHTML("afterbegin", data.html);
        for (let i = 0; i < data.rows && i < body.rows.length; i++) body.rows[i].classList.add("fresh");
        while (body.rows.length > maxRows) body.deleteRow(body.rows.length - 1);
        const empty = document.getElementById("empty");
        if (empty) empty.remove();
        if (status) status.textContent = data.rows + " new";
      }
      lastId = data.last_id;
      setCounts(data.counts);
    } catch (e) {
      if (status) status.textContent = "update failed";
    } finally {
      busy = false;
    }
  }
  setInterval(poll, 1500);
})();
