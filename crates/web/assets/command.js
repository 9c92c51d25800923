// An incident's dashboard: listens to /incidents/{id}/events (Server-Sent Events) and, on each
// event, fetches the live fragment and swaps it in; draws arrivals over time with uPlot; ticks
// the countdowns every 30 s by re-reading. No inline script (the CSP allows our origin only).
(function () {
  'use strict';
  var root = document.getElementById('incident-live');
  if (!root) return;
  var liveUrl = root.dataset.liveUrl;
  var eventsUrl = root.dataset.eventsUrl;
  var chart = null;

  function arrivalsOf(el) {
    try { return JSON.parse(el.dataset.arrivals || '[[],[]]'); } catch (e) { return [[], []]; }
  }
  function width(el) {
    return Math.max(200, Math.floor(el.getBoundingClientRect().width || el.clientWidth || 300));
  }
  function draw() {
    var el = document.getElementById('arrival-chart');
    if (!el || typeof uPlot === 'undefined') return;
    var data = arrivalsOf(el);
    if (data[0].length < 2) return;
    if (chart && chart.root.parentNode === el) { chart.setData(data); return; }
    el.textContent = '';
    chart = new uPlot({
      width: width(el),
      height: 180,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Asia/Shanghai'); },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ values: '{HH}:{mm}', space: 50 }, { label: el.dataset.label || '', size: 50 }],
      series: [{}, { label: el.dataset.label || '', stroke: '#2f7d4a', fill: 'rgba(47,125,74,.2)', width: 2,
        paths: uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined, points: { show: false } }],
    }, data, el);
  }
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(liveUrl, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.redirected) { window.location.reload(); throw new Error('signed out'); }
        if (!r.ok) throw new Error('status ' + r.status);
        return r.text();
      })
      .then(function (html) {
        chart = null;
        root.innerHTML = html;
        draw();
        root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  function start() {
    draw();
    setInterval(refresh, 30000);
    if (!window.EventSource) return;
    var source = new EventSource(eventsUrl);
    source.addEventListener('open', function () { root.dataset.listening = '1'; refresh(); });
    source.addEventListener('change', refresh);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
