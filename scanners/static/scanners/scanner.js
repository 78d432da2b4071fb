// The handheld pages' one script: the scan field, feedback, the outbox and each page's steps.
//
// A keyboard-wedge scanner types the barcode and Enter (or Tab) into the focused field. The
// field keeps the focus; a repeat of the same scan within DEDUPE_MS is ignored. Every
// confirmation gets an Idempotency-Key when it is scanned and is written to the IndexedDB
// outbox before it is sent, so a reload, a lost network or a retry never sends it twice.

const DEDUPE_MS = 150;
const BACKOFF_MAX_MS = 30000;
const GS = "\x1d";
const COMMAND = "CMD:";

const data = JSON.parse(document.getElementById("page-data").textContent);
const body = document.body;
const $ = (selector) => document.querySelector(selector);
const API = data.api;

// --- small helpers ------------------------------------------------------------------------------

function uuid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function device() {
  let id = localStorage.getItem("wms-device");
  if (!id) {
    id = `HH-${uuid().slice(0, 8)}`;
    localStorage.setItem("wms-device", id);
  }
  return id;
}

function escape(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function html(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? escape(values[i]) : ""), "");
}

// A scan as labels are compared: without an AIM symbology prefix (]C1, ]d2, ]Q3 ...) that
// wedges may be set to send, trimmed. Slot labels are compared exactly, as the server does.
function norm(raw) {
  return String(raw).trim().replace(/^\][A-Za-z]\d/, "");
}

function same(raw, label) {
  return norm(raw) === norm(label);
}

// Tote labels are the server's T<list>-<n>, in any case.
function sameTote(raw, label) {
  return norm(raw).toUpperCase() === norm(label).toUpperCase();
}

function isQuantity(raw) {
  return /^\d{1,6}$/.test(raw.trim());
}

// The GTIN a scan carries, as 14 digits where it can be read without the server.
function gtinOf(raw) {
  let text = raw.trim().replace(/^\][A-Za-z]\d/, "");
  let m = text.match(/^\(01\)(\d{14})/) || text.match(/\/01\/(\d{14})/);
  if (m) return m[1];
  if (/^01\d{14}/.test(text)) return text.slice(2, 16);
  if (/^\d{8}$|^\d{12,14}$/.test(text)) return text.padStart(14, "0");
  return text;
}

function matchesItem(raw, barcodes) {
  const gtin = gtinOf(raw);
  return barcodes.some((b) => b === norm(raw) || (/^\d+$/.test(b) && b.padStart(14, "0") === gtin));
}

// The SSCC a package label carries: 18 digits bare, or GS1 with AI (00) — "(00)…" or "00…".
function ssccOf(raw) {
  const text = norm(raw).replace(/^\(00\)/, "00");
  if (/^\d{18}$/.test(text)) return text;
  const m = text.match(/^00(\d{18})(?!\d)/) || text.match(/^00(\d{18})(?=\x1d|\()/);
  return m ? m[1] : null;
}

// A refusal as shown on the banner: naming the scan, unless the server's words already do.
function named(raw, detail) {
  const scan = norm(raw);
  const sscc = ssccOf(raw);
  return detail.includes(scan) || (sscc && detail.includes(sscc)) ? detail : `${scan}: ${detail}`;
}

// --- feedback: sound, flash, vibration; the error banner waits for a tap or CMD:OK -------------

let audio = null;
function tone(frequency, ms) {
  try {
    audio = audio || new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.value = 0.25;
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + ms / 1000);
  } catch (_) {
    // No audio device: the flash and the vibration still tell.
  }
}

function flash(kind) {
  body.classList.remove("flash-ok", "flash-error");
  void body.offsetWidth; // restart the animation
  body.classList.add(`flash-${kind}`);
}

function felt(kind) {
  body.dataset.feedback = kind;
  body.dataset.scans = String(Number(body.dataset.scans || 0) + 1);
}

export function ok() {
  tone(1760, 80);
  navigator.vibrate?.(50);
  flash("ok");
  felt("ok");
}

let bannerUp = false;
let bannerText = "";
export function fail(text, { again = false } = {}) {
  tone(220, 450);
  navigator.vibrate?.([300, 100, 300]);
  flash("error");
  bannerText = text;
  $("#banner-text").textContent = again ? `${text} — tap OK or scan the OK command first` : text;
  $("#banner").hidden = false;
  bannerUp = true;
  felt("error");
}

function acknowledge() {
  if (lockedOffline) return;
  $("#banner").hidden = true;
  bannerUp = false;
  focusScan();
}

function expected(what, wanted, scanned) {
  return `Expected ${what} ${wanted}, scanned ${scanned}`;
}

// --- the scan field -----------------------------------------------------------------------------

const field = $("#scan");
let lastScan = { raw: "", at: 0 };
let handler = null; // the page's function(raw)

function standIn() {
  return localStorage.getItem("wms-gs-standin") ?? data.gsStandIn ?? "";
}

function focusScan() {
  if (!field || document.querySelector("dialog[open]")) return;
  if (document.activeElement !== field) field.focus({ preventScroll: true });
}

function takeScan(raw) {
  const now = performance.now();
  if (raw === lastScan.raw && now - lastScan.at < DEDUPE_MS) return; // the wedge repeated itself
  lastScan = { raw, at: now };
  const separator = standIn();
  const value = separator ? raw.split(separator).join(GS) : raw;
  if (!value.trim()) return;
  const upper = value.trim().toUpperCase();
  if (lockedOffline) return fail("Locked: go where there is Wi-Fi and scan your badge");
  if (bannerUp) {
    if (upper === `${COMMAND}OK`) acknowledge();
    else fail(bannerText, { again: true });
    return;
  }
  if (upper === `${COMMAND}LOGOUT`) {
    logoutNow();
    return;
  }
  if (upper === `${COMMAND}OK`) return ok();
  if (!handler) return fail("Wait a moment: the page is still starting");
  const command = upper.startsWith(COMMAND) ? upper.slice(COMMAND.length) : null;
  // One scan at a time: a scan waiting for the server holds the next one back.
  scanning = scanning
    .then(() => {
      // Checked again when its turn comes: the scan before it may have raised the banner.
      if (lockedOffline) return fail("Locked: go where there is Wi-Fi and scan your badge");
      if (bannerUp) return fail(bannerText, { again: true });
      return handler(value.trim(), command);
    })
    .catch((error) => fail(error.name === "AbortError" ? "No network: the server did not answer" : `Something went wrong: ${error.message || error}`));
}

let scanning = Promise.resolve();

// Lock here and now without the server: kept pages dropped, the screen covered.
function lockHere(text = "Locked: go where there is Wi-Fi and scan your badge") {
  if (lockedOffline) return;
  lockedOffline = true;
  forgetPages();
  $("#banner-text").textContent = text;
  $("#banner").hidden = false;
  $("#banner").classList.add("locked");
  $("#banner-ok").hidden = true;
  document.querySelectorAll("main, footer, header").forEach((part) => (part.inert = true));
  // The scan field is out of reach now; a scan still gets the error tone.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    tone(220, 450);
    navigator.vibrate?.([300, 100, 300]);
    felt("error");
  });
  window.addEventListener("online", () => $("#lock-form")?.submit(), { once: true });
}

function logoutNow() {
  if (!navigator.onLine) return lockHere("Signed off here: go where there is Wi-Fi and scan a badge");
  const form = document.createElement("form");
  form.method = "post";
  form.action = "/scanners/logout";
  form.innerHTML = `<input type="hidden" name="csrf_token" value="${escape(csrfToken)}">`;
  document.body.append(form);
  form.submit();
}

function wireScanField() {
  if (!field) return;
  const native = field.form && field.form.id === "login-form";
  field.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== "Tab") return;
    if (native) {
      // The sign-in form posts itself; Tab submits it too.
      if (event.key === "Tab") {
        event.preventDefault();
        field.form.requestSubmit();
      }
      return;
    }
    event.preventDefault();
    const raw = field.value;
    field.value = "";
    takeScan(raw);
  });
  field.addEventListener("blur", () => setTimeout(focusScan, 0));
  document.addEventListener("pointerup", (event) => {
    if (!event.target.closest("input, select, textarea, dialog")) setTimeout(focusScan, 0);
  });
  $("#banner-ok")?.addEventListener("click", acknowledge);
  $("#banner")?.addEventListener("click", acknowledge);
  const dialog = $("#typed");
  $("#type-code")?.addEventListener("click", () => {
    $("#typed-value").value = "";
    dialog.showModal();
    $("#typed-value").focus();
  });
  $("#typed-cancel")?.addEventListener("click", () => dialog.close());
  $("#typed-form")?.addEventListener("submit", () => {
    const raw = $("#typed-value").value;
    setTimeout(() => {
      if (native) {
        field.value = raw;
        field.form.requestSubmit();
      } else {
        lastScan = { raw: "", at: 0 };
        takeScan(raw);
      }
    }, 0);
  });
  document.querySelectorAll("dialog").forEach((d) =>
    d.addEventListener("close", () =>
      setTimeout(() => {
        field.blur();
        focusScan();
      }, 0),
    ),
  );
  document.querySelectorAll("[data-command]").forEach((button) =>
    button.addEventListener("click", () => takeScan(button.dataset.command)),
  );
  focusScan();
}

