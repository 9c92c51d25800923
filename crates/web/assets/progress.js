// A round's live page: listens to /rounds/{id}/events (Server-Sent Events) and, on each event,
// fetches the page's live fragment and swaps it in; draws samples per hour with uPlot.
// No inline script (the Content-Security-Policy allows scripts from our origin only).
(function () {
  'use strict';
  var root = document.getElementById('round-live');
  if (!root) return;
  var liveUrl = root.dataset.liveUrl;
  var eventsUrl = root.dataset.eventsUrl;
  var chart = null;

  function hoursOf(el) {
    try { return JSON.parse(el.dataset.hours || '[[],[]]'); } catch (e) { return [[], []]; }
  }

  function chartWidth(el) {
    return Math.max(200, Math.floor(el.getBoundingClientRect().width || el.clientWidth || 300));
  }

  function draw(data) {
    var el = document.getElementById('hour-chart');
    if (!el || typeof uPlot === 'undefined') return;
    if (!data[0].length) return;
    if (chart) { chart.setData(data); return; }
    el.textContent = '';
    var label = el.dataset.label || '';
    chart = new uPlot({
      width: chartWidth(el),
      height: 220,
      // Hours are shown in China time, wherever the browser is.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Asia/Shanghai'); },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: function (u, min, max) { return [min - 1800, max + 1800]; } },
        y: { range: function (u, min, max) { return [0, Math.max(10, Math.ceil(max * 1.15))]; } },
      },
      axes: [
        // Ticks on whole hours only: the bars are hours.
        { values: '{HH}:{mm}', space: 50, incrs: [3600, 7200, 10800, 21600, 43200, 86400] },
        { label: label, size: 56 },
      ],
      series: [
        {},
        {
          label: label,
          stroke: '#2f5d9b',
          fill: 'rgba(47,93,155,.35)',
          width: 1,
          paths: uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined,
          points: { show: false },
        },
      ],
    }, data, el);
  }

  window.addEventListener('resize', function () {
    var el = document.getElementById('hour-chart');
    if (chart && el) chart.setSize({ width: chartWidth(el), height: 220 });
  });

  var busy = false, again = false;
  function swap(doc, id) {
    var fresh = doc.getElementById(id), old = document.getElementById(id);
    if (fresh && old) old.replaceWith(fresh);
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(liveUrl, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        // A lost session answers with the login page: go there. Other failures wait for the
        // next event.
        if (r.redirected) { window.location.reload(); throw new Error('signed out'); }
        if (!r.ok) throw new Error('status ' + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString('<div>' + html + '</div>', 'text/html');
        swap(doc, 'round-figures');
        swap(doc, 'round-tables');
        var hours = doc.getElementById('hour-chart');
        if (hours) {
          var el = document.getElementById('hour-chart');
          if (el) el.dataset.hours = hours.dataset.hours;
          draw(hoursOf(hours));
        }
        root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function start() {
    var el = document.getElementById('hour-chart');
    if (el) draw(hoursOf(el));
    if (!window.EventSource) { setInterval(refresh, 30000); return; }
    var source = new EventSource(eventsUrl);
    // On (re)connecting, catch up on what happened while the stream was not there.
    source.addEventListener('open', function () { root.dataset.listening = '1'; refresh(); });
    source.addEventListener('progress', refresh);
    source.addEventListener('abnormal', refresh);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
