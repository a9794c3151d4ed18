// Keeps the admin's live overview fresh without reloading the page (which would lose the scroll position).
"use strict";
(function () {
  function schedule(seconds) {
    window.setTimeout(refresh, seconds * 1000);
  }

  function refresh() {
    const current = document.getElementById("voice-overview");
    if (!current) return;
    const seconds = Number(current.dataset.refreshSeconds) || 10;
    if (document.hidden) {
      schedule(seconds);
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        const next = new DOMParser().parseFromString(html, "text/html").getElementById("voice-overview");
        // A login page comes back when the session expired: keep the figures and say so.
        if (!next) throw new Error("not an overview page");
        current.replaceWith(next);
      })
      .catch(function () {
        const stale = current.querySelector(".voice-overview-stale");
        if (stale) stale.hidden = false;
      })
      .finally(function () {
        schedule(seconds);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const current = document.getElementById("voice-overview");
    if (current) schedule(Number(current.dataset.refreshSeconds) || 10);
  });
})();
