// Turnpike live dashboard: plain JS and <canvas>, no dependencies. Data: Server-Sent Events from /admin/stream.
// With an admin token, open the page as /?token=TOKEN: the token is kept in sessionStorage and passed to the stream
// (EventSource cannot send an Authorization header) and, as a bearer header, to the drain/enable buttons.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || sessionStorage.getItem("turnpike-token") || "";
  if (params.get("token")) {
    sessionStorage.setItem("turnpike-token", token);
    history.replaceState(null, "", location.pathname);
  }

  var seconds = [];
  var capacity = 300;
  var colors = { p50: "#58a6ff", p95: "#d29922", p99: "#f85149", rate: "#3fb950", err: "#f85149", rl: "#bc8cff",
    status: ["#8b98a5", "#3fb950", "#58a6ff", "#d29922", "#f85149"] };

  function $(id) { return document.getElementById(id); }
  function fmt(n, digits) { return n === null || n === undefined ? "–" : Number(n).toFixed(digits); }

  function setupCanvas(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx: ctx, w: w, h: h };
  }

  function axes(c, max, unit) {
    var ctx = c.ctx;
    ctx.strokeStyle = "#2a3540"; ctx.fillStyle = "#8b98a5"; ctx.font = "10px system-ui"; ctx.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = 8 + (c.h - 24) * i / 4;
      ctx.beginPath(); ctx.moveTo(40, y); ctx.lineTo(c.w, y); ctx.stroke();
      ctx.fillText(niceLabel(max * (4 - i) / 4) + unit, 0, y + 3);
    }
    ctx.fillText("-" + Math.round(capacity / 60) + " min", 40, c.h - 2);
    ctx.fillText("now", c.w - 22, c.h - 2);
  }

  function niceLabel(v) { return v === 0 ? "0" : v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
  function niceMax(v) { if (!(v > 0)) return 1; var p = Math.pow(10, Math.floor(Math.log10(v))); var m = v / p; return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p; }
  function xOf(c, i) { return 40 + (c.w - 40) * (capacity - seconds.length + i) / Math.max(1, capacity - 1); }
  function yOf(c, v, max) { return 8 + (c.h - 24) * (1 - v / max); }

  function line(c, values, max, color) {
    var ctx = c.ctx;
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
    for (var i = 0; i < values.length; i++) {
      var x = xOf(c, i), y = yOf(c, values[i], max);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.stroke();
  }

  function pick(key) { return seconds.map(function (s) { return s[key]; }); }
  function maxOf(arrays) { var m = 0; arrays.forEach(function (a) { a.forEach(function (v) { if (v > m) m = v; }); }); return niceMax(m); }

  function drawCharts() {
    var c = setupCanvas($("chartRate")), rate = pick("requests"), max = maxOf([rate]);
    axes(c, max, ""); line(c, rate, max, colors.rate);

    c = setupCanvas($("chartLatency"));
    var p50 = pick("p50Ms"), p95 = pick("p95Ms"), p99 = pick("p99Ms");
    max = maxOf([p50, p95, p99]);
    axes(c, max, ""); line(c, p50, max, colors.p50); line(c, p95, max, colors.p95); line(c, p99, max, colors.p99);

    c = setupCanvas($("chartErrors"));
    var err = seconds.map(function (s) { return s.errorRate * 100; }), rl = pick("rateLimited");
    var maxErr = niceMax(Math.max.apply(null, [1].concat(err))), maxRl = niceMax(Math.max.apply(null, [1].concat(rl)));
    axes(c, maxErr, "%"); line(c, err, maxErr, colors.err); line(c, rl, maxRl, colors.rl);

    c = setupCanvas($("chartStatus"));
    var ctx = c.ctx, totals = rate, smax = maxOf([totals]);
    axes(c, smax, "");
    var bw = Math.max(1, (c.w - 40) / capacity);
    for (var i = 0; i < seconds.length; i++) {
      var base = 0, x = xOf(c, i), st = seconds[i].status || [];
      for (var k = 0; k < 5; k++) {
        var n = st[k] || 0;
        if (!n) continue;
        var y0 = yOf(c, base, smax), y1 = yOf(c, base + n, smax);
        ctx.fillStyle = colors.status[k]; ctx.fillRect(x - bw / 2, y1, bw, y0 - y1);
        base += n;
      }
    }
  }

  function cell(tr, text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }

  function drawTables(e) {
    var body = $("destinations").tBodies[0];
    body.textContent = "";
    e.clusters.forEach(function (c) {
      c.destinations.forEach(function (d) {
        var tr = document.createElement("tr");
        tr.dataset.cluster = c.id; tr.dataset.destination = d.id;
        cell(tr, c.id); cell(tr, d.id); cell(tr, d.address);
        var state = d.drained ? "drained" : d.eligible ? "eligible" : "out";
        cell(tr, state, d.drained ? "st-warn" : d.eligible ? "st-ok" : "st-bad").className += " state";
        var health = !d.healthy ? "unhealthy" : d.ejected ? "ejected" : "healthy";
        cell(tr, health, health === "healthy" ? "st-ok" : "st-bad");
        cell(tr, d.breaker || "–", d.breaker === "open" ? "st-bad" : d.breaker === "halfOpen" ? "st-warn" : "");
        cell(tr, d.inFlight); cell(tr, d.requests).className = "requests"; cell(tr, d.failures);
        cell(tr, d.ewmaMs === undefined ? "–" : fmt(d.ewmaMs, 2));
        var td = document.createElement("td"), b = document.createElement("button");
        b.textContent = d.drained ? "enable" : "drain";
        b.onclick = function () { act(c.id, d.id, d.drained ? "enable" : "drain"); };
        td.appendChild(b); tr.appendChild(td);
        body.appendChild(tr);
      });
    });

    var rl = $("ratelimits").tBodies[0];
    if (e.rateLimits.length) {
      rl.textContent = "";
      e.rateLimits.forEach(function (p) {
        var tr = document.createElement("tr");
        cell(tr, p.policy); cell(tr, p.admitted); cell(tr, p.rejected, p.rejected ? "st-warn" : "");
        rl.appendChild(tr);
      });
    }
  }

  function act(cluster, destination, what) {
    var headers = token ? { Authorization: "Bearer " + token } : {};
    fetch("/admin/destinations/" + encodeURIComponent(cluster) + "/" + encodeURIComponent(destination) + "/" + what,
      { method: "POST", headers: headers });
  }

  function onEvent(e) {
    capacity = e.historySeconds || capacity;
    seconds = seconds.concat(e.seconds);
    if (seconds.length > capacity) seconds = seconds.slice(seconds.length - capacity);
    var last = seconds.length ? seconds[seconds.length - 1] : null;
    if (last) {
      $("rate").textContent = last.requests;
      $("p50").textContent = fmt(last.p50Ms, 2);
      $("p95").textContent = fmt(last.p95Ms, 2);
      $("p99").textContent = fmt(last.p99Ms, 2);
      $("errorRate").textContent = fmt(last.errorRate * 100, 1) + " %";
      $("limited").textContent = last.rateLimited;
    }
    $("generation").textContent = e.generation;
    $("inflight").textContent = e.inFlight;
    drawTables(e);
    drawCharts();
  }

  function connect() {
    var url = "/admin/stream" + (token ? "?token=" + encodeURIComponent(token) : "");
    var source = new EventSource(url);
    var first = true;
    source.onopen = function () { $("conn").textContent = "live"; $("conn").className = "badge on"; };
    source.onmessage = function (m) {
      var e = JSON.parse(m.data);
      if (first) { seconds = []; first = false; }
      onEvent(e);
    };
    source.onerror = function () {
      $("conn").textContent = token ? "disconnected" : "disconnected (admin token? open /?token=…)";
      $("conn").className = "badge off";
      first = true;
    };
  }

  window.addEventListener("resize", drawCharts);
  connect();
})();
