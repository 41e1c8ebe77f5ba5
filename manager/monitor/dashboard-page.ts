/**
 * The dashboard (4.4.4, and issue #17's fleet console): one self-contained page, no CDN (there
 * may be no internet). It polls /api/dashboard and draws the plots as inline SVG with plain
 * browser JavaScript. Text from the network (nicknames, JIDs, statuses, batch ids) is only ever
 * set with textContent or setAttribute. The Content-Security-Policy allows exactly this page's
 * script and style (by hash), requests to its own origin, and no framing.
 */
import { createHash } from 'node:crypto';

const DASHBOARD_STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1d2733; }
  header { background: #1d3557; color: #fff; padding: 12px 20px; display: flex; justify-content: space-between; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { font-size: 12px; opacity: .8; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  .tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
  .tile { background: #fff; border-radius: 6px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .tile h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; margin: 0 0 4px; color: #5b6b7c; }
  .tile .value { font-size: 32px; font-weight: 600; }
  .tile svg { display: block; width: 100%; height: 40px; margin-top: 6px; }
  .queued .value { color: #7a5af8; } .running .value { color: #2a7de1; }
  .succeeded .value { color: #1e9e5a; } .failed .value { color: #d64545; }
  section { background: #fff; border-radius: 6px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  section h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e9ed; font-variant-numeric: tabular-nums; }
  td svg { width: 160px; height: 24px; display: block; }
  .down { color: #d64545; }
  footer { font-size: 12px; color: #5b6b7c; padding: 0 20px 16px; }
  .plots { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
  .plot svg { display: block; width: 100%; height: 90px; background: #fafbfc; }
  .plot .range { font-size: 11px; color: #5b6b7c; }
  .legend span { font-size: 11px; margin-right: 8px; }
  .swatch { display: inline-block; width: 9px; height: 9px; margin-right: 3px; }
  td svg.progress { width: 200px; height: 12px; }
  .admin[hidden] { display: none; }
  .admin { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
  .admin input { font: inherit; padding: 3px 6px; width: 260px; }
  button { font: inherit; font-size: 12px; padding: 2px 8px; margin-right: 2px; cursor: pointer; }
  #fleet td { max-width: 220px; overflow-wrap: anywhere; font-size: 12px; }
  .muted { color: #5b6b7c; font-size: 12px; }
  .refused { color: #d64545; }
  .attach-view:not([hidden]) { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
  #attach-qr { width: 560px; max-width: 100%; height: auto; background: #fff; }
  #attach-link { font: 12px/1.3 ui-monospace, monospace; width: 100%; min-width: 280px; height: 140px; overflow-wrap: anywhere; }
  .attach-text { flex: 1; min-width: 280px; }
`;

const DASHBOARD_BODY = `<body>
<header><h1>Co-Pilot Dashboard</h1><span id="updated">connecting…</span></header>
<main>
  <div class="tiles">
    <div class="tile queued"><h2>Queued jobs</h2><div class="value" id="queued">–</div><svg id="plot-queued" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
    <div class="tile running"><h2>Running jobs</h2><div class="value" id="running">–</div><svg id="plot-running" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
    <div class="tile succeeded"><h2>Succeeded</h2><div class="value" id="succeeded">–</div><svg id="plot-succeeded" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
    <div class="tile failed"><h2>Failed</h2><div class="value" id="failed">–</div><svg id="plot-failed" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
  </div>
  <div class="plots">
    <section class="plot"><h2>Jobs finished per hour</h2><svg id="plot-hourly" viewBox="0 0 300 90" preserveAspectRatio="none"></svg>
      <div class="legend"><span><i class="swatch" id="swatch-done"></i>done</span><span><i class="swatch" id="swatch-failed"></i>failed</span></div><div class="range" id="range-hourly"></div></section>
    <section class="plot"><h2>Failures per hour</h2><svg id="plot-failures" viewBox="0 0 300 90" preserveAspectRatio="none"></svg><div class="range" id="range-failures"></div></section>
    <section class="plot"><h2>Queue length</h2><svg id="plot-queue" viewBox="0 0 300 90" preserveAspectRatio="none"></svg>
      <div class="legend"><span><i class="swatch" id="swatch-queued"></i>queued</span><span><i class="swatch" id="swatch-running"></i>running</span></div><div class="range" id="range-queue"></div></section>
  </div>
  <section>
    <h2>Batches (<span id="batch-count">0</span>)</h2>
    <table>
      <thead><tr><th>Batch</th><th>Manager</th><th>Jobs</th><th>Queued</th><th>Running</th><th>Done</th><th>Failed</th><th>Cancelled</th><th>Progress</th></tr></thead>
      <tbody id="batches"></tbody>
    </table>
  </section>
  <section id="console" hidden>
    <h2>Fleet console <span id="console-room"></span> (<span id="fleet-count">0</span>)</h2>
    <div class="muted" id="console-account"></div>
    <div class="admin" id="admin-bar">
      <label>Admin token <input type="password" id="admin-token" autocomplete="off" spellcheck="false"></label>
      <button type="button" data-action="ask" data-target="all">Ask all now</button>
      <button type="button" data-action="drain" data-target="all">Drain all</button>
      <button type="button" data-action="pause" data-target="all">Pause all</button>
      <button type="button" data-action="resume" data-target="all">Resume all</button>
      <span id="action-status" class="muted"></span>
    </div>
    <table>
      <thead><tr><th>Room nick</th><th>Kind</th><th>JID</th><th>State</th><th>Load</th><th>Memory</th><th>Disk</th><th>Processes</th><th>Last seen</th><th>Last order</th><th>Actions</th></tr></thead>
      <tbody id="fleet"></tbody>
    </table>
    <div class="muted" id="console-refused"></div>
  </section>
  <section id="attach" hidden>
    <h2>Attach a volunteer</h2>
    <div class="muted">The attach link carries a one-use invite to the XMPP server: it is shown only to holders of the admin token. Volunteers open it with Co-Pilot Desktop, scan the QR code, or run copilot-agent --attach.</div>
    <div class="admin">
      <label>Admin token <input type="password" id="attach-token" autocomplete="off" spellcheck="false"></label>
      <button type="button" id="attach-show">Show attach link</button>
      <span id="attach-status" class="muted"></span>
    </div>
    <div class="attach-view" id="attach-view" hidden>
      <img id="attach-qr" alt="QR code of the attach link">
      <div class="attach-text">
        <div><strong id="attach-project"></strong> <span class="muted" id="attach-monitor"></span></div>
        <textarea id="attach-link" readonly spellcheck="false"></textarea>
        <div><button type="button" id="attach-copy">Copy link</button> <span id="attach-copied" class="muted"></span></div>
      </div>
    </div>
  </section>
  <section>
    <h2>Connected components <span id="room"></span> (<span id="agent-count">0</span>)</h2>
    <table>
      <thead><tr><th>Room nick</th><th>1min</th><th>5min</th><th>15min</th><th>Load (1min)</th><th>Last answer</th></tr></thead>
      <tbody id="agents"></tbody>
    </table>
  </section>
</main>
<footer><div id="carbon"></div><div id="dropped"></div></footer>
`;

const DASHBOARD_SCRIPT = `
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var colours = { queued: '#7a5af8', running: '#2a7de1', succeeded: '#1e9e5a', failed: '#d64545', cancelled: '#9aa5b1' };
  var TOKEN_KEY = 'copilot-monitor-admin-token';
  var ORDERS = ['drain', 'pause', 'resume'];

  // Every peer-supplied string (nicknames, JIDs, statuses, batch ids) goes into the page with
  // textContent or setAttribute, never as markup.
  function cell(row, value, className) {
    var td = document.createElement('td');
    td.textContent = value;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function svgChild(svg, tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (name) { node.setAttribute(name, String(attrs[name])); });
    svg.appendChild(node);
    return node;
  }
  function finite(v) { return typeof v === 'number' && isFinite(v); }

  function drawLine(svg, values, colour, width, height, max) {
    var numbers = values.filter(finite);
    if (numbers.length === 0) return;
    var top = max || Math.max.apply(null, numbers.concat([1]));
    var step = values.length > 1 ? width / (values.length - 1) : width;
    var points = [];
    values.forEach(function (v, i) {
      if (!finite(v)) return;
      var x = values.length > 1 ? i * step : width / 2;
      var y = height - 2 - (v / top) * (height - 4);
      points.push(x.toFixed(1) + ',' + y.toFixed(1));
    });
    svgChild(svg, 'polyline', { points: points.join(' '), fill: 'none', stroke: colour, 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' });
    if (points.length === 1) {
      var xy = points[0].split(',');
      svgChild(svg, 'circle', { cx: xy[0], cy: xy[1], r: 2, fill: colour });
    }
  }

  // Stacked bars, one per entry; layers: [{ key, colour }].
  function drawBars(svg, entries, layers, width, height) {
    clear(svg);
    if (entries.length === 0) return 0;
    var totals = entries.map(function (e) { return layers.reduce(function (s, l) { return s + (e[l.key] || 0); }, 0); });
    var max = Math.max.apply(null, totals.concat([1]));
    var slot = width / entries.length;
    entries.forEach(function (entry, i) {
      var y = height;
      layers.forEach(function (layer) {
        var value = entry[layer.key] || 0;
        if (value <= 0) return;
        var h = (value / max) * (height - 2);
        y -= h;
        svgChild(svg, 'rect', { x: (i * slot + slot * 0.1).toFixed(1), y: y.toFixed(1), width: (slot * 0.8).toFixed(1), height: h.toFixed(1), fill: layer.colour, 'data-value': value });
      });
    });
    return Math.max.apply(null, totals);
  }

  function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }
  function range(entries, spanMs) {
    if (entries.length === 0) return 'no samples yet';
    return clock(entries[0].t) + ' – ' + clock(entries[entries.length - 1].t + spanMs);
  }

  function renderPlots(rates) {
    var hourly = rates.hourly;
    var maxHour = drawBars(document.getElementById('plot-hourly'), hourly,
      [{ key: 'succeeded', colour: colours.succeeded }, { key: 'failed', colour: colours.failed }], 300, 90);
    document.getElementById('range-hourly').textContent = range(hourly, 3600000) + ' · most ' + maxHour + ' jobs in an hour';
    var maxFailed = drawBars(document.getElementById('plot-failures'), hourly, [{ key: 'failed', colour: colours.failed }], 300, 90);
    document.getElementById('range-failures').textContent = range(hourly, 3600000) + ' · most ' + maxFailed + ' failures in an hour';
    var queue = document.getElementById('plot-queue');
    clear(queue);
    var queued = rates.queue.map(function (p) { return p.queued; });
    var running = rates.queue.map(function (p) { return p.running; });
    var max = Math.max.apply(null, queued.concat(running).filter(finite).concat([1]));
    drawLine(queue, queued, colours.queued, 300, 90, max);
    drawLine(queue, running, colours.running, 300, 90, max);
    document.getElementById('range-queue').textContent = range(rates.queue, 60000) + ' · up to ' + max + ' jobs';
  }

  var BATCH_LAYERS = [
    { key: 'done', colour: colours.succeeded }, { key: 'failed', colour: colours.failed },
    { key: 'cancelled', colour: colours.cancelled }, { key: 'active', colour: colours.running },
    { key: 'queued', colour: colours.queued }
  ];
  function renderBatches(batches) {
    var body = document.getElementById('batches');
    clear(body);
    batches.forEach(function (b) {
      var c = b.counts;
      var active = c.leased + c.running + c.uploading;
      var row = document.createElement('tr');
      row.setAttribute('data-batch', b.batch);
      [b.batch, b.component, b.total, c.queued, active, c.done, c.failed, c.cancelled].forEach(function (v) { cell(row, String(v)); });
      var td = cell(row, '');
      var svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('class', 'progress');
      svg.setAttribute('viewBox', '0 0 200 12');
      svg.setAttribute('preserveAspectRatio', 'none');
      var parts = { done: c.done, failed: c.failed, cancelled: c.cancelled, active: active, queued: c.queued };
      var x = 0;
      BATCH_LAYERS.forEach(function (layer) {
        var w = b.total > 0 ? (parts[layer.key] / b.total) * 200 : 0;
        if (w > 0) svgChild(svg, 'rect', { x: x.toFixed(1), y: 0, width: w.toFixed(1), height: 12, fill: layer.colour });
        x += w;
      });
      td.appendChild(svg);
      var finished = c.done + c.failed + c.cancelled;
      var label = document.createElement('span');
      label.className = 'muted';
      label.textContent = (b.total > 0 ? Math.floor((finished / b.total) * 100) : 0) + ' % finished';
      td.appendChild(label);
      body.appendChild(row);
    });
    document.getElementById('batch-count').textContent = String(batches.length);
  }

  function statusText(s) {
    if (!s) return '–';
    var text = s.status !== undefined ? s.status : '–';
    return s.failure ? text + ' (' + s.failure + ')' : text;
  }
  function ago(ms, nowMs) {
    if (!ms) return 'never';
    var seconds = Math.max(0, Math.round((nowMs - ms) / 1000));
    return seconds < 120 ? seconds + ' s ago' : Math.round(seconds / 60) + ' min ago';
  }
  function button(parent, action, nick, label) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.setAttribute('data-action', action);
    b.setAttribute('data-target', nick);
    b.setAttribute('data-member', 'true');
    parent.appendChild(b);
  }

  function renderConsole(data) {
    var c = data.console;
    var section = document.getElementById('console');
    section.hidden = !c;
    if (!c) return;
    var nowMs = new Date(data.generatedAt).getTime();
    document.getElementById('console-room').textContent = 'in ' + c.room + (c.joined ? '' : ' (not joined)');
    document.getElementById('console-account').textContent = 'Orders are sent from ' + c.jid +
      ': agents follow them when their AGENT_ADMIN_JIDS lists this account. ' +
      (c.actionsEnabled ? 'Actions need the admin token.' : 'Read-only: no MON_ADMIN_TOKEN_FILE is configured.');
    document.getElementById('admin-bar').hidden = !c.actionsEnabled;
    var body = document.getElementById('fleet');
    clear(body);
    c.members.forEach(function (m) {
      var row = document.createElement('tr');
      row.setAttribute('data-nick', m.nick);
      row.setAttribute('data-kind', m.kind);
      cell(row, m.nick, 'nick');
      cell(row, m.kind, 'kind');
      cell(row, m.realJid || '(hidden by the room)', 'jid');
      ['agentState', 'systemLoad', 'memoryUsage', 'diskUsage', 'runningProcesses'].forEach(function (name) {
        cell(row, statusText(m.statuses[name]), 'c-' + name);
      });
      cell(row, ago(m.lastSeenMs, nowMs), 'seen');
      var order = m.lastOrder;
      cell(row, order ? order.order + ': ' + order.outcome + (order.detail ? ' (' + order.detail + ')' : '') : '–', 'order');
      var actions = cell(row, '', 'actions');
      if (c.actionsEnabled && m.kind !== 'client') {
        button(actions, 'ask', m.nick, 'Ask now');
        if (m.kind !== 'monitor') ORDERS.forEach(function (o) { button(actions, o, m.nick, o.charAt(0).toUpperCase() + o.slice(1)); });
      }
      body.appendChild(row);
    });
    document.getElementById('fleet-count').textContent = String(c.members.length);
    var r = c.refused;
    var refused = r.token + r.origin + r['content-type'] + r.method + r.disabled;
    var line = document.getElementById('console-refused');
    line.textContent = 'Refused action requests: ' + refused + ' (wrong or missing token ' + r.token + ', other origin ' + r.origin + ')';
    line.className = refused > 0 ? 'muted refused' : 'muted';
  }

  function renderLoads(data) {
    var body = document.getElementById('agents');
    clear(body);
    data.agents.forEach(function (agent) {
      var row = document.createElement('tr');
      row.setAttribute('data-nick', agent.nick);
      var cells = [agent.nick].concat(agent.load ? agent.load.map(function (v) { return v.toFixed(2); }) : ['–', '–', '–']);
      cells.forEach(function (value) { cell(row, value); });
      var plotCell = cell(row, '');
      var svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('viewBox', '0 0 160 24');
      svg.setAttribute('preserveAspectRatio', 'none');
      plotCell.appendChild(svg);
      drawLine(svg, agent.history, '#2a7de1', 160, 24);
      var last = cell(row, agent.lastAnswerMs ? new Date(agent.lastAnswerMs).toLocaleTimeString() : 'never');
      if (!agent.answering) last.className = 'down';
      body.appendChild(row);
    });
    document.getElementById('agent-count').textContent = String(data.agents.length);
    document.getElementById('room').textContent = data.room ? 'in ' + data.room : '';
  }

  function render(data) {
    var jobs = data.jobs;
    ['queued', 'running', 'succeeded', 'failed'].forEach(function (name) {
      document.getElementById(name).textContent = jobs[name] === null || jobs[name] === undefined ? '–' : String(jobs[name]);
      var series = data.history.map(function (p) {
        return name === 'succeeded' ? p.succeededInSample : name === 'failed' ? p.failedInSample : p[name];
      });
      var svg = document.getElementById('plot-' + name);
      clear(svg);
      drawLine(svg, series, colours[name], 200, 40);
    });
    renderPlots(data.rates);
    renderBatches(data.batches);
    renderConsole(data);
    renderLoads(data);
    document.getElementById('attach').hidden = !data.attachLink;
    document.getElementById('updated').textContent = 'updated ' + new Date(data.generatedAt).toLocaleTimeString() +
      ' · sample every ' + data.sampleSeconds + ' s';
    document.getElementById('carbon').textContent = 'Carbon: ' + (data.carbon.connected ? 'connected' : 'not connected') +
      ' · ' + data.carbon.sentLines + ' lines sent · ' + data.carbon.bufferedLines + ' buffered · ' +
      data.carbon.droppedLines + ' dropped · ' + data.updates.lastSample + ' updates in the last sample';
    var dropped = data.dropped;
    document.getElementById('dropped').textContent = 'Dropped reports: ' + dropped.sender +
      ' from senders not allowed · ' + dropped.path + ' bad paths · ' + dropped.value +
      ' bad values · ' + dropped['series-cap'] + ' over the series cap';
    document.body.setAttribute('data-loaded', 'true');
  }

  function refresh() {
    fetch('api/dashboard', { cache: 'no-store' })
      .then(function (response) { return response.json(); })
      .then(render)
      .catch(function (error) { document.getElementById('updated').textContent = 'error: ' + error.message; });
  }

  function describe(action, body) {
    if (action === 'ask') return 'asked ' + body.asked + ' questions, ' + body.answered + ' answered';
    var text = action + ' sent to ' + (body.sent.length ? body.sent.join(', ') : 'nobody');
    if (body.skipped.length) text += '; not sent to ' + body.skipped.map(function (s) { return s.nick + ' (' + s.why + ')'; }).join(', ');
    return text;
  }

  function act(action, target, member) {
    var status = document.getElementById('action-status');
    if (!member && action !== 'ask' && !window.confirm(action + ' every agent in the room?')) return;
    var token = document.getElementById('admin-token').value.trim();
    var path = action === 'ask' ? 'api/console/ask' : 'api/console/order';
    // One member is always named as { nick }: a member may have taken the nickname "all".
    var to = member ? { nick: target } : 'all';
    var body = action === 'ask' ? { target: to, component: 'all' } : { target: to, order: action };
    status.textContent = action + ' ' + (member ? target : 'all') + '…';
    fetch(path, {
      method: 'POST', cache: 'no-store', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        return response.json().then(function (json) { return { ok: response.ok, json: json }; });
      })
      .then(function (result) {
        status.textContent = result.ok ? describe(action, result.json) : action + ' refused: ' + result.json.error;
        status.setAttribute('data-outcome', result.ok ? 'ok' : 'refused');
        refresh();
      })
      .catch(function (error) { status.textContent = action + ' failed: ' + error.message; });
  }

  document.getElementById('console').addEventListener('click', function (event) {
    var target = event.target;
    if (!(target instanceof HTMLButtonElement)) return;
    var action = target.getAttribute('data-action');
    if (action) act(action, target.getAttribute('data-target') || '', target.getAttribute('data-member') === 'true');
  });
  var tokenInput = document.getElementById('admin-token');
  tokenInput.value = window.sessionStorage.getItem(TOKEN_KEY) || '';
  tokenInput.addEventListener('change', function () { window.sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()); });

  // The attach link: asked for with the admin token (it carries an invite), never polled.
  var attachToken = document.getElementById('attach-token');
  attachToken.value = window.sessionStorage.getItem(TOKEN_KEY) || '';
  attachToken.addEventListener('change', function () { window.sessionStorage.setItem(TOKEN_KEY, attachToken.value.trim()); });
  function showAttachLink() {
    var status = document.getElementById('attach-status');
    status.textContent = 'asking…';
    fetch('api/attach-link', {
      method: 'POST', cache: 'no-store', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + attachToken.value.trim() },
      body: '{}'
    })
      .then(function (response) {
        return response.json().then(function (json) { return { ok: response.ok, json: json }; });
      })
      .then(function (result) {
        var view = document.getElementById('attach-view');
        if (!result.ok) {
          view.hidden = true;
          status.textContent = 'refused: ' + result.json.error;
          status.setAttribute('data-outcome', 'refused');
          return;
        }
        var link = result.json;
        document.getElementById('attach-project').textContent = link.projectName;
        document.getElementById('attach-monitor').textContent = link.monitorAddresses.length
          ? 'agents report their load and jobs to ' + link.monitorAddresses.join(', ') : '';
        document.getElementById('attach-link').value = link.link;
        var qr = document.getElementById('attach-qr');
        qr.hidden = !link.qr;
        if (link.qr) qr.setAttribute('src', link.qr);
        status.textContent = link.qr ? '' : 'no QR code: ' + link.qrError;
        status.setAttribute('data-outcome', 'ok');
        view.hidden = false;
      })
      .catch(function (error) { status.textContent = 'failed: ' + error.message; });
  }
  document.getElementById('attach-show').addEventListener('click', showAttachLink);
  document.getElementById('attach-copy').addEventListener('click', function () {
    var text = document.getElementById('attach-link');
    var copied = document.getElementById('attach-copied');
    function fallback() {
      text.select();
      copied.textContent = document.execCommand('copy') ? 'copied' : 'select the text and copy it';
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.value).then(function () { copied.textContent = 'copied'; }, fallback);
    } else fallback();
  });
  [['swatch-done', colours.succeeded], ['swatch-failed', colours.failed], ['swatch-queued', colours.queued], ['swatch-running', colours.running]]
    .forEach(function (pair) { document.getElementById(pair[0]).style.background = pair[1]; });
  refresh();
  setInterval(refresh, 2000);
})();
`;

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The page's Content-Security-Policy header. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${cspHash(DASHBOARD_SCRIPT)}`,
  `style-src ${cspHash(DASHBOARD_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Co-Pilot Dashboard</title>
<style>${DASHBOARD_STYLE}</style>
</head>
${DASHBOARD_BODY}<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
