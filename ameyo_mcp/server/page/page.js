// The operator's page: polls /operator/status and draws it. Every value goes in as text
// (textContent, text nodes), never as markup: customer text can only ever read as text.
"use strict";

const STATUS_URL = "/operator/status";
const EVERY_MS = 4000;
const SERIES = 6; // outcomes drawn in their own colour; the rest are "other"
const SVG = "http://www.w3.org/2000/svg";

let paused = false;
let timer = null;
let seenCalls = null;
let signInShown = false;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fill(id, ...children) {
  const body = document.querySelector(`#${id} .body`);
  body.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

function num(n) {
  return Number(n || 0).toLocaleString("en");
}

function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [term, value] of pairs) {
    if (value === null || value === undefined) continue;
    list.append(el("dt", {}, term), el("dd", {}, value));
  }
  return list;
}

function state(ok, yes, no) {
  return el("span", { class: ok ? "good" : "bad" }, ok ? yes : no);
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${s} s`;
}

function when(w) {
  return w ? `${w.at} (${w.ago})` : "never";
}

function failed(section) {
  return section && section.error ? el("p", { class: "bad", role: "alert" }, section.error) : null;
}

function tableOf(caption, head, rows, numeric) {
  const table = el("table", {},
    caption ? el("caption", { class: "quiet" }, caption) : null,
    el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { scope: "col", class: numeric && numeric.includes(i) ? "n" : null }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", row.attrs || {}, row.cells.map((c, i) => el("td", { class: numeric && numeric.includes(i) ? "n" : null }, c ?? ""))))),
  );
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption || head.join(", ") }, table);
}

// -- sections ------------------------------------------------------------------------------------

function drawServer(server) {
  const checks = Object.entries(server.checks || {}).map(([name, ok]) => `${name} ${ok ? "ok" : "not ready"}`).join(", ");
  const mode = server.read_only === null ? "receives Ameyo's pushes only" : server.read_only ? "read-only" : "reads and writes";
  fill("server", facts([
    ["Version", server.version],
    ["Transport", server.transport + (server.demo ? " (demo: the embedded simulator)" : "")],
    ["Mode", mode],
    ["Up for", `${duration(server.uptime_s)}, since ${server.started}`],
    ["Ready", server.ready ? state(true, "yes", "") : el("span", {}, state(false, "", "no"), ` — ${(server.why || []).join("; ")}`)],
    ["Checks", checks || "none"],
    ["Time zone", server.timezone],
  ]));
}

function drawAmeyo(ameyo) {
  if (ameyo.error) return fill("ameyo", failed(ameyo));
  let reachable;
  if (ameyo.reachable === null || ameyo.reachable === undefined) reachable = el("span", { class: "quiet" }, "not asked by this process");
  else reachable = ameyo.reachable ? state(true, "yes", "") : el("span", {}, state(false, "", "no"), ameyo.why ? ` — ${ameyo.why}` : "");
  const seats = ameyo.token_auth
    ? "none: token authentication needs no session"
    : `${num(ameyo.seats)}${ameyo.seats ? `, shared by ${num(ameyo.processes)} process${ameyo.processes === 1 ? "" : "es"}` : ""}`;
  fill("ameyo", facts([
    ["Ameyo", ameyo.server],
    ["Reachable", reachable],
    ["Logged in as", ameyo.user || "—"],
    ["Since", ameyo.token_auth ? "—" : when(ameyo.logged_in)],
    ["Last ping", ameyo.token_auth ? "—" : when(ameyo.last_ping)],
    ameyo.ping_failed ? ["Ping failed", el("span", { class: "bad" }, `${when(ameyo.ping_failed)}: Ameyo did not answer the last keepalive ping; the next is tried a ping interval later`)] : [null, null],
    ["Last used", ameyo.token_auth ? "—" : when(ameyo.last_used)],
    ["Seats held", seats],
    ameyo.refused ? ["Login refused", el("span", { class: "bad" }, ameyo.refused)] : [null, null],
  ]));
}

function drawIndex(index) {
  if (index.error) return fill("index", failed(index));
  const campaigns = index.campaigns || [];
  if (!campaigns.length) {
    return fill("index", el("p", {}, "No campaign is indexed yet: run ", el("code", {}, "ameyo-mcp sync"), " or let the background sync (AMEYO_SYNC_INTERVAL_S) do it."));
  }
  const rows = campaigns.map((c) => {
    let now = el("span", { class: "quiet" }, "idle");
    if (c.sync) {
      const label = `${num(c.sync.seen)}${c.sync.expected ? ` of ~${num(c.sync.expected)}` : ""} read by ${c.sync.process}, since ${c.sync.since ? c.sync.since.ago : "now"}`;
      now = el("span", {},
        c.sync.expected ? el("progress", { max: c.sync.expected, value: Math.min(c.sync.seen, c.sync.expected), "aria-label": label }) : null,
        " ", label);
    } else if (c.interrupted) {
      now = el("span", { class: "warn" }, "interrupted: the next sync resumes it");
    }
    return { cells: [`${c.name || "campaign"} (${c.id})`, num(c.contacts), c.synced ? c.synced.at : "never", c.synced ? c.synced.ago : "—", now] };
  });
  fill("index", tableOf(null, ["Campaign", "Contacts", "Last complete sync", "Age", "Sync now"], rows, [1]));
}

function outcomeSeries(today) {
  const names = Object.keys(today.by_outcome || {});
  const top = names.slice(0, SERIES);
  const series = top.map((name, i) => ({ name, cls: `c${i}` }));
  if (names.length > SERIES) series.push({ name: "other", cls: `c${SERIES}`, other: true });
  return series;
}

function countOf(counts, item, series) {
  if (!item.other) return counts[item.name] || 0;
  const named = new Set(series.filter((s) => !s.other).map((s) => s.name));
  return Object.entries(counts).filter(([k]) => !named.has(k)).reduce((sum, [, v]) => sum + v, 0);
}

// Drawn about as wide as it is shown, so that its text stays readable on a phone.
function chartWidth() {
  const body = document.querySelector("#pushes .body");
  const wide = body ? body.clientWidth : 640;
  return Math.round(Math.min(640, Math.max(300, wide > 900 ? wide / 2 - 16 : wide)));
}

function byHourChart(today, series) {
  // From the first hour with calls (the last six hours at least) to now.
  const all = today.by_hour || [];
  const first = all.findIndex((h) => Object.keys(h.counts).length);
  const hours = all.slice(Math.max(0, Math.min(first < 0 ? all.length : first, all.length - 6)));
  const W = chartWidth(), H = 220, left = 34, bottom = 22, top = 10;
  const totals = hours.map((h) => Object.values(h.counts).reduce((a, b) => a + b, 0));
  const most = Math.max(1, ...totals);
  const slot = (W - left) / Math.max(hours.length, 12);
  const scale = (H - bottom - top) / most;
  const words = hours.map((h, i) => (totals[i] ? `${h.hour}: ${num(totals[i])}` : null)).filter(Boolean).join(", ");
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "hours-title" },
    svg("title", { id: "hours-title" }, `Calls by hour today${words ? `: ${words}` : ": none yet"}`));
  for (const tick of new Set([0, Math.round(most / 2), most])) {
    const y = H - bottom - tick * scale;
    chart.append(svg("line", { class: "grid", x1: left, x2: W, y1: y, y2: y }),
      svg("text", { x: left - 4, y: y + 4, "text-anchor": "end" }, num(tick)));
  }
  hours.forEach((h, i) => {
    let y = H - bottom;
    const x = left + i * slot + slot * 0.15;
    for (const item of series) {
      const n = countOf(h.counts, item, series);
      if (!n) continue;
      const height = n * scale;
      y -= height;
      chart.append(svg("rect", { class: item.cls, x, y, width: slot * 0.7, height }, svg("title", {}, `${h.hour} ${item.name}: ${num(n)}`)));
    }
    if (hours.length <= 12 || i % 3 === 0 || i === hours.length - 1) {
      chart.append(svg("text", { x: x + slot * 0.35, y: H - 6, "text-anchor": "middle" }, h.hour.slice(0, 2)));
    }
  });
  return chart;
}

function byOutcomeChart(today, series) {
  const entries = Object.entries(today.by_outcome || {}).slice(0, 10);
  const W = chartWidth(), row = 26, labelW = Math.min(190, W * 0.4), H = Math.max(1, entries.length) * row + 6;
  const most = Math.max(1, ...entries.map(([, n]) => n));
  const classes = Object.fromEntries(series.filter((s) => !s.other).map((s) => [s.name, s.cls]));
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "outcomes-title" },
    svg("title", { id: "outcomes-title" }, `Calls by outcome today: ${entries.map(([k, n]) => `${k} ${num(n)}`).join(", ") || "none yet"}`));
  entries.forEach(([name, n], i) => {
    const y = i * row + 4;
    const width = ((W - labelW - 60) * n) / most;
    chart.append(
      svg("text", { x: labelW - 8, y: y + 15, "text-anchor": "end" }, name.length > labelW / 7 ? `${name.slice(0, labelW / 7 - 1)}…` : name),
      svg("rect", { class: classes[name] || `c${SERIES}`, x: labelW, y, width: Math.max(width, 1), height: row - 8 }, svg("title", {}, `${name}: ${num(n)}`)),
      svg("text", { x: labelW + width + 6, y: y + 15 }, num(n)),
    );
  });
  return chart;
}

function legend(series) {
  return el("ul", { class: "legend", "aria-label": "Colours of the outcomes" },
    series.map((s) => el("li", {}, el("span", { class: `swatch ${s.cls}`, "aria-hidden": "true" }), s.name)));
}

function talk(seconds) {
  if (seconds === undefined || seconds === null) return "";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function drawPushes(today) {
  if (today.error) return fill("pushes", failed(today));
  const series = outcomeSeries(today);
  const key = (c) => `${c.at}|${c.customer_id}|${c.outcome}|${c.phone}`;
  const before = seenCalls;
  seenCalls = new Set((today.last || []).map(key));
  const rows = (today.last || []).map((c) => ({
    attrs: before && !before.has(key(c)) ? { class: "new" } : {},
    cells: [c.at.slice(11), c.customer_id ?? "", c.name ?? "", c.phone ?? "", c.outcome, c.agent ?? "", talk(c.talk_s), c.campaign_id ?? ""],
  }));
  const numbers = Object.entries(today.by_outcome || {}).map(([k, n]) => ({ cells: [k, num(n)] }));
  const hourRows = (today.by_hour || []).filter((h) => Object.keys(h.counts).length).map((h) => ({
    cells: [h.hour, num(Object.values(h.counts).reduce((a, b) => a + b, 0)), Object.entries(h.counts).map(([k, n]) => `${k} ${num(n)}`).join(", ")],
  }));
  fill("pushes",
    el("p", { class: "big", id: "push-count" }, num(today.pushes)),
    el("p", { class: "quiet" }, `call outcome${today.pushes === 1 ? "" : "s"} pushed by Ameyo since ${today.since}`),
    today.dated_after_now ? el("p", { class: "warn", id: "dated-after-now" }, today.dated_after_now.note) : null,
    today.pushes ? el("div", { class: "charts" },
      el("figure", {}, el("figcaption", {}, "Outcomes by hour"), byHourChart(today, series), legend(series)),
      el("figure", {}, el("figcaption", {}, "Outcomes by disposition"), byOutcomeChart(today, series)),
    ) : null,
    today.pushes ? el("details", {}, el("summary", {}, "The numbers behind the charts"),
      tableOf("By outcome", ["Outcome", "Calls"], numbers, [1]),
      tableOf("By hour", ["Hour", "Calls", "Outcomes"], hourRows, [1])) : null,
    rows.length ? el("figure", { class: "customer-data" },
      el("figcaption", {}, "The last calls — customer data, shown as text exactly as it arrived (made safe as tool answers make it)"),
      tableOf("The last calls, newest first", ["Time", "Customer", "Name", "Phone", "Outcome", "Agent", "Talk", "Campaign"], rows, [1, 6])) : null,
  );
}

function drawWrites(today, unknown) {
  const parts = [];
  if (today.error) parts.push(failed(today));
  else {
    const kinds = Object.entries(today.writes || {});
    const total = kinds.reduce((sum, [, states]) => sum + Object.values(states).reduce((a, b) => a + b, 0), 0);
    parts.push(el("p", { class: "big", id: "write-count" }, num(total)),
      el("p", { class: "quiet" }, `write${total === 1 ? "" : "s"} to Ameyo through the write ledger since ${today.since}`));
    if (kinds.length) {
      parts.push(tableOf(null, ["Kind", "Answered", "Unknown outcome", "In flight"],
        kinds.map(([kind, s]) => ({ cells: [kind, num(s.answered), num(s.unknown), num(s.flight)] })), [1, 2, 3]));
    }
    parts.push(facts([
      ["Repeats answered", `${num(today.repeats_answered)} (the earlier answer given again, nothing sent; this process)`],
      ["Repeats refused", `${num(today.repeats_refused)} (not sent: an earlier one stands in the way; this process)`],
    ]));
  }
  parts.push(el("h3", {}, "Unknown outcomes"));
  if (unknown.error) parts.push(failed(unknown));
  else if (!(unknown.writes || []).length) parts.push(el("p", { class: "good" }, "No write has an unknown outcome."));
  else {
    parts.push(el("p", { class: "warn" }, `${num(unknown.writes.length)}${unknown.more ? "+" : ""} write${unknown.writes.length === 1 ? "" : "s"} may or may not have happened in Ameyo. Check each before anything is sent again:`));
    parts.push(el("ul", { class: "items" }, unknown.writes.map((w) => el("li", {},
      el("div", {}, el("strong", {}, w.what)),
      el("div", { class: "meta" }, `${w.kind}, sent ${w.sent ? w.sent.ago : "?"} (${w.sent ? w.sent.at : "?"}), call id ${w.call_id}: ${w.why}`),
      el("p", { class: "check" }, el("strong", {}, "What to check: "), w.check)))));
  }
  fill("writes", parts);
}

function drawErrors(errors) {
  if (!errors.length) return fill("errors", el("p", { class: "good" }, "No warning or error since the server started."));
  fill("errors", el("ul", { class: "items" }, errors.map((e) => el("li", {},
    el("div", { class: "meta" }, el("span", { class: e.level === "WARNING" ? "warn" : "bad" }, e.level), ` ${e.when ? e.when.ago : ""} · ${e.source}`),
    el("p", { class: "message" }, e.message)))));
}

function draw(status) {
  drawServer(status.server);
  drawAmeyo(status.ameyo);
  drawIndex(status.index);
  drawPushes(status.today);
  drawWrites(status.today, status.unknown);
  drawErrors(status.errors || []);
  say(status.server.ready ? state(true, "Ready", "") : state(false, "", "Not ready"),
    ` · ${status.server.transport} · ${status.server.version}`);
  document.getElementById("updated").textContent =
    `Updated at ${new Date().toLocaleTimeString()} (server time ${status.now}); every ${EVERY_MS / 1000} s unless paused.`;
}

// The summary is a live region: changed only when its words change, so that a screen reader is not
// told the same thing at every refresh.
function say(...parts) {
  const summary = document.getElementById("summary");
  const next = el("span", {}, ...parts);
  if (summary.textContent !== next.textContent) summary.replaceChildren(...next.childNodes);
}

async function refresh() {
  timer = null;
  try {
    const answer = await fetch(STATUS_URL, { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } });
    if (answer.status === 401 && !signInShown) {
      signInShown = true; // the cookie expired, or the token changed: the page's own address shows the sign-in form
      window.location.assign("/");
      return;
    }
    if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
    draw(await answer.json());
  } catch (error) {
    say(state(false, "", "Cannot reach the server"), ` (${error.message}); trying again…`);
  }
  if (!paused) timer = window.setTimeout(refresh, EVERY_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const pause = document.getElementById("pause");
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume updates" : "Pause updates";
    if (paused && timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    } else if (!paused && timer === null) {
      refresh();
    }
  });
  refresh();
});
