// The admin's statistics page: reads the statistics REST endpoints with the admin's session (the one place the
// figures are computed), writes every figure into a table, then draws the charts from the same rows when Chart.js
// is loaded. Without Chart.js the tables carry every figure and are shown open.
"use strict";
(function () {
  // Up to this many days the volume chart is per hour (at most 168 points); a longer range is per day.
  const HOURLY_MAX_DAYS = 7;
  // Okabe-Ito colours: told apart with the common colour-vision deficiencies, on a light or a dark admin theme.
  const BLUE = "#0072B2";
  const GREEN = "#009E73";
  const VERMILION = "#D55E00";

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            // The API's error envelope says what was wrong (a bad date, a range too long): show its message.
            if (!response.ok) throw new Error((body && body.message) || "HTTP " + response.status);
            return body;
          });
      },
    );
  }

  function withParam(url, name, value) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + name + "=" + encodeURIComponent(value);
  }

  // --- how figures read ------------------------------------------------------------------------------------------
  function count(value) {
    return value === null || value === undefined ? "–" : String(value);
  }

  function percent(ratio) {
    return ratio === null || ratio === undefined ? "–" : (ratio * 100).toFixed(1) + " %";
  }

  // 14.2 s, 3 min 05 s, 1 h 02 min: as the live overview shows a wait.
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return (Math.round(seconds * 10) / 10).toString() + " s";
    const whole = Math.round(seconds);
    const minutes = Math.floor(whole / 60);
    const rest = String(whole % 60).padStart(2, "0");
    if (minutes < 60) return minutes + " min " + rest + " s";
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }

  // Abandoned (after the short-abandon threshold) over the calls offered minus short abandons: the denominator of
  // the service level, so the two rates speak of the same calls (docs/statistics.md).
  function abandonment(row) {
    const considered = row.offered - row.shortAbandoned;
    return considered > 0 ? Math.round((row.abandoned / considered) * 10000) / 10000 : null;
  }

  // --- tables ----------------------------------------------------------------------------------------------------
  function fillTable(table, rows, columns) {
    const body = table.tBodies[0];
    body.replaceChildren();
    rows.forEach(function (row) {
      const tr = document.createElement("tr");
      // Summary rows have a key ("total" for the total, null for calls without an agent, department or line);
      // live rows a department (null for the total).
      if ("key" in row) tr.dataset.key = row.key === null ? "none" : String(row.key);
      else tr.dataset.key = row.department === null ? "total" : String(row.department);
      columns.forEach(function (column, index) {
        const cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        cell.textContent = column(row);
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
  }

  const LIVE_COLUMNS = [
    (r) => r.name,
    (r) => count(r.callersWaiting),
    (r) => duration(r.longestWaitSeconds),
    (r) => count(r.callbacksWaiting),
    (r) => count(r.agentsAvailable),
    (r) => count(r.agentsRinging),
    (r) => count(r.agentsOnCall),
    (r) => count(r.agentsWrapUp),
    (r) => count(r.agentsUnavailable),
    (r) => count(r.agentsOffline),
    (r) => count(r.offeredToday),
    (r) => count(r.answeredToday),
    (r) => percent(r.serviceLevelToday),
  ];
  const VOLUME_COLUMNS = [(r) => r.label, (r) => count(r.offered), (r) => count(r.answered), (r) => count(r.abandoned)];
  const QUALITY_COLUMNS = [
    (r) => r.label,
    (r) => count(r.offered),
    (r) => count(r.answered),
    (r) => percent(r.serviceLevel),
    (r) => count(r.abandoned),
    (r) => count(r.shortAbandoned),
    (r) => percent(abandonment(r)),
    (r) => count(r.voicemail),
    (r) => duration(r.longestWaitSeconds),
  ];
  const AGENT_COLUMNS = [
    (r) => r.label,
    (r) => count(r.answered),
    (r) => count(r.missed),
    (r) => count(r.transferred),
    (r) => duration(r.averageSpeedOfAnswer),
    (r) => duration(r.averageTalkSeconds),
    (r) => duration(r.averageHoldSeconds),
    (r) => duration(r.averageHandleTime),
    (r) => percent(r.occupancy),
  ];

  // --- charts ----------------------------------------------------------------------------------------------------
  function themeColour(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  function drawChart(canvas, config) {
    if (!window.Chart) return;
    const existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
  }

  function volumeChart(canvas, rows) {
    drawChart(canvas, {
      type: "bar",
      data: {
        labels: rows.map((r) => r.label),
        datasets: [
          { label: "Offered", data: rows.map((r) => r.offered), backgroundColor: BLUE },
          { label: "Answered", data: rows.map((r) => r.answered), backgroundColor: GREEN },
        ],
      },
      options: {
        scales: {
          x: { ticks: { maxRotation: 0, autoSkipPadding: 16 } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
  }

  function qualityChart(canvas, rows) {
    const asPercent = (ratio) => (ratio === null ? null : Math.round(ratio * 1000) / 10);
    drawChart(canvas, {
      type: "line",
      data: {
        labels: rows.map((r) => r.label),
        datasets: [
          {
            label: "Service level (%)",
            data: rows.map((r) => asPercent(r.serviceLevel)),
            borderColor: BLUE,
            backgroundColor: BLUE,
          },
          {
            label: "Abandonment (%)",
            data: rows.map((r) => asPercent(abandonment(r))),
            borderColor: VERMILION,
            backgroundColor: VERMILION,
            borderDash: [6, 4], // told apart without colour too
            pointStyle: "rectRot",
          },
        ],
      },
      options: {
        scales: {
          x: { ticks: { maxRotation: 0, autoSkipPadding: 16 } },
          y: { min: 0, max: 100, ticks: { callback: (value) => value + " %" } },
        },
      },
    });
  }

  function setChartDefaults() {
    if (!window.Chart) return;
    const defaults = window.Chart.defaults;
    defaults.color = themeColour("--body-fg", "#333");
    defaults.borderColor = themeColour("--hairline-color", "#ddd");
    defaults.maintainAspectRatio = false;
    // A dashboard, not a show: no animation (and nothing moving for people who asked for less motion).
    defaults.animation = false;
    defaults.plugins.legend.position = "bottom";
  }

  // --- the page --------------------------------------------------------------------------------------------------
  function showTotals(root, total) {
    const figures = {
      offered: count(total.offered),
      answered: count(total.answered),
      serviceLevel: percent(total.serviceLevel),
      abandonment: percent(abandonment(total)),
      averageSpeedOfAnswer: duration(total.averageSpeedOfAnswer),
      averageHandleTime: duration(total.averageHandleTime),
    };
    root.querySelectorAll("[data-total]").forEach(function (element) {
      element.textContent = figures[element.dataset.total];
    });
  }

  function showRange(root, summary) {
    const form = root.querySelector("form");
    // The days the API chose when the form left them empty, so the next Show keeps them.
    if (!form.elements.from.value) form.elements.from.value = summary.from;
    if (!form.elements.to.value) form.elements.to.value = summary.to;
    root.querySelector("#stats-range-title").textContent = "From " + summary.from + " to " + summary.to;
    root.querySelector("#stats-range-note").textContent =
      "Time zone " +
      summary.timeZone +
      "; service level: answered within " +
      summary.serviceLevelSeconds +
      " s; a caller hanging up within " +
      summary.shortAbandonSeconds +
      " s is a short abandon, left out of both rates.";
  }

  function load(root) {
    const message = root.querySelector("#stats-message");
    const summaryUrl = root.dataset.summaryUrl;
    const live = fetchJson(root.dataset.liveUrl).then(function (data) {
      fillTable(root.querySelector("#stats-live"), data.departments.concat([data.total]), LIVE_COLUMNS);
    });
    const agents = fetchJson(withParam(summaryUrl, "groupBy", "agent")).then(function (data) {
      fillTable(root.querySelector("#stats-agents"), data.rows.concat([data.total]), AGENT_COLUMNS);
    });
    const days = fetchJson(withParam(summaryUrl, "groupBy", "day")).then(function (data) {
      showRange(root, data);
      showTotals(root, data.total);
      fillTable(root.querySelector("#table-quality"), data.rows.concat([data.total]), QUALITY_COLUMNS);
      qualityChart(root.querySelector("#chart-quality"), data.rows);
      const hourly = data.rows.length <= HOURLY_MAX_DAYS;
      root.querySelector("#chart-volume-title").textContent =
        "Calls offered and answered per " + (hourly ? "hour" : "day");
      root.querySelector("#table-volume [data-column=period]").textContent = hourly ? "Hour" : "Day";
      const volume = hourly ? fetchJson(withParam(summaryUrl, "groupBy", "hour")) : Promise.resolve(data);
      return volume.then(function (volumeData) {
        fillTable(root.querySelector("#table-volume"), volumeData.rows.concat([volumeData.total]), VOLUME_COLUMNS);
        volumeChart(root.querySelector("#chart-volume"), volumeData.rows);
      });
    });
    Promise.all([live, agents, days])
      .then(function () {
        if (window.Chart) {
          message.textContent = "";
        } else {
          message.textContent = "Charts are not installed here (make console-assets): the figures are in the tables.";
          root.querySelectorAll("details.voice-chart-table").forEach((details) => (details.open = true));
        }
        root.dataset.state = "ready";
      })
      .catch(function (error) {
        message.textContent = "Could not read the figures: " + error.message;
        message.setAttribute("role", "alert");
        message.classList.add("voice-error");
        root.dataset.state = "error";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("voice-statistics");
    if (!root) return;
    setChartDefaults();
    load(root);
  });
})();
