// The console's dialer (issue 19): a number field and dial pad, the line to call from, and the missed calls to
// follow up with "Call back" and "Done". console.js announces itself with "voice:console-ready" once signed in.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const MISSED_REFRESH_MS = 30000;

  function say(el, message) {
    el.textContent = message || "";
    el.hidden = !message;
  }

  function setup(ctx) {
    const form = $("dial-form");
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    const number = $("dial-number");
    const lineSelect = $("dial-line");
    const error = $("dial-error");

    $("dialpad").addEventListener("click", (event) => {
      const key = event.target.dataset && event.target.dataset.key;
      if (!key) return;
      const call = ctx.device() && ctx.device().calls && ctx.device().calls[0];
      // During a call the pad sends tones (an IVR at the other end); before it, it types the number.
      if (call && typeof call.sendDigits === "function") call.sendDigits(key);
      else number.value += key;
    });

    ctx.api("GET", "/voicetwilio/dial/lines").then((data) => {
      const lines = data.lines || [];
      lineSelect.replaceChildren(
        ...lines.map((line) => new Option(line.name + " (" + line.phoneNumber + ")", String(line.id))),
      );
      const several = lines.length > 1;
      lineSelect.hidden = !several;
      $("dial-line-label").hidden = !several;
    }, (err) => say(error, err.message));

    async function dial(to, returns) {
      say(error, "");
      const line = lineSelect.hidden ? null : Number(lineSelect.value);
      try {
        await ctx.api("POST", "/voicetwilio/dial/check", { to: to, line: line });
      } catch (err) {
        say(error, err.message);
        ctx.activity("Dial refused: " + err.message);
        return;
      }
      const device = ctx.device();
      if (!device) {
        say(error, "The softphone is not connected yet.");
        return;
      }
      const params = { To: to };
      if (line) params.line = String(line);
      if (returns) params.returns = String(returns);
      ctx.activity("Calling " + to + "…");
      await device.connect({ params: params });
      if (returns) window.setTimeout(loadMissed, 3000);
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      dial(number.value.trim().replace(/[\s().-]/g, ""));
    });

    async function loadMissed() {
      let data;
      try {
        data = await ctx.api("GET", "/voiceconfig/missedcalls");
      } catch (err) {
        return;
      }
      const list = $("missed-calls");
      const rows = (data.results || []).slice(0, 20);
      if (!rows.length) {
        list.replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: "None." }));
        return;
      }
      list.replaceChildren(
        ...rows.map((call) => {
          const item = document.createElement("li");
          const what = call.voicemail ? "voicemail" : "hung up waiting";
          item.append(call.from + " (" + what + ") ");
          const back = Object.assign(document.createElement("button"), { type: "button", textContent: "Call back" });
          back.addEventListener("click", () => dial(call.from, call.id));
          const done = Object.assign(document.createElement("button"), { type: "button", textContent: "Done" });
          done.addEventListener("click", () =>
            ctx.api("POST", "/voiceconfig/missedcalls/" + call.id + "/done").then(loadMissed, loadMissed),
          );
          item.append(back, " ", done);
          return item;
        }),
      );
    }

    loadMissed();
    window.setInterval(loadMissed, MISSED_REFRESH_MS);
  }

  document.addEventListener("voice:console-ready", (event) => setup(event.detail));
})();
