// The agent console: JWT login (with the two-factor step), availability, heartbeats, and the Twilio Voice JS SDK
// softphone (incoming-call banner, answer, hang up, hold, resume, transfer).
//
// Twilio may be unreachable (a firewall, an outage, a server without Twilio credentials): the page then says so
// in words and everything that does not need Twilio (status, heartbeats, the current call's details) keeps
// working. No failure here is left as an uncaught exception.
"use strict";
(function () {
  const cfg = JSON.parse(document.getElementById("console-config").textContent);
  const $ = (id) => document.getElementById(id);
  const REFRESH_KEY = "voice-console-refresh";
  const BUSY = ["ringing", "in_call"];
  // How often the console asks the server (a heartbeat, whose answer carries the agent's call): every 1.5 s while
  // a call rings or is being answered, and for the first 30 s after the agent becomes available (when a waiting
  // caller is most likely put through); every 5 s while available, in a call or in wrap-up, so a call the
  // softphone never heard of reaches the card within 5 s; at the configured heartbeat rate otherwise.
  const FAST_POLL_SECONDS = 1.5;
  const WATCH_POLL_SECONDS = 5;
  const JUST_AVAILABLE_SECONDS = 30;
  const WATCHED = ["available", "in_call", "wrap_up"];
  const STATUS_LABELS = {
    offline: "Offline",
    available: "Available",
    unavailable: "Unavailable",
    ringing: "Ringing",
    in_call: "In a call",
    wrap_up: "Wrap-up",
  };
  const TWO_FACTOR_ERRORS = {
    "Code verify failed": "That code is not right.",
    "Time out": "The sign-in took too long. Start again with your password.",
    "Number of retries exceeded": "Too many wrong codes for this sign-in. Start again with your password.",
    "Account locked": "Your account is locked after too many wrong codes. Ask your supervisor to unlock it.",
  };

  const state = {
    access: null,
    refresh: null,
    agent: null,
    preLoginToken: null,
    secretKey: null,
    device: null,
    deviceState: "off",
    deviceErrors: new Set(), // softphone problems already noted in the activity list
    pendingCall: null, // a ringing Twilio call not yet answered
    twilioCall: null, // the answered Twilio call
    call: null, // the agent's call as the server last described it (heartbeat answer), or null
    callStartedAt: null, // when the call was answered, by this browser's clock
    clockOffsetMs: 0, // the server's clock minus this browser's, from the last heartbeat answer
    endedCallId: null, // the call whose end the softphone already announced
    fastUntil: 0, // poll fast until this moment (Date.now() milliseconds): the agent just became available
    polling: null, // the heartbeat in flight, so that two never overlap
    pollAgain: false, // a refresh was asked for while one was in flight (or while a call action was)
    acting: false, // a call action (hold, resume, transfer) is in flight: heartbeats wait for it
    timers: {},
  };

  class ApiError extends Error {
    constructor(status, error, message, body) {
      super(message);
      this.status = status;
      this.error = error;
      this.body = body || {};
    }
  }

  // --- small UI helpers ------------------------------------------------------------------------------------------

  function show(el, visible) {
    el.hidden = !visible;
  }

  function say(el, message) {
    el.textContent = message || "";
    el.hidden = !message;
  }

  function clock(date) {
    return (date || new Date()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function activity(message) {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.textContent = clock();
    item.append(time, document.createTextNode(" " + message));
    const list = $("activity");
    list.prepend(item);
    while (list.children.length > 30) list.lastElementChild.remove();
  }

  function url(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(values[key]));
  }

  // --- the REST API ----------------------------------------------------------------------------------------------

  async function api(method, path, body, options) {
    const opts = Object.assign({ auth: true, retry: true }, options || {});
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.auth && state.access) headers.Authorization = "Bearer " + state.access;
    let response;
    try {
      response = await fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      throw new ApiError(0, "network", "Cannot reach the server. Check your connection; we will keep trying.");
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = {};
    }
    if (response.status === 401 && opts.auth && opts.retry && state.refresh) {
      if (await refreshTokens()) return api(method, path, body, Object.assign({}, opts, { retry: false }));
      signOut("Your session has expired. Sign in again.");
    }
    if (!response.ok) {
      const message = data.message || data.detail || data.error || "The server answered " + response.status + ".";
      throw new ApiError(response.status, data.error, message, data);
    }
    return data;
  }

  async function refreshTokens() {
    try {
      const data = await api("POST", cfg.urls.refresh, { refresh: state.refresh }, { auth: false });
      setTokens(data.access, data.refresh || state.refresh);
      return true;
    } catch (err) {
      return false;
    }
  }

  function setTokens(access, refresh) {
    state.access = access;
    state.refresh = refresh || null;
    try {
      if (refresh) window.sessionStorage.setItem(REFRESH_KEY, refresh);
      else window.sessionStorage.removeItem(REFRESH_KEY);
    } catch (err) {
      // Storage disabled: the session simply does not survive a reload.
    }
  }

  function userIdFromToken(token) {
    try {
      const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(window.atob(payload + "===".slice((payload.length + 3) % 4)));
      return claims.user_id || claims.userId || claims.sub;
    } catch (err) {
      return null;
    }
  }

  // --- login -----------------------------------------------------------------------------------------------------

  function showStep(step) {
    show($("login-card"), step === "login");
    show($("twofactor-card"), step === "twofactor");
    show($("backup-card"), step === "backup");
    show($("console"), step === "console");
    show($("session-bar"), step === "console");
    if (step === "login") $("login-username").focus();
    if (step === "twofactor") $("twofactor-code").focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username || !password) {
      say($("login-error"), "Enter your login name and password.");
      return;
    }
    say($("login-error"), "");
    $("login-submit").disabled = true;
    try {
      const data = await api("POST", cfg.urls.login, { username: username, password: password }, { auth: false });
      $("login-password").value = "";
      if (data.access) {
        setTokens(data.access, data.refresh);
        await startConsole();
      } else if (data.preLoginToken) {
        state.preLoginToken = data.preLoginToken;
        state.secretKey = data.secretKey || null;
        show($("enrol-box"), Boolean(data.secretKey));
        if (data.secretKey) {
          $("enrol-secret").textContent = data.secretKey;
          $("enrol-uri").href = data.otpauthUri || "#";
        }
        $("twofactor-code").value = "";
        say($("twofactor-error"), "");
        showStep("twofactor");
      } else {
        say($("login-error"), "The server answered without a token. Try again.");
      }
    } catch (err) {
      if (err.status === 401 || err.status === 400) say($("login-error"), "Wrong login name or password.");
      else if (err.status === 429) say($("login-error"), "Too many sign-in attempts. Wait a minute and try again.");
      else say($("login-error"), err.message);
    } finally {
      $("login-submit").disabled = false;
    }
  }

  async function onVerify(event) {
    event.preventDefault();
    const code = $("twofactor-code").value.replace(/\s+/g, "");
    if (!code) {
      say($("twofactor-error"), "Enter the code from your authenticator app.");
      return;
    }
    $("twofactor-submit").disabled = true;
    const body = {
      preLoginToken: state.preLoginToken,
      code: code,
      isSetCookie: false,
      isSKip2fa: $("twofactor-skip").checked,
    };
    if (state.secretKey) body.secretKey = state.secretKey;
    try {
      const data = await api("POST", cfg.urls.verify2fa, body, { auth: false });
      state.preLoginToken = null;
      state.secretKey = null;
      setTokens(data.jwtToken || data.access, data.refresh || data.refreshToken);
      if (data.backupCodes && data.backupCodes.length) {
        showBackupCodes(data.backupCodes);
        return;
      }
      await startConsole();
    } catch (err) {
      const known = TWO_FACTOR_ERRORS[err.error];
      if (err.error === "Code verify failed") {
        const left = err.body.retryRemainingNumber;
        say($("twofactor-error"), known + (left !== undefined && left !== null ? " Tries left: " + left + "." : ""));
        $("twofactor-code").select();
      } else if (known) {
        showStep("login");
        say($("login-error"), known);
      } else {
        say($("twofactor-error"), err.message);
      }
    } finally {
      $("twofactor-submit").disabled = false;
    }
  }

  function showBackupCodes(codes) {
    const list = $("backup-codes");
    list.replaceChildren();
    codes.forEach((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      list.append(item);
    });
    showStep("backup");
  }

  // --- the console -----------------------------------------------------------------------------------------------

  async function startConsole() {
    const userId = userIdFromToken(state.access);
    let agents;
    try {
      agents = await api("GET", cfg.urls.agents + "?user=" + encodeURIComponent(userId));
    } catch (err) {
      showStep("login");
      say($("login-error"), err.message);
      return;
    }
    const agent = (agents.results || [])[0];
    if (!agent) {
      setTokens(null, null);
      showStep("login");
      say($("login-error"), "Your login is not set up as a voice agent. Ask your supervisor to add you as an agent.");
      return;
    }
    state.agent = agent;
    $("agent-name").textContent = agent.displayName || agent.identity;
    showStep("console");
    renderPresence(agent);
    activity("Signed in as " + (agent.displayName || agent.identity) + ".");
    if (agent.status === "available") state.fastUntil = Date.now() + JUST_AVAILABLE_SECONDS * 1000;
    heartbeat();
    state.timers.tick = window.setInterval(tick, 1000);
    loadTransferTargets();
    startDevice();
    // The dialer (dialer.js, issue 19) uses the same authenticated API, softphone and activity list.
    document.dispatchEvent(
      new CustomEvent("voice:console-ready", {
        detail: { api: api, device: () => state.device, activity: activity, agent: agent },
      }),
    );
  }

  function signOut(message) {
    Object.values(state.timers).forEach((timer) => {
      window.clearInterval(timer);
      window.clearTimeout(timer);
    });
    state.timers = {};
    if (state.device) {
      try {
        state.device.destroy();
      } catch (err) {
        // Already torn down.
      }
    }
    Object.assign(state, {
      device: null,
      deviceState: "off",
      pendingCall: null,
      twilioCall: null,
      call: null,
      callStartedAt: null,
      agent: null,
      fastUntil: 0,
      polling: null,
      pollAgain: false,
      acting: false,
    });
    setTokens(null, null);
    $("activity").replaceChildren();
    show($("incoming-banner"), false);
    show($("twilio-banner"), false);
    showStep("login");
    say($("login-error"), message || "");
  }

  async function onLogout() {
    if (state.agent) {
      try {
        await api("POST", url(cfg.urls.agentStatus, { id: state.agent.id }), { status: "offline" });
      } catch (err) {
        // Signing out works even when the server cannot be told; heartbeats stop and the agent times out.
      }
    }
    signOut("You are signed out.");
  }

  // --- presence: availability and heartbeats ---------------------------------------------------------------------

  function renderPresence(presence) {
    const status = presence.status || "offline";
    const online = presence.online !== false;
    state.agent = Object.assign({}, state.agent, presence);
    const pill = $("status-pill");
    pill.dataset.status = online ? status : "offline";
    pill.textContent = STATUS_LABELS[status] + (online || status === "offline" ? "" : " (no heartbeat)");
    $("status-text").textContent = STATUS_LABELS[status] || status;
    const sw = $("available-switch");
    sw.checked = status === "available";
    sw.disabled = BUSY.indexOf(status) !== -1;
    // The switch says what the agent is doing; "Unavailable" only when they are (or are offline).
    $("available-label").textContent = status === "offline" ? "Unavailable" : STATUS_LABELS[status] || status;
    renderAvailabilityNote();
  }

  function renderAvailabilityNote() {
    const status = (state.agent || {}).status;
    const note = $("availability-note");
    let text = "Calls are offered only while you are available.";
    if (status === "ringing") text = "A call is ringing for you; you can choose your status again after it.";
    else if (status === "in_call") text = "You are on a call; choose your status again when it ends.";
    else if (status === "wrap_up") text = "Wrap-up after your last call. Switch on to take calls again now.";
    else if (status === "available" && state.deviceState !== "ready") {
      text = "Calls offered to you cannot ring in this browser until the softphone connects; they go to the next " +
        "agent after the ring timeout. Switch off if you step away.";
    }
    note.textContent = text;
    note.classList.toggle("bad", status === "available" && state.deviceState !== "ready");
  }

  async function onAvailabilityChange() {
    const sw = $("available-switch");
    const wanted = sw.checked;
    sw.disabled = true;
    try {
      const presence = await api("POST", url(cfg.urls.agentStatus, { id: state.agent.id }), { available: wanted });
      renderPresence(presence);
      activity(wanted ? "You are available for calls." : "You are unavailable.");
      if (wanted) state.fastUntil = Date.now() + JUST_AVAILABLE_SECONDS * 1000;
      if (presence.offeredCall) activity("A waiting caller is being put through to you.");
      heartbeat();
    } catch (err) {
      sw.checked = !wanted;
      activity("Could not change your status: " + err.message);
      say($("call-error"), "Could not change your status: " + err.message);
    } finally {
      sw.disabled = BUSY.indexOf((state.agent || {}).status) !== -1;
    }
  }

  // One heartbeat now, then the next one at the rate the agent's state calls for. Asked for while one is in
  // flight, it runs once more when that one is back (its answer may predate what prompted the ask). Asked for
  // during a hold, resume or transfer, it runs when that is done: an answer read before the action and arriving
  // after it would undo on the card what the action did (the Hold button back while the caller is on hold).
  function heartbeat() {
    if (!state.agent) return Promise.resolve();
    if (state.polling || state.acting) {
      state.pollAgain = true;
      return state.polling || Promise.resolve();
    }
    window.clearTimeout(state.timers.heartbeat);
    state.polling = sendHeartbeat().finally(() => {
      state.polling = null;
      if (!state.agent) return;
      if (state.pollAgain) {
        state.pollAgain = false;
        heartbeat();
      } else {
        state.timers.heartbeat = window.setTimeout(heartbeat, pollSeconds() * 1000);
      }
    });
    return state.polling;
  }

  async function sendHeartbeat() {
    const sentAt = Date.now();
    try {
      const answer = await api("POST", url(cfg.urls.heartbeats, { id: state.agent.id }));
      if (!state.agent) return;
      if (answer.serverTime) {
        // Half the round trip is the best guess of when the server read its clock.
        const receivedAt = Date.now();
        state.clockOffsetMs = new Date(answer.serverTime).getTime() - (sentAt + receivedAt) / 2;
      }
      renderPresence(answer);
      $("heartbeat-text").textContent = "sent " + clock();
      $("heartbeat-text").classList.remove("bad");
      applyCall(answer.call || null);
    } catch (err) {
      if (!state.agent) return;
      $("heartbeat-text").textContent = "failed at " + clock() + ": " + err.message;
      $("heartbeat-text").classList.add("bad");
    }
  }

  function pollSeconds() {
    const status = (state.agent || {}).status;
    const call = state.call;
    const answering = state.twilioCall && !(call && call.state === "connected");
    if (status === "ringing" || state.pendingCall || answering || (call && call.state === "ringing")) {
      return FAST_POLL_SECONDS;
    }
    if (status === "available" && Date.now() < state.fastUntil) return FAST_POLL_SECONDS;
    if (WATCHED.indexOf(status) !== -1 || call) return Math.min(WATCH_POLL_SECONDS, cfg.heartbeatSeconds);
    return cfg.heartbeatSeconds;
  }

  // --- transfer targets ------------------------------------------------------------------------------------------

  async function loadTransferTargets() {
    const select = $("transfer-agent");
    try {
      const data = await api("GET", cfg.urls.transferTargets);
      select.replaceChildren();
      (data.results || []).forEach((agent) => {
        const option = document.createElement("option");
        option.value = String(agent.id);
        option.textContent =
          (agent.displayName || agent.identity) + (agent.available ? "" : " (" + (STATUS_LABELS[agent.status] || agent.status) + ")");
        option.disabled = !agent.available;
        select.append(option);
      });
      const results = data.results || [];
      const nobody = !results.some((agent) => agent.available);
      if (nobody) {
        // Say why at the top of the list, selected, so the dropdown never looks empty or offers a busy colleague.
        const option = document.createElement("option");
        option.value = "";
        option.textContent = results.length ? "No agent can take a call now" : "No other agents";
        option.disabled = true;
        option.selected = true;
        select.prepend(option);
      }
      const note = $("transfer-agent-note");
      say(
        note,
        !nobody
          ? ""
          : results.length
            ? "Nobody else is available: every other agent is busy, unavailable or not signed in. " +
              "Transfer to a phone number instead, or try again in a moment."
            : "You are the only agent set up. Transfer to a phone number instead.",
      );
    } catch (err) {
      activity("Could not load the list of agents: " + err.message);
    }
  }

  // --- the current call (as the server describes it) -------------------------------------------------------------

  // The server's word on the agent's call, from a heartbeat answer. The card shows it whatever the softphone heard
  // from Twilio: a call can ring for the agent while the browser cannot reach Twilio at all.
  function applyCall(call) {
    const before = state.call;
    state.call = call;
    if (call && call.answeredAt) {
      // The talk time counts from the answer by the server's clock, translated to this browser's.
      state.callStartedAt = new Date(new Date(call.answeredAt).getTime() - state.clockOffsetMs);
    }
    const gone = before && (!call || call.id !== before.id);
    if (gone && !state.twilioCall && before.id !== state.endedCallId) {
      activity(
        before.state === "ringing"
          ? "The call stopped ringing: the caller hung up, or it went to another agent."
          : "The call has ended.",
      );
    }
    if (call && call.state === "ringing" && (!before || before.id !== call.id) && !state.pendingCall) {
      activity("A call from " + callerOf(call, null) + " is ringing for you.");
    }
    renderCall();
  }

  function callerOf(call, twilioCall) {
    if (call && call.from) return call.from;
    const params = (twilioCall && twilioCall.parameters) || {};
    return params.From || "Unknown caller";
  }

  function lineOf(call) {
    if (!call || !call.to) return "";
    return call.lineName ? call.lineName + " (" + call.to + ")" : call.to;
  }

  function renderIncoming() {
    const call = state.call;
    $("incoming-from").textContent = callerOf(call, state.pendingCall);
    $("incoming-line").textContent = lineOf(call) ? "on " + lineOf(call) : "";
  }

  function renderRinging(call) {
    $("ringing-from").textContent = callerOf(call, null);
    $("ringing-line").textContent = lineOf(call) ? "Calling " + lineOf(call) : "";
    let note;
    if (state.pendingCall) note = "Answer with the green button above.";
    else if (state.deviceState === "ready") {
      note = "Your softphone has not rung yet; if it does not, the call goes to the next agent after the ring time.";
    } else {
      note =
        "This browser cannot reach Twilio, so the call cannot be answered here; it goes to the next agent after " +
        "the ring time.";
    }
    $("ringing-note").textContent = note;
    $("ringing-note").classList.toggle("bad", !state.pendingCall && state.deviceState !== "ready");
  }

  function renderCall() {
    const call = state.call;
    // Other modules (recording.js: recording buttons, who is listening) render their part of the call card.
    document.dispatchEvent(new CustomEvent("voice:call", { detail: call && call.state === "connected" ? call : null }));
    // Answered in this browser, or answered as far as the server knows (elsewhere, or before a reload).
    const live = Boolean(state.twilioCall || (call && call.state === "connected"));
    const ringing = !live && Boolean(call && call.state === "ringing");
    show($("no-call"), !live && !ringing);
    show($("ringing-panel"), ringing);
    show($("call-panel"), live);
    if (state.pendingCall) renderIncoming();
    if (ringing) renderRinging(call);
    if (!live) {
      state.callStartedAt = null;
      return;
    }
    $("call-from").textContent = callerOf(call, state.twilioCall);
    $("call-line").textContent = call && call.lineName ? lineOf(call) : "Line " + ((call && call.to) || "unknown");
    const onHold = Boolean(call && call.onHold);
    $("call-state").textContent = onHold ? "On hold" : "Connected";
    $("call-state").dataset.status = onHold ? "wrap_up" : "in_call";
    show($("hold"), !onHold);
    show($("resume"), onHold);
    // Answered here a moment before the server heard of it: count from now until it says when.
    if (!state.callStartedAt) state.callStartedAt = new Date();
    tick();
  }

  function tick() {
    if (!state.callStartedAt) return;
    const seconds = Math.max(0, Math.floor((Date.now() - state.callStartedAt.getTime()) / 1000));
    $("call-timer").textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  async function callAction(action, body, done) {
    say($("call-error"), "");
    if (!state.call) {
      await heartbeat();
      if (!state.call) {
        say($("call-error"), "The call is not known to the server yet. Try again in a moment.");
        return;
      }
    }
    const buttons = document.querySelectorAll("#call-panel button");
    buttons.forEach((button) => (button.disabled = true));
    state.acting = true;
    try {
      if (state.polling) await state.polling;
      if (!state.call) throw new ApiError(409, "ended", "The call has ended.");
      const result = await api("POST", url(cfg.urls.callAction, { id: state.call.id, action: action }), body || {});
      state.call = Object.assign({}, state.call, result);
      renderCall();
      done(result);
    } catch (err) {
      const prefix = err.status === 502 || err.status === 503 ? "Twilio could not be reached: " : "";
      say($("call-error"), prefix + err.message);
      activity("The " + action.replace("onhold", "hold") + " failed: " + err.message);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
      state.acting = false;
      if (state.pollAgain) {
        state.pollAgain = false;
        heartbeat();
      }
    }
  }

  function onHold() {
    callAction("onhold", {}, () => activity("The caller is on hold and hears the hold music."));
  }

  function onResume() {
    callAction("resume", {}, () => activity("The caller is back with you."));
  }

  function onHangup() {
    if (state.twilioCall) {
      try {
        state.twilioCall.disconnect();
      } catch (err) {
        say($("call-error"), "Could not hang up: " + err.message);
      }
      return;
    }
    // No softphone connection here (answered in another tab, before a reload, or the SDK lost Twilio): the server
    // ends the call at Twilio, and the agent goes to wrap-up.
    callAction("hangup", {}, (result) => {
      activity(result.changed ? "You hung up the call." : "The call had already ended.");
      heartbeat();
    });
  }

  function transferType() {
    const checked = document.querySelector("input[name='transfer-type']:checked");
    return checked ? checked.value : "phonenumber";
  }

  function onTransferTypeChange() {
    const toAgent = transferType() === "client";
    const toDepartment = transferType() === "department";
    show($("transfer-number-row"), !toAgent && !toDepartment);
    show($("transfer-agent-row"), toAgent);
    show($("transfer-department-row"), toDepartment);
    if (toAgent) loadTransferTargets();
  }

  function onTransfer(event) {
    event.preventDefault();
    const type = transferType();
    let to;
    if (type === "client") {
      to = $("transfer-agent").value;
      if (!to || $("transfer-agent").selectedOptions[0].disabled) {
        say($("call-error"), "Choose an available agent to transfer to.");
        return;
      }
    } else if (type === "department") {
      // A department's queue: always cold, the caller waits first in line.
      to = $("transfer-department").value.trim();
      if (!to) {
        say($("call-error"), "Enter the department's name.");
        return;
      }
    } else {
      to = $("transfer-number").value.replace(/[\s().-]/g, "");
      if (to.startsWith("00")) to = "+" + to.slice(2);
      if (!/^\+[1-9][0-9]{6,14}$/.test(to)) {
        say($("call-error"), "Enter the number in international form, such as +14155550123.");
        return;
      }
    }
    const mode = $("transfer-warm").checked && type !== "department" ? "warm" : "cold";
    const label = type === "client" ? $("transfer-agent").selectedOptions[0].textContent : to;
    callAction("transfer", { type: type, to: to, mode: mode }, () => {
      activity(
        mode === "warm"
          ? "Transferring to " + label + ": introduce the caller, then hang up to leave them together."
          : "Transferred to " + label + ".",
      );
      say($("call-notice"), mode === "warm" ? "Introduce the caller, then hang up." : "Transferred to " + label + ".");
      heartbeat();
    });
  }

  // --- the softphone (Twilio Voice JS SDK) -----------------------------------------------------------------------

  function setDevice(kind, message) {
    state.deviceState = kind;
    const texts = {
      starting: "connecting to Twilio…",
      ready: "ready: calls ring in this browser",
      unreachable: "Twilio cannot be reached",
      unavailable: "not available",
      off: "off",
    };
    $("device-text").textContent = texts[kind] || kind;
    $("device-text").classList.toggle("bad", kind === "unreachable" || kind === "unavailable");
    renderAvailabilityNote();
    const banner = $("twilio-banner");
    if (kind === "ready" || kind === "starting") {
      show(banner, false);
    } else if (message) {
      banner.textContent = message;
      show(banner, true);
    }
  }

  const UNREACHABLE =
    "Twilio cannot be reached, so calls cannot ring in this browser right now. Your availability and heartbeats " +
    "still reach our server, and the softphone keeps trying to connect.";

  function onDeviceError(error) {
    const code = error && (error.code || (error.twilioError && error.twilioError.code));
    // 20101-20105: the server's Twilio credentials or the token are wrong; retrying will not help.
    if (code >= 20101 && code <= 20105) {
      setDevice(
        "unavailable",
        "Twilio refused this softphone's token (" + code + "): the server's Twilio settings need fixing. " +
          "Your status still works.",
      );
    } else if (state.deviceState !== "ready" || code === 31005 || code === 53000 || code === 31009) {
      setDevice("unreachable", UNREACHABLE);
    }
    // The SDK retries every few seconds while Twilio is away: note each distinct problem once, not every retry.
    const text = window.VoiceSdkErrors.sentence(error);
    if (!state.deviceErrors.has(text)) {
      state.deviceErrors.add(text);
      activity(text);
    }
  }

  async function fetchClientToken() {
    const data = await api("POST", cfg.urls.clientToken, {});
    return data.token;
  }

  async function startDevice() {
    if (!cfg.sdk.available || !window.Twilio || !window.Twilio.Device) {
      setDevice(
        "unavailable",
        "The softphone is not installed on this server (run `make console-assets`), so calls cannot ring here. " +
          "Your availability and heartbeats still work.",
      );
      return;
    }
    setDevice("starting");
    let token;
    try {
      token = await fetchClientToken();
    } catch (err) {
      if (!state.agent) return;
      setDevice(
        err.status === 503 ? "unavailable" : "unreachable",
        (err.status === 503 ? "Twilio is not configured on this server: " : "No softphone token: ") +
          err.message +
          " Your availability and heartbeats still work.",
      );
      return;
    }
    if (!state.agent) return;
    try {
      const device = new window.Twilio.Device(token, {
        sounds: cfg.sdk.sounds,
        closeProtection: "A call is in progress. Leaving this page ends it.",
        codecPreferences: ["opus", "pcmu"],
        // The page reports problems itself; the SDK's own console logging would only repeat them.
        logLevel: "silent",
      });
      state.device = device;
      device.on("registered", () => {
        window.clearTimeout(state.timers.connect);
        state.deviceErrors.clear();
        setDevice("ready");
        activity("Softphone connected to Twilio.");
      });
      device.on("unregistered", () => {
        if (state.device === device && state.deviceState === "ready") setDevice("unreachable", UNREACHABLE);
      });
      device.on("error", onDeviceError);
      device.on("incoming", onIncoming);
      device.on("tokenWillExpire", () => {
        fetchClientToken()
          .then((fresh) => device.updateToken(fresh))
          .catch((err) => activity("Could not renew the softphone token: " + err.message));
      });
      state.timers.connect = window.setTimeout(() => {
        if (state.device === device && state.deviceState !== "ready") setDevice("unreachable", UNREACHABLE);
      }, cfg.twilioConnectTimeoutSeconds * 1000);
      const registering = device.register();
      if (registering && typeof registering.catch === "function") registering.catch(onDeviceError);
    } catch (err) {
      onDeviceError(err);
    }
  }

  function onIncoming(call) {
    if (state.twilioCall || state.pendingCall) {
      // One call at a time: the platform never offers two, but a stray leg must not replace the live one.
      try {
        call.reject();
      } catch (err) {
        // Already gone.
      }
      return;
    }
    state.pendingCall = call;
    renderIncoming();
    show($("incoming-banner"), true);
    say($("call-notice"), "");
    // The heartbeat may have put the ringing call on the card (and in the activity list) already.
    if (!(state.call && state.call.state === "ringing")) activity("Incoming call from " + callerOf(state.call, call) + ".");
    renderCall();
    const clear = (message) => () => {
      if (state.pendingCall === call) {
        state.pendingCall = null;
        show($("incoming-banner"), false);
        if (message) {
          activity(message);
          state.endedCallId = state.call ? state.call.id : null;
        }
        renderCall();
      }
    };
    call.on("cancel", clear("The caller hung up before you answered."));
    call.on("reject", clear(""));
    call.on("disconnect", () => {
      clear("")();
      onCallEnded(call);
    });
    call.on("error", (error) => activity(window.VoiceSdkErrors.sentence(error)));
    heartbeat();
  }

  function onAnswer() {
    const call = state.pendingCall;
    if (!call) return;
    state.pendingCall = null;
    show($("incoming-banner"), false);
    try {
      call.accept();
    } catch (err) {
      say($("call-error"), "Could not answer: " + err.message);
      return;
    }
    state.twilioCall = call;
    activity("You answered the call.");
    renderCall();
    // The platform marks the agent in a call once Twilio confirms the answer: polled every 1.5 s until it has.
    heartbeat();
  }

  function onDecline() {
    const call = state.pendingCall;
    if (!call) return;
    state.pendingCall = null;
    show($("incoming-banner"), false);
    try {
      call.reject();
    } catch (err) {
      // The caller may already have hung up.
    }
    activity("You declined the call.");
    state.endedCallId = state.call ? state.call.id : null;
    renderCall();
    heartbeat();
  }

  function onCallEnded(call) {
    if (state.twilioCall !== call) return;
    state.twilioCall = null;
    // Said here once; the server's word that the call is gone, a moment later, does not say it again.
    state.endedCallId = state.call ? state.call.id : null;
    activity("The call has ended.");
    say($("call-notice"), "");
    renderCall();
    heartbeat();
  }

  // --- start -----------------------------------------------------------------------------------------------------

  async function resume() {
    let stored = null;
    try {
      stored = window.sessionStorage.getItem(REFRESH_KEY);
    } catch (err) {
      stored = null;
    }
    if (!stored) {
      showStep("login");
      return;
    }
    state.refresh = stored;
    if (await refreshTokens()) await startConsole();
    else {
      setTokens(null, null);
      showStep("login");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", onLogin);
    $("twofactor-form").addEventListener("submit", onVerify);
    $("twofactor-cancel").addEventListener("click", () => {
      state.preLoginToken = null;
      showStep("login");
    });
    $("logout").addEventListener("click", onLogout);
    $("backup-done").addEventListener("click", () => {
      $("backup-codes").replaceChildren();
      startConsole().catch((err) => signOut(err.message));
    });
    $("available-switch").addEventListener("change", onAvailabilityChange);
    $("answer").addEventListener("click", onAnswer);
    $("decline").addEventListener("click", onDecline);
    $("hold").addEventListener("click", onHold);
    $("resume").addEventListener("click", onResume);
    $("hangup").addEventListener("click", onHangup);
    $("transfer-form").addEventListener("submit", onTransfer);
    document.querySelectorAll("input[name='transfer-type']").forEach((radio) => {
      radio.addEventListener("change", onTransferTypeChange);
    });
    resume().catch((err) => {
      showStep("login");
      say($("login-error"), err.message);
    });
  });
  // For the console's other modules (recording.js): the one way to act on the call, and the activity list.
  window.VoiceConsole = { callAction: callAction, activity: activity };
})();
