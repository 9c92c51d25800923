// Mass-testing pages: the door-knock buttons (JSON to /api/v1/rounds/{id}/door-knocks with the
// page's cookie session, then the grid's coverage re-read) and the print buttons of the sheets.
(function () {
  'use strict';

  function refreshCoverage() {
    var head = document.getElementById('grid-coverage');
    if (!head) return;
    fetch(head.dataset.coverageUrl, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (rows) {
        if (!rows || !rows.length) return;
        var c = rows[0];
        var fmt = function (n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); };
        document.getElementById('cov-target').textContent = fmt(c.target);
        document.getElementById('cov-sampled').textContent = fmt(c.sampled);
        document.getElementById('cov-percent').textContent = c.target ? c.percent.toFixed(1) + '%' : '—';
        document.getElementById('cov-bar').style.width = Math.min(100, Math.floor(c.percent)) + '%';
      })
      .catch(function () {});
  }

  function knock(button) {
    var item = button.closest('[data-person]');
    var list = button.closest('[data-knock-url]');
    var error = document.getElementById('knock-error');
    if (!item || !list) return;
    var buttons = item.querySelectorAll('button[data-outcome]');
    buttons.forEach(function (b) { b.disabled = true; });
    if (error) error.hidden = true;
    fetch(list.dataset.knockUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ person_id: Number(item.dataset.person), outcome: button.dataset.outcome }),
    })
      .then(function (r) {
        if (r.status === 401) { window.location.href = '/login'; return; }
        if (!r.ok) throw new Error('status ' + r.status);
        item.dataset.knock = button.dataset.outcome;
        var shown = item.querySelector('.knock-outcome');
        if (shown) { shown.textContent = button.dataset.label; shown.classList.remove('empty'); }
        buttons.forEach(function (b) { b.setAttribute('aria-pressed', b === button ? 'true' : 'false'); });
        refreshCoverage();
      })
      .catch(function () {
        if (error) { error.textContent = error.dataset.message; error.hidden = false; }
      })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  }

  document.addEventListener('click', function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    var button = target.closest('button[data-outcome]');
    if (button) { knock(button); return; }
    if (target.closest('[data-print]')) window.print();
  });
})();
