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

  // Destructive forms ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();

// Session room countdown: "Starts in 1 h 5 min", updated every 20 s.
(function () {
  var el = document.querySelector('[data-countdown]');
  if (!el) return;
  var start = Date.parse(el.getAttribute('data-countdown'));
  var end = Date.parse(el.getAttribute('data-ends'));
  function tick() {
    var now = Date.now();
    if (now >= end) { el.textContent = 'This session is over.'; return; }
    if (now >= start) { el.textContent = 'Under way.'; return; }
    var minutes = Math.floor((start - now) / 60000);
    var text = 'Starts in ' + Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min.';
    if (minutes < 5) text += ' The room opens 5 minutes before the start.';
    el.textContent = text;
  }
  tick();
  setInterval(tick, 20000);
})();