function setPrompt(text, { numeric = false } = {}) {
  const prompt = $("#prompt");
  if (prompt) prompt.textContent = text;
  // The soft keyboard shows only where digits are typed by hand.
  if (field) field.inputMode = numeric ? "numeric" : "none";
}

function setSteps(names, current) {
  const list = $("#steps");
  if (!list) return;
  list.innerHTML = names
    .map((name, i) => `<li class="${i < current ? "done" : i === current ? "now" : ""}">${escape(name)}</li>`)
    .join("");
}

function setCard(markup) {
  const card = $("#card");
  if (card) card.innerHTML = markup;
}

// --- the server: CSRF token, direct calls, and the outbox ----------------------------------------

let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

// A fresh CSRF token for this page's user; null when that user is no longer signed in here
// (signed out, locked, or another user signed in since: their session must not send this).
async function freshToken() {
  const state = await request("/scanners/session", { credentials: "same-origin", cache: "no-store" });
  if (!state.ok || !state.json?.user || state.json.user.id !== data.user?.id) return null;
  csrfToken = state.json.csrf;
  return state.json;
}

function describe(problem) {
  if (problem.expected !== undefined && problem.scanned !== undefined) {
    return expected(problem.field || "", problem.expected, problem.scanned);
  }
  return problem.detail || problem.title || "refused";
}

const TIMEOUT_MS = 8000;

// One request, answer body included, given up after TIMEOUT_MS (a Wi-Fi that drops in the
// middle of an answer would hang otherwise). Throws when there is no network.
async function request(url, init = {}) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const answer = await fetch(url, { ...init, signal: abort.signal });
    const text = answer.status === 204 ? "" : await answer.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      json = { detail: `${answer.status} ${answer.statusText}` };
    }
    return { ok: answer.ok, status: answer.status, headers: answer.headers, json };
  } finally {
    clearTimeout(timer);
  }
}

const isCsrfRefusal = (answer) => answer.status === 400 && /csrf/i.test(answer.json?.detail || "");

// A call that needs its answer now (look-ups, opening a package); throws when offline.
// ``key``: the same key for a repeat of the same action (a double tap) makes it count once.
export async function call(method, path, payload, { key } = {}) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrfToken };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = key || uuid();
    init.body = JSON.stringify(payload ?? {});
  }
  let answer = await request(API + path, init);
  if (isCsrfRefusal(answer) && (await freshToken())) {
    headers["X-CSRFToken"] = csrfToken;
    answer = await request(API + path, init);
  }
  if (answer.status === 401) toSignIn();
  return answer;
}

