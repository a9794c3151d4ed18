// Recording controls and "who is listening" on the agent's call card (issue 18; docs/recording.md).
// console.js tells this module about the call (the "voice:call" event, from every heartbeat answer and action)
// and lends it callAction, so a recording button behaves like Hold: one request, errors on the card.
(function () {
  "use strict";

  const ACTIVE = ["requested", "in-progress", "paused"];
  const MODES = { listen: "listening", whisper: "whispering to you", barge: "on the call (barged in)" };
  let current = null;

  function $(id) {
    return document.getElementById(id);
  }

  // A heartbeat says the recording's state as a word; an action's answer carries the recording row.
  function recordingState(call) {
    const recording = call && call.recording;
    const value = recording && typeof recording === "object" ? recording.state : recording;
    return ACTIVE.indexOf(value) === -1 ? null : value;
  }

  function render(call) {
    current = call;
    const panel = $("recording-controls");
    if (!panel) return;
    panel.hidden = !call;
    if (!call) return;
    const recording = recordingState(call);
    $("record-start").hidden = Boolean(recording);
    $("record-pause").hidden = recording !== "in-progress";
    $("record-resume").hidden = recording !== "paused";
    $("record-stop").hidden = !recording;
    $("record-state").textContent =
      recording === "paused" ? "Recording paused" : recording ? "Recording" : "Not recorded";
    $("record-state").dataset.status = recording === "in-progress" ? "in_call" : recording ? "wrap_up" : "offline";
    const watching = (call.supervisors || []).map((row) => row.supervisor + " is " + (MODES[row.mode] || row.mode));
    $("supervisors").textContent = watching.join("; ");
    $("supervisors").hidden = watching.length === 0;
  }

  function act(action, said) {
    return () =>
      window.VoiceConsole.callAction(action, {}, (result) => {
        if (result.changed) window.VoiceConsole.activity(said);
        render(Object.assign({}, current, result));
      });
  }

  document.addEventListener("voice:call", (event) => render(event.detail));
  document.addEventListener("DOMContentLoaded", () => {
    if (!$("recording-controls")) return;
    $("record-start").addEventListener("click", act("startrecording", "Recording started."));
    $("record-pause").addEventListener("click", act("pauserecording", "Recording paused."));
    $("record-resume").addEventListener("click", act("resumerecording", "Recording resumed."));
    $("record-stop").addEventListener("click", act("stoprecording", "Recording stopped."));
  });
})();
