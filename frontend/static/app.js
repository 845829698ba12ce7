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
