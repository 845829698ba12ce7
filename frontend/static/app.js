// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* old browser */ }

  // Tell the server the browser's zone, so that pages show times in it
  // before anyone logs in (a logged-in person's setting wins).
  if (zone && document.cookie.indexOf("oh_tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "oh_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  }

  // Sign-up: send the browser's time zone with the form.
  document.querySelectorAll("[data-detect-timezone]").forEach(function (input) {
    if (zone && (!input.value || input.value === "UTC")) {
      input.value = zone;
      document.querySelectorAll("[data-timezone-label]").forEach(function (label) { label.textContent = zone; });
    }
  });

  // Settings: "use my browser's zone".
  document.querySelectorAll("[data-use-browser-timezone]").forEach(function (button) {
    var select = document.getElementById("f-timezone");
    if (!zone || !select) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === zone) { select.selectedIndex = i; select.focus(); return; }
      }
    });
  });

  // Read-only links (the calendar feed) select themselves for copying.
  document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });

  // A form shown again with its errors: the address bar shows the page the
  // form belongs to (not the address it was posted to), and the first
  // error is scrolled into view with its field focused.
  var firstError = document.querySelector(".has-error, .error-summary, .field .error");
  if (firstError) {
    var form = firstError.closest("form") || document.querySelector("form[data-page-address]");
    var address = form && form.getAttribute("data-page-address");
    if (address && window.history && history.replaceState && location.pathname !== address.split("#")[0]) {
      history.replaceState(null, "", address);
    }
    var field = document.querySelector(".has-error input, .has-error select, .has-error textarea, [aria-invalid=true]");
    var target = field || firstError;
    target.scrollIntoView({ block: "center" });
    if (field) { field.focus({ preventScroll: true }); }
  }

  // Destructive forms ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();

// Session room countdown: to the opening ("Opens in 1 h 5 min") or to the
// hard stop ("Time left: 4:59"); at zero the page reloads, so the server
// says what the room is now.
(function () {
  var el = document.querySelector('[data-countdown-to]');
  if (!el) return;
  var target = Date.parse(el.getAttribute('data-countdown-to'));
  var label = el.getAttribute('data-countdown-label');
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function tick() {
    var left = target - Date.now();
    // Inside a live room the room's own clock (which knows an extension) rules.
    if (left <= 0) { if (!document.querySelector('[data-in-room]')) window.location.reload(); return; }
    var seconds = Math.ceil(left / 1000);
    if (label) {
      el.textContent = label + ': ' + Math.floor(seconds / 60) + ':' + pad(seconds % 60);
    } else if (seconds < 600) {
      el.textContent = 'Opens in ' + Math.floor(seconds / 60) + ':' + pad(seconds % 60) + '.';
    } else {
      var minutes = Math.floor(seconds / 60);
      el.textContent = 'Opens in ' + Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min.';
    }
    setTimeout(tick, seconds < 600 ? 1000 : 20000);
  }
  tick();
})();

