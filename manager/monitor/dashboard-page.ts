/**
 * The dashboard (4.4.4): one self-contained page, no CDN (there may be no internet). It polls
 * /api/dashboard and draws the plots as inline SVG with plain browser JavaScript. Text from the
 * network (room nicks) is only ever set with textContent.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Co-Pilot Dashboard</title>
<style>
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
</style>
</head>
<body>
<header><h1>Co-Pilot Dashboard</h1><span id="updated">connecting…</span></header>
<main>
  <div class="tiles">
    <div class="tile queued"><h2>Queued jobs</h2><div class="value" id="queued">–</div><svg id="plot-queued" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
    <div class="tile running"><h2>Running jobs</h2><div class="value" id="running">–</div><svg id="plot-running" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
    <div class="tile succeeded"><h2>Succeeded</h2><div class="value" id="succeeded">–</div><svg id="plot-succeeded" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
    <div class="tile failed"><h2>Failed</h2><div class="value" id="failed">–</div><svg id="plot-failed" viewBox="0 0 200 40" preserveAspectRatio="none"></svg></div>
  </div>
  <section>
    <h2>Connected components <span id="room"></span> (<span id="agent-count">0</span>)</h2>
    <table>
      <thead><tr><th>Room nick</th><th>1min</th><th>5min</th><th>15min</th><th>Load (1min)</th><th>Last answer</th></tr></thead>
      <tbody id="agents"></tbody>
    </table>
  </section>
</main>
<footer><div id="carbon"></div><div id="dropped"></div></footer>
<script>
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var colours = { queued: '#7a5af8', running: '#2a7de1', succeeded: '#1e9e5a', failed: '#d64545' };

  function drawLine(svg, values, colour, width, height) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var numbers = values.filter(function (v) { return typeof v === 'number' && isFinite(v); });
    if (numbers.length === 0) return;
    var max = Math.max.apply(null, numbers.concat([1]));
    var step = values.length > 1 ? width / (values.length - 1) : width;
    var points = [];
    values.forEach(function (v, i) {
      if (typeof v !== 'number' || !isFinite(v)) return;
      var x = values.length > 1 ? i * step : width / 2;
      var y = height - 2 - (v / max) * (height - 4);
      points.push(x.toFixed(1) + ',' + y.toFixed(1));
    });
    var line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', colour);
    line.setAttribute('stroke-width', '2');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(line);
  }

  function text(value) { return value === null || value === undefined ? '–' : String(value); }

  function render(data) {
    var jobs = data.jobs;
    ['queued', 'running', 'succeeded', 'failed'].forEach(function (name) {
      document.getElementById(name).textContent = text(jobs[name]);
      var series = data.history.map(function (p) {
        return name === 'succeeded' ? p.succeededInSample : name === 'failed' ? p.failedInSample : p[name];
      });
      drawLine(document.getElementById('plot-' + name), series, colours[name], 200, 40);
    });
    var body = document.getElementById('agents');
    while (body.firstChild) body.removeChild(body.firstChild);
    data.agents.forEach(function (agent) {
      var row = document.createElement('tr');
      row.setAttribute('data-nick', agent.nick);
      var cells = [agent.nick].concat(agent.load ? agent.load.map(function (v) { return v.toFixed(2); }) : ['–', '–', '–']);
      cells.forEach(function (value) {
        var td = document.createElement('td');
        td.textContent = value;
        row.appendChild(td);
      });
      var plotCell = document.createElement('td');
      var svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('viewBox', '0 0 160 24');
      svg.setAttribute('preserveAspectRatio', 'none');
      plotCell.appendChild(svg);
      row.appendChild(plotCell);
      drawLine(svg, agent.history, '#2a7de1', 160, 24);
      var last = document.createElement('td');
      last.textContent = agent.lastAnswerMs ? new Date(agent.lastAnswerMs).toLocaleTimeString() : 'never';
      if (!agent.answering) last.className = 'down';
      row.appendChild(last);
      body.appendChild(row);
    });
    document.getElementById('agent-count').textContent = String(data.agents.length);
    document.getElementById('room').textContent = data.room ? 'in ' + data.room : '';
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
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`;
