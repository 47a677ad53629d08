// archc design-review report: table sorting and filtering, diagram zoom, and links between
// table rows and diagram nodes.  No network access, no dependencies.
(function () {
  "use strict";

  var table = document.getElementById("layers");
  var tbody = table ? table.tBodies[0] : null;

  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
    return type === "num" ? parseFloat(raw) : raw.toLowerCase();
  }

  function sortBy(th) {
    var headers = table.tHead.rows[0].cells;
    var index = Array.prototype.indexOf.call(headers, th);
    var type = th.getAttribute("data-type");
    var current = th.getAttribute("aria-sort");
    var first = th.getAttribute("data-first") || "ascending";
    var dir = current === first ? (first === "ascending" ? "descending" : "ascending") : first;
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type);
      var y = cellValue(b, index, type);
      var order = x < y ? -1 : x > y ? 1 : 0;
      if (order === 0) {
        order = cellValue(a, 0, "num") - cellValue(b, 0, "num");  // stable: by position
        return order;
      }
      return dir === "ascending" ? order : -order;
    });
    for (var i = 0; i < headers.length; i++) headers[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir);
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    tbody.appendChild(fragment);
  }

  if (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = th.querySelector("button");
      if (button) button.addEventListener("click", function () { sortBy(th); });
    });
  }

  var filter = document.getElementById("filter");
  if (filter && tbody) {
    filter.addEventListener("input", function () {
      var needle = filter.value.trim().toLowerCase();
      Array.prototype.forEach.call(tbody.rows, function (row) {
        var text = (row.getAttribute("data-key") + " " + row.cells[2].textContent).toLowerCase();
        row.classList.toggle("hidden", needle !== "" && text.indexOf(needle) < 0);
      });
    });
  }

  // diagram: fit / actual size, expand
  var frame = document.getElementById("diagram-frame");
  function toggle(id, cls) {
    var button = document.getElementById(id);
    if (!button || !frame) return;
    button.addEventListener("click", function () {
      var on = frame.classList.toggle(cls);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }
  toggle("zoom", "actual");
  toggle("expand", "expanded");

  // links: a table row's name shows its node; a node shows its table row
  var nodes = {};
  if (frame) {
    Array.prototype.forEach.call(frame.querySelectorAll("g.node"), function (g) {
      var title = g.querySelector("title");
      if (title) nodes[title.textContent] = g;
    });
  }
  function flash(element) {
    element.classList.add("hl");
    window.setTimeout(function () { element.classList.remove("hl"); }, 2000);
  }
  function showNode(key) {
    var g = nodes[key];
    if (!g) return;
    frame.scrollIntoView({ block: "start" });
    var box = g.getBoundingClientRect();
    var outer = frame.getBoundingClientRect();
    frame.scrollTop += box.top - outer.top - frame.clientHeight / 2 + box.height / 2;
    frame.scrollLeft += box.left - outer.left - frame.clientWidth / 2 + box.width / 2;
    flash(g);
  }
  if (tbody) {
    tbody.addEventListener("click", function (event) {
      var link = event.target.closest("a.node-link");
      if (!link) return;
      event.preventDefault();
      showNode(link.closest("tr").getAttribute("data-node"));
    });
  }
  Object.keys(nodes).forEach(function (key) {
    nodes[key].addEventListener("click", function () {
      if (!tbody) return;
      var row = null;
      Array.prototype.forEach.call(tbody.rows, function (r) {
        if (!row && r.getAttribute("data-node") === key) row = r;  // the node's first row
      });
      if (!row) return;
      row.classList.remove("hidden");
      row.scrollIntoView({ block: "center" });
      flash(row);
    });
  });
})();
