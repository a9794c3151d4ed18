// Twilio Voice JS SDK errors as one plain sentence for the agent.
//
// The SDK's own messages read like "UnknownError (31000): An unknown error has occurred. See error details for
// more information." — written for developers. The agent needs what happened and what to do, in one line. Codes
// are Twilio's (lib/twilio/errors/generated.ts of @twilio/voice-sdk 2.x); the code stays at the end, in
// brackets, for whoever the agent reports it to. Sentences end without a full stop: sentence() adds it.
"use strict";
(function () {
  const NO_TWILIO =
    "The softphone lost its connection to Twilio; calls cannot ring in this browser until it is back, and it keeps trying";
  const SETUP = "Twilio refused this softphone's sign-in; ask your supervisor to check the server's Twilio settings";
  const MICROPHONE =
    "The browser did not let the softphone use your microphone; allow it in the address bar and reload the page";

  const SENTENCES = {
    20101: SETUP,
    20104: "The softphone's sign-in to Twilio expired; reload the page to sign it in again",
    20151: SETUP,
    31000: "The softphone hit an unexpected problem talking to Twilio; if calls stop ringing, reload the page",
    31001: SETUP,
    31002: "The call was declined before it connected",
    31003: "Twilio took too long to answer the softphone; it will try again",
    31005: "The call's connection to Twilio broke; the caller may have been cut off",
    31008: "The caller hung up before the call could be answered",
    31009: NO_TWILIO,
    31100: "Twilio could not understand the softphone's request; reload the page",
    31101: "Twilio could not understand the softphone's request; reload the page",
    31102: SETUP,
    31103: "Twilio could not understand the softphone's request; reload the page",
    31104: SETUP,
    31105: SETUP,
    31107: "The softphone could not rejoin the call after a network blip; the call may have ended",
    31201: SETUP,
    31202: SETUP,
    31203: SETUP,
    31204: SETUP,
    31205: "The softphone's sign-in to Twilio expired; reload the page to sign it in again",
    31206: "Twilio is refusing requests from this account for a moment (rate limit); wait a minute",
    31207: SETUP,
    31209: "The softphone could not rejoin the call after a network blip; the call may have ended",
    31401: MICROPHONE,
    31402: "The softphone could not open your microphone; check that one is plugged in and not used by another app",
    31404: "Twilio could not find who the call was for",
    31480: "The person called is not available right now",
    31486: "The person called is busy",
    31603: "The person called declined the call",
    53000: NO_TWILIO,
    53001: NO_TWILIO,
    53400: "The browser could not set up the call's audio; reload the page, or try another browser",
    53402: "The browser could not set up the call's audio; reload the page, or try another browser",
    53405: "The call's audio could not get through your network (a firewall may block it); the caller may not hear you",
  };

  function codeOf(error) {
    const code = error && (error.code || (error.twilioError && error.twilioError.code));
    return Number.isInteger(code) ? code : Number.parseInt(code, 10) || null;
  }

  // Families of codes the table does not list, by their ranges in Twilio's error catalogue.
  function familySentence(code) {
    if (code >= 20100 && code < 20200) return SETUP;
    if (code >= 31200 && code < 31300) return SETUP;
    if (code >= 31400 && code < 31500) return "The call could not be completed";
    if (code >= 53000 && code < 53400) return NO_TWILIO;
    if (code >= 53400 && code < 53500) return "The call's audio could not be set up; reload the page";
    return null;
  }

  function sentence(error) {
    const code = codeOf(error);
    const text = SENTENCES[code] || familySentence(code) || "The softphone hit an unexpected problem; reload the page";
    return code ? text + " (Twilio error " + code + ")." : text + ".";
  }

  window.VoiceSdkErrors = { sentence: sentence, codeOf: codeOf };
})();
