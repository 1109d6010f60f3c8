import Foundation
import Report
import Store

extension WebServer {
    /// The live page: the current run, updated every second from `/api/live`, and the list of
    /// stored runs with links to their reports.
    func dashboard() throws -> String {
        let runs = try withStore { try RunsList(store: $0) }
        var rows = ""
        for entry in runs.entries.reversed() {
            let cells = [
                "<a href=\"/runs/\(entry.id)\">\(entry.id)</a>", HTMLReport.escape(Names.escaped(entry.master)),
                entry.status.rawValue, String(entry.slaves), String(entry.requests), String(entry.failures),
                String(format: "%.1f", entry.requestsPerSecond), String(format: "%.2f", entry.p99Milliseconds),
                "<a href=\"/api/runs/\(entry.id)\">json</a>",
            ]
            rows += "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>goloadtest</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
            table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
            th, td { padding: 0.2em 0.6em; text-align: right; border-bottom: 1px solid #ddd; }
            #live dl { display: grid; grid-template-columns: repeat(5, auto); gap: 0.2em 1.5em; }
            #live dt { color: #666; font-size: 12px; } #live dd { margin: 0; font-size: 20px; font-variant-numeric: tabular-nums; }
            svg { width: 100%; height: 160px; border: 1px solid #ddd; }
            h3 { font-size: 13px; font-weight: normal; color: #666; margin: 1em 0 0.2em; }
            .legend span { margin-right: 1em; white-space: nowrap; } .legend i { display: inline-block; width: 1em; height: 3px; vertical-align: middle; margin-right: 0.3em; }
            </style></head>
            <body>
            <h1>goloadtest</h1>
            <section id="live"><h2 id="live-title">No run since this master started</h2>
            <form id="control" onsubmit="return false"><button id="start" type="button">Start a run</button>
            <button id="stop" type="button">Stop the run</button>
            <input id="token" type="password" placeholder="token, if the master has one" autocomplete="off">
            <span id="control-answer"></span></form>
            <dl>
            <dt>requests</dt><dt>req/s (last second)</dt><dt>errors</dt><dt>p50 / p99 ms</dt><dt>slaves running / lost</dt>
            <dd id="requests">–</dd><dd id="rps">–</dd><dd id="errors">–</dd><dd id="latency">–</dd><dd id="slaves">–</dd>
            </dl>
            <h3>Requests/s</h3><svg id="live-rps" data-chart="live-rps" viewBox="0 0 1000 160" preserveAspectRatio="none"></svg><div class="legend" id="live-rps-legend"></div>
            <h3>Latency of the last second, ms (p50, p99; per slave p99)</h3>
            <svg id="live-latency" data-chart="live-latency" viewBox="0 0 1000 160" preserveAspectRatio="none"></svg><div class="legend" id="live-latency-legend"></div>
            <h3>Responses by status and failures, per second</h3>
            <svg id="live-status" data-chart="live-status" viewBox="0 0 1000 160" preserveAspectRatio="none"></svg><div class="legend" id="live-status-legend"></div>
            <p id="status-codes"></p>
            <table id="live-slaves"><thead><tr><th>slave</th><th>state</th><th>requests</th><th>req/s</th><th>p50 ms</th>
            <th>p99 ms</th><th>failures</th></tr></thead><tbody></tbody></table>
            </section>
            <h2>Stored runs</h2>
            <table id="runs"><thead><tr><th>run</th><th>master</th><th>status</th><th>slaves</th><th>requests</th><th>failures</th>
            <th>req/s</th><th>p99 ms</th><th></th></tr></thead>
            <tbody>
            \(rows)</tbody></table>
            <script>\(Self.liveScript)</script>
            </body></html>

            """
    }

    static let liveScript = """
        (function () {
          "use strict";
          // Per-slave lines up to this many slaves; beyond, the totals and the table only.
          var NS = "http://www.w3.org/2000/svg", MAX_SLAVE_LINES = 20, MAX_POINTS = 600;
          var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
          var points = [], runId = null, previous = null;
          function set(id, text) { document.getElementById(id).textContent = text; }
          // series: [{name, color, width, values}], drawn on the same scale.
          function chart(id, series) {
            var svg = document.getElementById(id);
            while (svg.firstChild) svg.removeChild(svg.firstChild);
            var top = 0;
            series.forEach(function (s) { s.values.forEach(function (v) { if (v > top) top = v; }); });
            top = top || 1;
            series.forEach(function (s) {
              var d = s.values.map(function (v, i) {
                return (i ? "L" : "M") + (i * 1000 / Math.max(1, s.values.length - 1)).toFixed(1) + " " + (155 - v / top * 145).toFixed(1);
              }).join("");
              var node = document.createElementNS(NS, "path");
              node.setAttribute("d", d);
              node.setAttribute("fill", "none");
              node.setAttribute("stroke", s.color);
              node.setAttribute("stroke-width", s.width || 1.5);
              node.setAttribute("vector-effect", "non-scaling-stroke");
              node.setAttribute("data-series", s.name);
              node.setAttribute("data-points", s.values.length);
              var title = document.createElementNS(NS, "title");
              title.textContent = s.name;
              node.appendChild(title);
              svg.appendChild(node);
            });
            var label = document.createElementNS(NS, "text");
            label.setAttribute("x", "4");
            label.setAttribute("y", "12");
            label.setAttribute("font-size", "11");
            label.textContent = "max " + (top >= 100 ? top.toFixed(0) : top.toPrecision(3));
            svg.appendChild(label);
            var legend = document.getElementById(id + "-legend");
            while (legend.firstChild) legend.removeChild(legend.firstChild);
            series.forEach(function (s) {
              var item = document.createElement("span"), swatch = document.createElement("i");
              swatch.style.background = s.color;
              item.appendChild(swatch);
              item.appendChild(document.createTextNode(s.name));
              legend.appendChild(item);
            });
          }
          function column(f) { return points.map(f); }
          function draw(run) {
            var names = run.slaves.length <= MAX_SLAVE_LINES ? run.slaves.map(function (s) { return s.name; }) : [];
            var perSlave = function (field) {
              return names.map(function (name, i) {
                return { name: name, color: COLORS[i % COLORS.length], width: 1,
                  values: column(function (p) { return p.slaves[name] ? p.slaves[name][field] : 0; }) };
              });
            };
            chart("live-rps", [{ name: "total", color: "#111", width: 2.5, values: column(function (p) { return p.rps; }) }]
              .concat(perSlave("requestsPerSecond")));
            chart("live-latency", [
              { name: "p50", color: "#111", width: 2.5, values: column(function (p) { return p.p50; }) },
              { name: "p99", color: "#d62728", width: 2.5, values: column(function (p) { return p.p99; }) }
            ].concat(perSlave("p99Ms")));
            var codes = {};
            points.forEach(function (p) { Object.keys(p.codes).forEach(function (code) { codes[code] = true; }); });
            chart("live-status", Object.keys(codes).sort().map(function (code, i) {
              return { name: code, color: code < "400" ? COLORS[(i + 2) % COLORS.length] : COLORS[(i + 1) % COLORS.length],
                values: column(function (p) { return p.codes[code] || 0; }) };
            }).concat([{ name: "failures", color: "#d62728", width: 1, values: column(function (p) { return p.failures; }) }]));
          }
          function table(run) {
            var body = document.querySelector("#live-slaves tbody");
            while (body.firstChild) body.removeChild(body.firstChild);
            run.slaves.forEach(function (s) {
              var row = document.createElement("tr");
              row.setAttribute("data-slave", s.name);
              [s.name, s.state, String(s.requests), s.requestsPerSecond.toFixed(1), s.p50Ms.toFixed(2), s.p99Ms.toFixed(2),
               String(s.failures)].forEach(function (text) {
                var cell = document.createElement("td");
                cell.textContent = text;
                row.appendChild(cell);
              });
              body.appendChild(row);
            });
          }
          function control(path) {
            var token = document.getElementById("token").value;
            var headers = token ? { Authorization: "Bearer " + token } : {};
            fetch(path, { method: "POST", headers: headers }).then(function (response) {
              return response.json().then(function (body) {
                set("control-answer", response.ok
                  ? (body.started ? "run " + body.runId + " started" : "stopping run " + body.runId)
                  : (body.error && body.error.message) || ("HTTP " + response.status));
              });
            }).catch(function (error) { set("control-answer", String(error)); });
          }
          document.getElementById("start").addEventListener("click", function () { control("/api/runs"); });
          document.getElementById("stop").addEventListener("click", function () { control("/api/runs/current/stop"); });
          // The stored runs, again: a run started or ended since the page was made.
          function refreshRuns() {
            fetch("/api/runs").then(function (response) { return response.json(); }).then(function (body) {
              var rows = document.querySelector("#runs tbody");
              while (rows.firstChild) rows.removeChild(rows.firstChild);
              body.runs.slice().reverse().forEach(function (run) {
                var row = document.createElement("tr");
                function cell(text, href) {
                  var td = document.createElement("td");
                  if (href) {
                    var a = document.createElement("a");
                    a.href = href;
                    a.textContent = text;
                    td.appendChild(a);
                  } else {
                    td.textContent = text;
                  }
                  row.appendChild(td);
                }
                cell(String(run.id), "/runs/" + run.id);
                [run.master, run.status, String(run.slaves), String(run.requests), String(run.failures),
                 run.requestsPerSecond.toFixed(1), run.p99Ms.toFixed(2)].forEach(function (text) { cell(text); });
                cell("json", "/api/runs/" + run.id);
                rows.appendChild(row);
              });
            }).catch(function (error) { set("control-answer", "the list of runs: " + error); });
          }
          var events = new EventSource("/api/live");
          events.onmessage = function (message) {
            var run = JSON.parse(message.data);
            if (!run) return;
            // A run that ended is sent again every second: nothing new.
            if (previous && run.runId === previous.runId && run.ended && previous.ended) return;
            if (run.runId !== runId) { runId = run.runId; points = []; previous = null; refreshRuns(); }
            if (run.ended) refreshRuns();
            // Responses by status and failures since the last event, as their share of its
            // requests times the requests/s (the run's counts are totals so far).
            var requests = run.requests - (previous ? previous.requests : 0);
            var perSecond = function (count) { return requests > 0 ? count / requests * run.requestsPerSecond : 0; };
            var codes = {};
            Object.keys(run.statusCodes).forEach(function (code) {
              codes[code] = perSecond(run.statusCodes[code] - (previous ? previous.statusCodes[code] || 0 : 0));
            });
            var slaves = {};
            run.slaves.forEach(function (s) { slaves[s.name] = s; });
            points.push({ rps: run.requestsPerSecond, p50: run.p50Ms, p99: run.p99Ms, slaves: slaves, codes: codes,
              failures: perSecond(run.failures - (previous ? previous.failures : 0)) });
            if (points.length > MAX_POINTS) points.shift();
            previous = run;
            set("live-title", "Run " + run.runId + (run.ended ? " — " + run.ended : " — " + Math.floor(run.fraction * 100) + " %, " + run.elapsedSeconds.toFixed(0) + " s"));
            set("requests", String(run.requests));
            set("rps", run.requestsPerSecond.toFixed(1));
            set("errors", (run.requests ? run.failures / run.requests * 100 : 0).toFixed(2) + " %");
            set("latency", run.p50Ms.toFixed(2) + " / " + run.p99Ms.toFixed(2));
            set("slaves", run.running + " / " + run.lost);
            set("status-codes", Object.keys(run.statusCodes).sort().map(function (code) {
              return code + ": " + run.statusCodes[code];
            }).concat(Object.keys(run.failureKinds).sort().map(function (kind) {
              return kind + " failures: " + run.failureKinds[kind];
            })).join(" · "));
            draw(run);
            table(run);
          };
        })();
        """
}
