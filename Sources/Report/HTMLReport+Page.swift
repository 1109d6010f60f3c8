/// The HTML report's style and script: the page's own code, no library. The script reads the
/// data element, draws each chart as SVG, and zooms every chart to a range dragged on any.
extension HTMLReport {
    static let style = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
        h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
        .meta, .hint { color: #555; }
        table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
        th, td { padding: 0.2em 0.6em; text-align: right; border-bottom: 1px solid #ddd; }
        th:first-child, td:first-child, td:last-child, th:last-child { text-align: left; }
        tr.total td { font-weight: 600; border-top: 2px solid #888; }
        pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 12px; }
        .chart { margin: 1.2em 0; } .chart h2 { margin: 0 0 0.3em; }
        .chart svg { width: 100%; height: 280px; background: #fff; border: 1px solid #ddd; cursor: crosshair; user-select: none; }
        .chart .axis { font-size: 11px; fill: #555; } .chart .grid { stroke: #eee; }
        .legend { font-size: 12px; color: #444; } .legend span { margin-right: 1em; white-space: nowrap; }
        .legend i { display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 4px; }
        .readout { font-size: 12px; color: #333; min-height: 1.4em; }
        """

    static let script = """
        (function () {
          "use strict";
          var data = JSON.parse(document.getElementById("goloadtest-data").textContent);
          var NS = "http://www.w3.org/2000/svg";
          var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
          var zoom = null;
          var charts = [];
          var slavePercentile = "p99";

          function perSecond(series, counts, i) { return series.covered[i] > 0 ? counts[i] * 1000 / series.covered[i] : 0; }
          function column(series, f) { var out = []; for (var i = 0; i < series.t.length; i++) out.push(f(i)); return out; }
          function rps(series) { return column(series, function (i) { return perSecond(series, series.requests, i); }); }
          function ms(values) { return values.map(function (v) { return v / 1000; }); }
          function seconds(series) { return series.t.map(function (v) { return v / 1000; }); }
          function line(name, series, y, style) {
            return { name: name, x: seconds(series), y: y, color: style.color, width: style.width || 2, dash: style.dash || "", opacity: style.opacity || 1, legend: style.legend !== false };
          }
          var dashes = ["", "6 4"];

          function throughput() {
            var lines = [];
            data.runs.forEach(function (run, r) {
              if (r === 0 && run.slaves.length > 1) {
                run.slaves.forEach(function (slave, s) {
                  lines.push(line(slave.name, slave, rps(slave), { color: palette[(s + 2) % palette.length], width: 1, opacity: 0.55, legend: run.slaves.length <= 12 }));
                });
              }
              lines.push(line(run.label + " total", run.total, rps(run.total), { color: r === 0 ? "#111" : "#777", width: 2.5, dash: dashes[r] }));
            });
            return lines;
          }
          function latency() {
            var lines = [];
            data.runs.forEach(function (run, r) {
              ["p50", "p90", "p99", "max"].forEach(function (p, k) {
                lines.push(line(run.label + " " + p, run.total, ms(run.total[p]), { color: palette[k], dash: dashes[r] }));
              });
            });
            return lines;
          }
          function slaveLatency() {
            var run = data.runs[0];
            return run.slaves.map(function (slave, s) {
              return line(slave.name, slave, ms(slave[slavePercentile]), { color: palette[s % palette.length], width: 1.2, opacity: 0.8, legend: run.slaves.length <= 12 });
            });
          }
          function statuses() {
            var run = data.runs[0];
            var lines = [];
            Object.keys(run.statusCodes).sort().forEach(function (code, k) {
              var counts = run.statusCodes[code];
              lines.push(line(code, run.total, column(run.total, function (i) { return perSecond(run.total, counts, i); }), { color: palette[k % palette.length] }));
            });
            lines.push(line("failures", run.total, rps({ covered: run.total.covered, t: run.total.t, requests: run.total.failures }), { color: "#d62728", width: 2.5, dash: "3 3" }));
            Object.keys(run.errors).sort().forEach(function (kind, k) {
              var counts = run.errors[kind];
              lines.push(line("error " + kind, run.total, column(run.total, function (i) { return perSecond(run.total, counts, i); }), { color: palette[(k + 5) % palette.length], width: 1.5, dash: "2 2" }));
            });
            return lines;
          }

          function niceStep(range, count) {
            var raw = range / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
            var steps = [1, 2, 5, 10];
            for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
            return 10 * power;
          }
          function label(v) {
            var a = Math.abs(v);
            if (a >= 1e6) return String(Math.round(v / 1e4) / 100) + "M";
            if (a >= 1e4) return String(Math.round(v / 10) / 100) + "k";
            return a >= 1000 ? v.toFixed(0) : String(Math.round(v * 100) / 100);
          }
          function el(name, attrs, parent) {
            var node = document.createElementNS(NS, name);
            for (var k in attrs) node.setAttribute(k, attrs[k]);
            if (parent) parent.appendChild(node);
            return node;
          }

          function makeChart(key, title, unit, build, extra) {
            var box = document.createElement("div");
            box.className = "chart";
            var h = document.createElement("h2");
            h.textContent = title;
            box.appendChild(h);
            if (extra) box.appendChild(extra);
            var svg = el("svg", { "data-chart": key, role: "img" });
            box.appendChild(svg);
            var readout = document.createElement("div");
            readout.className = "readout";
            box.appendChild(readout);
            var legend = document.createElement("div");
            legend.className = "legend";
            box.appendChild(legend);
            document.getElementById("charts").appendChild(box);
            var chart = { key: key, unit: unit, build: build, svg: svg, legend: legend, readout: readout };
            charts.push(chart);
            attach(chart);
            return chart;
          }

          function draw(chart) {
            var svg = chart.svg, lines = chart.build();
            chart.lines = lines;
            while (svg.firstChild) svg.removeChild(svg.firstChild);
            var width = svg.clientWidth || 900, height = svg.clientHeight || 280;
            svg.setAttribute("viewBox", "0 0 " + width + " " + height);
            var m = { left: 58, right: 12, top: 22, bottom: 26 };
            var x0 = Infinity, x1 = -Infinity;
            lines.forEach(function (l) { l.x.forEach(function (x) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); }); });
            if (!isFinite(x0)) { x0 = 0; x1 = 1; }
            if (zoom) { x0 = zoom[0]; x1 = zoom[1]; }
            if (x1 <= x0) x1 = x0 + 1;
            var y1 = 0;
            lines.forEach(function (l) { for (var i = 0; i < l.x.length; i++) if (l.x[i] >= x0 && l.x[i] <= x1) y1 = Math.max(y1, l.y[i]); });
            if (y1 <= 0) y1 = 1;
            y1 *= 1.05;
            var pw = width - m.left - m.right, ph = height - m.top - m.bottom;
            function sx(x) { return m.left + (x - x0) / (x1 - x0) * pw; }
            function sy(y) { return m.top + ph - y / y1 * ph; }
            chart.frame = { x0: x0, x1: x1, left: m.left, width: pw };
            var ystep = niceStep(y1, 5);
            for (var y = 0; y <= y1; y += ystep) {
              el("line", { x1: m.left, x2: m.left + pw, y1: sy(y), y2: sy(y), "class": "grid" }, svg);
              el("text", { x: m.left - 6, y: sy(y) + 4, "text-anchor": "end", "class": "axis" }, svg).textContent = label(y);
            }
            var xstep = niceStep(x1 - x0, 8);
            for (var x = Math.ceil(x0 / xstep) * xstep; x <= x1; x += xstep) {
              el("text", { x: sx(x), y: height - 8, "text-anchor": "middle", "class": "axis" }, svg).textContent = label(x) + " s";
            }
            el("text", { x: 4, y: 13, "class": "axis" }, svg).textContent = chart.unit;
            var clip = "clip-" + chart.key;
            var defs = el("defs", {}, svg);
            el("rect", { x: m.left, y: m.top, width: pw, height: ph }, el("clipPath", { id: clip }, defs));
            lines.forEach(function (l) {
              var d = "";
              for (var i = 0; i < l.x.length; i++) d += (i ? "L" : "M") + sx(l.x[i]).toFixed(1) + " " + sy(l.y[i]).toFixed(1);
              el("path", { d: d || "M0 0", fill: "none", stroke: l.color, "stroke-width": l.width, "stroke-dasharray": l.dash,
                "stroke-opacity": l.opacity, "clip-path": "url(#" + clip + ")", "data-series": l.name, "data-points": l.x.length }, svg);
            });
            chart.selection = el("rect", { y: m.top, height: ph, fill: "#1f77b4", "fill-opacity": 0.15, width: 0, x: 0 }, svg);
            chart.legend.textContent = "";
            var hidden = 0;
            lines.forEach(function (l) {
              if (!l.legend) { hidden++; return; }
              var span = document.createElement("span"), swatch = document.createElement("i");
              swatch.style.background = l.color;
              span.appendChild(swatch);
              span.appendChild(document.createTextNode(l.name));
              chart.legend.appendChild(span);
            });
            if (hidden) {
              var more = document.createElement("span");
              more.textContent = hidden + " slaves as thin lines";
              chart.legend.appendChild(more);
            }
          }

          function toX(chart, event) {
            var box = chart.svg.getBoundingClientRect(), f = chart.frame;
            var px = (event.clientX - box.left) * (chart.svg.viewBox.baseVal.width / box.width);
            return { px: px, x: f.x0 + (px - f.left) / f.width * (f.x1 - f.x0) };
          }
          function attach(chart) {
            var start = null;
            chart.svg.addEventListener("mousedown", function (e) { start = toX(chart, e); });
            chart.svg.addEventListener("mousemove", function (e) {
              var at = toX(chart, e);
              if (start) {
                chart.selection.setAttribute("x", Math.min(start.px, at.px));
                chart.selection.setAttribute("width", Math.abs(at.px - start.px));
              }
              var parts = [];
              chart.lines.forEach(function (l) {
                if (!l.legend || !l.x.length) return;
                var best = 0;
                for (var i = 1; i < l.x.length; i++) if (Math.abs(l.x[i] - at.x) < Math.abs(l.x[best] - at.x)) best = i;
                parts.push(l.name + " " + label(l.y[best]));
              });
              chart.readout.textContent = label(Math.max(0, at.x)) + " s: " + parts.join(" · ");
            });
            window.addEventListener("mouseup", function (e) {
              if (!start) return;
              var end = toX(chart, e), a = Math.min(start.x, end.x), b = Math.max(start.x, end.x);
              start = null;
              chart.selection.setAttribute("width", 0);
              if (b - a > (chart.frame.x1 - chart.frame.x0) / 200) { zoom = [a, b]; redraw(); }
            });
            chart.svg.addEventListener("dblclick", function () { zoom = null; redraw(); });
          }
          function redraw() { charts.forEach(draw); }

          makeChart("rps", "Requests per second", "req/s", throughput);
          makeChart("latency", "Latency, all slaves merged", "ms", latency);
          if (data.runs[0].slaves.length > 1) {
            var pick = document.createElement("select");
            ["p50", "p90", "p99", "max"].forEach(function (p) {
              var option = document.createElement("option");
              option.value = p;
              option.textContent = p;
              option.selected = p === slavePercentile;
              pick.appendChild(option);
            });
            var slaveChart = makeChart("slave-latency", "Latency per slave", "ms", slaveLatency, pick);
            pick.addEventListener("change", function () { slavePercentile = pick.value; draw(slaveChart); });
          }
          makeChart("status", "Status codes and errors per second", "/s", statuses);
          document.getElementById("reset-zoom").addEventListener("click", function () { zoom = null; redraw(); });
          window.addEventListener("resize", redraw);
          redraw();
        })();
        """
}