// Signed out or locked on the server: the badge is scanned again, then the outbox goes on.
function toSignIn() {
  if (data.page === "login") return;
  location.href = `/scanners/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}

const OUTBOX = "outbox";
const REFUSED = "refused";
let dbPromise = null;

function database() {
  dbPromise =
    dbPromise ||
    new Promise((resolve, reject) => {
      const request = indexedDB.open("wms-handheld", 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(OUTBOX, { keyPath: "seq", autoIncrement: true });
        request.result.createObjectStore(REFUSED, { keyPath: "key" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  return dbPromise;
}

async function store(name, mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(name, mode);
    const result = work(tx.objectStore(name));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

const all = (name) => store(name, "readonly", (s) => s.getAll());

const listeners = new Map(); // key → function(state, answer)
// What the page does when any of its entries is answered, made before a reload or not.
const pageHooks = {};

// What this device sent lately (path, payload, when the server answered, by its clock), so a
// page the service worker kept from before still shows that work as done.
const sentKey = () => `wms-sent-${data.user?.id}`;

function keepSent(entry, serverDate) {
  const sent = JSON.parse(localStorage.getItem(sentKey()) || "[]");
  const at = Date.parse(serverDate || "") || Date.now();
  sent.unshift({ path: entry.path, payload: entry.payload, at });
  localStorage.setItem(sentKey(), JSON.stringify(sent.slice(0, 300)));
}

// Entries answered after the page was made (its ``rendered`` time, by the server's clock).
export function sentSincePage() {
  const since = Date.parse(data.rendered || "") || 0;
  // The Date header has whole seconds: an answer within the page's own second counts too.
  return JSON.parse(localStorage.getItem(sentKey()) || "[]").filter((e) => e.at >= since - 1000);
}

// Entries still waiting for the server whose path starts so.
export async function pending(prefix) {
  return (await all(OUTBOX)).filter((e) => e.user === data.user?.id && e.path.startsWith(prefix));
}

// Queue a confirmation: kept on the device first, then sent in order.
// ``key``: the Idempotency-Key already used for this confirmation (see ``confirmNow``).
export async function enqueue(path, payload, { label, record = false, onAnswer, key } = {}) {
  const entry = {
    key: key || uuid(),
    path,
    payload,
    label: label || path,
    record,
    user: data.user?.id,
    page: data.page,
    created: Date.now(),
  };
  await store(OUTBOX, "readwrite", (s) => s.add(entry));
  if (onAnswer) listeners.set(entry.key, onAnswer);
  if (!record) remember(entry, "queued");
  showQueued();
  drain();
  return entry;
}

// Record a scan as it happened (raw, step, result) — through the same outbox.
function recordScan(raw, step, result, message = "") {
  if (!data.user) return;
  enqueue(
    "/scans",
    { raw: raw.slice(0, 512), step: `${data.page}:${step}`.slice(0, 40), result, message: message.slice(0, 255), device: device(), site_id: data.site?.id ?? null },
    { record: true },
  );
}

// A confirmation whose answer the page needs at once (a refusal must stop the scan on the
// spot): sent now with its Idempotency-Key. When no answer comes (the network dropped, the
// server was busy), it goes to the outbox under the same key, so it is still done exactly once
// and its answer still reaches ``onAnswer``; then null is returned.
export async function confirmNow(path, payload, { label, onAnswer } = {}) {
  const key = uuid();
  let answer = null;
  try {
    answer = await call("POST", path, payload, { key });
  } catch (_) {
    answer = null; // no network, or no answer within TIMEOUT_MS
  }
  if (!answer || answer.status === 408 || answer.status === 429 || answer.status >= 500) {
    await enqueue(path, payload, { label, key, onAnswer });
    return null;
  }
  if (answer.ok) {
    const entry = { key, path, payload, label: label || path };
    remember(entry, "sent");
    keepSent(entry, answer.headers.get("Date"));
  }
  return answer;
}

let draining = false;
let backoff = 1000;
let retryTimer = null;
let retryAfterMs = 0;

// Send what the outbox holds, in order; one tab of this device at a time.
export async function drain({ now = false } = {}) {
  if (draining || !data.user) return;
  if (retryTimer && !now) return; // waiting out a back-off
  clearTimeout(retryTimer);
  retryTimer = null;
  draining = true;
  try {
    if (navigator.locks) await navigator.locks.request("wms-outbox", drainAll);
    else await drainAll();
  } finally {
    draining = false;
    showQueued();
  }
}

async function drainAll() {
  for (;;) {
    const waiting = (await all(OUTBOX)).filter((e) => e.user === data.user.id);
    if (!waiting.length) return;
    const outcome = await send(waiting[0]);
    if (outcome === "retry") {
      const wait = Math.max(backoff, retryAfterMs);
      retryAfterMs = 0;
      retryTimer = setTimeout(() => drain({ now: true }), wait);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      return;
    }
    if (outcome === "signin") {
      toSignIn();
      return;
    }
    backoff = 1000;
  }
}

async function send(entry) {
  let answer;
  const attempt = () =>
    request(API + entry.path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken,
        "Idempotency-Key": entry.key,
      },
      body: JSON.stringify(entry.payload),
    });
  try {
    answer = await attempt();
    if (isCsrfRefusal(answer)) {
      if (!(await freshToken())) return "signin";
      answer = await attempt();
    }
  } catch (_) {
    return "retry"; // no network
  }
  if (answer.status === 401) return "signin"; // signed out or locked: kept until unlocked
  if (answer.status === 429 || answer.status >= 500 || answer.status === 408) {
    const after = answer.headers.get("Retry-After") || "";
    retryAfterMs = /^\d+$/.test(after) ? 1000 * Number(after) : Math.max(0, (Date.parse(after) || 0) - Date.now());
    return "retry";
  }
  const json = answer.json;
  // The first try of this key is still running on the server: its answer will be the one.
  if (answer.status === 409 && String(json?.type || "").endsWith("/idempotency_key_in_progress")) return "retry";
  await store(OUTBOX, "readwrite", (s) => s.delete(entry.seq));
  if (answer.ok) {
    if (!entry.record) {
      remember(entry, "sent");
      keepSent(entry, answer.headers.get("Date"));
    }
    listeners.get(entry.key)?.("sent", json);
    pageHooks.answered?.(entry, "sent", json);
  } else if (!entry.record) {
    // A conflict found on replay: kept for the user to resolve, never dropped.
    const refused = { ...entry, problem: json, status: answer.status, refusedAt: Date.now() };
    await store(REFUSED, "readwrite", (s) => s.put(refused));
    remember(entry, "refused", describe(json));
    listeners.get(entry.key)?.("refused", json);
    pageHooks.answered?.(entry, "refused", json);
    if (!listeners.has(entry.key)) fail(`Refused when sent: ${entry.label} — ${describe(json)}`);
    showRefused();
  }
  listeners.delete(entry.key);
  return "done";
}

async function showQueued() {
  const badge = $("#queued");
  if (!badge || !data.user) return;
  const waiting = (await all(OUTBOX)).filter((e) => !e.record);
  const mine = waiting.filter((e) => e.user === data.user.id);
  const others = waiting.length - mine.length;
  badge.textContent = `queued: ${mine.length}` + (others ? ` (+${others} of another user)` : "");
  badge.classList.toggle("waiting", mine.length > 0);
  const list = $("#outbox-list");
  if (list) {
    list.innerHTML = waiting
      .map((e) => html`<li><span class="state queued">queued</span> ${e.label}</li>`)
      .join("");
    $("#outbox-section").hidden = !waiting.length;
  }
}

async function showRefused() {
  const list = $("#conflicts-list");
  if (!list || !data.user) return;
  const refused = (await all(REFUSED)).filter((e) => e.user === data.user.id);
  $("#conflicts-section").hidden = !refused.length;
  list.innerHTML = refused
    .map(
      (e) =>
        html`<li><span class="state refused">refused</span> ${e.label}<br>${describe(e.problem || {})}<div class="row">` +
        `<button type="button" class="big" data-retry="${escape(e.key)}">Try again</button>` +
        `<button type="button" class="big secondary" data-drop="${escape(e.key)}">Drop</button></div></li>`,
    )
    .join("");
  list.querySelectorAll("[data-retry]").forEach((b) =>
    b.addEventListener("click", async () => {
      const entry = refused.find((e) => e.key === b.dataset.retry);
      await store(REFUSED, "readwrite", (s) => s.delete(entry.key));
      // A new key: the refusal of the old one is what the server keeps for it.
      await enqueue(entry.path, entry.payload, { label: entry.label });
      showRefused();
    }),
  );
  list.querySelectorAll("[data-drop]").forEach((b) =>
    b.addEventListener("click", async () => {
      await store(REFUSED, "readwrite", (s) => s.delete(b.dataset.drop));
      showRefused();
    }),
  );
}

// The page's own list of what was confirmed here: queued → sent or refused.
function logKey() {
  return `wms-log-${data.user?.id}-${data.page}`;
}

function remember(entry, state, detail = "") {
  const log = JSON.parse(localStorage.getItem(logKey()) || "[]");
  const found = log.find((e) => e.key === entry.key);
  if (found) Object.assign(found, { state, detail });
  else log.unshift({ key: entry.key, label: entry.label, state, detail });
  localStorage.setItem(logKey(), JSON.stringify(log.slice(0, 30)));
  showLog();
}

function showLog() {
  const list = $("#list");
  if (!list) return;
  const log = JSON.parse(localStorage.getItem(logKey()) || "[]");
  list.innerHTML = log
    .map((e) => html`<li><span class="state ${e.state}">${e.state}</span> ${e.label}${e.detail ? ` — ${e.detail}` : ""}</li>`)
    .join("");
}

// --- idle lock, and pages kept for offline use -------------------------------------------------

let lockedOffline = false;

// Drop the pages the service worker kept (they show the user who opened them); its own
// script and style stay. Done on every sign-in page: after a log-out, a lock or a switch.
async function forgetPages() {
  if (!globalThis.caches) return;
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const path = new URL(request.url).pathname;
      if (!path.startsWith("/scanners/static/") && path !== "/scanners/offline") await cache.delete(request);
    }
  }
}

// --- idle lock ----------------------------------------------------------------------------------

function wireIdleLock() {
  const form = $("#lock-form");
  if (!form || !data.idleLockS) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!navigator.onLine) return lockHere();
    forgetPages().finally(() => form.submit());
  });
  let last = Date.now();
  let told = Date.now();
  const touch = () => {
    if (lockedOffline) return;
    last = Date.now();
    // The server locks a session it has not seen for the idle time: tell it about activity
    // on this page (at most once a minute).
    if (last - told > 60000 && navigator.onLine) {
      told = last;
      request("/scanners/active", { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken } }).catch(() => {});
    }
  };
  ["keydown", "pointerdown", "touchstart"].forEach((e) => document.addEventListener(e, touch, true));
  setInterval(() => {
    if (lockedOffline || Date.now() - last <= data.idleLockS * 1000) return;
    if (navigator.onLine) forgetPages().finally(() => form.submit());
    else lockHere(); // the server is told once online
  }, 5000);
}

// --- the pages ----------------------------------------------------------------------------------

async function lookUp(path) {
  try {
    return await call("GET", path);
  } catch (_) {
    return null; // offline
  }
}

const pages = {};

// What a scanned slot or item label is, from the server; null after refusing the scan (the
// reason recorded and on the banner) or saying the network is needed.
async function scanned(kind, raw, step, needed = "checking it") {
  // Item codes go as scanned: a GS1 symbology identifier (]C1) tells the server how to read them.
  const value = kind === "slots" ? norm(raw) : raw.trim();
  const found = await lookUp(`/${kind}/scan/${encodeURIComponent(value)}`);
  if (!found) {
    fail(`No network: ${needed} needs the network`);
    return null;
  }
  if (!found.ok) {
    recordScan(raw, step, "error", describe(found.json));
    fail(describe(found.json));
    return null;
  }
  return found.json;
}

// A refusal the server already wrote on the page: sound, flash and vibrate only.
function refusedOnPage() {
  tone(220, 450);
  navigator.vibrate?.([300, 100, 300]);
  flash("error");
  felt("error");
}

pages.login = () => {
  forgetPages();
  if (data.error) refusedOnPage();
};

pages.home = () => {
  showRefused();
  setPrompt("Scan a command, or choose a task");
  handler = (raw) => fail(`Choose a task first (scanned ${raw})`);
};

pages.error = () => {
  refusedOnPage();
  handler = (raw) => fail(`Choose Menu or Back first (scanned ${raw})`);
};

function qtyStep(prompt, fallback) {
  setPrompt(`${prompt}${fallback ? ` (CONFIRM = ${fallback})` : ""}`, { numeric: true });
}

function quantityOf(raw, command, fallback) {
  if (command === "CONFIRM" && fallback) return fallback;
  if (!isQuantity(raw)) return null;
  const n = Number(raw);
  return n > 0 ? n : null;
}

pages.receive = () => {
  const receipt = data.receipt;
  const blindKeys = {};
  if (!receipt) {
    setPrompt("Scan the receipt number or a dock");
    handler = async (raw, command) => {
      if (command) return;
      const found = await lookUp(`/receipts?number=${encodeURIComponent(raw)}&site_id=${data.site.id}`);
      if (found === null) return fail("No network: opening a receipt needs the network");
      if (found.ok && found.json.items.length) {
        recordScan(raw, "receipt", "ok");
        ok();
        location.search = `?receipt=${found.json.items[0].id}`;
        return;
      }
      const slot = await lookUp(`/slots/scan/${encodeURIComponent(raw)}`);
      if (slot?.ok && ["dock", "staging"].includes(slot.json.kind)) {
        // A second scan of the same dock on this page opens the same blind receipt.
        blindKeys[slot.json.id] = blindKeys[slot.json.id] || uuid();
        const made = await call("POST", "/receipts", { site_id: data.site.id, dock_slot_id: slot.json.id, kind: "blind" }, { key: blindKeys[slot.json.id] }).catch(() => null);
        if (!made) return fail("No network: opening a receipt needs the network");
        if (!made.ok) return fail(describe(made.json));
        recordScan(raw, "dock", "ok");
        ok();
        location.search = `?receipt=${made.json.id}`;
        return;
      }
      recordScan(raw, "receipt", "error", "not a receipt or dock");
      fail(expected("a receipt number or a dock, ", "", raw).replace(" ,", ""));
    };
    return;
  }
  const lines = new Map(receipt.lines.map((l) => [`${l.item_id}|${l.lot}`, l]));
  const table = $("#receipt-lines");
  const drawLines = () => {
    table.hidden = !lines.size;
    table.querySelector("tbody").innerHTML = [...lines.values()]
      .map((l) => {
        // Blind receipts have no variance; on an ASN a line it did not list is all over.
        const variance = receipt.kind === "blind" ? null : l.received - (l.expected ?? 0);
        const mark = variance > 0 ? "over" : variance < 0 ? "under" : "";
        const text = variance === null ? "—" : variance > 0 ? `+${variance} over` : variance < 0 ? `${variance} under` : "0";
        return html`<tr><td><b>${l.sku}</b><br>${l.name || ""}</td><td>${l.lot || "—"}</td><td>${l.expected ?? "—"}</td><td>${l.received}</td><td class="${mark}">${text}</td></tr>`;
      })
      .join("");
  };
  drawLines();
  const closeButton = $("#close-receipt");
  const closeKey = uuid();
  closeButton.hidden = receipt.status !== "open";
  closeButton.addEventListener("click", async () => {
    // Closing before the queued lines are in would close the receipt short of them.
    const waiting = await pending(`/receipts/${receipt.id}/`);
    if (waiting.length) {
      drain({ now: true });
      return fail(`${waiting.length} line(s) still queued: close once they are sent`);
    }
    try {
      const closed = await call("POST", `/receipts/${receipt.id}/close`, {}, { key: closeKey });
      if (!closed.ok) return fail(describe(closed.json));
      receipt.status = "closed";
      ok();
      setCard(html`<p class="big-text">${receipt.number} closed</p><p><a class="big" href="/scanners/putaway">Put away now</a></p>`);
      closeButton.hidden = true;
    } catch (_) {
      fail("No network: closing needs the network; your scans stay queued");
    }
  });
  let item = null;
  const start = () => {
    item = null;
    setSteps(["Item", "Quantity"], 0);
    setPrompt(`Scan an item for ${receipt.number}`);
    setCard(html`<p>Receipt <b>${receipt.number}</b> · dock ${receipt.dock}</p>`);
  };
  start();
  handler = async (raw, command) => {
    if (command === "CANCEL") return start();
    if (receipt.status !== "open") return fail(`Receipt ${receipt.number} is ${receipt.status}`);
    if (!item) {
      if (command) return;
      const found = await lookUp(`/items/scan/${encodeURIComponent(raw)}`);
      if (found && !found.ok) {
        recordScan(raw, "item", "error", describe(found.json));
        return fail(describe(found.json));
      }
      item = { raw, ...(found ? found.json : {}) };
      recordScan(raw, "item", "ok");
      ok();
      const known = found
        ? html`<p class="big-text">${item.item.sku}</p><p>${item.item.name}</p><dl><dt>Lot</dt><dd>${item.lot || "—"}</dd><dt>Expiry</dt><dd>${item.expiry || "—"}</dd><dt>Per scan</dt><dd>${item.units}</dd></dl>`
        : html`<p class="big-text">${raw}</p><p>Offline: the item is checked when this is sent.</p>`;
      setCard(known);
      setSteps(["Item", "Quantity"], 1);
      return qtyStep("How many?", null);
    }
    const quantity = quantityOf(raw, command, null);
    if (!quantity) {
      recordScan(raw, "quantity", "error", "not a quantity");
      return fail(expected("a quantity,", "", raw).replace(" ,", ""));
    }
    recordScan(raw, "quantity", "ok");
    ok();
    const scanned = item;
    const label = `${quantity} × ${scanned.item ? scanned.item.sku : scanned.raw} on ${receipt.number}`;
    enqueue(`/receipts/${receipt.id}/scanned-lines`, { scan: scanned.raw, quantity }, {
      label,
      onAnswer: (state, line) => {
        if (state !== "sent") return fail(`${label}: ${describe(line)}`);
        const key = `${line.item_id}|${line.lot}`;
        const known = lines.get(key) || { item_id: line.item_id, lot: line.lot, sku: scanned.item?.sku || `item ${line.item_id}`, name: scanned.item?.name };
        known.received = line.received_qty;
        known.expected = line.expected_qty;
        lines.set(key, known);
        drawLines();
      },
    });
    start();
  };
};

// Another slot than the suggested one may take a putaway: why this one may not, or null.
async function otherSlotRefusal(raw, suggested) {
  const slot = await lookUp(`/slots/scan/${encodeURIComponent(norm(raw))}`);
  if (!slot) return "No network: another slot than the suggested one needs the network";
  if (!slot.ok) return describe(slot.json);
  if (slot.json.site_id !== data.site.id || !["pick_face", "reserve"].includes(slot.json.kind)) {
    return expected("a storage slot like", suggested, raw);
  }
  return null;
}

pages.putaway = () => {
  let task = null;
  let itemRaw = null;
  const start = () => {
    task = null;
    setSteps(["Item", "Slot"], 0);
    setPrompt("Scan a received item at the dock");
    setCard("");
  };
  start();
  handler = async (raw, command) => {
    if (command === "CANCEL") return start();
    if (!task) {
      if (command) return;
      let found;
      try {
        found = await call("POST", "/putaway-tasks/for-scan", { site_id: data.site.id, scan: raw });
      } catch (_) {
        return fail("No network: finding the slot needs the network");
      }
      if (!found.ok) {
        recordScan(raw, "item", "error", describe(found.json));
        return fail(describe(found.json));
      }
      task = found.json;
      itemRaw = raw;
      recordScan(raw, "item", "ok");
      ok();
      setSteps(["Item", "Slot"], 1);
      setCard(
        html`<p>${task.quantity - task.done_qty} × <b>${task.sku}</b> ${task.item_name}${task.lot ? ` · lot ${task.lot}` : ""}</p><p>from ${task.from_slot_barcode} to</p><p class="big-text" id="suggested">${task.to_slot_barcode}</p>`,
      );
      return setPrompt(`Scan slot ${task.to_slot_barcode} (or another free slot)`);
    }
    if (command) return;
    const other = !same(raw, task.to_slot_barcode);
    if (other) {
      const refusal = await otherSlotRefusal(raw, task.to_slot_barcode);
      if (refusal) {
        recordScan(raw, "slot", "error", refusal);
        return fail(refusal);
      }
    }
    recordScan(raw, "slot", "ok", other ? `instead of ${task.to_slot_barcode}` : "");
    ok();
    const quantity = task.quantity - task.done_qty;
    const label = `${quantity} × ${task.sku} → ${raw}${other ? ` (suggested ${task.to_slot_barcode})` : ""}`;
    enqueue(`/tasks/${task.id}/complete`, { from_slot: task.from_slot_barcode, item: itemRaw, quantity, to_slot: raw }, {
      label,
      onAnswer: (state, answer) => state === "refused" && fail(`${label}: ${describe(answer)}`),
    });
    start();
  };
};

// Work items (tasks, pick tasks) are open, queued (confirmed here, not yet answered) or done.
// A reload reads the outbox again: what is queued stays queued, never open and never done.
// ``units`` (tasks done in parts): how much of the item an entry did. Entries still queued
// make it queued; entries the server answered after this page was made (a kept copy) make
// it done, or take their units off what remains.
async function markQueued(items, pathOf, { units = null } = {}) {
  const queued = await pending("/");
  const sent = sentSincePage();
  for (const item of items) {
    if (item.state !== "open") continue;
    const mine = (list) => list.filter((e) => e.path === pathOf(item));
    if (units) {
      item.remaining -= [...mine(sent), ...mine(queued)].reduce((n, e) => n + units(e), 0);
      if (item.remaining <= 0) item.state = mine(queued).length ? "queued" : "done";
    } else if (mine(queued).length) item.state = "queued";
    else if (mine(sent).length) item.state = "done";
  }
}

function stateBadge(item) {
  if (item.state === "done") return ' <span class="state sent">done</span>';
  if (item.state === "queued") return ' <span class="state queued">queued</span>';
  return "";
}

pages.tasks = async () => {
  const pathOf = (t) => `/tasks/${t.id}/complete`;
  const waiting = data.tasks.map((t) => ({ ...t, state: "open", skipped: false }));
  await markQueued(waiting, pathOf, { units: (e) => e.payload.quantity });
  const STEPS = ["From", "Item", "Qty", "To"];
  let current = null;
  let step = 0;
  let scans = {};
  const list = $("#waiting");
  const draw = () => {
    list.innerHTML =
      waiting
        .filter((t) => t.state !== "done")
        .map(
          (t) =>
            html`<li class="${t === current ? "current" : ""}" data-task="${t.id}"><b>${t.kind}</b> ${t.remaining} × ${t.sku} · ${t.from} → ${t.to || "any"}` +
            stateBadge(t) +
            (t === current || t.state !== "open" ? "" : ` <button type="button" class="big secondary" data-pick="${t.id}">Do this</button>`) +
            "</li>",
        )
        .join("") || "<li>Nothing waiting for you here.</li>";
    list.querySelectorAll("[data-pick]").forEach((b) =>
      b.addEventListener("click", () => choose(waiting.find((t) => String(t.id) === b.dataset.pick))),
    );
  };
  pageHooks.answered = async (entry, state, answer) => {
    const task = waiting.find((t) => pathOf(t) === entry.path);
    if (!task) return;
    if (state === "sent") {
      // The server's figure, less what is still queued for it here.
      const queued = (await pending(entry.path)).reduce((n, e) => n + e.payload.quantity, 0);
      task.remaining = answer.quantity - answer.done_qty - queued;
      task.state = task.remaining > 0 ? "open" : queued ? "queued" : "done";
    } else {
      task.remaining += entry.payload.quantity; // refused: those units are still to move
      task.state = "open";
    }
    if (!current) next();
    else draw();
  };
  const prompts = () => [
    `Scan source slot ${current.from}`,
    `Scan item ${current.sku}`,
    `How many? (CONFIRM = ${current.remaining})`,
    current.to && current.kind !== "putaway" ? `Scan destination ${current.to}` : `Scan destination ${current.to || ""} (or another slot)`,
  ];
  const choose = (task) => {
    current = task || null;
    step = 0;
    scans = {};
    if (!current) {
      setSteps([], 0);
      const queued = waiting.filter((t) => t.state === "queued").length;
      setCard(queued ? html`<p>${queued} task(s) queued: they are sent when the network allows.</p>` : "<p>All done here.</p>");
      setPrompt("Nothing to scan");
      return draw();
    }
    setSteps(STEPS, 0);
    setCard(html`<p><b>${current.kind}</b> · ${current.remaining} × <b>${current.sku}</b> ${current.name}${current.lot ? ` · lot ${current.lot}` : ""}</p><p class="big-text">${current.from} → ${current.to || "?"}</p>`);
    setPrompt(prompts()[0]);
    draw();
  };
  const next = () => choose(waiting.find((t) => t.state === "open" && !t.skipped) || waiting.find((t) => t.state === "open"));
  next();
  handler = async (raw, command) => {
    if (!current) return fail("No task waiting for you here");
    if (command === "SKIP") {
      current.skipped = true;
      return next();
    }
    if (command === "CANCEL") return choose(current);
    if (step === 0) {
      if (!same(raw, current.from)) {
        recordScan(raw, "from", "error");
        return fail(expected("slot", current.from, raw));
      }
      scans.from = raw;
    } else if (step === 1) {
      if (!matchesItem(raw, current.barcodes)) {
        recordScan(raw, "item", "error");
        return fail(expected("item", current.sku, raw));
      }
      scans.item = raw;
    } else if (step === 2) {
      const quantity = quantityOf(raw, command, current.remaining);
      if (!quantity || quantity > current.remaining) {
        recordScan(raw, "quantity", "error");
        return fail(`Expected a quantity of 1 to ${current.remaining}, scanned ${raw}`);
      }
      scans.quantity = quantity;
    } else {
      if (command) return;
      if (current.to && current.kind !== "putaway" && !same(raw, current.to)) {
        recordScan(raw, "to", "error");
        return fail(expected("slot", current.to, raw));
      }
      if (!current.to || (current.kind === "putaway" && !same(raw, current.to))) {
        const refusal = await otherSlotRefusal(raw, current.to || "");
        if (refusal) {
          recordScan(raw, "to", "error", refusal);
          return fail(refusal);
        }
      }
      scans.to = raw;
    }
    recordScan(raw, STEPS[step].toLowerCase(), "ok");
    ok();
    step += 1;
    if (step < STEPS.length) {
      setSteps(STEPS, step);
      return setPrompt(prompts()[step], { numeric: step === 2 });
    }
    const task = current;
    const label = `${scans.quantity} × ${task.sku} ${task.from} → ${scans.to}`;
    task.remaining -= scans.quantity;
    task.state = task.remaining > 0 ? "open" : "queued";
    await enqueue(pathOf(task), { from_slot: scans.from, item: scans.item, quantity: scans.quantity, to_slot: scans.to }, {
      label,
      onAnswer: (state, answer) => state === "refused" && fail(`${label}: ${describe(answer)}`),
    });
    next();
  };
};

pages.pick = async () => {
  const pickList = data.pickList;
  $("#take-next")?.addEventListener("click", async () => {
    try {
      const taken = await call("POST", "/pick-lists/next", { site_id: data.site.id });
      if (taken.status === 204) return fail("No pick list is waiting: no wave is released");
      if (!taken.ok) return fail(describe(taken.json));
      ok();
      location.reload();
    } catch (_) {
      fail("No network: taking a pick list needs the network");
    }
  });
  if (!pickList) {
    setPrompt("Tap “Take next pick list”");
    handler = () => fail("No pick list in progress: take the next one first");
    return;
  }
  const pathOf = (t) => `/pick-lists/${pickList.id}/tasks/${t.id}/confirm`;
  const tasks = pickList.tasks.map((t) => ({ ...t, state: t.status === "open" ? "open" : "done" }));
  await markQueued(tasks, pathOf);
  const STEPS = ["Slot", "Item", "Qty", "Tote"];
  let current = null;
  let step = 0;
  let picked = 0;
  let reason = "";
  const walk = $("#walk");
  const draw = () => {
    const done = tasks.filter((t) => t.state === "done").length;
    const queued = tasks.filter((t) => t.state === "queued").length;
    walk.innerHTML = tasks
      .map((t, i) => html`<li class="${t === current ? "current" : ""}">${i + 1}. <b>${t.slot}</b> · ${t.quantity} × ${t.sku} → ${t.tote}` + stateBadge(t))
      .join("");
    const next = tasks.find((t) => t.state === "open" && t !== current);
    const tally = `${done} / ${tasks.length} done` + (queued ? `, ${queued} queued` : "");
    if (!current) {
      const finished = done === tasks.length;
      setCard(
        finished
          ? html`<p class="big-text">${pickList.number} done</p><p>${done} / ${tasks.length} picked. Take the totes to packing.</p>`
          : html`<p class="big-text">${pickList.number}: all scanned</p><p>${tally}. Queued picks are sent when the network allows.</p>`,
      );
      $("#take-next").hidden = !finished;
      return;
    }
    setCard(
      html`<p id="progress">${tally} · ${pickList.number}</p><p class="big-text">${current.slot}</p><p>${current.quantity} × <b>${current.sku}</b> ${current.name}${current.lot ? ` · lot ${current.lot}` : ""}</p><p>into tote <b>${current.tote}</b>${next ? ` · next slot ${next.slot}` : ""}</p>`,
    );
  };
  pageHooks.answered = (entry, state) => {
    const task = tasks.find((t) => pathOf(t) === entry.path);
    if (!task) return;
    task.state = state === "sent" ? "done" : "open"; // refused: still to pick
    if (!current) begin();
    else draw();
  };
  const prompts = () => [`Scan slot ${current.slot}`, `Scan item ${current.sku}`, `How many? (CONFIRM = ${current.quantity})`, `Scan tote ${current.tote}`];
  const begin = () => {
    current = tasks.find((t) => t.state === "open") || null;
    step = 0;
    reason = "";
    if (!current) {
      setSteps([], 0);
      setPrompt("Pick list scanned");
    } else {
      setSteps(STEPS, 0);
      setPrompt(prompts()[0]);
    }
    draw();
  };
  const confirm = async () => {
    const task = current;
    const label = `${picked} of ${task.quantity} × ${task.sku} from ${task.slot}${reason ? ` (short: ${reason})` : ""}`;
    task.state = "queued";
    draw(); // queued at once, before the outbox has written it
    await enqueue(pathOf(task), { quantity: picked, reason }, {
      label,
      onAnswer: (state, answer) => state === "refused" && fail(`${label}: ${describe(answer)}`),
    });
    begin();
  };
  const short = $("#short");
  const askShort = (found) => {
    $("#short-qty").value = String(found);
    short.showModal();
  };
  short.addEventListener("close", () => {
    if (short.returnValue !== "ok" || !current) return;
    const found = Number($("#short-qty").value || 0);
    if (!(Number.isInteger(found) && found >= 0 && found < current.quantity)) return fail(`A short pick is 0 to ${current.quantity - 1} units`);
    picked = found;
    reason = document.querySelector('input[name="short-reason"]:checked').value;
    recordScan(`SHORT ${found}`, "short", "ok", reason);
    ok();
    if (picked === 0) return confirm();
    step = 3;
    setSteps(STEPS, 3);
    setPrompt(prompts()[3]);
  });
  begin();
  handler = async (raw, command) => {
    if (!current) {
      const queued = tasks.filter((t) => t.state === "queued").length;
      return fail(queued ? `Nothing left to pick here: ${queued} queued, sent when the network allows` : "This pick list is done: take the next one");
    }
    if (command === "CANCEL") return begin();
    if (command === "SHORT") return askShort(0);
    if (step === 0) {
      if (!same(raw, current.slot)) {
        recordScan(raw, "slot", "error");
        return fail(expected("slot", current.slot, raw));
      }
    } else if (step === 1) {
      if (!matchesItem(raw, current.barcodes)) {
        recordScan(raw, "item", "error");
        return fail(expected("item", current.sku, raw));
      }
    } else if (step === 2) {
      const quantity = command === "CONFIRM" ? current.quantity : isQuantity(raw) ? Number(raw) : null;
      if (quantity === null || quantity > current.quantity) {
        recordScan(raw, "quantity", "error");
        return fail(`Expected ${current.quantity} (fewer: scan SHORT), scanned ${raw}`);
      }
      if (quantity < current.quantity) {
        // Fewer than asked is a short pick: it needs its reason.
        recordScan(raw, "quantity", "ok", "short");
        return askShort(quantity);
      }
      picked = quantity;
    } else {
      if (!sameTote(raw, current.tote)) {
        recordScan(raw, "tote", "error");
        return fail(expected("tote", current.tote, raw));
      }
    }
    recordScan(raw, STEPS[step].toLowerCase(), "ok");
    ok();
    step += 1;
    if (step < STEPS.length) {
      setSteps(STEPS, step);
      return setPrompt(prompts()[step], { numeric: step === 2 });
    }
    await confirm();
  };
};

pages.pack = () => {
  let pkg = null;
  let order = null;
  let line = null;
  const packed = new Map(); // order line → units the server has in the package
  const queued = new Map(); // order line → units confirmed here, not answered yet
  const table = $("#order-lines");
  const closeButton = $("#close-package");
  const closeKeys = {};
  const add = (map, id, n) => map.set(id, (map.get(id) || 0) + n);
  const inBox = (id) => (packed.get(id) || 0) + (queued.get(id) || 0);
  const draw = () => {
    table.hidden = !order;
    if (!order) return;
    $("#order-caption").textContent = `Order ${order.number}`;
    table.querySelector("tbody").innerHTML = order.lines
      .map(
        (l) =>
          html`<tr><td><b>${l.sku}</b></td><td>${l.picked_qty}</td><td>${packed.get(l.id) || 0}` +
          (queued.get(l.id) ? ` <span class="state queued">+${queued.get(l.id)} queued</span>` : "") +
          "</td></tr>",
      )
      .join("");
  };
  pageHooks.answered = (entry, state, answer) => {
    if (!pkg || !entry.path.startsWith(`/packages/${pkg.id}/lines`)) return;
    const { order_line_id: id, quantity } = entry.payload;
    add(queued, id, -quantity);
    if (state === "sent") {
      // The package as the server has it now (a replayed answer counts once).
      packed.clear();
      answer.lines.forEach((l) => add(packed, l.order_line_id, l.quantity));
    }
    draw();
  };
  const start = () => {
    line = null;
    if (!pkg) {
      setSteps(["Tote", "Items", "Close"], 0);
      setPrompt("Scan a tote");
      closeButton.hidden = true;
    } else {
      setSteps(["Tote", "Items", "Close"], 1);
      setPrompt("Scan an item (or another tote of the order)");
      closeButton.hidden = false;
    }
  };
  const openTote = async (raw) => {
    let opened;
    try {
      opened = await call("POST", "/packages", { tote: raw });
    } catch (_) {
      return fail("No network: opening a package needs the network");
    }
    if (!opened.ok) {
      recordScan(raw, "tote", "error", describe(opened.json));
      return fail(describe(opened.json));
    }
    const fetched = await lookUp(`/orders/${opened.json.order_id}`);
    if (!fetched) return fail("No network: reading the order needs the network");
    if (!fetched.ok) return fail(describe(fetched.json));
    pkg = opened.json;
    order = fetched.json;
    packed.clear();
    queued.clear();
    pkg.lines.forEach((l) => add(packed, l.order_line_id, l.quantity));
    (await pending(`/packages/${pkg.id}/lines`)).forEach((e) => add(queued, e.payload.order_line_id, e.payload.quantity));
    recordScan(raw, "tote", "ok");
    ok();
    setCard(html`<p>Package for order <b>${order.number}</b> · totes ${pkg.totes.join(", ")}</p>`);
    $("#label-links").hidden = true;
    draw();
    start();
  };
  closeButton.addEventListener("click", async () => {
    // Closing before the queued lines are in would close a package short of them.
    const waiting = await pending(`/packages/${pkg.id}/`);
    if (waiting.length) {
      drain({ now: true });
      return fail(`${waiting.length} line(s) still queued: close once they are sent`);
    }
    let closed;
    closeKeys[pkg.id] = closeKeys[pkg.id] || uuid(); // a double tap closes once
    try {
      closed = await call("POST", `/packages/${pkg.id}/close`, {}, { key: closeKeys[pkg.id] });
    } catch (_) {
      return fail("No network: closing needs the network; your scans stay queued");
    }
    if (!closed.ok) return fail(describe(closed.json));
    ok();
    setCard(html`<p>Order <b>${order.number}</b> packed</p><p class="big-text">SSCC ${closed.json.sscc}</p>`);
    const links = $("#label-links");
    links.innerHTML =
      `<a class="big" id="label-pdf" target="_blank" rel="noopener" href="${API}/labels/packages/${closed.json.id}?format=pdf">Print label (PDF)</a>` +
      `<a class="big secondary" href="${API}/labels/packages/${closed.json.id}?format=zpl" download>ZPL</a>`;
    links.hidden = false;
    pkg = null;
    order = null;
    draw();
    start();
  });
  start();
  handler = async (raw, command) => {
    if (command === "CANCEL") return start();
    if (command && !line) return;
    if (!command && /^T\d+-\d+$/i.test(norm(raw))) return openTote(norm(raw).toUpperCase());
    if (!pkg) {
      recordScan(raw, "tote", "error");
      return fail(expected("a tote label", "T<list>-<n>", raw));
    }
    if (!line) {
      const found = await scanned("items", raw, "item", "checking the item");
      if (!found) return;
      line = order.lines.find((l) => l.item_id === found.item.id);
      if (!line) {
        recordScan(raw, "item", "error", "not on the order");
        return fail(`${found.item.sku} is not on order ${order.number}`);
      }
      recordScan(raw, "item", "ok");
      ok();
      const left = line.picked_qty - inBox(line.id);
      setSteps(["Tote", "Items", "Close"], 1);
      return qtyStep(`How many ${line.sku}?`, left > 0 ? left : null);
    }
    const left = line.picked_qty - inBox(line.id);
    const quantity = quantityOf(raw, command, left);
    if (!quantity || quantity > left) {
      recordScan(raw, "quantity", "error");
      return fail(`Expected a quantity of 1 to ${left}, scanned ${raw}`);
    }
    recordScan(raw, "quantity", "ok");
    ok();
    const target = line;
    add(queued, target.id, quantity);
    draw();
    const label = `${quantity} × ${target.sku} into the package of ${order.number}`;
    await enqueue(`/packages/${pkg.id}/lines`, { order_line_id: target.id, quantity }, {
      label,
      onAnswer: (state, answer) => state === "refused" && fail(`${label}: ${describe(answer)}`),
    });
    start();
  };
};

pages.move = () => {
  const STEPS = ["From", "Item", "Qty", "To"];
  let step = 0;
  let move = {};
  const start = () => {
    step = 0;
    move = {};
    setSteps(STEPS, 0);
    setPrompt("Scan the source slot");
    setCard("");
  };
  start();
  handler = async (raw, command) => {
    if (command === "CANCEL") return start();
    if (step === 0 || step === 3) {
      if (command) return;
      const slot = await scanned("slots", raw, STEPS[step].toLowerCase(), "checking the slot");
      if (!slot) return;
      if (step === 0) move.from = slot;
      else if (slot.id === move.from.id) {
        recordScan(raw, "to", "error", "same slot");
        return fail(`Expected another slot than ${raw}`);
      } else move.to = slot;
    } else if (step === 1) {
      if (command) return;
      move.item = await scanned("items", raw, "item", "checking the item");
      if (!move.item) return;
    } else {
      const quantity = quantityOf(raw, command, null);
      if (!quantity) {
        recordScan(raw, "quantity", "error");
        return fail(expected("a quantity,", "", raw).replace(" ,", ""));
      }
      move.quantity = quantity * (move.item.units || 1);
    }
    recordScan(raw, STEPS[step].toLowerCase(), "ok");
    ok();
    step += 1;
    setCard(
      html`<dl><dt>From</dt><dd>${move.from?.barcode || ""}</dd><dt>Item</dt><dd>${move.item?.item.sku || ""}${move.item?.lot ? ` lot ${move.item.lot}` : ""}</dd><dt>Qty</dt><dd>${move.quantity || ""}</dd></dl>`,
    );
    if (step < STEPS.length) {
      setSteps(STEPS, step);
      return setPrompt(["", "Scan the item", "How many?", "Scan the destination slot"][step], { numeric: step === 2 });
    }
    const label = `${move.quantity} × ${move.item.item.sku} ${move.from.barcode} → ${move.to.barcode}`;
    enqueue("/moves", { from_slot_id: move.from.id, to_slot_id: move.to.id, item_id: move.item.item.id, lot: move.item.lot || "", quantity: move.quantity }, {
      label,
      onAnswer: (state, answer) => state === "refused" && fail(`${label}: ${describe(answer)}`),
    });
    start();
  };
};

pages.count = () => {
  let count = null;
  let slot = null;
  let item = null;
  let lines = new Map();
  const submit = $("#submit-count");
  const kept = () => `wms-count-${data.user.id}-${count.id}`;
  // The lines counted so far survive a reload: scanning the slot again carries on.
  const keep = () => localStorage.setItem(kept(), JSON.stringify([...lines.entries()]));
  const drawLines = () => {
    $("#list").innerHTML = [...lines.values()]
      .map((l) => html`<li>${l.quantity} × <b>${l.sku}</b>${l.lot ? ` lot ${l.lot}` : ""}</li>`)
      .join("");
    submit.hidden = !count;
  };
  const start = () => {
    item = null;
    if (!count) {
      setSteps(["Slot", "Items", "Submit"], 0);
      setPrompt("Scan the slot to count");
    } else {
      setSteps(["Slot", "Items", "Submit"], 1);
      setPrompt(`Scan an item in ${slot.barcode} (or submit; CANCEL gives the count up)`);
    }
  };
  const finish = () => {
    localStorage.removeItem(kept());
    count = null;
    lines = new Map();
    drawLines();
    start();
  };
  submit.addEventListener("click", async () => {
    const payload = { lines: [...lines.values()].map(({ item_id, lot, expiry, quantity }) => ({ item_id, lot, expiry, quantity })) };
    const counted = slot.barcode;
    const label = `count of ${counted}: ${lines.size} line(s)`;
    await enqueue(`/counts/${count.id}/submit`, payload, {
      label,
      onAnswer: (state, answer) => {
        if (state === "refused") return fail(`${label}: ${describe(answer)}`);
        // Blind to the end: whether it matched is the supervisor's to see.
        setCard(html`<p>Count of <b>${counted}</b> submitted. Thank you.</p>`);
      },
    });
    ok();
    setCard(html`<p>Count of <b>${counted}</b> queued.</p>`);
    finish();
  });
  start();
  handler = async (raw, command) => {
    if (command === "CANCEL") {
      if (!item && count) {
        const cancelled = await call("POST", `/counts/${count.id}/cancel`, { reason: "given up on the handheld" }).catch(() => null);
        if (!cancelled) return fail("No network: giving a count up needs the network");
        if (!cancelled.ok) return fail(describe(cancelled.json));
        ok();
        setCard(html`<p>Count of <b>${slot.barcode}</b> given up.</p>`);
        return finish();
      }
      return start();
    }
    if (!count) {
      if (command) return;
      const found = await scanned("slots", raw, "slot", "starting a count");
      if (!found) return;
      const started = await call("POST", "/counts", { slot_id: found.id, reason: "handheld count" }).catch(() => null);
      if (!started) return fail("No network: starting a count needs the network");
      if (!started.ok) {
        recordScan(raw, "slot", "error", describe(started.json));
        return fail(describe(started.json));
      }
      slot = found;
      count = started.json;
      lines = new Map(JSON.parse(localStorage.getItem(kept()) || "[]"));
      recordScan(raw, "slot", "ok");
      ok();
      setCard(html`<p>Counting <b class="big-text">${slot.barcode}</b></p><p>Count every unit you see; empty slot: submit with no line.</p>`);
      drawLines();
      return start();
    }
    if (!item) {
      if (command) return;
      item = await scanned("items", raw, "item", "checking the item");
      if (!item) return;
      recordScan(raw, "item", "ok");
      ok();
      return qtyStep(`How many ${item.item.sku}${item.lot ? ` lot ${item.lot}` : ""}?`, null);
    }
    const quantity = isQuantity(raw) ? Number(raw) : null;
    if (quantity === null) {
      recordScan(raw, "quantity", "error");
      return fail(expected("a quantity,", "", raw).replace(" ,", ""));
    }
    recordScan(raw, "quantity", "ok");
    ok();
    const key = `${item.item.id}|${item.lot || ""}`;
    const known = lines.get(key) || { item_id: item.item.id, sku: item.item.sku, lot: item.lot || "", expiry: item.expiry || null, quantity: 0 };
    known.quantity += quantity * (item.units || 1);
    lines.set(key, known);
    keep();
    drawLines();
    start();
  };
};

// --- dispatch: a route's vehicle loaded package by package ---------------------------------------

// No route chosen: scan its number or its vehicle (today's routes are on the page), or tap one.
function routeChoice() {
  const routes = data.routes || [];
  setSteps(["Route", "Packages"], 0);
  setPrompt("Scan a route number or a vehicle");
  handler = async (raw, command) => {
    if (command) return;
    const code = norm(raw).toUpperCase();
    // The board is in planned-start order: a vehicle's first route is its next one.
    const here =
      routes.find((r) => r.number.toUpperCase() === code) || routes.find((r) => r.vehicle_code.toUpperCase() === code);
    let id = here?.id;
    if (!id) {
      const found = await lookUp(`/dispatch/routes/scan/${encodeURIComponent(norm(raw))}?site_id=${data.site.id}`);
      if (!found) return fail(`No network: finding route or vehicle ${raw} needs the network`);
      if (!found.ok) {
        recordScan(raw, "route", "error", describe(found.json));
        return fail(describe(found.json));
      }
      id = found.json.id;
    }
    recordScan(raw, "route", "ok");
    ok();
    location.search = `?route=${id}`;
  };
}

const DONE_STOPS = ["delivered", "failed", "skipped"];

pages.dispatch = async () => {
  if (!data.route) return routeChoice();
  let route = data.route;
  const path = `/dispatch/routes/${route.id}/hand-overs`;
  // Every package of the route by SSCC: open (to load), queued (scanned here, not answered
  // yet) or loaded. The server's figures, then what this device has queued (or, on a page kept
  // from before, sent since).
  let packages = new Map();
  const model = (load) => {
    route = load;
    packages = new Map();
    for (const stop of load.stops) {
      for (const p of stop.packages) packages.set(p.sscc, { sscc: p.sscc, stop, state: p.loaded ? "loaded" : "open" });
    }
  };
  const markQueuedHere = async () => {
    for (const e of await pending(path)) {
      const p = packages.get(e.payload.package_scan);
      if (p && p.state === "open") p.state = "queued";
    }
  };
  const rebuild = async (load) => {
    model(load);
    await markQueuedHere();
  };
  model(route);
  for (const e of sentSincePage()) {
    const p = e.path === path ? packages.get(e.payload.package_scan) : null;
    if (p) p.state = "loaded";
  }
  await markQueuedHere();

  const toServe = () => route.stops.filter((s) => !DONE_STOPS.includes(s.status));
  const stateOf = (stop) => stop.packages.map((p) => packages.get(p.sscc).state);
  const draw = () => {
    const all = [...packages.values()];
    const total = all.length;
    const loaded = all.filter((p) => p.state === "loaded").length;
    const queued = all.filter((p) => p.state === "queued").length;
    const stops = toServe();
    // What the route needs to leave: every stop still to serve has all its packages on.
    const ready =
      route.loadable &&
      stops.length > 0 &&
      stops.every((s) => s.status === "dispatched" || (s.packages.length && stateOf(s).every((st) => st === "loaded")));
    const box = $("#load-state");
    let text = `${loaded + queued} / ${total} loaded` + (queued ? ` (${queued} queued, sent when the network allows)` : "");
    if (!route.loadable) text = `${route.number} is ${route.status.replace("_", " ")}: nothing more goes on`;
    else if (ready) text = `${route.number} fully loaded: ${loaded} / ${total} — ready to leave`;
    else if (total === 0) text = `Nothing to load on ${route.number} yet: no closed package for its stops`;
    else if (loaded + queued === total) {
      const empty = stops.filter((s) => !s.packages.length).map((s) => s.sequence);
      if (queued) text = `All ${total} scanned: ${queued} queued, sent when the network allows`;
      else if (empty.length) text = `${loaded} / ${total} loaded — stop ${empty.join(", ")} has no closed package yet`;
    }
    box.textContent = text;
    box.className = `message ${ready ? "ok" : "info"}`;
    $("#route-stops").innerHTML = route.stops
      .map((s) => {
        const states = stateOf(s);
        const on = states.filter((st) => st !== "open").length;
        const badge =
          s.status === "dispatched" || (states.length && states.every((st) => st === "loaded"))
            ? ' <span class="state sent">all on</span>'
            : states.length && on === states.length
              ? ' <span class="state queued">queued</span>'
              : "";
        return html`<li>${s.sequence}. <b>${s.name}</b> · ${s.order_number || ""} · ${on} / ${states.length}` + badge + "</li>";
      })
      .join("");
    const open = all.filter((p) => p.state !== "loaded");
    $("#to-load").innerHTML =
      open
        .map((p) => html`<li><b>${p.sscc}</b> · stop ${p.stop.sequence} ${p.stop.name}` + (p.state === "queued" ? ' <span class="state queued">queued</span>' : "") + "</li>")
        .join("") || "<li>Nothing left to load.</li>";
  };
  const show = (p) => {
    const stop = p.stop;
    const states = stateOf(stop);
    const on = states.filter((st) => st !== "open").length;
    setCard(
      html`<p class="big-text">Stop ${stop.sequence} · ${stop.name}</p><p>Order <b>${stop.order_number || ""}</b> · ${stop.address}</p><p>Package ${p.sscc} on: ${on} of ${states.length} of this stop</p>`,
    );
  };
  pageHooks.answered = async (entry, state, answer) => {
    if (entry.path !== path) return;
    if (state === "sent") await rebuild(answer.route);
    else {
      const p = packages.get(entry.payload.package_scan);
      if (p && p.state === "queued") p.state = "open"; // refused: still to load
    }
    draw();
  };
  setSteps(["Route", "Packages"], 1);
  setPrompt(`Scan a package for ${route.number}`);
  draw();

  handler = async (raw, command) => {
    if (command === "CANCEL") {
      location.href = "/scanners/dispatch";
      return;
    }
    if (command) return;
    if (!route.loadable) {
      recordScan(raw, "package", "error", `route ${route.status}`);
      return fail(`${route.number} is ${route.status.replace("_", " ")}: only a planned or accepted route is loaded`);
    }
    const sscc = ssccOf(raw);
    const known = sscc ? packages.get(sscc) : null;
    if (known && known.state !== "open") {
      const why =
        known.state === "loaded"
          ? `package ${sscc} is already on route ${route.number}`
          : `package ${sscc} is already scanned onto ${route.number}: queued, sent when the network allows`;
      recordScan(raw, "package", "error", why);
      return fail(why);
    }
    if (known) {
      // On this route's list: on the vehicle now, confirmed through the outbox.
      known.state = "queued";
      recordScan(raw, "package", "ok");
      ok();
      show(known);
      draw();
      const label = `${sscc} onto ${route.number} (stop ${known.stop.sequence})`;
      await enqueue(path, { package_scan: sscc }, {
        label,
        onAnswer: (state, answer) => state === "refused" && fail(`${label}: ${describe(answer)}`),
      });
      return;
    }
    // Not on this route's list: only the server can say what it is (another route's package,
    // an unknown label, a package not closed), and the associate must hear it now.
    if (!navigator.onLine) {
      recordScan(raw, "package", "error", "offline, not on the route's list");
      return fail(`No network: ${norm(raw)} is not on the list of ${route.number}; checking it needs the network — keep it aside`);
    }
    const label = `${norm(raw)} onto ${route.number}`;
    const answer = await confirmNow(path, { package_scan: raw }, {
      label,
      onAnswer: (state, answered) => state === "refused" && fail(`${label}: ${describe(answered)}`),
    });
    if (!answer) {
      recordScan(raw, "package", "error", "no answer: queued");
      return fail(`No answer from the server: ${norm(raw)} is queued and checked when the network is back — keep it aside until then`);
    }
    if (!answer.ok) {
      const why = named(raw, describe(answer.json));
      recordScan(raw, "package", "error", why);
      return fail(why);
    }
    // Accepted: a package of this route the page did not know yet (closed since it was made).
    await rebuild(answer.json.route);
    recordScan(raw, "package", "ok");
    ok();
    const p = packages.get(answer.json.package.sscc);
    if (p) show(p);
    draw();
  };
};

// --- returns: a failed delivery's package back to stock or into quarantine ------------------------

pages.returns = () => {
  const stockButton = $("#to-stock");
  const quarantineButton = $("#to-quarantine");
  let pkg = null; // the package scanned, as the server has it
  let disposition = null;
  const choosing = (yes) => {
    stockButton.hidden = !yes;
    quarantineButton.hidden = !yes;
  };
  const start = () => {
    pkg = null;
    disposition = null;
    choosing(false);
    setSteps(["Package", "Where"], 0);
    setPrompt("Scan a returned package (its SSCC label)");
  };
  const contents = (p) => p.lines.map((l) => `${l.quantity} × ${l.sku}`).join(", ");
  const doneCard = (answer) => {
    const p = answer.package;
    const where = [...new Set(answer.units.map((u) => u.slot_barcode))].join(", ");
    const what = answer.units.map((u) => `${u.quantity} × ${u.sku}${u.lot ? ` lot ${u.lot}` : ""}`).join(", ");
    const how = p.return_disposition === "quarantined" ? `in quarantine (on hold) at ${where}` : `back to stock in ${where}`;
    setCard(
      html`<p class="big-text" id="return-done">${p.return_disposition === "quarantined" ? "Quarantined" : "Back to stock"}</p><p>Package ${p.sscc}: ${what} ${how}</p><p>Order <b>${p.order_number}</b> is ${p.order_status.replace("_", " ")}</p>`,
    );
  };
  const confirm = async (slot) => {
    const scannedPkg = pkg;
    const payload = { package_scan: scannedPkg.sscc, disposition, ...(slot ? { slot_id: slot.id } : {}) };
    const label = `${scannedPkg.sscc} ${disposition === "quarantined" ? "to quarantine" : `back to stock in ${slot.barcode}`}`;
    const answer = await confirmNow("/dispatch/returns", payload, {
      label,
      onAnswer: (state, answered) => (state === "refused" ? fail(`${label}: ${describe(answered)}`) : doneCard(answered)),
    });
    if (!answer) {
      ok();
      setCard(html`<p>${label}: queued, sent when the network allows.</p>`);
      return start();
    }
    if (!answer.ok) {
      const why = describe(answer.json);
      recordScan(slot ? slot.barcode : scannedPkg.sscc, slot ? "slot" : "where", "error", why);
      fail(why);
      // A slot refused: scan another one; anything else: start again with the next package.
      if (answer.json?.field === "slot_id" && slot) return;
      return start();
    }
    ok();
    doneCard(answer.json);
    start();
  };
  start();
  handler = async (raw, command) => {
    if (command === "CANCEL") {
      setCard("");
      return start();
    }
    if (!pkg) {
      if (command) return;
      const found = await lookUp(`/dispatch/packages/scan/${encodeURIComponent(raw.trim())}`);
      if (!found) return fail("No network: checking a returned package needs the network");
      if (!found.ok) {
        const why = named(raw, describe(found.json));
        recordScan(raw, "package", "error", why);
        return fail(why);
      }
      const p = found.json;
      // What the server refuses anyway, said before the choice is asked for.
      const refusal = p.returned_at
        ? `package ${p.sscc} was already taken back (${p.return_disposition})`
        : p.order_status !== "failed_delivery"
          ? `package ${p.sscc}: order ${p.order_number} is ${p.order_status.replace("_", " ")}; only a failed delivery comes back`
          : null;
      if (refusal) {
        recordScan(raw, "package", "error", refusal);
        return fail(refusal);
      }
      pkg = p;
      recordScan(raw, "package", "ok");
      ok();
      setCard(
        html`<p class="big-text">Order ${p.order_number}</p><p>${p.customer} · package ${p.sscc}</p><p>${contents(p)}</p>` +
          (p.route_number ? html`<p>Back from ${p.route_number}${p.failure_reason ? ` (${p.failure_reason.replace("_", " ")})` : ""}</p>` : ""),
      );
      setSteps(["Package", "Where"], 1);
      setPrompt("Back to stock or quarantine? Tap one");
      choosing(true);
      return;
    }
    if (!disposition) {
      if (command === "RESTOCK") {
        disposition = "restocked";
        choosing(false);
        setSteps(["Package", "Where", "Slot"], 2);
        return setPrompt(`Scan the slot the units of ${pkg.sscc} go back into`);
      }
      if (command === "QUARANTINE") {
        disposition = "quarantined";
        choosing(false);
        return confirm(null);
      }
      return fail(`Tap Back to stock or Quarantine first (scanned ${raw})`);
    }
    if (command) return;
    const slot = await scanned("slots", raw, "slot", "checking the slot");
    if (!slot) return;
    const refusal =
      slot.site_id !== data.site.id
        ? `slot ${slot.barcode} is not at ${data.site.code}`
        : !["pick_face", "reserve"].includes(slot.kind)
          ? `sellable units go into a pick face or reserve slot, not ${slot.kind.replace("_", " ")} ${slot.barcode}`
          : null;
    if (refusal) {
      recordScan(raw, "slot", "error", refusal);
      return fail(refusal);
    }
    recordScan(raw, "slot", "ok");
    await confirm(slot);
  };
};

function serverScanPage() {
  // Look-ups and labels are answered by the server: a scan reloads the page with the code.
  const code = new URLSearchParams(location.search).get("code");
  const scanned = sessionStorage.getItem("wms-scanned"); // set by the scan, not by a reload
  sessionStorage.removeItem("wms-scanned");
  if (code && scanned === code) recordScan(code, "code", data.error ? "error" : "ok", data.error || "");
  if (data.error) refusedOnPage();
  else if (code) ok();
  handler = (raw) => {
    sessionStorage.setItem("wms-scanned", raw);
    location.search = `?code=${encodeURIComponent(raw)}`;
  };
}
pages.lookup = serverScanPage;
pages.labels = serverScanPage;

// --- start --------------------------------------------------------------------------------------

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/scanners/sw.js", { scope: "/scanners/" }).catch(() => {});
}
wireScanField();
wireIdleLock();
window.wmsHandheld = { drain, enqueue, all: () => all(OUTBOX) };
Promise.resolve(pages[data.page]?.())
  .catch((error) => fail(`This page could not start: ${error.message || error}`))
  .finally(() => {
    body.dataset.ready = "1"; // scans typed from now on are taken
  });
showLog();
showQueued();
drain();
window.addEventListener("online", () => {
  backoff = 1000;
  drain({ now: true });
});
setInterval(drain, 5000);
