// Times in the reader's zone on the first paint. The server writes every
// time in the zone it knows (the person's setting, else the zone the
// browser reported in the oh_tz cookie, else UTC) as
// <time datetime="…Z" data-local="clock|time|day|range|instant">, and names
// that zone in [data-local-zone]. This file runs at the end of <body>,
// before the first paint: when nobody chose a zone in settings and the
// browser's zone is another one, it rewrites those elements in the
// browser's zone and regroups lists of times by day ([data-local-days],
// which the time picker in app.js then turns into its month view).
// Without JavaScript the server's zone stays, named on the page.
(function () {
  "use strict";
  var root = document.documentElement;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  if (!zone || root.hasAttribute("data-zone-fixed") || root.getAttribute("data-zone") === zone) { return; }

  function parts(date, options) {
    var out = {};
    var opts = { timeZone: zone, hourCycle: "h23" };
    for (var k in options) { opts[k] = options[k]; }
    new Intl.DateTimeFormat("en-GB", opts).formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  function abbreviation(date) {
    var p = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" })
      .formatToParts(date).forEach(function (q) { p[q.type] = q.value; });
    return p.timeZoneName || zone;
  }
  function clock(date) {
    var p = parts(date, { hour: "2-digit", minute: "2-digit" });
    return p.hour + ":" + p.minute;
  }
  function day(date) {
    var p = parts(date, { weekday: "short", day: "numeric", month: "short" });
    return p.weekday + " " + p.day + " " + p.month;
  }
  function longDay(date) {
    var p = parts(date, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
    return p.weekday + " " + p.day + " " + p.month + " " + p.year;
  }
  function dayKey(date) {
    var p = parts(date, { year: "numeric", month: "2-digit", day: "2-digit" });
    return p.year + "-" + p.month + "-" + p.day;
  }
  var formats = {
    time: function (d) { return clock(d); },
    clock: function (d) { return clock(d) + " " + abbreviation(d); },
    day: function (d) { return day(d); },
    longday: function (d) { return longDay(d); },
    range: function (d, end) {
      return day(d) + ", " + clock(d) + (end ? "–" + clock(end) : "") + " " + abbreviation(d);
    },
    instant: function (d) {
      var p = parts(d, { day: "numeric", month: "short", year: "numeric" });
      return p.day + " " + p.month + " " + p.year + ", " + clock(d) + " " + abbreviation(d);
    }
  };

  // Lists grouped by day: every item moves under its day in this zone.
  document.querySelectorAll("[data-local-days]").forEach(function (container) {
    var groups = container.querySelectorAll("[data-local-day]");
    if (!groups.length) { return; }
    var template = groups[0];
    var items = [];
    groups.forEach(function (g) {
      g.querySelectorAll("[data-local-item]").forEach(function (item) { items.push(item); });
    });
    var byDay = [];
    items.forEach(function (item) {
      var t = item.querySelector("time[datetime]");
      var date = new Date(t.getAttribute("datetime"));
      var key = dayKey(date);
      var last = byDay[byDay.length - 1];
      if (last && last.key === key) { last.items.push(item); } else { byDay.push({ key: key, date: date, items: [item] }); }
    });
    byDay.forEach(function (g) {
      var group = template.cloneNode(true);
      var heading = group.querySelector("[data-local-heading]");
      if (heading) { heading.setAttribute("datetime", g.date.toISOString()); }
      // The time picker keys its month view on the local date.
      if (group.hasAttribute("data-date")) {
        group.setAttribute("data-date", g.key);
        group.setAttribute("data-label", longDay(g.date));
        group.id = "day-" + g.key;
        group.setAttribute("aria-labelledby", "h-day-" + g.key);
        if (heading && heading.parentNode) { heading.parentNode.id = "h-day-" + g.key; }
      }
      var list = group.querySelector("[data-local-list]");
      list.textContent = "";
      g.items.forEach(function (item) { list.appendChild(item); });
      container.appendChild(group);
    });
    groups.forEach(function (g) { g.parentNode.removeChild(g); });
  });

  document.querySelectorAll("time[data-local][datetime]").forEach(function (el) {
    var format = formats[el.getAttribute("data-local")];
    var date = new Date(el.getAttribute("datetime"));
    if (!format || isNaN(date.getTime())) { return; }
    var end = el.getAttribute("data-end") ? new Date(el.getAttribute("data-end")) : null;
    el.textContent = format(date, end);
    el.setAttribute("data-localised", zone);
  });
  document.querySelectorAll("[data-local-zone]").forEach(function (el) { el.textContent = zone; });
  root.setAttribute("data-zone", zone);
})();
