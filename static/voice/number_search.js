// Phone-line form: search the numbers Twilio has for sale (GET /voiceconfig/phonenumbers, with the admin's
// session) and put the chosen one in the phone-number field. Twilio being unreachable is a message, not an error.
"use strict";
(function () {
  function text(tag, value, className) {
    const el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    if (className) el.className = className;
    return el;
  }

  function capabilities(number) {
    const caps = number.capabilities || number;
    const names = [];
    ["voice", "sms", "mms", "fax"].forEach(function (key) {
      if (caps[key] === true) names.push(key === "voice" ? "Voice" : key.toUpperCase());
    });
    return names.join(", ") || "–";
  }

  function setStatus(picker, message, isError) {
    const status = picker.querySelector(".voice-number-search-status");
    status.textContent = message;
    status.classList.toggle("voice-error", Boolean(isError));
  }

  function showResults(picker, numbers) {
    const table = picker.querySelector(".voice-number-results");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    numbers.forEach(function (number) {
      const row = document.createElement("tr");
      row.append(text("td", number.phoneNumber));
      const where = [number.locality, number.region, number.countryCode || number.isoCountry].filter(Boolean);
      row.append(text("td", where.join(", ") || number.friendlyName || "–"));
      row.append(text("td", capabilities(number)));
      const cell = document.createElement("td");
      const use = text("button", "Use this number", "button voice-ns-use");
      use.type = "button";
      use.addEventListener("click", function () {
        const input = document.getElementById(picker.dataset.input);
        input.value = number.phoneNumber;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.dispatchEvent(new Event("change", { bubbles: true }));
        input.focus();
        setStatus(
          picker,
          number.phoneNumber + " is in the field. Save the line to use it; the number must also be bought in " +
            "your Twilio account before callers can reach it.",
          false,
        );
      });
      cell.append(use);
      if (picker.dataset.buyUrl) {
        // Buying has its own confirm page (it costs money); it comes back here with the number filled in.
        const buy = text("a", "Buy…", "button voice-ns-buy");
        buy.href = picker.dataset.buyUrl + "?" + new URLSearchParams({ number: number.phoneNumber }).toString();
        cell.append(" ", buy);
      }
      row.append(cell);
      body.append(row);
    });
    table.hidden = numbers.length === 0;
  }

  function search(picker) {
    const params = new URLSearchParams({ countryCode: picker.querySelector(".voice-ns-country").value });
    const kind = picker.querySelector(".voice-ns-kind").value;
    const area = picker.querySelector(".voice-ns-area").value.trim();
    const contains = picker.querySelector(".voice-ns-contains").value.trim();
    if (kind) params.set("type", kind);
    if (area) params.set("areaCode", area);
    if (contains) params.set("contains", contains);
    const button = picker.querySelector(".voice-ns-search");
    button.disabled = true;
    setStatus(picker, "Asking Twilio…", false);
    showResults(picker, []);
    fetch(picker.dataset.searchUrl + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (body) {
            return { response: response, body: body };
          });
      })
      .then(function (result) {
        const body = result.body || {};
        if (!result.response.ok) {
          const prefix = result.response.status >= 502 ? "Twilio could not be reached: " : "";
          setStatus(picker, prefix + (body.message || body.error || "the search failed (" + result.response.status + ")."), true);
          return;
        }
        const numbers = body.phoneNumberList || body.results || [];
        setStatus(picker, numbers.length ? numbers.length + " number(s) for sale." : "Twilio has no such numbers for sale: try another area code or type.", false);
        showResults(picker, numbers);
      })
      .catch(function () {
        setStatus(picker, "Could not reach the server. Check your connection and try again.", true);
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".voice-number-search").forEach(function (picker) {
      picker.querySelector(".voice-ns-search").addEventListener("click", function () {
        search(picker);
      });
      picker.querySelectorAll("input").forEach(function (input) {
        // Enter in a search box searches instead of submitting the whole line form.
        input.addEventListener("keydown", function (event) {
          if (event.key === "Enter") {
            event.preventDefault();
            search(picker);
          }
        });
      });
    });
  });
})();