// The time picker: the server lists free times by day (`.picker-day`, each
// with its local date in `data-date`); here that list becomes a month view
// whose marked days show their times. Buttons with labels and
// aria-pressed, arrow keys between days; without this script the list stays.
(function () {
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  document.querySelectorAll("[data-picker]").forEach(function (picker) {
    var days = Array.prototype.slice.call(picker.querySelectorAll(".picker-day[data-date]"));
    if (!days.length) return;
    var byDate = {};
    days.forEach(function (day) { byDate[day.getAttribute("data-date")] = day; });
    var months = [];
    days.forEach(function (day) {
      var key = day.getAttribute("data-date").slice(0, 7);
      if (months.indexOf(key) === -1) months.push(key);
    });
    var chosen = days[0].getAttribute("data-date");
    var shown = 0;
    var month = document.createElement("div");
    month.className = "picker-month";
    month.setAttribute("data-picker-month", "");
    picker.insertBefore(month, picker.querySelector(".picker-days"));
    picker.classList.add("enhanced");

    function choose(date, focus) {
      chosen = date;
      days.forEach(function (day) { day.hidden = day.getAttribute("data-date") !== date; });
      shown = months.indexOf(date.slice(0, 7));
      render(focus);
    }

    function render(focus) {
      var key = months[shown];
      var year = parseInt(key.slice(0, 4), 10);
      var m = parseInt(key.slice(5, 7), 10) - 1;
      var first = new Date(Date.UTC(year, m, 1));
      var lead = (first.getUTCDay() + 6) % 7;
      var length = new Date(Date.UTC(year, m + 1, 0)).getUTCDate();
      month.innerHTML = "";
      var head = document.createElement("div");
      head.className = "picker-month-head";
      var prev = document.createElement("button");
      prev.type = "button"; prev.className = "secondary"; prev.textContent = "‹";
      prev.setAttribute("aria-label", "Previous month with free times");
      prev.disabled = shown === 0;
      var next = document.createElement("button");
      next.type = "button"; next.className = "secondary"; next.textContent = "›";
      next.setAttribute("aria-label", "Next month with free times");
      next.disabled = shown === months.length - 1;
      var title = document.createElement("h3");
      title.setAttribute("aria-live", "polite");
      title.textContent = MONTHS[m] + " " + year;
      prev.addEventListener("click", function () { shown -= 1; render(); });
      next.addEventListener("click", function () { shown += 1; render(); });
      head.appendChild(prev); head.appendChild(title); head.appendChild(next);
      month.appendChild(head);
      var table = document.createElement("table");
      table.className = "picker-grid";
      table.setAttribute("aria-label", "Days with free times in " + MONTHS[m] + " " + year);
      var row = document.createElement("tr");
      WEEKDAYS.forEach(function (w) {
        var th = document.createElement("th"); th.scope = "col"; th.textContent = w; row.appendChild(th);
      });
      var thead = document.createElement("thead"); thead.appendChild(row); table.appendChild(thead);
      var body = document.createElement("tbody");
      row = document.createElement("tr");
      for (var i = 0; i < lead; i++) row.appendChild(document.createElement("td"));
      for (var d = 1; d <= length; d++) {
        var date = key + "-" + (d < 10 ? "0" : "") + d;
        var cell = document.createElement("td");
        var day = byDate[date];
        if (day) {
          var count = day.querySelectorAll(".slot:not(.mine)").length;
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = String(d);
          button.setAttribute("data-date", date);
          button.setAttribute("aria-pressed", date === chosen ? "true" : "false");
          button.setAttribute("aria-controls", day.id);
          button.setAttribute("aria-label", day.getAttribute("data-label") + ", " + count +
            (count === 1 ? " free time" : " free times"));
          if (day.querySelector(".slot.mine")) button.classList.add("has-mine");
          button.addEventListener("click", function (e) { choose(e.currentTarget.getAttribute("data-date"), true); });
          cell.appendChild(button);
        } else {
          var span = document.createElement("span");
          span.textContent = String(d);
          span.setAttribute("aria-hidden", "true");
          cell.appendChild(span);
        }
        row.appendChild(cell);
        if ((lead + d) % 7 === 0) { body.appendChild(row); row = document.createElement("tr"); }
      }
      if (row.children.length) body.appendChild(row);
      table.appendChild(body);
      table.addEventListener("keydown", function (e) {
        var moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };
        if (!(e.key in moves)) return;
        var buttons = Array.prototype.slice.call(table.querySelectorAll("button"));
        var at = buttons.indexOf(document.activeElement);
        if (at === -1) return;
        var to = buttons[at + moves[e.key]];
        if (to) { to.focus(); e.preventDefault(); }
      });
      month.appendChild(table);
      if (focus) {
        var current = table.querySelector("button[aria-pressed=true]");
        if (current) current.focus();
      }
    }
    choose(chosen, false);
  });
})();

// A character counter under a text box with a limit, told once the text
// is near it (the last 10 %).
(function () {
  document.querySelectorAll("[data-counter]").forEach(function (box) {
    var max = parseInt(box.getAttribute("data-counter"), 10);
    var out = document.querySelector("[data-counter-for='" + box.id + "']");
    if (!max || !out) return;
    function update() {
      var used = box.value.length;
      var near = used >= max * 0.9;
      out.textContent = near ? used + " of " + max + " characters" : "";
      out.classList.toggle("near", near);
    }
    box.addEventListener("input", update);
    update();
  });
})();

// Booking questions: the choices box only for "one of these choices", and
// one more blank question at a time.
(function () {
  document.querySelectorAll("[data-questions]").forEach(function (set) {
    set.querySelectorAll(".question").forEach(function (q) {
      var kind = q.querySelector("[data-question-kind]");
      var choices = q.querySelector("[data-choices]");
      if (!kind || !choices) return;
      function sync() { choices.hidden = kind.value !== "choice"; }
      kind.addEventListener("change", sync);
      sync();
    });
    var add = document.createElement("button");
    add.type = "button";
    add.className = "secondary small";
    add.textContent = "Add another question";
    function waiting() { return set.querySelector(".question[data-new-question][hidden]"); }
    add.hidden = !waiting();
    add.addEventListener("click", function () {
      var next = waiting();
      if (!next) return;
      next.hidden = false;
      var input = next.querySelector("input[type=text]");
      if (input) input.focus();
      add.hidden = !waiting();
    });
    set.appendChild(add);
  });
})();
