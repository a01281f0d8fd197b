/* linkrisk entity explorer: a list of the embedded entities (sortable, searchable by id)
   and the selected entity drawn as inline SVG. No network, no libraries; the data is the
   JSON in #lx-data (linkrisk/explorer.py). Text goes in through textContent only. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("lx-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = {identifiers: "#1f77b4", quasi_identifiers: "#ff7f0e", probabilistic: "#2ca02c",
                 classic: "#9467bd", traces: "#8c564b"};
  var W = 640, H = 460;
  var list = data.entities.slice();
  var sortKey = "records", sortDesc = true, selected = null;
  var tbody = document.querySelector("#lx-table tbody");
  var search = document.getElementById("lx-search");
  var susp = document.getElementById("lx-susp");
  var count = document.getElementById("lx-count");
  var svg = document.getElementById("lx-svg");
  var detail = document.getElementById("lx-detail");

  function el(tag, attrs, text, ns) {
    var e = ns ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function fmt(x) { return Number(x).toLocaleString("en-US", {maximumFractionDigits: 1}); }

  function render() {
    var q = search.value.trim();
    var rows = list.filter(function (e) {
      return (!susp.checked || e.suspicious) && (q === "" || String(e.id).indexOf(q) === 0);
    });
    rows.sort(function (a, b) {
      var d = a[sortKey] - b[sortKey];
      if (d === 0) { d = a.id - b.id; return d; }
      return sortDesc ? -d : d;
    });
    tbody.textContent = "";
    rows.forEach(function (e) {
      var tr = el("tr", {"data-id": e.id});
      if (selected === e.id) { tr.className = "sel"; }
      tr.appendChild(el("td", {}, e.id));
      tr.appendChild(el("td", {"class": "n"}, fmt(e.records)));
      tr.appendChild(el("td", {"class": "n"}, e.datasets));
      tr.appendChild(el("td", {"class": "n"}, fmt(e.gain)));
      var flag = el("td");
      if (e.suspicious) { flag.appendChild(el("span", {"class": "tag", title: "two records of one dataset with different values of one identifier kind"}, "suspicious")); }
      tr.appendChild(flag);
      tr.addEventListener("click", function () { show(e.id); });
      tbody.appendChild(tr);
    });
    var exact = q !== "" && !list.some(function (e) { return String(e.id) === q; });
    count.textContent = rows.length + " of " + list.length + " entities listed" +
      (exact ? "; entity " + q + " is not among those embedded in this report" : "");
    document.querySelectorAll("#lx-table th[data-k]").forEach(function (th) {
      th.textContent = th.textContent.replace(/ [▲▼]$/, "") + (th.getAttribute("data-k") === sortKey ? (sortDesc ? " ▼" : " ▲") : "");
    });
  }

  /* A force-directed layout (Fruchterman and Reingold 1991), deterministic: the nodes start
     on a circle in their order, and cooling is fixed. */
  function layout(nodes, edges) {
    var n = nodes.length, pos = [], i, j, it;
    for (i = 0; i < n; i++) {
      var a = 2 * Math.PI * i / n;
      pos.push({x: Math.cos(a), y: Math.sin(a)});
    }
    if (n === 1) { pos[0] = {x: 0, y: 0}; return pos; }
    var k = Math.sqrt(4 / n), t = 0.2;
    for (it = 0; it < 300; it++) {
      var disp = pos.map(function () { return {x: 0, y: 0}; });
      for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
          var dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y;
          var d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01), f = k * k / d;
          disp[i].x += dx / d * f; disp[i].y += dy / d * f;
          disp[j].x -= dx / d * f; disp[j].y -= dy / d * f;
        }
      }
      edges.forEach(function (e) {
        var dx = pos[e.s].x - pos[e.t].x, dy = pos[e.s].y - pos[e.t].y;
        var d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01);
        var f = d * d / k * (e.linker === "holds" ? 1.5 : 1);
        disp[e.s].x -= dx / d * f; disp[e.s].y -= dy / d * f;
        disp[e.t].x += dx / d * f; disp[e.t].y += dy / d * f;
      });
      for (i = 0; i < n; i++) {
        var l = Math.max(Math.sqrt(disp[i].x * disp[i].x + disp[i].y * disp[i].y), 0.01);
        pos[i].x += disp[i].x / l * Math.min(l, t);
        pos[i].y += disp[i].y / l * Math.min(l, t);
      }
      t = Math.max(0.005, t * 0.985);
    }
    return pos;
  }

  function draw(e) {
    svg.textContent = "";
    if (!e.drawn) {
      svg.appendChild(el("text", {x: 20, y: 40, "font-size": 14}, "Entity " + e.id + " has " + fmt(e.records) +
        " records: too many to draw here (limit " + data.max_records + ").", true));
      return;
    }
    var pos = layout(e.nodes, e.edges);
    var xs = pos.map(function (p) { return p.x; }), ys = pos.map(function (p) { return p.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var mx = 90, my = 50;  // margins leave room for the boxes and the value labels
    function X(p) { return x1 > x0 ? mx + (p.x - x0) / (x1 - x0) * (W - 2 * mx) : W / 2; }
    function Y(p) { return y1 > y0 ? my + (p.y - y0) / (y1 - y0) * (H - 2 * my - 30) : H / 2; }
    var g = el("g", {}, null, true);
    svg.appendChild(g);
    e.edges.forEach(function (ed) {
      var a = pos[ed.s], b = pos[ed.t];
      var line = el("line", {x1: X(a), y1: Y(a), x2: X(b), y2: Y(b),
        stroke: ed.linker === "holds" ? "#999" : (COLOURS[ed.linker] || "#555"),
        "stroke-width": ed.linker === "holds" ? 1 : 2.5,
        "stroke-dasharray": ed.linker === "holds" ? "3,3" : ""}, null, true);
      if (ed.rules.length) { line.appendChild(el("title", {}, ed.rules.join("; "), true)); }
      g.appendChild(line);
    });
    e.nodes.forEach(function (nd, i) {
      var x = X(pos[i]), y = Y(pos[i]);
      if (nd.t === "r") {
        var label = data.datasets[nd.ds], sub = nd.kinds.length + " kinds";
        var w = Math.max(label.length, sub.length) * 6.6 + 12;
        var box = el("g", {}, null, true);
        box.appendChild(el("rect", {x: x - w / 2, y: y - 17, width: w, height: 34, rx: 4,
          fill: "#eeeeee", stroke: "#333"}, null, true));
        box.appendChild(el("text", {x: x, y: y - 3, "text-anchor": "middle", "font-size": 11}, label, true));
        box.appendChild(el("text", {x: x, y: y + 11, "text-anchor": "middle", "font-size": 10, fill: "#555"}, sub, true));
        box.appendChild(el("title", {}, label + " record " + nd.rid + ": " +
          nd.kinds.map(function (k) { return data.kinds[k]; }).join(", ") + "; gains " + fmt(nd.gain), true));
        g.appendChild(box);
      } else {
        g.appendChild(el("circle", {cx: x, cy: y, r: 5, fill: "#fff3b0", stroke: "#777"}, null, true));
        // the label beside the dot, never over it
        var right = x > W / 2;  // on the right half the label goes left of the dot: it stays inside
        g.appendChild(el("text", {x: right ? x - 8 : x + 8, y: y + 4, "font-size": 10, fill: "#444",
          "text-anchor": right ? "end" : "start"}, data.kinds[nd.kind] + " " + nd.value, true));
      }
    });
    var lx = 10, used = {};
    e.edges.forEach(function (ed) { used[ed.linker] = true; });
    Object.keys(COLOURS).concat(["holds"]).forEach(function (name) {
      if (!used[name]) { return; }
      var c = name === "holds" ? "#999" : COLOURS[name];
      svg.appendChild(el("line", {x1: lx, y1: H - 12, x2: lx + 22, y2: H - 12, stroke: c, "stroke-width": 2.5,
        "stroke-dasharray": name === "holds" ? "3,3" : ""}, null, true));
      var label = name === "holds" ? "holds value" : name;
      svg.appendChild(el("text", {x: lx + 26, y: H - 8, "font-size": 11}, label, true));
      lx += 34 + label.length * 6.5;
    });
  }

  function describe(e) {
    detail.textContent = "";
    detail.appendChild(el("h3", {}, "Entity " + e.id + ": " + fmt(e.records) + " records in " + e.datasets +
      " datasets, gain " + fmt(e.gain) + (e.suspicious ? " (suspicious)" : "")));
    if (!e.drawn) { return; }
    var t = el("table"), head = el("tr");
    ["dataset", "record id", "kinds it holds", "gain"].forEach(function (h, i) {
      head.appendChild(el("th", i === 3 ? {"class": "n"} : {}, h));
    });
    t.appendChild(head);
    e.nodes.forEach(function (nd) {
      if (nd.t !== "r") { return; }
      var tr = el("tr");
      tr.appendChild(el("td", {"class": "name"}, data.datasets[nd.ds]));
      tr.appendChild(el("td", {}, nd.rid));
      tr.appendChild(el("td", {}, nd.kinds.map(function (k) { return data.kinds[k]; }).join(", ")));
      tr.appendChild(el("td", {"class": "n"}, fmt(nd.gain)));
      t.appendChild(tr);
    });
    detail.appendChild(t);
  }

  function show(id) {
    var e = list.filter(function (x) { return x.id === id; })[0];
    if (!e) { return; }
    selected = id;
    draw(e);
    describe(e);
    render();
  }

  document.querySelectorAll("#lx-table th[data-k]").forEach(function (th) {
    th.addEventListener("click", function () {
      var k = th.getAttribute("data-k");
      if (k === sortKey) { sortDesc = !sortDesc; } else { sortKey = k; sortDesc = k !== "id"; }
      render();
    });
  });
  search.addEventListener("input", function () {
    render();
    var q = search.value.trim();
    if (/^[0-9]+$/.test(q)) { show(Number(q)); }
  });
  susp.addEventListener("change", render);
  render();
  // a link to one entity: report.html#entity-123 selects it
  var m = /^#entity-([0-9]+)$/.exec(window.location.hash);
  if (m) { search.value = m[1]; render(); }
  if (m && list.some(function (x) { return x.id === Number(m[1]); })) { show(Number(m[1])); }
  else if (list.length) { show(list[0].id); }
})();
