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
            <svg id="live-chart" data-chart="live" viewBox="0 0 1000 160" preserveAspectRatio="none"></svg>
            </section>
            <h2>Stored runs</h2>
            <table><thead><tr><th>run</th><th>master</th><th>status</th><th>slaves</th><th>requests</th><th>failures</th>
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
          var NS = "http://www.w3.org/2000/svg", points = [], runId = null;
          function set(id, text) { document.getElementById(id).textContent = text; }
          function draw() {
            var svg = document.getElementById("live-chart");
            while (svg.firstChild) svg.removeChild(svg.firstChild);
            if (!points.length) return;
            var max = Math.max.apply(null, points.map(function (p) { return p.requestsPerSecond; })) || 1;
            var maxP = Math.max.apply(null, points.map(function (p) { return p.p99Ms; })) || 1;
            function path(f, top, color, name) {
              var d = points.map(function (p, i) {
                return (i ? "L" : "M") + (i * 1000 / Math.max(1, points.length - 1)).toFixed(1) + " " + (155 - f(p) / top * 150).toFixed(1);
              }).join("");
              var node = document.createElementNS(NS, "path");
              node.setAttribute("d", d);
              node.setAttribute("fill", "none");
              node.setAttribute("stroke", color);
              node.setAttribute("stroke-width", "2");
              node.setAttribute("vector-effect", "non-scaling-stroke");
              node.setAttribute("data-series", name);
              node.setAttribute("data-points", points.length);
              svg.appendChild(node);
            }
            path(function (p) { return p.requestsPerSecond; }, max, "#111", "requests/s");
            path(function (p) { return p.p99Ms; }, maxP, "#d62728", "p99 ms");
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
          var events = new EventSource("/api/live");
          events.onmessage = function (message) {
            var run = JSON.parse(message.data);
            if (!run) return;
            if (run.runId !== runId) { runId = run.runId; points = []; }
            points.push(run);
            if (points.length > 600) points.shift();
            set("live-title", "Run " + run.runId + (run.ended ? " — " + run.ended : " — " + Math.floor(run.fraction * 100) + " %, " + run.elapsedSeconds.toFixed(0) + " s"));
            set("requests", String(run.requests));
            set("rps", run.requestsPerSecond.toFixed(1));
            set("errors", (run.requests ? run.failures / run.requests * 100 : 0).toFixed(2) + " %");
            set("latency", run.p50Ms.toFixed(2) + " / " + run.p99Ms.toFixed(2));
            set("slaves", run.running + " / " + run.lost);
            draw();
          };
        })();
        """
}
