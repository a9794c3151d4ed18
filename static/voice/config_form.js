// Config form: put the opening ranges and holidays under "Business hours" and the menu options under "IVR menu"
// (Django renders every inline at the bottom), and show "Forward to" only for forward options and "Message" only
// where words are read, on existing rows and on rows added with "Add another".
"use strict";
(function () {
  const NEEDS = { forward: ["forward_to"], message: ["message"], voicemail: [], route: [] };

  function update(row) {
    const select = row.querySelector("select.voice-ivr-action");
    if (!select) return;
    const wanted = NEEDS[select.value] || ["message", "forward_to"];
    ["message", "forward_to"].forEach(function (name) {
      const input = row.querySelector("[name$='-" + name + "']");
      if (!input) return;
      const cell = input.closest("td") || input.parentElement;
      const show = wanted.indexOf(name) !== -1 || input.value.trim() !== "";
      // Hidden, not removed: the value is still submitted and any error on it stays visible.
      input.style.visibility = show ? "visible" : "hidden";
      if (cell) cell.classList.toggle("voice-ivr-unused", !show);
    });
  }

  // Not a data- attribute: "Add another" clones the hidden template row, attributes included.
  const wired = new WeakSet();

  function wire(row) {
    const select = row.querySelector("select.voice-ivr-action");
    if (!select || wired.has(select)) return;
    wired.add(select);
    select.addEventListener("change", function () {
      update(row);
    });
    update(row);
  }

  // Inline group id -> the heading of the fieldset it belongs under. Moving the nodes keeps them in the same form,
  // so what is submitted does not change; without this script they simply stay at the bottom.
  const PLACES = [
    ["business_hours-group", "Business hours"],
    ["holidays-group", "Business hours"],
    ["ivr_options-group", "IVR menu"],
  ];

  function placeInlines() {
    const headings = Array.from(document.querySelectorAll("fieldset.module h2"));
    const lastPlaced = {};
    PLACES.forEach(function (place) {
      const group = document.getElementById(place[0]);
      const heading = headings.find(function (h) {
        return h.textContent.trim() === place[1];
      });
      if (!group || !heading) return;
      const anchor = lastPlaced[place[1]] || heading.closest("fieldset");
      anchor.after(group);
      group.classList.add("voice-inline-placed");
      lastPlaced[place[1]] = group;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    placeInlines();
    document.querySelectorAll("select.voice-ivr-action").forEach(function (select) {
      wire(select.closest("tr") || select.closest(".inline-related") || select.parentElement);
    });
  });
  document.addEventListener("formset:added", function (event) {
    if (event.target && event.target.querySelector) wire(event.target);
  });
})();
