// Call list and call page: a live call's wait, talk and hold times keep counting in the browser. The server
// renders each running duration with the moment it started (data-live-since); this only adds the seconds since.
// The browser's clock may differ from the server's, so the count is anchored on what the server rendered.
"use strict";
(function () {
  function format(seconds) {
    // The same words as voiceconfig.admin_views.format_duration: 12 s, 3 min 05 s, 1 h 02 min.
    seconds = Math.max(Math.floor(seconds), 0);
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    const pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (minutes < 60) return minutes + " min " + pad(seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + pad(minutes % 60) + " min";
  }

  function parse(text) {
    // "3 min 05 s" -> 185: the value the server computed at render time.
    let total = 0;
    const units = { h: 3600, min: 60, s: 1 };
    const re = /(\d+)\s*(h|min|s)\b/g;
    let match;
    while ((match = re.exec(text)) !== null) total += parseInt(match[1], 10) * units[match[2]];
    return total;
  }

  function start() {
    const loaded = Date.now();
    const spans = Array.prototype.slice.call(document.querySelectorAll(".voice-live[data-live-since]"));
    const base = spans.map(function (span) { return parse(span.textContent); });
    if (!spans.length) return;
    window.setInterval(function () {
      const elapsed = (Date.now() - loaded) / 1000;
      spans.forEach(function (span, index) { span.textContent = format(base[index] + elapsed); });
    }, 1000);
  }

  // The admin loads its media in <head>, before the list exists.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
