// archy-pipeline report: the interactive system map (Cytoscape.js, vendored; no network).
//
// window.ARCHY_MAP (map-data.js) holds systems with Graphviz's positions, their instances
// (connections), the recipes, and the archy.system_flows rows as [source instance, target
// instance, [recipe indexes]]. Every filter recounts the flows from those rows, so a flow's
// weight is always the number of distinct recipes behind it under the filters.
(function () {
  "use strict";
  var D = window.ARCHY_MAP;
  var $ = function (id) { return document.getElementById(id); };
  var status = $("map-status");
  if (!D || typeof cytoscape !== "function") {
    status.textContent = "The map's data or script is missing.";
    return;
  }
  var MAX_PIES = 8;
  var defaults = function () {
    return { ws: "", env: "", folder: "", system: "", search: "",
             minRecipes: D.defaultMinRecipes, group: true, expanded: new Set() };
  };
  var state = defaults();

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function folderSet() {
    if (state.folder === "") return null;
    var base = D.folders[+state.folder], ok = new Set();
    D.folders.forEach(function (f, i) {
      if (f === base || f.indexOf(base + "/") === 0) ok.add(i);
    });
    return ok;
  }

  // ------------------------------------------------------------------ the model under filters
  function compute() {
    var F = folderSet();
    var instOk = D.instances.map(function (inst) {
      var sys = D.systems[inst.sys];
      if (state.ws !== "" && sys.ws !== +state.ws) return false;
      if (state.env !== "" && D.environments[inst.env] !== state.env) return false;
      if (F && !inst.folders.some(function (f) { return F.has(f); })) return false;
      return true;
    });
    var sysInst = D.systems.map(function () { return []; });
    D.instances.forEach(function (inst, i) { if (instOk[i]) sysInst[inst.sys].push(i); });
    var shown = [];
    sysInst.forEach(function (list, s) { if (list.length) shown.push(s); });

    // Group the smallest systems (one node per workspace) when there are too many to read.
    var grouped = new Map();
    if (state.group && state.system === "" && shown.length > D.groupAbove) {
      var order = shown.filter(function (s) { return !state.expanded.has(s); })
        .sort(function (a, b) { return D.systems[a].recipes - D.systems[b].recipes; });
      var excess = shown.length - D.groupAbove + D.workspaces.length;
      order.slice(0, excess).forEach(function (s) { grouped.set(s, "g" + D.systems[s].ws); });
    }
    function endpoint(i) {
      var s = D.instances[i].sys;
      if (state.expanded.has(s)) return "i" + i;
      return grouped.get(s) || "s" + s;
    }
    var edges = new Map();
    D.flows.forEach(function (f) {
      if (!instOk[f[0]] || !instOk[f[1]]) return;
      var rs = F ? f[2].filter(function (r) { return F.has(D.recipes[r][2]); }) : f[2];
      if (!rs.length) return;
      var a = endpoint(f[0]), b = endpoint(f[1]), key = a + ">" + b;
      var e = edges.get(key);
      if (!e) edges.set(key, e = { source: a, target: b, recipes: new Set() });
      rs.forEach(function (r) { e.recipes.add(r); });
    });
    var all = Array.from(edges.values());
    var kept, focus = null;
    if (state.system !== "") {
      // One system and its neighbours, with every flow touching it.
      var s = +state.system;
      focus = new Set(sysInst[s].map(endpoint).concat(["s" + s]));
      kept = all.filter(function (e) { return focus.has(e.source) || focus.has(e.target); });
    } else {
      kept = all.filter(function (e) { return e.recipes.size >= state.minRecipes; });
    }
    var visibleIds = null;
    if (focus) {
      visibleIds = new Set(focus);
      kept.forEach(function (e) { visibleIds.add(e.source); visibleIds.add(e.target); });
    }
    return { instOk: instOk, sysInst: sysInst, shown: shown, grouped: grouped, all: all,
             kept: kept, visibleIds: visibleIds };
  }

  function pies(instances) {
    var data = {}, counts = {};
    instances.forEach(function (i) { counts[D.instances[i].env] = (counts[D.instances[i].env] || 0) + 1; });
    for (var j = 0; j < MAX_PIES; j++) {
      data["p" + j] = instances.length ? 100 * (counts[j] || 0) / instances.length : 0;
    }
    return data;
  }

  function elements(c) {
    var els = [], maxRecipes = 1;
    D.systems.forEach(function (s) { maxRecipes = Math.max(maxRecipes, s.recipes); });
    var groups = new Map();
    c.shown.forEach(function (s) {
      var sys = D.systems[s], insts = c.sysInst[s];
      if (c.grouped.has(s)) {
        var key = c.grouped.get(s);
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(s);
        return;
      }
      if (c.visibleIds && !c.visibleIds.has("s" + s) &&
          !insts.some(function (i) { return c.visibleIds.has("i" + i); })) return;
      var size = 14 + 34 * Math.sqrt(sys.recipes / maxRecipes);
      if (state.expanded.has(s)) {
        els.push({ group: "nodes", data: { id: "s" + s, label: sys.label, kind: "parent", sys: s } });
        insts.forEach(function (i, n) {
          var angle = 2 * Math.PI * n / insts.length, r = insts.length > 1 ? 30 + 9 * insts.length : 0;
          els.push({ group: "nodes", classes: "instance",
            data: Object.assign({ id: "i" + i, parent: "s" + s, label: D.instances[i].label,
                                  kind: "instance", inst: i, size: 18 }, pies([i])),
            position: { x: sys.x + r * Math.cos(angle), y: sys.y + r * Math.sin(angle) } });
        });
      } else {
        els.push({ group: "nodes", data: Object.assign(
          { id: "s" + s, label: sys.label, kind: "system", sys: s, size: size }, pies(insts)),
          position: { x: sys.x, y: sys.y } });
      }
    });
    groups.forEach(function (members, key) {
      var x = 0, y = 0, insts = [];
      members.forEach(function (s) { x += D.systems[s].x; y += D.systems[s].y; insts = insts.concat(c.sysInst[s]); });
      els.push({ group: "nodes", classes: "grouped",
        data: Object.assign({ id: key, label: members.length + " smaller systems", kind: "group",
                              members: members, size: 40 }, pies(insts)),
        position: { x: x / members.length, y: y / members.length } });
    });
    var ids = new Set(els.map(function (e) { return e.data.id; }));
    var maxW = 1;
    c.kept.forEach(function (e) { maxW = Math.max(maxW, e.recipes.size); });
    c.kept.forEach(function (e, n) {
      if (!ids.has(e.source) || !ids.has(e.target)) return;
      els.push({ group: "edges", data: { id: "e" + n, source: e.source, target: e.target,
        weight: e.recipes.size, width: 1 + 7 * Math.sqrt(e.recipes.size / maxW),
        recipes: Array.from(e.recipes) } });
    });
    return els;
  }

  // ------------------------------------------------------------------ drawing
  var style = [
    { selector: "node", style: {
      "label": "data(label)", "width": "data(size)", "height": "data(size)",
      "font-size": 11, "text-valign": "bottom", "text-margin-y": 3, "min-zoomed-font-size": 5,
      "background-color": "#ffffff", "border-width": 1, "border-color": "#333333",
      "pie-size": "100%", "text-wrap": "ellipsis", "text-max-width": 140 } },
    { selector: "node[kind = 'parent']", style: {
      "background-color": "#f2f4f7", "background-opacity": 0.6, "text-valign": "top",
      "shape": "round-rectangle", "padding": 12, "font-weight": "bold" } },
    { selector: "node.grouped", style: { "shape": "round-rectangle", "border-style": "dashed" } },
    { selector: "edge", style: {
      "width": "data(width)", "line-color": "#8a94a6", "target-arrow-color": "#8a94a6",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "opacity": 0.75,
      "arrow-scale": 0.9 } },
    { selector: "edge:selected, edge.hover", style: {
      "line-color": "#0b5cad", "target-arrow-color": "#0b5cad", "opacity": 1,
      "label": "data(weight)", "font-size": 11, "text-background-color": "#fff",
      "text-background-opacity": 1 } },
    { selector: "node:selected", style: { "border-width": 3, "border-color": "#0b5cad" } },
    { selector: ".faded", style: { "opacity": 0.15 } },
    { selector: ".match", style: { "border-width": 4, "border-color": "#ffb454" } }
  ];
  D.environments.slice(0, MAX_PIES).forEach(function (env, j) {
    style[0].style["pie-" + (j + 1) + "-background-color"] = D.colours[env] || "#0072B2";
    style[0].style["pie-" + (j + 1) + "-background-size"] = "data(p" + j + ")";
  });

  var cy = cytoscape({
    container: $("map"), style: style, layout: { name: "preset" },
    minZoom: 0.03, maxZoom: 4, wheelSensitivity: 0.3, boxSelectionEnabled: false
  });

  var last = null;
  function render(fit) {
    var c = compute();
    last = c;
    cy.batch(function () {
      cy.elements().remove();
      cy.add(elements(c));
    });
    if (fit !== false) cy.fit(undefined, 30);
    applySearch();
    var systems = cy.nodes("[kind = 'system'], [kind = 'parent']").length;
    var groupedCount = c.grouped.size;
    var text = systems + " systems" +
      (groupedCount ? " (and " + groupedCount + " smaller ones grouped)" : "") + ", " +
      cy.edges().length + " of " + c.all.length + " flows shown";
    if (state.system === "" && cy.edges().length < c.all.length) {
      text += " (those of at least " + state.minRecipes + " recipes)";
    }
    status.textContent = text + ".";
  }

  function applySearch() {
    cy.nodes().removeClass("match faded");
    var q = state.search.trim().toLowerCase();
    if (!q) return;
    var hits = cy.nodes().filter(function (n) {
      return String(n.data("label")).toLowerCase().indexOf(q) >= 0;
    });
    cy.nodes().not(hits).addClass("faded");
    hits.addClass("match");
  }

  // ------------------------------------------------------------------ the side panel
  var panel = $("panel");
  function recipeLinks(list) {
    var shown = list.slice(0, 100).map(function (r) {
      var rec = D.recipes[r];
      return "<li><a class='recipe' href='" + esc(rec[4]) + "'>" + esc(rec[3]) + "</a></li>";
    }).join("");
    var more = list.length > 100 ? "<li>... and " + (list.length - 100) + " more</li>" : "";
    return "<ul>" + shown + more + "</ul>";
  }
  function instanceItem(i) {
    var inst = D.instances[i], env = D.environments[inst.env];
    return "<li><a href='" + esc(inst.page) + "'>" + esc(inst.label) + "</a> " +
      "<span class='env' style='background:" + (D.colours[env] || "#0072B2") + "'>" + esc(env) +
      "</span> <small>" + esc(inst.status) + ", " + esc(inst.mapping) + "</small></li>";
  }
  function showSystem(s) {
    var sys = D.systems[s], insts = last.sysInst[s];
    var open = state.expanded.has(s);
    panel.innerHTML = "<h3>" + esc(sys.label) + "</h3>" +
      "<p><small>" + esc(sys.category) + " · " + esc(D.workspaces[sys.ws]) + " · " +
      sys.recipes + " recipes</small></p>" +
      "<p><a class='system-page' href='" + esc(sys.page) + "'>Open the system page</a></p>" +
      "<p><button type='button' id='toggle-expand'>" +
      (open ? "Show as one node" : "Show its " + insts.length + " instances") + "</button></p>" +
      "<p>Instances shown:</p><ul>" + insts.map(instanceItem).join("") + "</ul>";
    $("toggle-expand").onclick = function () { toggle(s); };
  }
  function toggle(s) {
    if (state.expanded.has(s)) state.expanded.delete(s); else state.expanded.add(s);
    render(false);
    showSystem(s);
  }
  cy.on("tap", "node", function (evt) {
    var d = evt.target.data();
    if (d.kind === "system" || d.kind === "parent") showSystem(d.sys);
    else if (d.kind === "instance") {
      panel.innerHTML = "<h3>" + esc(D.instances[d.inst].label) + "</h3><ul>" +
        instanceItem(d.inst) + "</ul><p><button type='button' id='collapse'>Show " +
        esc(D.systems[D.instances[d.inst].sys].label) + " as one node</button></p>";
      $("collapse").onclick = function () { toggle(D.instances[d.inst].sys); };
    } else if (d.kind === "group") {
      panel.innerHTML = "<h3>" + esc(d.label) + "</h3><p><button type='button' id='ungroup'>" +
        "Show them all</button></p><ul>" + d.members.map(function (s) {
          return "<li><a href='" + esc(D.systems[s].page) + "'>" + esc(D.systems[s].label) +
            "</a> <small>" + D.systems[s].recipes + " recipes</small></li>";
        }).join("") + "</ul>";
      $("ungroup").onclick = function () { state.group = false; $("f-group").checked = false; render(); };
    }
  });
  cy.on("dbltap", "node[kind = 'system'], node[kind = 'parent']", function (evt) {
    toggle(evt.target.data("sys"));
  });
  cy.on("tap", "edge", function (evt) {
    var d = evt.target.data();
    panel.innerHTML = "<h3>" + esc(cy.getElementById(d.source).data("label")) + " &rarr; " +
      esc(cy.getElementById(d.target).data("label")) + "</h3><p>" + d.weight +
      " recipe(s) read the first and write the second:</p>" + recipeLinks(d.recipes);
  });
  cy.on("mouseover", "edge", function (evt) { evt.target.addClass("hover"); });
  cy.on("mouseout", "edge", function (evt) { evt.target.removeClass("hover"); });

  // ------------------------------------------------------------------ controls
  function bind(id, key, parse) {
    $(id).addEventListener(id === "f-search" ? "input" : "change", function (evt) {
      state[key] = parse ? parse(evt.target) : evt.target.value;
      if (key === "search") applySearch(); else render();
    });
  }
  bind("f-workspace", "ws");
  bind("f-environment", "env");
  bind("f-folder", "folder");
  bind("f-system", "system");
  bind("f-search", "search");
  bind("f-min", "minRecipes", function (el) { return Math.max(1, +el.value || 1); });
  bind("f-group", "group", function (el) { return el.checked; });
  $("f-search").addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && cy.nodes(".match").length) cy.fit(cy.nodes(".match"), 60);
  });
  $("f-fit").onclick = function () { cy.fit(undefined, 30); };
  $("f-reset").onclick = function () {
    state = defaults();
    ["f-workspace", "f-environment", "f-folder", "f-system", "f-search"].forEach(function (id) { $(id).value = ""; });
    $("f-min").value = D.defaultMinRecipes;
    $("f-group").checked = true;
    render();
  };

  render();
  // For people poking around in the console, and for the browser test.
  window.archyMap = {
    cy: cy,
    get state() { return state; },
    render: render,
    visibleSystems: function () {
      return cy.nodes("[kind = 'system'], [kind = 'parent']").map(function (n) { return n.data("label"); });
    }
  };
})();
