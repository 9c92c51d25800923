// Bulwark: the lane's scan-to-register page (pages/scan.rs). Plain JavaScript, no build step.
//
// The rule this file keeps: a swab is never lost. Every scan becomes an outbox item in IndexedDB
// (written with strict durability) BEFORE anything is sent; the sender uploads the outbox with
// POST /api/v1/registrations/batch and removes an item only on a definitive answer for that item
// (201 or 200: stored; another 4xx: moved to the "refused" store and shown in red). A network
// error, a timeout, a 5xx or a 429 removes nothing: the same items, with the same keys and the
// same bodies, are sent again later (the server answers a replay with the original registration).
// An item's body is never changed once written, so it is frozen before its first upload.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const MESSAGES = JSON.parse(($('scan-messages') || { textContent: '{}' }).textContent || '{}');
  /** The message `key` in the page's language, with `{n}` replaced by `n`. */
  const t = (key, n) => msg(key, n);
  function msg(key, n) {
    const m = MESSAGES[key] || key;
    return n === undefined ? m : m.split('{n}').join(String(n));
  }

  // ---------------------------------------------------------------------------------------------
  // Pure helpers (exposed on window.BulwarkScan for tests).

  /** A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, 74 random bits. */
  function uuidv7(now) {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    const ms = now === undefined ? Date.now() : now;
    b[0] = Math.floor(ms / 2 ** 40) & 0xff;
    b[1] = Math.floor(ms / 2 ** 32) & 0xff;
    b[2] = (ms >>> 24) & 0xff;
    b[3] = (ms >>> 16) & 0xff;
    b[4] = (ms >>> 8) & 0xff;
    b[5] = ms & 0xff;
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const ID_CHECK = '10X98765432';

  /** GB 11643-1999 MOD 11-2: the 18th character of a resident ID number (lower-case x taken). */
  function idChecksumOk(raw) {
    const s = String(raw).toUpperCase();
    if (!/^\d{17}[\dX]$/.test(s)) return false;
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * ID_WEIGHTS[i];
    return ID_CHECK[sum % 11] === s[17];
  }

  /** Full-width characters (Chinese input methods) to ASCII; spaces of any kind removed. */
  function normalise(raw) {
    return String(raw)
      .replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
      .replace(/[\s\u3000]+/g, '');
  }

  /** `440785********1234`: the address code and the last four stay. */
  function maskId(id) {
    return id.length > 10 ? id.slice(0, 6) + '*'.repeat(Math.max(0, id.length - 10)) + id.slice(-4) : '****';
  }

  const TUBE = /^[A-Z0-9-]{6,24}$/;

  /**
   * What a scan is: a tube barcode, a person (an 18-character resident ID number, or a Bulwark
   * personal QR token `BWQ1…`), or an error. An 18-digit code that fails the ID checksum is taken
   * for a misread ID number while a tube is open, and for a tube code otherwise.
   */
  function classify(raw, tubeOpen) {
    const s = normalise(raw);
    if (!s) return null;
    if (/^BWQ1/i.test(s)) return { kind: 'person', person: { qr: s }, label: `QR ${s.slice(0, 8)}…` };
    if (/^\d{17}[\dXx]$/.test(s)) {
      const id = s.toUpperCase();
      if (idChecksumOk(id)) return { kind: 'person', person: { id_number: id }, label: maskId(id) };
      if (tubeOpen) return { kind: 'error', key: 'scan-id-checksum' };
    }
    const code = s.toUpperCase();
    if (TUBE.test(code)) return { kind: 'tube', code };
    return { kind: 'error', key: 'scan-not-recognised' };
  }

  // ---------------------------------------------------------------------------------------------
  // The page.

  const scanRoot = $('scan');
  const chooserRoot = $('scan-chooser');
  const api = { uuidv7, idChecksumOk, normalise, classify, maskId, beeps: [], loadZxing };
  window.BulwarkScan = api;
  if (chooserRoot) {
    chooser();
    return;
  }
  if (!scanRoot) return;

  const params = new URLSearchParams(location.search);
  const num = (v) => {
    const n = Number.parseInt(v || '', 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  };
  const cfg = {
    round: num(params.get('round')),
    site: num(params.get('site')),
    lane: num(params.get('lane')),
    home: params.get('home') === '1' || params.get('home') === 'true',
  };
  const place = `${cfg.round}:${cfg.site}:${cfg.lane || ''}:${cfg.home ? 1 : 0}`;
  const store = {
    get(k) {
      try {
        return JSON.parse(localStorage.getItem(k) || 'null');
      } catch (e) {
        return null;
      }
    },
    set(k, v) {
      try {
        localStorage.setItem(k, JSON.stringify(v));
      } catch (e) {
        /* full or disabled: only display state is kept here */
      }
    },
  };
  const TUBE_KEY = `bulwark-scan:tube:${place}`;
  const RECENT_KEY = `bulwark-scan:recent:${place}`;

  const input = $('scan-input');
  const feedback = $('feedback');
  const state = {
    /** The open tube: {code, pool (chosen size or null), server (members by the last answer), persons}. */
    tube: store.get(TUBE_KEY),
    poolDefault: null,
    /** The tube closed last (full or sealed) and why: {code, key}. */
    closed: store.get(`bulwark-scan:tube:${place}:closed`),
    recent: store.get(RECENT_KEY) || [],
    /** The key of the latest scan, whose answer the big panel shows. */
    latest: null,
    online: navigator.onLine,
  };
  api.state = state;
  api.cfg = cfg;

  // --- IndexedDB: outbox, refused, meta --------------------------------------------------------

  let db = null;
  function openDb() {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open('bulwark-scan', 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        const out = d.createObjectStore('outbox', { keyPath: 'key' });
        out.createIndex('seq', 'deviceSeq', { unique: true });
        d.createObjectStore('refused', { keyPath: 'key' });
        d.createObjectStore('meta', { keyPath: 'name' });
      };
      r.onsuccess = () => {
        // A newer page (another tab) upgrading the schema: step aside rather than block it.
        r.result.onversionchange = () => r.result.close();
        resolve(r.result);
      };
      r.onerror = () => reject(r.error);
    });
  }

  /** Runs `work(tx, out)` in one transaction; resolves with `out` once it has committed. */
  function run(stores, mode, work) {
    return new Promise((resolve, reject) => {
      const tx =
        mode === 'readwrite' ? db.transaction(stores, mode, { durability: 'strict' }) : db.transaction(stores, mode);
      const out = {};
      tx.oncomplete = () => resolve(out);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
      work(tx, out);
    });
  }

  /** Stores a new item with the next device sequence number, in one committed transaction. */
  function addItem(item) {
    return run(['outbox', 'meta'], 'readwrite', (tx, out) => {
      const meta = tx.objectStore('meta');
      const get = meta.get('seq');
      get.onsuccess = () => {
        const seq = (get.result ? get.result.value : 0) + 1;
        meta.put({ name: 'seq', value: seq });
        item.deviceSeq = seq;
        tx.objectStore('outbox').add(item);
        out.seq = seq;
      };
    });
  }

  function deviceId() {
    return run(['meta'], 'readwrite', (tx, out) => {
      const meta = tx.objectStore('meta');
      const get = meta.get('device');
      get.onsuccess = () => {
        if (get.result) {
          out.id = get.result.value;
        } else {
          out.id = uuidv7();
          meta.put({ name: 'device', value: out.id });
        }
      };
    }).then((o) => o.id);
  }

  function outboxItems(limit) {
    return run(['outbox'], 'readonly', (tx, out) => {
      const r = tx.objectStore('outbox').index('seq').getAll(null, limit);
      r.onsuccess = () => {
        out.items = r.result;
      };
    }).then((o) => o.items || []);
  }

  function refusedItems() {
    return run(['refused'], 'readonly', (tx, out) => {
      const r = tx.objectStore('refused').getAll();
      r.onsuccess = () => {
        out.items = r.result;
      };
    }).then((o) => (o.items || []).sort((a, b) => a.deviceSeq - b.deviceSeq));
  }

  function counts() {
    return run(['outbox', 'refused'], 'readonly', (tx, out) => {
      const a = tx.objectStore('outbox').count();
      a.onsuccess = () => {
        out.pending = a.result;
      };
      const b = tx.objectStore('refused').count();
      b.onsuccess = () => {
        out.refused = b.result;
      };
    });
  }

  /** Removes answered items; moves refused ones (with their answer) to the refused store. */
  function settle(done, refused) {
    return run(['outbox', 'refused'], 'readwrite', (tx) => {
      const outbox = tx.objectStore('outbox');
      for (const key of done) outbox.delete(key);
      for (const r of refused) {
        outbox.delete(r.item.key);
        tx.objectStore('refused').put(Object.assign({}, r.item, { status: r.status, error: r.error, refusedAt: Date.now() }));
      }
    });
  }

  // --- Sound and flashes -----------------------------------------------------------------------

  let audio = null;
  const TUNES = {
    ok: [[1760, 0.09]],
    warn: [
      [988, 0.1],
      [988, 0.1],
    ],
    bad: [[196, 0.4]],
    saved: [[1175, 0.07]],
  };
  function beep(kind) {
    api.beeps.push(kind);
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = audio || new Ctx();
      if (audio.state === 'suspended') audio.resume();
      let at = audio.currentTime + 0.01;
      for (const [freq, length] of TUNES[kind]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = kind === 'bad' ? 'square' : 'sine';
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.35, at + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
        osc.connect(gain).connect(audio.destination);
        osc.start(at);
        osc.stop(at + length + 0.02);
        at += length + 0.07;
      }
    } catch (e) {
      /* no sound: the colours still tell */
    }
  }

  /** The big panel: state is idle, info, sending, saved, stored, flagged or refused. */
  function show(panelState, title, detail, green) {
    feedback.dataset.state = panelState;
    $('feedback-title').textContent = title;
    $('feedback-detail').textContent = detail || '';
    const g = $('feedback-green');
    g.hidden = !green;
    g.textContent = green || '';
    feedback.classList.remove('flash');
    void feedback.offsetWidth; // restart the animation
    feedback.classList.add('flash');
  }

  function refocus() {
    if (document.activeElement !== input && !$('manual').open && $('camera').hidden) input.focus();
  }

  // --- Rendering ---------------------------------------------------------------------------------

  const ZH = document.documentElement.lang.startsWith('zh');
  const LIST = ZH ? '、' : ', ';
  const COLON = ZH ? '：' : ': ';
  function flagWords(flags) {
    return (flags || []).map((f) => msg(`flag-${f}`)).join(LIST);
  }

  function greenWords(reasons) {
    if (!reasons || !reasons.length) return '';
    return t('scan-green-channel', reasons.map((r) => msg(`scan-green-${r}`)).join(LIST));
  }

  function fieldWord(field) {
    if (!field) return '';
    if (field === 'tube' || field === 'code') return t('scan-field-tube');
    if (field.startsWith('person')) return t('scan-field-person');
    if (field === 'round') return t('scan-field-round');
    if (field === 'site') return t('scan-field-site');
    if (field === 'lane') return t('scan-field-lane');
    return field;
  }

  function errorWords(error) {
    if (!error) return '';
    if (error.field && error.field.startsWith('person') && /not in the register/.test(error.message || '')) {
      return `${fieldWord(error.field)}${COLON}${t('scan-not-registered')}`;
    }
    const where = fieldWord(error.field);
    return where ? `${where}${COLON}${error.message}` : error.message || error.code || '';
  }

  const STATUS_WORD = {
    sending: () => t('scan-sending'),
    saved: () => t('scan-row-saved'),
    stored: () => t('scan-stored'),
    flagged: () => t('scan-stored-flags'),
    refused: () => t('scan-refused'),
    info: () => '',
  };

  /** A row's words, made when shown (rows keep data, so that they follow a change of language). */
  function rowTexts(r) {
    if (r.kind === 'seal') {
      const key = { stored: 'scan-seal-done', refused: 'scan-seal-refused' }[r.state] || 'scan-seal-queued';
      return { label: msg(key, r.tube), sub: errorWords(r.error), green: '' };
    }
    const count = r.pool ? `${t('scan-members', r.members)} / ${r.pool}` : '';
    const problem = r.problem ? msg(r.problem) : '';
    const sub = [r.tube, flagWords(r.flags), count, errorWords(r.error), problem].filter(Boolean).join(' · ');
    return { label: r.label, sub, green: greenWords(r.green) };
  }

  function renderRecent() {
    const list = $('recent');
    list.replaceChildren(
      ...state.recent.map((r) => {
        const words = rowTexts(r);
        const li = document.createElement('li');
        li.dataset.key = r.key;
        li.dataset.state = r.state;
        li.dataset.kind = r.kind;
        const top = document.createElement('div');
        top.className = 'row-top';
        const who = document.createElement('span');
        who.className = 'who';
        who.textContent = words.label;
        const status = document.createElement('span');
        status.className = 'status';
        // A seal's label says how it went; a scan's status word does.
        status.textContent = r.kind === 'seal' && r.state === 'stored' ? '' : (STATUS_WORD[r.state] || (() => ''))();
        top.append(who, status);
        const sub = document.createElement('div');
        sub.className = 'row-sub muted';
        sub.textContent = words.sub;
        li.append(top, sub);
        if (words.green) {
          const g = document.createElement('div');
          g.className = 'green-hint';
          g.textContent = words.green;
          li.append(g);
        }
        return li;
      })
    );
    store.set(RECENT_KEY, state.recent);
  }

  function addRow(row) {
    state.recent.unshift(row);
    state.recent.length = Math.min(state.recent.length, 40);
    renderRecent();
  }

  function updateRow(key, change) {
    const r = state.recent.find((x) => x.key === key);
    if (r) Object.assign(r, change);
    renderRecent();
    return r;
  }

  function tubeDisplay() {
    const tube = state.tube;
    const code = $('tube-code');
    const count = $('tube-count');
    const seal = $('seal-now');
    const next = $('next-tube');
    next.hidden = !!tube || !state.closed;
    next.textContent = !tube && state.closed ? msg(state.closed.key, state.closed.code) : '';
    if (!tube) {
      code.textContent = '—';
      count.textContent = t('scan-tube-none');
      count.dataset.members = '0';
      count.dataset.pool = '0';
      seal.disabled = true;
      return;
    }
    const members = Math.max(tube.server || 0, (tube.persons || []).length);
    const pool = tube.pool || tube.serverPool || state.poolDefault;
    code.textContent = tube.code;
    count.dataset.members = String(members);
    count.dataset.pool = String(pool || 0);
    count.textContent = pool ? `${t('scan-members', members)} / ${pool}` : t('scan-members', members);
    count.classList.toggle('full', !!pool && members >= pool);
    seal.disabled = false;
  }

  function setTube(tube) {
    state.tube = tube;
    store.set(TUBE_KEY, tube);
    tubeDisplay();
  }

  async function refreshCounts() {
    try {
      const c = await counts();
      const p = $('pending-count');
      p.dataset.n = String(c.pending);
      p.textContent = t('scan-pending', c.pending);
      p.classList.toggle('none', c.pending === 0);
      const r = $('refused-count');
      r.dataset.n = String(c.refused);
      r.textContent = t('scan-refused-count', c.refused);
      r.hidden = c.refused === 0;
      if (c.refused > 0) renderRefused();
      else $('refused-section').hidden = true;
      return c;
    } catch (e) {
      return null;
    }
  }

  async function renderRefused() {
    const items = await refusedItems();
    const section = $('refused-section');
    section.hidden = items.length === 0;
    $('refused-list').replaceChildren(
      ...items.map((it) => {
        const li = document.createElement('li');
        li.dataset.key = it.key;
        li.dataset.state = 'refused';
        const top = document.createElement('div');
        top.className = 'row-top';
        const who = document.createElement('span');
        who.className = 'who';
        who.textContent = it.label || it.key;
        const dismiss = document.createElement('button');
        dismiss.type = 'button';
        dismiss.className = 'secondary small';
        dismiss.textContent = '✕';
        dismiss.title = t('scan-dismiss-confirm');
        dismiss.addEventListener('click', async () => {
          if (!window.confirm(t('scan-dismiss-confirm'))) return;
          await run(['refused'], 'readwrite', (tx) => tx.objectStore('refused').delete(it.key));
          refreshCounts();
          refocus();
        });
        top.append(who, dismiss);
        const sub = document.createElement('div');
        sub.className = 'row-sub';
        sub.textContent = [it.body ? it.body.tube : it.tube, `${it.status}`, errorWords(it.error)].filter(Boolean).join(' · ');
        li.append(top, sub);
        return li;
      })
    );
  }

  function netDisplay() {
    const n = $('net-state');
    n.dataset.online = state.online ? '1' : '0';
    n.textContent = state.online ? t('scan-online') : t('scan-offline');
  }

  // --- Scanning -----------------------------------------------------------------------------------

  let busy = Promise.resolve();
  /** Scans are handled one after the other, in the order they were made. */
  function queue(work) {
    busy = busy.then(work, work);
    return busy;
  }

  function handle(raw) {
    const now = Date.now();
    const scan = classify(raw, !!state.tube);
    if (!scan) return;
    if (scan.kind === 'error') {
      show('refused', msg(scan.key), normalise(raw));
      beep('bad');
      return;
    }
    if (scan.kind === 'tube') {
      const chosen = num($('pool-size').value);
      state.closed = null;
      store.set(`${TUBE_KEY}:closed`, null);
      if (!state.tube || state.tube.code !== scan.code) {
        setTube({ code: scan.code, pool: chosen, server: 0, serverPool: null, persons: [] });
      }
      show('info', t('scan-tube-set', scan.code), t('scan-ready-person'));
      beep('ok');
      return;
    }
    if (!state.tube) {
      show('refused', t('scan-tube-first'), scan.label);
      beep('bad');
      return;
    }
    enqueuePerson(scan.person, scan.label, now);
  }

  function bodyFor(person, now) {
    const body = { round: cfg.round, site: cfg.site, tube: state.tube.code, person };
    if (cfg.lane) body.lane = cfg.lane;
    if (state.tube.pool) body.pool_size = state.tube.pool;
    body.device_time = new Date(now).toISOString();
    body.home = cfg.home;
    return body;
  }

  function enqueuePerson(person, label, now) {
    const tube = state.tube;
    const item = { key: uuidv7(now), kind: 'registration', body: bodyFor(person, now), createdAt: now, label };
    // Counted at once, so that a scanner's next code sees the tube as it is now.
    const who = JSON.stringify(person);
    if (!tube.persons.includes(who)) tube.persons.push(who);
    setTube(tube);
    state.latest = item.key;
    addRow({ key: item.key, kind: 'registration', label, tube: tube.code, state: 'sending', at: now });
    show('sending', t('scan-sending'), `${label} → ${tube.code}`);
    const full = atCapacity();
    queue(async () => {
      try {
        item.device = await deviceIdOnce();
        await addItem(item);
      } catch (e) {
        updateRow(item.key, { state: 'refused', problem: 'scan-save-failed' });
        show('refused', t('scan-save-failed'), label);
        beep('bad');
        return;
      }
      refreshCounts();
      announceLater(item.key);
      drain();
    });
    if (full) askForNextTube('scan-tube-full');
  }

  let device = null;
  async function deviceIdOnce() {
    device = device || (await deviceId());
    return device;
  }

  function atCapacity() {
    const tube = state.tube;
    if (!tube) return false;
    const pool = tube.pool || tube.serverPool || state.poolDefault;
    const members = Math.max(tube.server || 0, tube.persons.length);
    return !!pool && members >= pool;
  }

  /** Closes the open tube on this device (full, sealed): the next scan must be a tube. */
  function askForNextTube(key) {
    state.closed = { code: state.tube ? state.tube.code : '', key };
    store.set(`${TUBE_KEY}:closed`, state.closed);
    setTube(null);
  }

  const announced = new Set();
  const answered = new Set();
  /** If no answer came quickly (offline, slow), the scan is reported as saved on this device. */
  function announceLater(key) {
    const wait = state.online ? 1500 : 0;
    setTimeout(() => {
      if (answered.has(key) || announced.has(key)) return;
      announced.add(key);
      updateRow(key, { state: 'saved' });
      if (state.latest === key) {
        show('saved', t('scan-saved'), (state.recent.find((r) => r.key === key) || {}).label || '');
        beep('saved');
      }
    }, wait);
  }

  function sealNow() {
    const tube = state.tube;
    if (!tube) return;
    const now = Date.now();
    const item = { key: uuidv7(now), kind: 'seal', tube: tube.code, createdAt: now, label: tube.code };
    askForNextTube('scan-tube-sealed');
    state.latest = item.key;
    addRow({ key: item.key, kind: 'seal', tube: tube.code, state: 'sending', at: now });
    show('info', t('scan-seal-queued', tube.code), t('scan-ready-tube'));
    queue(async () => {
      try {
        await addItem(item);
      } catch (e) {
        show('refused', t('scan-save-failed'), tube.code);
        beep('bad');
        return;
      }
      refreshCounts();
      announceLater(item.key);
      drain();
    });
  }

  // --- Answers ------------------------------------------------------------------------------------

  function applyAnswer(item, result) {
    answered.add(item.key);
    const late = announced.has(item.key);
    announced.add(item.key);
    const isLatest = state.latest === item.key;
    if (item.kind === 'seal') {
      const ok = result.status === 200;
      updateRow(item.key, { state: ok ? 'stored' : 'refused', error: ok ? null : result.error || null });
      // The big panel follows the latest scan's answer, however late; only a prompt answer beeps
      // (a late refusal beeps once for its whole upload).
      if (isLatest) {
        show(ok ? 'stored' : 'refused', ok ? t('scan-seal-done', item.tube) : t('scan-seal-refused', item.tube), errorWords(result.error));
      }
      if (isLatest && !late) {
        beep(ok ? 'ok' : 'bad');
        return null;
      }
      return ok ? null : 'bad';
    }
    if (result.status === 200 || result.status === 201) {
      const b = result.body || {};
      const reg = b.registration || {};
      const person = reg.person || {};
      const tube = b.tube || {};
      const flags = b.flags || [];
      const rowState = flags.length ? 'flagged' : 'stored';
      const label = [person.name, person.document].filter(Boolean).join(' ') || item.label;
      const green = greenWords(person.green_channel);
      const count = tube.pool_size ? `${t('scan-members', tube.members)} / ${tube.pool_size}` : '';
      updateRow(item.key, {
        state: rowState,
        label,
        flags,
        green: person.green_channel || [],
        members: tube.members,
        pool: tube.pool_size,
      });
      // The open tube as the server sees it.
      const open = state.tube;
      if (open && open.code === tube.code) {
        open.server = Math.max(open.server || 0, tube.members || 0);
        open.serverPool = tube.pool_size || open.serverPool;
        setTube(open);
      }
      if (isLatest) {
        const title = `${t(flags.length ? 'scan-stored-flags' : 'scan-stored')}${COLON}${label}`;
        show(rowState, title, [flagWords(flags), count].filter(Boolean).join(' · '), green);
        if (!late) beep(flags.length ? 'warn' : 'ok');
      }
      if (open && open.code === tube.code) {
        if (tube.state === 'sealed') askForNextTube('scan-tube-sealed');
        else if (atCapacity()) askForNextTube('scan-tube-full');
      }
      return null;
    }
    const error = result.error || { code: String(result.status), message: String(result.status) };
    const words = errorWords(error);
    updateRow(item.key, { state: 'refused', error });
    if (isLatest) show('refused', `${t('scan-refused')}${COLON}${item.label}`, words);
    if (isLatest && !late) {
      beep('bad');
      return null;
    }
    return 'bad';
  }

  // --- The sender ---------------------------------------------------------------------------------

  const BATCH = 200;
  const TIMEOUT_MS = 20000;
  let draining = false;
  let drainAgain = false;
  let retryTimer = null;
  let failures = 0;

  /** Network errors and timeouts reject; every answer resolves. */
  async function send(url, options) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
    try {
      return await fetch(url, Object.assign({ credentials: 'same-origin', cache: 'no-store', signal: ctl.signal }, options));
    } finally {
      clearTimeout(timer);
    }
  }

  async function json(res) {
    try {
      return await res.json();
    } catch (e) {
      return null;
    }
  }

  /** 'ok' (some items got their answers), 'retry' (nothing definitive), 'stop' (needs a person). */
  async function uploadRegistrations(items) {
    const body = JSON.stringify({ items: items.map((i) => Object.assign({ key: i.key }, i.body)) });
    let res;
    try {
      res = await send('/api/v1/registrations/batch', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body,
      });
    } catch (e) {
      return 'retry';
    }
    if (res.status === 200) {
      const data = await json(res);
      const results = data && Array.isArray(data.results) ? data.results : null;
      if (!results || results.length !== items.length) return 'retry';
      const done = [];
      const refused = [];
      const answers = [];
      items.forEach((item, i) => {
        const r = results[i];
        if (!r || r.key !== item.key) return;
        if (r.status === 200 || r.status === 201) {
          done.push(item.key);
          answers.push([item, r]);
        } else if (r.status >= 400 && r.status < 500 && r.status !== 401 && r.status !== 408 && r.status !== 429) {
          refused.push({ item, status: r.status, error: r.error || null });
          answers.push([item, r]);
        }
        // Anything else (5xx for this item): it stays and is sent again.
      });
      await settle(done, refused);
      report(answers);
      return answers.length === items.length ? 'ok' : answers.length ? 'partial' : 'retry';
    }
    return wholeRequest(res, items, uploadRegistrations);
  }

  /** The answer to a whole upload that is not 200. */
  async function wholeRequest(res, items, again) {
    if (res.status === 401) {
      notice('scan-login-again');
      return 'stop';
    }
    if (res.status === 403) {
      notice('scan-not-allowed');
      return 'stop';
    }
    if (res.status >= 500 || res.status === 408 || res.status === 429) return 'retry';
    // 400, 413, 422…: the request as a whole was refused (one malformed item spoils a batch's
    // JSON). Halve it until the item at fault is alone; only that one is refused.
    if (items.length > 1) {
      const half = Math.ceil(items.length / 2);
      const a = await again(items.slice(0, half));
      if (a === 'retry' || a === 'stop') return a;
      const b = await again(items.slice(half));
      if (b === 'retry' || b === 'stop') return b;
      return a === 'ok' && b === 'ok' ? 'ok' : 'partial';
    }
    const error = (await json(res)) || { code: String(res.status), message: res.statusText };
    await settle([], [{ item: items[0], status: res.status, error }]);
    report([[items[0], { key: items[0].key, status: res.status, error }]]);
    return 'ok';
  }

  async function uploadSeal(item) {
    let res;
    try {
      res = await send(`/api/v1/tubes/${encodeURIComponent(item.tube)}/seal`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: '{}',
      });
    } catch (e) {
      return 'retry';
    }
    if (res.status === 200) {
      await settle([item.key], []);
      report([[item, { key: item.key, status: 200 }]]);
      return 'ok';
    }
    return wholeRequest(res, [item], uploadSeal.bind(null, item));
  }

  function report(answers) {
    let bad = false;
    for (const [item, result] of answers) {
      if (applyAnswer(item, result) === 'bad') bad = true;
    }
    if (bad) beep('bad');
    clearNotice();
    refreshCounts();
  }

  /** Uploads the outbox in order: runs of registrations, and seals where they were asked for. */
  async function drainOnce() {
    for (;;) {
      const items = await outboxItems(BATCH);
      if (!items.length) return 'ok';
      let outcome;
      if (items[0].kind === 'seal') {
        outcome = await uploadSeal(items[0]);
      } else {
        const batch = [];
        for (const it of items) {
          if (it.kind === 'seal') break;
          batch.push(it);
        }
        outcome = await uploadRegistrations(batch);
      }
      if (outcome !== 'ok') return outcome;
      failures = 0;
    }
  }

  async function drain() {
    if (!db) return;
    if (draining) {
      drainAgain = true;
      return;
    }
    draining = true;
    clearTimeout(retryTimer);
    retryTimer = null;
    try {
      let outcome;
      do {
        drainAgain = false;
        outcome = navigator.locks
          ? await navigator.locks.request('bulwark-scan-sender', { ifAvailable: true }, (lock) =>
              lock ? drainOnce() : 'retry'
            )
          : await drainOnce();
      } while (outcome === 'ok' && drainAgain);
      if (outcome !== 'ok') retryLater(outcome);
    } catch (e) {
      retryLater('retry');
    } finally {
      draining = false;
      refreshCounts();
    }
  }

  /** Back-off with jitter: 1 s, 2 s, 4 s … up to a minute; sooner when the network comes back. */
  function retryLater(outcome) {
    failures += 1;
    // Waiting for a person (to log in again): a refused upload costs little, so ask every 10 s.
    const base = outcome === 'stop' ? 10000 : Math.min(60000, 1000 * 2 ** Math.min(failures - 1, 6));
    const delay = base * (0.8 + Math.random() * 0.4);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(drain, delay);
  }

  function notice(key) {
    const n = $('net-state');
    n.dataset.problem = key;
    if (key === 'scan-login-again') {
      // In another tab, so that this page (and what it shows) stays; coming back retries at once.
      const a = document.createElement('a');
      a.href = '/login';
      a.target = '_blank';
      a.id = 'login-again';
      a.textContent = t('scan-login-again');
      n.replaceChildren(a);
    } else {
      n.textContent = t(key);
    }
  }

  function clearNotice() {
    const n = $('net-state');
    if (n.dataset.problem) {
      delete n.dataset.problem;
      netDisplay();
    }
  }

  // --- The hand-typed document -------------------------------------------------------------------

  function openManual() {
    if (!state.tube) {
      show('refused', t('scan-tube-first'), '');
      beep('bad');
      refocus();
      return;
    }
    $('manual-error').hidden = true;
    $('manual-form').reset();
    $('manual').showModal();
    $('manual-number').focus();
  }

  function submitManual(e) {
    e.preventDefault();
    const type = $('manual-type').value;
    let number = normalise($('manual-number').value).toUpperCase();
    const name = $('manual-name').value.trim();
    const phone = normalise($('manual-phone').value);
    const error = (text) => {
      const p = $('manual-error');
      p.textContent = text;
      p.hidden = false;
    };
    if (!number || !name) return error(t('scan-manual-needs'));
    if (type === 'resident_id' && !idChecksumOk(number)) return error(t('scan-id-checksum'));
    if (!state.tube) return error(t('scan-tube-first'));
    const person = { document_type: type, document_number: number, name };
    if (phone) person.phone = phone;
    $('manual').close();
    const shown = type === 'resident_id' ? maskId(number) : number.length > 4 ? `${'*'.repeat(number.length - 4)}${number.slice(-4)}` : number;
    number = null;
    enqueuePerson(person, `${name} ${shown}`, Date.now());
    refocus();
  }

  // --- The camera (phones without a wedge scanner) ------------------------------------------------

  let zxing = null;
  /** Loads the embedded zxing-wasm reader, its WebAssembly from this server, never the internet. */
  function loadZxing() {
    if (zxing) return zxing;
    zxing = new Promise((resolve, reject) => {
      const ready = () =>
        window.ZXingWASM.prepareZXingModule({
          overrides: {
            locateFile: (p, pre) => (p.endsWith('.wasm') ? '/static/vendor/zxing_reader.wasm' : pre + p),
          },
          fireImmediately: true,
        }).then(() => window.ZXingWASM);
      if (window.ZXingWASM) return resolve(ready());
      const s = document.createElement('script');
      s.src = '/static/vendor/zxing-wasm-reader.iife.js';
      s.onload = () => resolve(ready());
      s.onerror = () => reject(new Error('reader not loaded'));
      document.head.appendChild(s);
    });
    zxing.catch(() => {
      zxing = null;
    });
    return zxing;
  }

  let stream = null;
  let camTimer = null;
  let lastRead = { text: '', at: 0 };
  async function openCamera() {
    const box = $('camera');
    const status = $('camera-status');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      show('refused', t('scan-camera-unavailable'), '');
      beep('bad');
      return;
    }
    box.hidden = false;
    status.textContent = t('scan-camera-starting');
    try {
      const reader = await loadZxing();
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
      const video = $('camera-video');
      video.srcObject = stream;
      await video.play();
      status.textContent = '';
      const canvas = document.createElement('canvas');
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      let reading = false;
      camTimer = setInterval(async () => {
        if (reading || !video.videoWidth) return;
        reading = true;
        try {
          const scale = Math.min(1, 960 / video.videoWidth);
          canvas.width = Math.round(video.videoWidth * scale);
          canvas.height = Math.round(video.videoHeight * scale);
          ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
          const frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const found = await reader.readBarcodes(frame, { formats: ['QRCode', 'Code128'], maxNumberOfSymbols: 1, tryHarder: true });
          const hit = found.find((r) => r.isValid && r.text);
          const now = Date.now();
          if (hit && (hit.text !== lastRead.text || now - lastRead.at > 2500)) {
            lastRead = { text: hit.text, at: now };
            // Into the same input as a keyboard-wedge scanner types.
            input.value = hit.text;
            submitInput();
          }
        } catch (e) {
          /* a frame that could not be read */
        } finally {
          reading = false;
        }
      }, 200);
    } catch (e) {
      closeCamera();
      show('refused', t('scan-camera-unavailable'), String((e && e.name) || ''));
      beep('bad');
    }
  }

  function closeCamera() {
    clearInterval(camTimer);
    camTimer = null;
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
    $('camera').hidden = true;
    refocus();
  }

  // --- Offline shell ------------------------------------------------------------------------------

  async function offlineShell() {
    if (!('serviceWorker' in navigator) || !('caches' in window)) return;
    try {
      await navigator.serviceWorker.register('/scan-sw.js', { scope: '/scan' });
      const reg = await navigator.serviceWorker.ready;
      // Keep this very address (and the assets) in the worker's cache, for a reload offline.
      await new Promise((resolve, reject) => {
        const ch = new MessageChannel();
        const timer = setTimeout(() => reject(new Error('service worker did not answer')), 20000);
        ch.port1.onmessage = (e) => {
          clearTimeout(timer);
          if (e.data && e.data.ok) resolve();
          else reject(new Error('shell not cached'));
        };
        reg.active.postMessage({ type: 'cache-shell', url: location.href }, [ch.port2]);
      });
      scanRoot.dataset.offlineReady = '1';
      $('offline-ready').hidden = false;
    } catch (e) {
      scanRoot.dataset.offlineReady = '0';
    }
  }

  // --- Where: round, site, lane names -------------------------------------------------------------

  async function where() {
    const cached = store.get(`bulwark-scan:where:${place}`) || {};
    const paint = (w) => {
      $('where-round').textContent = w.round || `#${cfg.round}`;
      $('where-site').textContent = w.site || `#${cfg.site}`;
      $('where-lane').textContent = cfg.lane ? ` · ${w.lane || `#${cfg.lane}`}` : '';
      if (w.pool) {
        state.poolDefault = w.pool;
        tubeDisplay();
      }
    };
    paint(cached);
    try {
      const [rounds, sites] = await Promise.all([getJson('/api/v1/rounds'), getJson('/api/v1/sites')]);
      const round = rounds.find((r) => r.id === cfg.round);
      const site = sites.find((s) => s.id === cfg.site);
      const lane = site && site.lanes.find((l) => l.id === cfg.lane);
      const w = {
        round: round && round.name,
        pool: round && round.pool_size,
        site: site && site.name,
        lane: lane && lane.name,
      };
      store.set(`bulwark-scan:where:${place}`, w);
      paint(w);
    } catch (e) {
      /* offline: the names last seen */
    }
  }

  async function getJson(url) {
    const res = await send(url, { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    return res.json();
  }

  // --- Start --------------------------------------------------------------------------------------

  function submitInput() {
    const raw = input.value;
    input.value = '';
    handle(raw);
    refocus();
  }

  async function start() {
    netDisplay();
    tubeDisplay();
    renderRecent();
    $('scan-form').addEventListener('submit', (e) => {
      e.preventDefault();
      submitInput();
    });
    $('seal-now').addEventListener('click', () => {
      sealNow();
      refocus();
    });
    $('pool-size').value = store.get(`${TUBE_KEY}:pool`) || '';
    $('pool-size').addEventListener('change', () => {
      store.set(`${TUBE_KEY}:pool`, $('pool-size').value);
      // A choice for the open tube while nothing was scanned into it yet, else for the next one.
      if (state.tube && !state.tube.persons.length) {
        state.tube.pool = num($('pool-size').value);
        setTube(state.tube);
      }
      refocus();
    });
    $('manual-open').addEventListener('click', openManual);
    $('manual-form').addEventListener('submit', submitManual);
    $('manual-cancel').addEventListener('click', () => {
      $('manual').close();
      refocus();
    });
    $('manual').addEventListener('close', refocus);
    $('camera-open').addEventListener('click', openCamera);
    $('camera-close').addEventListener('click', closeCamera);
    window.addEventListener('online', () => {
      state.online = true;
      netDisplay();
      failures = 0;
      drain();
    });
    window.addEventListener('offline', () => {
      state.online = false;
      netDisplay();
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') drain();
    });
    window.addEventListener('focus', () => drain());
    try {
      db = await openDb();
    } catch (e) {
      scanRoot.dataset.state = 'broken';
      show('refused', t('scan-storage-broken'), String(e && e.message));
      beep('bad');
      return;
    }
    // Scans still in the outbox (from before a reload) are shown as saved on this device.
    const waiting = await outboxItems(10000);
    for (const it of waiting) {
      announced.add(it.key);
      if (!state.recent.some((r) => r.key === it.key)) {
        state.recent.unshift({
          key: it.key,
          kind: it.kind,
          label: it.label,
          tube: it.body ? it.body.tube : it.tube,
          state: 'saved',
          at: it.createdAt,
        });
      } else {
        updateRow(it.key, { state: 'saved' });
      }
    }
    state.recent.sort((a, b) => b.at - a.at);
    renderRecent();
    await refreshCounts();
    $('from-device').hidden = scanRoot.dataset.fromDevice !== '1';
    input.disabled = false;
    scanRoot.dataset.state = 'ready';
    show('idle', state.tube ? t('scan-tube-set', state.tube.code) : t('scan-ready-tube'), state.tube ? t('scan-ready-person') : '');
    input.focus();
    where();
    drain();
    setInterval(() => {
      if (!draining && !retryTimer) drain();
    }, 15000);
    offlineShell();
  }

  start();

  // --- The chooser --------------------------------------------------------------------------------

  async function chooser() {
    const round = $('choose-round');
    const site = $('choose-site');
    const lane = $('choose-lane');
    const option = (value, text) => {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = text;
      return o;
    };
    try {
      const get = async (url) => {
        const res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        if (!res.ok) throw new Error(String(res.status));
        return res.json();
      };
      const [rounds, sites] = await Promise.all([get('/api/v1/rounds'), get('/api/v1/sites')]);
      round.replaceChildren(...rounds.map((r) => option(r.id, `${r.name} (${t('scan-round-pool', r.pool_size)})`)));
      site.replaceChildren(...sites.map((s) => option(s.id, s.name)));
      const lanes = () => {
        const s = sites.find((x) => String(x.id) === site.value);
        lane.replaceChildren(option('', t('scan-lane-any')), ...((s && s.lanes) || []).map((l) => option(l.id, l.name)));
      };
      site.addEventListener('change', lanes);
      lanes();
      if (!rounds.length || !sites.length) {
        const p = $('chooser-error');
        p.textContent = t('scan-choose-none');
        p.hidden = false;
        $('choose-go').disabled = true;
      }
    } catch (e) {
      const p = $('chooser-error');
      p.textContent = `${t('scan-choose-none')} (${e.message})`;
      p.hidden = false;
    }
  }
})();
