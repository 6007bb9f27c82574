// The SQL console: posts the query to /api/v1/sql with the session cookie and the page's CSRF
// token, and draws the JSON answer as a table. Errors are shown as the API words them.
(function () {
  "use strict";
  var MAX_SHOWN = 1000; // the DOM slows past this; the row count still says how many came
  var form = document.getElementById("console");
  if (!form) { return; }
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var status = document.getElementById("status");
  var error = document.getElementById("error");
  var table = document.getElementById("results");
  var button = document.getElementById("run");
  var words = form.dataset;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? values[name] : all;
    });
  }

  function cell(tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text; // text only: a value can never become markup
    if (className) { element.className = className; }
    return element;
  }

  function draw(answer) {
    var head = document.createElement("tr");
    answer.columns.forEach(function (column) {
      var th = cell("th", column.name);
      th.title = column.type;
      th.scope = "col";
      head.appendChild(th);
    });
    var body = document.createDocumentFragment();
    answer.rows.slice(0, MAX_SHOWN).forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (value) {
        var shown = value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
        tr.appendChild(cell("td", shown, value === null ? "null" : typeof value === "number" ? "num" : ""));
      });
      body.appendChild(tr);
    });
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(body);
    table.hidden = false;
  }

  function fail(text) {
    error.textContent = text;
    error.hidden = false;
  }

  async function run(event) {
    event.preventDefault();
    var sql = form.elements.sql.value.trim();
    if (!sql) { return; }
    var asOf = form.elements.as_of.value.trim();
    var request = { sql: sql, format: "json" };
    if (asOf) { request.as_of = asOf; }
    button.disabled = true;
    error.hidden = true;
    table.hidden = true;
    status.textContent = words.running;
    var started = performance.now();
    try {
      var response = await fetch("/api/v1/sql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify(request)
      });
      var answer = await response.json().catch(function () { return null; });
      var ms = Math.round(performance.now() - started);
      if (response.ok && answer) {
        draw(answer);
        var line = fill(words.rows, { n: answer.row_count.toLocaleString(), ms: ms });
        if (answer.rows.length > MAX_SHOWN) { line += " · " + fill(words.shown, { shown: MAX_SHOWN.toLocaleString() }); }
        if (answer.truncated) { line += " · " + words.truncated; }
        status.textContent = line;
      } else {
        status.textContent = "";
        var problem = answer && answer.error;
        fail(problem ? words.failed + " (" + problem.kind + "): " + problem.message
                     : words.failed + " (HTTP " + response.status + ")" + (answer && answer.detail ? ": " + answer.detail : ""));
      }
    } catch (err) {
      status.textContent = "";
      fail(words.failed + ": " + err.message);
    } finally {
      button.disabled = false;
    }
    // The address keeps the query, so it can be bookmarked or shared.
    var params = new URLSearchParams({ sql: sql });
    if (asOf) { params.set("as_of", asOf); }
    history.replaceState(null, "", "/console?" + params.toString());
  }

  form.addEventListener("submit", run);
  form.elements.sql.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") { form.requestSubmit(); }
  });
})();
