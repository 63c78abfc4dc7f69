/// The console's page: HTML, CSS and a small script written here — no framework, no CDN,
/// works offline. The script draws the graph as SVG from `/console/api/graph`, and reads the
/// fleet and the history from the server's own API.
enum ConsoleAssets {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshc console</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<header>
  <h1>meshc</h1>
  <nav>
    <a href="#graph" id="tab-graph">Graph</a>
    <a href="#fleet" id="tab-fleet">Fleet</a>
    <a href="#history" id="tab-history">History</a>
    <a href="#workload" id="tab-workload">Workload</a>
  </nav>
  <span id="status"></span>
  <label>namespace <select id="namespace"><option value="">all</option></select></label>
  <label>window <select id="window"><option>1m</option><option selected>5m</option><option>15m</option><option>1h</option></select></label>
</header>
<main>
  <section id="view-graph" class="view">
    <div id="graph-note" class="note"></div>
    <div id="graph-wrap"><svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="service graph"></svg></div>
    <p class="legend"><span class="swatch ok"></span> healthy <span class="swatch bad"></span> failing (≥ 5 % errors) <svg class="lock-key" width="14" height="16" viewBox="0 0 12 16" aria-hidden="true"><g class="padlock"><path d="M3 7 V4.5 A3 3 0 0 1 9 4.5 V7"/><rect x="1" y="7" width="10" height="8" rx="1.5"/></g></svg> mutual TLS <span class="swatch nosidecar"></span> no sidecar</p>
  </section>
  <section id="view-fleet" class="view"><table id="fleet-table"></table></section>
  <section id="view-history" class="view"><ol id="history-list"></ol></section>
  <section id="view-workload" class="view"><div id="workload-body"></div></section>
</main>
<script src="app.js"></script>
</body>
</html>
"""#

    static let style = #"""
:root { --ok: #2e7d32; --bad: #c62828; --warn: #ef6c00; --ink: #1d2330; --muted: #6b7280; --line: #d6dae1; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
nav a { margin-right: 14px; color: var(--muted); text-decoration: none; font-weight: 600; }
nav a.active { color: var(--ink); border-bottom: 2px solid var(--ink); }
#status { margin-left: auto; color: var(--muted); }
header label { color: var(--muted); }
main { padding: 16px 20px; }
.view { display: none; }
.view.active { display: block; }
.note { color: var(--warn); margin-bottom: 8px; }
#graph-wrap { overflow: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
.node rect, .node ellipse, .node polygon { fill: #fff; stroke: #4b5563; stroke-width: 1.5; }
.node.service polygon { fill: #eef2ff; }
.node.nosidecar rect { stroke-dasharray: 4 3; fill: #fff7ed; stroke: var(--warn); }
.node.unknown ellipse { fill: #f3f4f6; stroke-dasharray: 3 3; }
.node .sub { fill: var(--muted); font-size: 11px; }
.node { cursor: pointer; }
.edge path { fill: none; stroke: var(--ok); stroke-width: 2; }
.edge.failing path { stroke: var(--bad); stroke-width: 3; }
.edge.idle path { stroke: #b0b7c3; stroke-dasharray: 4 4; }
.edge text.label { font-size: 11px; fill: #374151; }
.edge rect.label-box { fill: #fff; fill-opacity: 0.92; stroke: none; }
.edge.failing text.label { fill: var(--bad); }
.edge text.label.reason { font-weight: 700; }
.padlock rect, .padlock path { fill: #1f2937; stroke: #1f2937; }
.padlock path { fill: none; stroke-width: 1.6; }
.legend { color: var(--muted); }
.lock-key { vertical-align: middle; margin-left: 12px; }
.swatch { display: inline-block; width: 18px; height: 4px; vertical-align: middle; margin: 0 4px 0 12px; }
.swatch.ok { background: var(--ok); } .swatch.bad { background: var(--bad); }
.swatch.nosidecar { border: 1px dashed var(--warn); height: 10px; background: #fff7ed; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { background: #f0f2f5; }
td.state { font-weight: 700; }
tr.SYNCED td.state { color: var(--ok); } tr.STALE td.state, tr.SYNCING td.state { color: var(--warn); }
tr.REJECTED td.state, tr.UNREACHABLE td.state, tr.EXPIRED td.state { color: var(--bad); }
#history-list { list-style: none; padding: 0; }
#history-list > li { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--ok); border-radius: 4px; padding: 10px 14px; margin-bottom: 10px; }
#history-list > li.failed { border-left-color: var(--bad); }
.commit { font-family: ui-monospace, monospace; }
.outcome { font-weight: 700; margin-right: 8px; }
li.failed .outcome { color: var(--bad); } li.published .outcome { color: var(--ok); }
.findings li, .changes li { font-family: ui-monospace, monospace; font-size: 12px; }
.risk { color: var(--bad); font-weight: 600; }
#workload-body h2 { margin-top: 0; }
#workload-body ul { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 10px 28px; }
"""#

    static let script = #"""
"use strict";
(function () {
  const $ = (s) => document.querySelector(s);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svgEl = (tag, attrs, text) => {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const getJSON = async (path) => {
    const r = await fetch(path, { headers: { accept: "application/json" } });
    if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()).slice(0, 200));
    return r.json();
  };
  const fmt = (x) => x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  let versions = {};  // version -> commit

  // ---- the graph ---------------------------------------------------------------------
  const W = 320, H = 100, NODE_W = 170, NODE_H = 44, TOP = 120;
  function place(n) { return { x: 30 + n.layer * W, y: TOP + n.row * H }; }
  function padlock(x, y) {
    const g = svgEl("g", { class: "padlock", transform: `translate(${x - 6},${y - 7})` });
    g.appendChild(svgEl("path", { d: "M3 7 V4.5 A3 3 0 0 1 9 4.5 V7" }));
    g.appendChild(svgEl("rect", { x: 1, y: 7, width: 10, height: 8, rx: 1.5 }));
    g.appendChild(svgEl("title", {}, "mutual TLS"));
    return g;
  }
  async function drawGraph() {
    const win = $("#window").value;
    const data = await getJSON("api/graph?window=" + encodeURIComponent(win));
    const svg = $("#graph");
    svg.textContent = "";
    $("#graph-note").textContent = data.error || "";
    let nodes = data.graph.nodes, edges = data.graph.edges;
    // A namespace chosen: its nodes and their direct neighbours, columns kept, rows closed up.
    const picker = $("#namespace"), chosen = picker.value;
    const namespaces = [...new Set(nodes.map((n) => n.namespace).filter((n) => n))].sort();
    if (picker.options.length !== namespaces.length + 1) {
      picker.textContent = "";
      picker.appendChild(el("option", { value: "" }, "all"));
      for (const n of namespaces) picker.appendChild(el("option", { value: n }, n));
      picker.value = namespaces.includes(chosen) ? chosen : "";
    }
    if (picker.value) {
      const keep = new Set(nodes.filter((n) => n.namespace === picker.value).map((n) => n.id));
      for (const e of edges) if (keep.has(e.from) || keep.has(e.to)) { keep.add(e.from); keep.add(e.to); }
      nodes = nodes.filter((n) => keep.has(n.id)).map((n) => Object.assign({}, n));
      edges = edges.filter((e) => keep.has(e.from) && keep.has(e.to));
      const rows = {};
      for (const n of nodes.slice().sort((a, b) => a.layer - b.layer || a.row - b.row)) { n.row = rows[n.layer] || 0; rows[n.layer] = n.row + 1; }
    }
    const pos = {};
    let maxX = 400, maxY = 200;
    for (const n of nodes) { const p = place(n); pos[n.id] = p; maxX = Math.max(maxX, p.x + NODE_W + 40); maxY = Math.max(maxY, p.y + NODE_H + 40); }
    svg.setAttribute("width", maxX); svg.setAttribute("height", maxY);
    svg.setAttribute("viewBox", `0 0 ${maxX} ${maxY}`);
    const defs = svgEl("defs");
    for (const [id, color] of [["arrow-ok", "#2e7d32"], ["arrow-bad", "#c62828"], ["arrow-idle", "#b0b7c3"]]) {
      const m = svgEl("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      m.appendChild(svgEl("path", { d: "M0 0 L10 5 L0 10 z", fill: color }));
      defs.appendChild(m);
    }
    svg.appendChild(defs);
    const edgeLayer = svgEl("g", { id: "edges" }), nodeLayer = svgEl("g", { id: "nodes" });
    svg.appendChild(edgeLayer); svg.appendChild(nodeLayer);
    for (const e of edges) {
      const a = pos[e.from], b = pos[e.to];
      if (!a || !b) continue;
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      const back = x2 <= x1;
      // An edge that skips columns arcs over the nodes between (higher the farther it goes).
      const span = Math.round((x2 - x1) / W);
      const lift = !back && span >= 1 && Math.abs(y2 - y1) < H / 2 ? 34 + 18 * span : 0;
      const d = back ? `M${a.x + NODE_W / 2} ${a.y + NODE_H} C ${a.x + NODE_W / 2} ${a.y + NODE_H + 60}, ${b.x + NODE_W / 2} ${b.y + NODE_H + 60}, ${b.x + NODE_W / 2} ${b.y + NODE_H}`
                     : lift ? `M${x1} ${y1} C ${x1 + 60} ${y1 - lift * 1.4}, ${x2 - 60} ${y2 - lift * 1.4}, ${x2} ${y2}`
                            : `M${x1} ${y1} C ${x1 + 60} ${y1}, ${x2 - 60} ${y2}, ${x2} ${y2}`;
      const idle = e.rate <= 0;
      const cls = "edge" + (e.failing ? " failing" : "") + (idle ? " idle" : "");
      const g = svgEl("g", { class: cls, "data-from": e.from, "data-to": e.to, "data-failing": e.failing, "data-mtls": e.mtls,
                             "data-reason": e.reason || "", "data-explanation": e.explanation || "", "data-protocol": e.protocolName });
      g.appendChild(svgEl("path", { d, "marker-end": `url(#${e.failing ? "arrow-bad" : idle ? "arrow-idle" : "arrow-ok"})` }));
      const mx = back ? (a.x + b.x) / 2 + NODE_W / 2 : (x1 + x2) / 2;
      const lines = 1 + (e.p99Milliseconds != null ? 1 : 0) + (e.reason && e.errorPercent > 0 ? 1 : 0);
      // Above its line, never on it.
      const my = back ? Math.max(a.y, b.y) + NODE_H + 48 : (y1 + y2) / 2 - 10 - 14 * (lines - 1) - lift * 1.05;
      const label = e.protocolName === "tcp" ? `${fmt(e.rate)} conn/s` : `${fmt(e.rate)} rps · ${fmt(e.errorPercent)} % err`;
      const detail = e.p99Milliseconds != null ? `p99 ${fmt(e.p99Milliseconds)} ms` : "";
      const texts = [label];
      if (detail) texts.push(detail);
      if (e.reason && e.errorPercent > 0) texts.push(e.reason);
      // A white box behind the words, so crossing lines never hide them.
      const widest = Math.max(...texts.map((t) => t.length)) * 5.9 + 8;
      g.appendChild(svgEl("rect", { class: "label-box", x: mx - widest / 2, y: my - 11, width: widest, height: 14 * texts.length + 2, rx: 3 }));
      texts.forEach((t, i) => g.appendChild(svgEl("text", { class: "label" + (t === e.reason ? " reason" : ""), x: mx, y: my, dy: i * 14, "text-anchor": "middle" }, t)));
      if (e.mtls) g.appendChild(padlock(mx - widest / 2 - 9, my - 4));
      g.appendChild(svgEl("title", {}, `${e.from} → ${e.to}: ${label} ${detail}${e.explanation ? " — " + e.explanation : ""}${e.mtls ? " — mutual TLS" : ""}`));
      edgeLayer.appendChild(g);
    }
    for (const n of nodes) {
      const p = pos[n.id];
      const cls = "node " + n.kind + (n.kind === "workload" && n.sidecar === false ? " nosidecar" : "");
      const g = svgEl("g", { class: cls, "data-id": n.id, "data-kind": n.kind, "data-sidecar": n.sidecar === undefined ? "" : n.sidecar,
                             transform: `translate(${p.x},${p.y})` });
      if (n.kind === "service") {
        g.appendChild(svgEl("polygon", { points: `14,0 ${NODE_W - 14},0 ${NODE_W},${NODE_H / 2} ${NODE_W - 14},${NODE_H} 14,${NODE_H} 0,${NODE_H / 2}` }));
      } else if (n.kind === "unknown") {
        g.appendChild(svgEl("ellipse", { cx: NODE_W / 2, cy: NODE_H / 2, rx: NODE_W / 2, ry: NODE_H / 2 }));
      } else {
        g.appendChild(svgEl("rect", { width: NODE_W, height: NODE_H, rx: 6 }));
      }
      const title = n.kind === "unknown" ? "unknown (no sidecar)" : n.name + (n.version ? " " + n.version : "");
      g.appendChild(svgEl("text", { x: NODE_W / 2, y: 18, "text-anchor": "middle" }, title));
      let sub = n.namespace || "outside the mesh";
      if (n.kind === "workload") sub += n.sidecar ? ` · ${n.instances} proxy${n.instances === 1 ? "" : "s"}` : " · no sidecar";
      if (n.kind === "service") sub += " · service";
      g.appendChild(svgEl("text", { class: "sub", x: NODE_W / 2, y: 34, "text-anchor": "middle" }, sub));
      if (n.kind === "workload") g.addEventListener("click", () => { location.hash = "#workload/" + n.namespace + "/" + n.name; });
      nodeLayer.appendChild(g);
    }
    return nodes.length;
  }

  // ---- the fleet ---------------------------------------------------------------------
  async function drawFleet() {
    const [status, revs] = await Promise.all([getJSON("/v1/status"), getJSON("/v1/revisions")]);
    for (const r of revs.revisions) if (r.version) versions[r.version] = r.commit;
    const t = $("#fleet-table");
    t.textContent = "";
    const head = el("tr");
    for (const h of ["workload", "instance", "address", "desired", "applied", "commit", "state", "reason", "last seen"]) head.appendChild(el("th", {}, h));
    t.appendChild(head);
    for (const p of status.proxies) {
      const tr = el("tr", { class: p.state, "data-instance": p.instance, "data-state": p.state });
      const commit = p.appliedVersion && versions[p.appliedVersion] ? versions[p.appliedVersion].slice(0, 12) : "";
      for (const [v, c] of [[p.workload], [p.instance], [p.address || ""], [p.desiredVersion || ""], [p.appliedVersion || ""],
                            [commit, "commit"], [p.state, "state"], [p.reason || ""], [p.secondsSinceReport + " s ago"]]) {
        tr.appendChild(el("td", c ? { class: c } : {}, String(v)));
      }
      t.appendChild(tr);
    }
    $("#status").textContent = `version ${status.version || "—"} · commit ${(status.commit || "").slice(0, 12)} · ${status.proxies.length} proxies`;
  }

  // ---- the history -------------------------------------------------------------------
  async function drawHistory() {
    const revs = await getJSON("/v1/revisions");
    const list = $("#history-list");
    list.textContent = "";
    for (const r of revs.revisions) {
      const li = el("li", { class: r.outcome, "data-commit": r.commit, "data-outcome": r.outcome });
      const line = el("div");
      line.appendChild(el("span", { class: "outcome" }, r.outcome === "published" ? "published" : "refused"));
      line.appendChild(el("span", { class: "commit" }, r.commit.slice(0, 12)));
      line.appendChild(document.createTextNode(` ${r.summary} — ${r.at}` + (r.version ? ` — version ${r.version}` : "") + ` (${r.trigger})`));
      li.appendChild(line);
      if (r.outcome === "failed") {
        li.appendChild(el("div", { class: "reason" }, `${r.failedStep}: ${r.reason || ""}`));
        if (r.errors && r.errors.length) {
          const ul = el("ul", { class: "findings" });
          for (const f of r.errors) ul.appendChild(el("li", {}, f));
          li.appendChild(ul);
        }
      } else if (r.trigger !== "re-sign") {
        try {
          const d = await getJSON("api/diff/" + r.commit);
          const box = el("div", { class: "diff" });
          for (const risk of d.risks) box.appendChild(el("div", { class: "risk" }, `⚠ ${risk.kind}: ${risk.message}`));
          const ul = el("ul", { class: "changes" });
          for (const w of d.workloads) for (const c of w.changes) ul.appendChild(el("li", {}, `${w.workload}: ${c.subject}: ${c.before || "—"} → ${c.after || "—"}`));
          for (const o of d.outbound) for (const c of o.changes) ul.appendChild(el("li", {}, `${o.affects.length} workload(s): ${c.subject}: ${c.before || "—"} → ${c.after || "—"}`));
          if (!ul.children.length) ul.appendChild(el("li", {}, "no change to any workload's traffic"));
          box.appendChild(ul);
          li.appendChild(box);
        } catch (e) { li.appendChild(el("div", { class: "sub" }, "first revision: nothing to compare")); }
      }
      list.appendChild(li);
    }
  }

  // ---- one workload ------------------------------------------------------------------
  async function drawWorkload(key) {
    const body = $("#workload-body");
    if (!key) { body.textContent = "Pick a workload in the graph."; return; }
    const w = await getJSON("api/workload/" + key);
    body.textContent = "";
    body.appendChild(el("h2", {}, w.workload));
    body.appendChild(el("p", {}, `identity ${w.identity}; labels ${Object.entries(w.labels).map(([k, v]) => k + "=" + v).join(", ")}; version ${w.version}`));
    for (const [title, items, id] of [["Who may call it, and how", w.inbound, "inbound"], ["What it calls", w.outbound, "outbound"]]) {
      body.appendChild(el("h3", {}, title));
      const ul = el("ul", { id: "workload-" + id });
      for (const s of items) ul.appendChild(el("li", {}, s));
      if (!items.length) ul.appendChild(el("li", {}, "nothing"));
      body.appendChild(ul);
    }
    body.appendChild(el("h3", {}, "Live endpoints"));
    const ul = el("ul", { id: "workload-endpoints" });
    for (const e of w.endpoints) ul.appendChild(el("li", {}, `${e.instance} at ${e.address || "—"}: ${e.state}, version ${e.appliedVersion || "—"}`));
    if (!w.endpoints.length) ul.appendChild(el("li", {}, "no proxy reports for it (no sidecar?)"));
    body.appendChild(ul);
  }

  // ---- routing -----------------------------------------------------------------------
  let firstShow = true;
  async function show() {
    // The first view counts from the navigation (HTML, CSS, script, data, drawing); later
    // ones from the click or refresh that asked for them.
    const t0 = firstShow ? 0 : performance.now();
    firstShow = false;
    const hash = location.hash.replace(/^#/, "") || "graph";
    const [view, ...rest] = hash.split("/");
    for (const v of ["graph", "fleet", "history", "workload"]) {
      $("#view-" + v).classList.toggle("active", v === view);
      $("#tab-" + v).classList.toggle("active", v === view);
    }
    document.body.dataset.rendered = "";
    try {
      if (view === "graph") await drawGraph();
      else if (view === "fleet") await drawFleet();
      else if (view === "history") await drawHistory();
      else if (view === "workload") await drawWorkload(rest.join("/"));
      if (view !== "fleet") await drawFleet().catch(() => {});
      document.body.dataset.error = "";
    } catch (e) {
      document.body.dataset.error = String(e);
      $("#status").textContent = String(e);
    }
    document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
    document.body.dataset.rendered = view;
  }
  window.addEventListener("hashchange", show);
  $("#window").addEventListener("change", show);
  $("#namespace").addEventListener("change", show);
  setInterval(() => { if ((location.hash || "#graph").startsWith("#graph") || location.hash === "#fleet") show(); }, 10000);
  show();
})();
"""#
}
