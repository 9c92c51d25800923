// An incident's dashboard: listens to /incidents/{id}/events (Server-Sent Events) and, on each
// event, fetches the live fragment and swaps it in; draws arrivals over time with uPlot; ticks
// the countdowns every 30 s by re-reading; marks tasks done without leaving the page. No inline
// script (the CSP allows our origin only).
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
    // Time from activation at least to the assembly deadline, from the data itself: when every
    // time is the same (an arrival in the minute of activation) uPlot pads the range by 86,400
    // "ms" in seconds, a thousand days. People from 0 to all notified, in whole steps.
    var until = Number(el.dataset.until) || 0;
    var total = Number(el.dataset.total) || 0;
    function timeRange(u) {
      var xs = u.data[0];
      return [xs[0], Math.max(xs[xs.length - 1], until, xs[0] + 60)];
    }
    chart = new uPlot({
      width: width(el),
      height: 180,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Asia/Shanghai'); },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: timeRange },
        y: { range: function (u, min, max) { return [0, Math.max(max, total, 1)]; } },
      },
      axes: [{ values: '{HH}:{mm}', space: 50 },
        { label: el.dataset.label || '', size: 50, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }],
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
  // A task marked done on the board is sent in the background and the board refreshed in place,
  // so a wall display never reloads (the page without script posts the form and is redirected
  // back). A refused change posts the form after all, to show the server's error page.
  function submitTask(e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains('task-form')) return;
    e.preventDefault();
    var button = form.querySelector('button');
    if (button) button.disabled = true;
    fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)),
      credentials: 'same-origin', redirect: 'manual' })
      .then(function (r) {
        if (r.type === 'opaqueredirect' || r.ok) refresh(); else form.submit();
      })
      .catch(function () { form.submit(); });
  }
  // The chart is drawn at a width in pixels: follow the card when the window changes (a phone
  // turned, a window resized).
  function follow() {
    var el = document.getElementById('arrival-chart');
    if (chart && el && chart.root.parentNode === el) chart.setSize({ width: width(el), height: 180 });
  }
  function start() {
    root.addEventListener('submit', submitTask);
    window.addEventListener('resize', follow);
    draw();
    setInterval(refresh, 30000);
    if (!window.EventSource) return;
    var source = new EventSource(eventsUrl);
    source.addEventListener('open', function () { root.dataset.listening = '1'; refresh(); });
    source.addEventListener('change', refresh);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
