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
