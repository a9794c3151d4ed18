// Listen, Whisper and Barge on the live overview (issue 18; docs/recording.md): each button asks the app to ring the
// supervisor's own softphone into the call's conference in that mode (POST /voicetwilio/calls/{id}:monitor, with
// the admin session and its CSRF token). A second press with another mode changes mode in place.
(function () {
  "use strict";

  async function monitor(group, mode) {
    const note = group.querySelector("[role=status]");
    const token = group.querySelector("input[name=csrfmiddlewaretoken]").value;
    note.textContent = "…";
    try {
      const response = await fetch("/voicetwilio/calls/" + encodeURIComponent(group.dataset.call) + ":monitor", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
        body: JSON.stringify({ mode: mode }),
      });
      const data = await response.json().catch(() => ({}));
      note.textContent = response.ok
        ? mode + ": " + (data.supervision.state === "requested" ? "your softphone rings" : "you are on the call")
        : data.message || "The server answered " + response.status + ".";
    } catch (err) {
      note.textContent = "Cannot reach the server.";
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".voice-supervise button[data-mode]");
    if (button) monitor(button.closest(".voice-supervise"), button.dataset.mode);
  });
})();
