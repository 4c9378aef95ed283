// xks-lint connectivity page. Repository text (names, labels, explanations) comes from the
// embedded JSON and is only ever written with textContent or as Cytoscape labels (drawn on
// a canvas): never as markup.
(function () {
  'use strict';
  var started = performance.now();
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(' '));
    consoleError.apply(console, arguments);
  };
  var statusEl = document.getElementById('xks-status');

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  var data;
  try {
    data = JSON.parse(document.getElementById('xks-data').textContent);
  } catch (e) {
    errors.push('data: ' + e);
    statusEl.setAttribute('data-state', 'error');
    statusEl.textContent = JSON.stringify({ state: 'error', errors: errors });
    return;
  }

  var marks = { parse: Math.round(performance.now() - started) };
  var nodes = data.nodes, namespaces = data.namespaces, conns = data.conns;
  var PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
  var members = namespaces.map(function () { return []; });
  var workloads = 0;
  nodes.forEach(function (n, i) {
    if (n.kind === 'workload' && n.ns !== null && n.ns !== undefined) { members[n.ns].push(i); workloads++; }
  });
  // Large repositories start collapsed to namespaces: a namespace expands on a click.
  var LARGE = workloads > 150;

  var state = { ns: '', q: '', port: '', hideDefault: !!data.hide_default, cross: false, changed: false, expanded: {} };
  var changes = data.diff ? data.diff.changes : [];
  if (!LARGE && !data.collapsed) namespaces.forEach(function (_, i) { state.expanded[i] = true; });

  // ---- URL fragment: ns, q, port, hide, cross, expand (names or `all`) -------------------
  function readFragment() {
    var text = location.hash.replace(/^#/, '');
    if (!text) return;
    var params = new URLSearchParams(text);
    if (params.has('ns')) state.ns = params.get('ns');
    if (params.has('q')) state.q = params.get('q');
    if (params.has('port')) state.port = params.get('port');
    if (params.has('hide')) state.hideDefault = params.get('hide') === '1';
    if (params.has('cross')) state.cross = params.get('cross') === '1';
    if (params.has('show')) state.show = params.get('show');
    if (params.has('changed')) state.changed = params.get('changed') === '1' && !!data.diff;
    if (params.has('expand')) {
      var wanted = params.get('expand');
      state.expanded = {};
      namespaces.forEach(function (ns, i) {
        if (wanted === 'all' || wanted.split(',').indexOf(ns.name) >= 0) state.expanded[i] = true;
      });
    }
  }
  function writeFragment() {
    var params = new URLSearchParams();
    if (state.ns) params.set('ns', state.ns);
    if (state.q) params.set('q', state.q);
    if (state.port) params.set('port', state.port);
    if (state.hideDefault) params.set('hide', '1');
    if (state.cross) params.set('cross', '1');
    if (state.changed) params.set('changed', '1');
    var open = namespaces.filter(function (_, i) { return state.expanded[i]; }).map(function (ns) { return ns.name; });
    if (open.length === namespaces.length && open.length > 0) params.set('expand', 'all');
    else params.set('expand', open.join(','));
    try { history.replaceState(null, '', '#' + params.toString()); } catch (e) { /* file: URLs may refuse */ }
  }

  // ---- connection sets -----------------------------------------------------------------
  function parsePort(text) {
    var m = /^\s*(\d{1,5})\s*(?:\/\s*(tcp|udp|sctp))?\s*$/i.exec(text || '');
    if (!m) return null;
    var port = Number(m[1]);
    if (port < 1 || port > 65535) return null;
    return { port: port, protocol: m[2] ? m[2].toUpperCase() : null };
  }
  function connsHas(ci, want) {
    return conns[ci].ranges.some(function (r) {
      return (!want.protocol || r[0] === want.protocol) && r[1] <= want.port && want.port <= r[2];
    });
  }
  // The union of connection sets, written like the listing (`TCP 80,443;UDP 53`).
  function unionText(indices) {
    if (indices.length === 1) return conns[indices[0]].text;
    var per = {};
    PROTOCOLS.forEach(function (p) { per[p] = []; });
    indices.forEach(function (ci) { conns[ci].ranges.forEach(function (r) { per[r[0]].push([r[1], r[2]]); }); });
    var all = true, parts = [];
    PROTOCOLS.forEach(function (p) {
      var rs = per[p].sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
      var merged = [];
      rs.forEach(function (r) {
        var last = merged[merged.length - 1];
        if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]); else merged.push([r[0], r[1]]);
      });
      if (!(merged.length === 1 && merged[0][0] === 1 && merged[0][1] === 65535)) all = false;
      if (merged.length) {
        parts.push(p + ' ' + merged.map(function (r) { return r[0] === r[1] ? String(r[0]) : r[0] + '-' + r[1]; }).join(','));
      }
    });
    return all ? 'All Connections' : parts.join(';');
  }
  function distinct(texts) {
    var seen = {};
    return texts.filter(function (t) { if (seen[t]) return false; seen[t] = true; return true; }).join(' | ');
  }
  function shorten(text, max) { return text.length > max ? text.slice(0, max - 1) + '\u2026' : text; }

  // ---- what is shown -------------------------------------------------------------------
  function nsOf(i) { var n = nodes[i]; return n.ns === null || n.ns === undefined ? null : n.ns; }
  function selectedNamespaces() {
    return state.ns.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
  }
  function repOf(i) {
    var n = nodes[i];
    if (n.kind === 'workload' && n.ns !== null && n.ns !== undefined && !state.expanded[n.ns]) return 'ns' + n.ns;
    return 'n' + i;
  }
  function filters() {
    var names = selectedNamespaces();
    var q = state.q.trim().toLowerCase();
    var port = state.port.trim() ? parsePort(state.port) : null;
    return {
      names: names, q: q, port: port, badPort: !!state.port.trim() && !port,
      active: names.length > 0 || q.length > 0 || !!port
    };
  }
  function inNamespaces(i, names) {
    var ns = nsOf(i);
    return ns !== null && names.indexOf(namespaces[ns].name) >= 0;
  }
  function matchesQ(i, q) { return nodes[i].label.toLowerCase().indexOf(q) >= 0; }
  function keepsEnds(s, d, f) {
    if (state.cross && nsOf(s) !== null && nsOf(s) === nsOf(d)) return false;
    if (f.names.length && !inNamespaces(s, f.names) && !inNamespaces(d, f.names)) return false;
    if (f.q && !matchesQ(s, f.q) && !matchesQ(d, f.q)) return false;
    return true;
  }
  function keeps(s, d, ci, f) {
    if (state.cross && nsOf(s) !== null && nsOf(s) === nsOf(d)) return false;
    if (f.names.length && !inNamespaces(s, f.names) && !inNamespaces(d, f.names)) return false;
    if (f.q && !matchesQ(s, f.q) && !matchesQ(d, f.q)) return false;
    if (f.port && !connsHas(ci, f.port)) return false;
    return true;
  }

  var cy = cytoscape({
    container: document.getElementById('cy'),
    wheelSensitivity: 0.3,
    minZoom: 0.05,
    maxZoom: 4,
    style: [
      { selector: 'node', style: {
        'label': 'data(label)', 'font-size': 11, 'text-valign': 'center', 'text-halign': 'center',
        'text-wrap': 'wrap', 'text-max-width': 180, 'shape': 'round-rectangle',
        'width': function (e) { return Math.min(200, Math.max(48, 7 * e.data('width') + (e.hasClass('platform') ? 24 : 10))); },
        'height': function (e) { return 22 + 13 * (e.data('lines') - 1); },
        'background-color': '#e3f2fd', 'border-width': 1.5, 'border-color': '#1565c0', 'color': '#0d2b52' } },
      { selector: 'node.platform', style: { 'shape': 'hexagon', 'background-color': '#fff3e0', 'border-color': '#e65100', 'color': '#6d2600', 'font-weight': 'bold' } },
      { selector: 'node.ip', style: { 'shape': 'cut-rectangle', 'background-color': '#f3e5f5', 'border-color': '#6a1b9a', 'color': '#3d0a5c' } },
      { selector: 'node.namespace', style: { 'background-color': '#e8eaf6', 'border-color': '#3949ab', 'border-width': 2, 'font-weight': 'bold', 'color': '#1a237e' } },
      { selector: 'node.namespace.platformns', style: { 'background-color': '#fff8e1', 'border-color': '#e65100' } },
      { selector: ':parent', style: {
        'text-valign': 'top', 'text-halign': 'center', 'background-color': '#f5f7ff', 'background-opacity': 0.6,
        'border-style': 'dashed', 'border-color': '#3949ab', 'padding': 14, 'font-weight': 'bold', 'color': '#1a237e', 'shape': 'round-rectangle' } },
      { selector: 'edge', style: {
        'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.9, 'line-color': '#8c959f',
        'target-arrow-color': '#8c959f', 'width': 'data(weight)', 'label': 'data(label)', 'font-size': 9,
        'text-rotation': 'autorotate', 'text-background-color': '#ffffff', 'text-background-opacity': 0.85,
        'text-background-padding': 1, 'color': '#2f6f3e' } },
      { selector: 'edge.nolabel', style: { 'label': '' } },
      { selector: 'edge.straight', style: { 'curve-style': 'straight' } },
      { selector: 'edge.blocked', style: { 'line-color': '#d00000', 'target-arrow-color': '#d00000', 'line-style': 'dashed', 'color': '#d00000' } },
      { selector: 'edge.default', style: { 'line-color': '#9fa8da', 'target-arrow-color': '#9fa8da', 'line-style': 'dotted', 'color': '#3949ab' } },
      { selector: 'edge.opened', style: { 'line-color': '#1a7f37', 'target-arrow-color': '#1a7f37', 'color': '#1a7f37', 'width': 3 } },
      { selector: 'edge.closed', style: { 'line-color': '#57606a', 'target-arrow-color': '#57606a', 'line-style': 'dashed', 'color': '#57606a' } },
      { selector: 'edge.hover, edge:selected', style: { 'label': 'data(label)', 'z-index': 10, 'font-size': 11 } },
      { selector: ':selected', style: { 'line-color': '#fb8c00', 'target-arrow-color': '#fb8c00', 'border-color': '#fb8c00', 'border-width': 3 } }
    ]
  });

  var shown = { edges: {}, nodes: 0 };
  marks.init = Math.round(performance.now() - started);

  function nodeData(id, label, cls, parent) {
    var lines = label.split('\n');
    var width = lines.reduce(function (m, l) { return Math.max(m, l.length); }, 0);
    var d = { id: id, label: label, width: width, lines: lines.length };
    if (parent) d.parent = parent;
    return { group: 'nodes', data: d, classes: cls };
  }

  var timing = {};
  function render() {
    var t0 = performance.now();
    var f = filters();
    if (f.q) {
      // Namespaces holding a matching workload open, so that it can be seen.
      nodes.forEach(function (n, i) {
        var ns = nsOf(i);
        if (ns !== null && n.kind === 'workload' && matchesQ(i, f.q) && members[ns].length <= 300) state.expanded[ns] = true;
      });
    }
    // Visible edges, grouped by the ends they are drawn between.
    var groups = {}, order = [];
    function add(key, s, d, blocked, item, ci) {
      var g = groups[key];
      if (!g) {
        g = groups[key] = { src: repOf(s), dst: repOf(d), blocked: blocked, conns: [], seen: {}, items: [], count: 0 };
        order.push(key);
      }
      g.count++;
      if (ci >= 0 && !g.seen[ci]) { g.seen[ci] = true; g.conns.push(ci); }
      if (g.items.length < 200) g.items.push(item);
    }
    var used = {};
    // Only what the change opens or closes: the diff's pairs instead of the listing.
    changes.forEach(function (c, k) {
      if (!state.changed || !keepsEnds(c.src, c.dst, f) || f.port) return;
      add('~' + c.kind + repOf(c.src) + '>' + repOf(c.dst), c.src, c.dst, false, k, -1);
      var g = groups[order[order.length - 1]];
      g.change = c.kind;
      used[c.src] = used[c.dst] = true;
    });
    data.edges.forEach(function (e, k) {
      if (state.changed || !keeps(e[0], e[1], e[2], f)) return;
      var s = repOf(e[0]), d = repOf(e[1]);
      add(s + '>' + d, e[0], e[1], false, k, e[2]);
      used[e[0]] = used[e[1]] = true;
    });
    data.blocked.forEach(function (b, k) {
      if (state.changed || !keeps(b.src, b.dst, b.conns, f)) return;
      var s = repOf(b.src), d = repOf(b.dst);
      add('!' + s + '>' + d, b.src, b.dst, true, k, b.conns);
      used[b.src] = used[b.dst] = true;
    });
    // Nodes: with a filter, the ends of what is kept and what the filter names; else all.
    var visible = {};
    nodes.forEach(function (n, i) {
      var named = (f.names.length && inNamespaces(i, f.names) && !f.q && !f.port) || (f.q && matchesQ(i, f.q));
      if ((!f.active && !state.changed) || used[i] || named) visible[i] = true;
    });
    var elements = [], made = {};
    function ensureNode(i) {
      var rep = repOf(i);
      if (made[rep]) return;
      made[rep] = true;
      var n = nodes[i];
      if (rep.indexOf('ns') === 0) {
        var ns = namespaces[n.ns];
        var label = ns.name + '\n' + members[n.ns].length + ' workload' + (members[n.ns].length === 1 ? '' : 's');
        elements.push(nodeData(rep, label, 'namespace' + (ns.platform ? ' platformns' : '')));
        return;
      }
      var parent = null;
      if (n.kind === 'workload' && n.ns !== null && n.ns !== undefined && state.expanded[n.ns]) {
        parent = 'ns' + n.ns;
        if (!made[parent]) {
          made[parent] = true;
          elements.push(nodeData(parent, namespaces[n.ns].name, 'group' + (namespaces[n.ns].platform ? ' platformns' : '')));
        }
      }
      var text = n.kind === 'platform' ? n.short + (n.ns !== null && n.ns !== undefined ? '\n' + namespaces[n.ns].name : '') : n.short;
      elements.push(nodeData(rep, text, n.kind, parent));
    }
    Object.keys(visible).forEach(function (i) { ensureNode(Number(i)); });
    var edgeCount = order.length;
    // Past a few dozen edges, labels only on hover or selection: else they hide the graph.
    var labelled = edgeCount <= 60;
    // Many edges: straight lines, far cheaper to draw than curves.
    var straight = edgeCount > 800 ? ' straight' : '';
    shown.edges = {};
    order.forEach(function (key, k) {
      var g = groups[key];
      var text = g.change ? distinct(g.items.map(function (k) { return changes[k].conns; })) : unionText(g.conns);
      var prefix = g.blocked ? 'BLOCKED ' : g.change === 'opened' ? 'OPENED ' : g.change === 'closed' ? 'CLOSED ' : '';
      var label = prefix + shorten(text, 38) + (g.count > 1 ? ' (' + g.count + ')' : '');
      var id = 'e' + k;
      shown.edges[id] = g;
      elements.push({ group: 'edges', data: { id: id, source: g.src, target: g.dst, label: label,
        weight: Math.min(6, 1.2 + Math.log(g.count) / Math.LN2 * 0.6) },
        classes: (g.blocked ? 'blocked' : '') + (g.change ? ' ' + g.change : '') + (labelled ? '' : ' nolabel') + straight });
    });
    // XKS's intra-namespace default: one dotted loop per namespace, counted.
    if (!state.hideDefault && !state.cross && !state.changed && !f.q && !f.port) {
      namespaces.forEach(function (ns, i) {
        if (!ns.default_pairs || !made['ns' + i]) return;
        if (f.names.length && f.names.indexOf(ns.name) < 0) return;
        var id = 'd' + i;
        shown.edges[id] = { defaultOf: i };
        elements.push({ group: 'edges', data: { id: id, source: 'ns' + i, target: 'ns' + i,
          label: 'All Connections (XKS default, ' + ns.default_pairs + ' pairs)', weight: 1.5 }, classes: 'default' + (labelled ? '' : ' nolabel') });
      });
    }
    timing.build = Math.round(performance.now() - t0);
    cy.batch(function () {
      cy.elements().remove();
      cy.add(elements);
    });
    timing.add = Math.round(performance.now() - t0);
    var count = cy.nodes().length;
    timing.style = Math.round(performance.now() - t0);
    place();
    timing.layout = Math.round(performance.now() - t0);
    fit();
    timing.fit = Math.round(performance.now() - t0);
    shown.nodes = count;
    var notice = [];
    if (data.edges_omitted) notice.push(data.edges_omitted + ' allowed connections are not in this page (too many): narrow it with --namespace, --from or --to.');
    if (data.why_omitted) notice.push('The explanations of ' + data.why_omitted + ' pairs are not in this page: run `xks-lint why SRC DST`.');
    if (f.badPort) notice.push('port: write a number (8080) or number/protocol (53/UDP).');
    var noticeEl = document.getElementById('notice');
    noticeEl.textContent = notice.join(' ');
    noticeEl.hidden = notice.length === 0;
    writeFragment();
    timing.total = Math.round(performance.now() - t0);
    reportStatus();
  }

  // A deterministic layout, linear in the nodes: what mostly sends (the ingress controller,
  // addresses reaching in) on the left, namespaces in the middle packed in rows (an expanded
  // one a box of its workloads in a grid), what mostly receives (DNS, addresses) on the right.
  function place() {
    var CELL_W = 190, CELL_H = 56, GAP = 50;
    var left = [], right = [], boxes = [];
    cy.nodes().orphans().forEach(function (n) {
      if (n.isParent() || n.hasClass('namespace')) { boxes.push(n); return; }
      var out = n.outgoers('edge').length, inc = n.incomers('edge').length;
      (out > inc ? left : right).push(n);
    });
    var sizes = boxes.map(function (b) {
      // A collapsed namespace gets room around it for the edges and their arrows.
      if (!b.isParent()) return { w: CELL_W + 60, h: CELL_H + 70, cols: 1 };
      var k = b.children().length, cols = Math.max(1, Math.ceil(Math.sqrt(k * 1.6)));
      return { w: cols * CELL_W, h: Math.ceil(k / cols) * CELL_H + 30 + (cols > 1 ? CELL_H * 0.6 : 0), cols: cols };
    });
    var area = sizes.reduce(function (a, z) { return a + (z.w + GAP) * (z.h + GAP); }, 0);
    var rowWidth = Math.max(900, Math.sqrt(area) * 1.4);
    var x0 = left.length ? CELL_W + 2 * GAP : 0, x = x0, y = 0, rowH = 0, maxX = x0;
    var positions = {};
    boxes.forEach(function (b, i) {
      var z = sizes[i];
      if (x > x0 && x + z.w > x0 + rowWidth) { x = x0; y += rowH + GAP; rowH = 0; }
      if (b.isParent()) {
        b.children().sort(function (a, c) { return a.data('label') < c.data('label') ? -1 : 1; }).forEach(function (c, j) {
          // Every other column half a row lower: edges between neighbours do not run
          // through the workloads between them.
          var col = j % z.cols;
          positions[c.id()] = { x: x + col * CELL_W + CELL_W / 2, y: y + 30 + Math.floor(j / z.cols) * CELL_H + CELL_H / 2 + (col % 2) * CELL_H * 0.6 };
        });
      } else {
        positions[b.id()] = { x: x + z.w / 2, y: y + z.h / 2 };
      }
      x += z.w + GAP; rowH = Math.max(rowH, z.h); maxX = Math.max(maxX, x);
    });
    var height = y + rowH;
    function column(list, cx) {
      var step = CELL_H + 24, top = Math.max(0, (height - list.length * step) / 2);
      list.forEach(function (n, i) { positions[n.id()] = { x: cx, y: top + i * step + CELL_H / 2 }; });
    }
    column(left, CELL_W / 2);
    column(right, maxX + GAP + CELL_W / 2);
    cy.layout({ name: 'preset', positions: function (n) { return positions[n.id()] || { x: 0, y: 0 }; }, fit: false, animate: false }).run();
    bounds = { x1: -CELL_W / 2, y1: -CELL_H, x2: maxX + GAP + CELL_W * 1.2, y2: height + CELL_H };
  }

  // Fits the viewport to the layout's own bounds: asking Cytoscape for the bounding box of
  // thousands of elements costs more than the layout.
  var bounds = null;
  function fit() {
    if (!bounds) return;
    var w = cy.width(), h = cy.height(), pad = 30;
    var zoom = Math.min((w - 2 * pad) / (bounds.x2 - bounds.x1), (h - 2 * pad) / (bounds.y2 - bounds.y1));
    zoom = Math.max(cy.minZoom(), Math.min(1.6, zoom));
    cy.viewport({ zoom: zoom, pan: {
      x: (w - zoom * (bounds.x1 + bounds.x2)) / 2,
      y: (h - zoom * (bounds.y1 + bounds.y2)) / 2 } });
  }

  function reportStatus() {
    var labels = [];
    cy.nodes().forEach(function (n) { if (labels.length < 500) labels.push(n.data('label').split('\n')[0]); });
    var edges = [];
    cy.edges().forEach(function (e) {
      if (edges.length < 500) edges.push(e.source().data('label').split('\n')[0] + ' -> ' + e.target().data('label').split('\n')[0] + ' : ' + e.data('label'));
    });
    statusEl.setAttribute('data-state', errors.length ? 'error' : 'ready');
    statusEl.textContent = JSON.stringify({
      state: errors.length ? 'error' : 'ready', nodes: cy.nodes().length, edges: cy.edges().length,
      blocked: cy.edges('.blocked').length, labels: labels, edgeLabels: edges, errors: errors,
      details: details.textContent.slice(0, 4000),
      ms: Math.round(performance.now() - started), sinceNavigation: Math.round(performance.now()), timing: timing, marks: marks
    });
  }

  // ---- side panel ------------------------------------------------------------------------
  var details = document.getElementById('details');
  function clearDetails(title) {
    while (details.firstChild) details.removeChild(details.firstChild);
    details.appendChild(el('h2', title));
  }
  function whyBlock(index, src, dst) {
    var box = el('div');
    if (index !== undefined && index !== null && index >= 0 && data.why[index] !== undefined) {
      box.appendChild(el('pre', data.why[index].map(function (i) { return data.why_lines[i]; }).join('\n')));
    } else {
      box.appendChild(el('p', 'No explanation embedded for this pair.', 'hint'));
    }
    if (src.kind !== 'ip' || dst.kind !== 'ip') {
      box.appendChild(el('p', 'xks-lint why ' + whyArg(src) + ' ' + whyArg(dst), 'mono hint'));
    }
    return box;
  }
  function whyArg(n) {
    if (n.kind === 'ip') return n.label.split('-')[0];
    return "'" + n.label.replace(/^\{|\}$/g, '') + "'";
  }
  function showAllowed(k) {
    var e = data.edges[k];
    var s = nodes[e[0]], d = nodes[e[1]];
    clearDetails('Allowed');
    details.appendChild(el('p', s.label + ' \u2192 ' + d.label, 'mono'));
    details.appendChild(el('p', conns[e[2]].text));
    details.appendChild(whyBlock(e[3], s, d));
  }
  function showBlocked(k) {
    var b = data.blocked[k];
    var s = nodes[b.src], d = nodes[b.dst];
    clearDetails('Blocked');
    details.appendChild(el('p', s.label + ' \u2192 ' + d.label, 'mono'));
    details.appendChild(el('p', 'BLOCKED ' + conns[b.conns].text));
    var p = el('p');
    p.appendChild(el('span', b.rule, 'rule'));
    p.appendChild(document.createTextNode(' at '));
    p.appendChild(el('span', b.at, 'mono'));
    details.appendChild(p);
    details.appendChild(el('p', b.reason));
    details.appendChild(el('h2', 'What the policies allow (why)'));
    details.appendChild(whyBlock(b.why, s, d));
  }
  function showGroup(g) {
    if (g.defaultOf !== undefined) {
      var ns = namespaces[g.defaultOf];
      clearDetails('XKS intra-namespace default');
      details.appendChild(el('p', 'Namespace ' + ns.name + ' has the implicit default-deny of XKS, which allows all connections between its own pods: ' + ns.default_pairs + ' workload pairs reach each other on all connections (hide them with the toggle above).'));
      return;
    }
    if (g.change) {
      clearDetails((g.change === 'opened' ? 'Opened' : 'Closed') + ' since ' + data.diff.base + ': ' + g.count + ' pair' + (g.count === 1 ? '' : 's'));
      g.items.forEach(function (k) {
        var c = changes[k];
        details.appendChild(el('p', nodes[c.src].label + ' \u2192 ' + nodes[c.dst].label + ' : ' + c.conns, 'mono'));
        if (c.responsible.length) details.appendChild(el('pre', c.responsible.join('\n')));
      });
      return;
    }
    if (g.items.length === 1 && g.count === 1) {
      if (g.blocked) showBlocked(g.items[0]); else showAllowed(g.items[0]);
      return;
    }
    clearDetails((g.blocked ? 'Blocked' : 'Allowed') + ': ' + g.count + ' pairs');
    details.appendChild(el('p', unionText(g.conns)));
    details.appendChild(el('p', 'Click a pair for its explanation' + (g.count > g.items.length ? ' (first ' + g.items.length + ' shown)' : '') + ':', 'hint'));
    g.items.forEach(function (k) {
      var s, d, text;
      if (g.blocked) { var b = data.blocked[k]; s = nodes[b.src]; d = nodes[b.dst]; text = conns[b.conns].text; }
      else { var e = data.edges[k]; s = nodes[e[0]]; d = nodes[e[1]]; text = conns[e[2]].text; }
      var row = el('div', s.label + ' \u2192 ' + d.label + ' : ' + text, 'pair mono');
      row.addEventListener('click', function () { if (g.blocked) showBlocked(k); else showAllowed(k); });
      details.appendChild(row);
    });
  }
  function showNode(id) {
    var node = cy.getElementById(id);
    clearDetails(node.isParent() || node.hasClass('namespace') ? 'Namespace' : 'Node');
    details.appendChild(el('p', node.data('label').replace('\n', ' \u2014 '), 'mono'));
    details.appendChild(el('p', node.connectedEdges().length + ' edges shown', 'hint'));
  }

  cy.on('mouseover', 'edge', function (evt) { evt.target.addClass('hover'); });
  cy.on('mouseout', 'edge', function (evt) { evt.target.removeClass('hover'); });
  cy.on('tap', 'edge', function (evt) {
    var g = shown.edges[evt.target.id()];
    if (g) showGroup(g);
  });
  cy.on('tap', 'node', function (evt) {
    var id = evt.target.id();
    if (id.indexOf('ns') === 0) {
      var ns = Number(id.slice(2));
      state.expanded[ns] = !state.expanded[ns];
      render();
      showNode(id);
      return;
    }
    showNode(id);
  });

  function buildFindings() {
    var box = document.getElementById('findings');
    if (!data.blocked.length) { box.appendChild(el('p', 'None: every pair one side opens, the other admits.', 'hint')); return; }
    data.blocked.slice(0, 500).forEach(function (b, k) {
      var row = el('div', null, 'finding');
      var head = el('div');
      head.appendChild(el('span', b.rule, 'rule'));
      head.appendChild(document.createTextNode(' ' + nodes[b.src].label + ' \u2192 ' + nodes[b.dst].label + ' : ' + conns[b.conns].text));
      row.appendChild(head);
      row.appendChild(el('div', b.at, 'at'));
      row.addEventListener('click', function () { showBlocked(k); });
      box.appendChild(row);
    });
    if (data.blocked.length > 500) box.appendChild(el('p', (data.blocked.length - 500) + ' more: see `xks-lint check`.', 'hint'));
  }
  function buildLegend() {
    var box = document.getElementById('legend');
    box.appendChild(el('h2', 'Legend'));
    var grid = el('div', null, 'legend');
    [['#1565c0', '#e3f2fd', 'workload', false], ['#3949ab', '#e8eaf6', 'namespace (click: expand / collapse)', false],
     ['#e65100', '#fff3e0', 'platform endpoint (ingress controller, Envoy Gateway, DNS)', false],
     ['#6a1b9a', '#f3e5f5', 'IP block (CIDR)', false], ['#8c959f', null, 'allowed (label: protocols and ports)', true],
     ['#d00000', null, 'blocked half of a pair (a finding, with file:line)', true],
     ['#9fa8da', null, 'XKS intra-namespace default', true]].concat(data.diff ? [
     ['#1a7f37', null, 'opened since ' + data.diff.base, true], ['#57606a', null, 'closed since ' + data.diff.base, true]] : []).forEach(function (item) {
      var sw = el('div', null, 'swatch' + (item[3] ? ' edge' : ''));
      sw.style.borderColor = item[0];
      if (item[1]) sw.style.background = item[1];
      if (item[0] === '#d00000') sw.style.borderTopStyle = 'dashed';
      if (item[0] === '#9fa8da') sw.style.borderTopStyle = 'dotted';
      grid.appendChild(sw);
      grid.appendChild(el('div', item[2]));
    });
    box.appendChild(grid);
    var totals = workloads + ' workloads in ' + namespaces.length + ' namespaces, ' + data.edges.length + ' allowed connections (XKS defaults counted apart), ' + data.blocked.length + ' blocked';
    box.appendChild(el('p', totals, 'hint'));
  }

  // ---- controls ------------------------------------------------------------------------
  var inputs = {
    ns: document.getElementById('f-ns'), q: document.getElementById('f-workload'), port: document.getElementById('f-port'),
    hide: document.getElementById('f-hide-default'), cross: document.getElementById('f-cross'),
    changed: document.getElementById('f-changed')
  };
  if (data.diff) document.getElementById('changed-toggle').hidden = false;
  function syncInputs() {
    inputs.ns.value = state.ns; inputs.q.value = state.q; inputs.port.value = state.port;
    inputs.hide.checked = state.hideDefault; inputs.cross.checked = state.cross; inputs.changed.checked = state.changed;
  }
  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(render, 250); }
  inputs.ns.addEventListener('input', function () { state.ns = inputs.ns.value; later(); });
  inputs.q.addEventListener('input', function () { state.q = inputs.q.value; later(); });
  inputs.port.addEventListener('input', function () { state.port = inputs.port.value; later(); });
  inputs.hide.addEventListener('change', function () { state.hideDefault = inputs.hide.checked; render(); });
  inputs.cross.addEventListener('change', function () { state.cross = inputs.cross.checked; render(); });
  inputs.changed.addEventListener('change', function () { state.changed = inputs.changed.checked; render(); });
  // Expanding everything of a large repository would draw thousands of boxes: then only the
  // namespaces the namespace filter names open.
  document.getElementById('expand-all').addEventListener('click', function () {
    var names = selectedNamespaces();
    if (workloads > 1000 && !names.length) {
      var noticeEl = document.getElementById('notice');
      noticeEl.textContent = workloads + ' workloads are too many to draw at once: filter by namespace first, or click a namespace to expand it.';
      noticeEl.hidden = false;
      return;
    }
    namespaces.forEach(function (ns, i) { if (!names.length || names.indexOf(ns.name) >= 0) state.expanded[i] = true; });
    render();
  });
  document.getElementById('collapse-all').addEventListener('click', function () { state.expanded = {}; render(); });
  document.getElementById('fit').addEventListener('click', fit);
  window.addEventListener('hashchange', function () { readFragment(); syncInputs(); render(); });

  var list = document.getElementById('ns-list');
  namespaces.forEach(function (ns) { var o = el('option'); o.value = ns.name; list.appendChild(o); });
  document.getElementById('title').textContent = data.title;
  readFragment();
  syncInputs();
  buildLegend();
  buildFindings();
  marks.panel = Math.round(performance.now() - started);
  render();
  // `#show=edge:K` or `#show=blocked:K`: open the details of one pair (links, tests).
  var show = /^(edge|blocked):(\d+)$/.exec(state.show || '');
  if (show) {
    var k = Number(show[2]);
    if (show[1] === 'edge' && k < data.edges.length) showAllowed(k);
    if (show[1] === 'blocked' && k < data.blocked.length) showBlocked(k);
    reportStatus();
  }
})();
