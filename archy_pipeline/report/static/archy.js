// archy-pipeline report: table search and insight filters. Plain JavaScript, no network.
(function () {
  "use strict";
  document.querySelectorAll("input[data-filter-table]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter-table"));
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var text = row.textContent.toLowerCase();
        row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    });
  });

  var selects = document.querySelectorAll("select[data-insight-filter]");
  if (!selects.length) return;
  var articles = document.querySelectorAll("article.insight");
  var count = document.getElementById("insight-count");
  function apply() {
    var want = {};
    selects.forEach(function (s) { want[s.getAttribute("data-insight-filter")] = s.value; });
    var shown = 0;
    articles.forEach(function (a) {
      var folders = (a.getAttribute("data-folders") || "").split("|");
      var ok = (!want.kind || a.dataset.kind === want.kind) &&
        (!want.severity || a.dataset.severity === want.severity) &&
        (!want.status || a.dataset.status === want.status) &&
        (!want.folder || folders.some(function (f) {
          return f === want.folder || f.indexOf(want.folder + "/") === 0;
        }));
      a.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + " of " + articles.length + " insights shown.";
  }
  // insights.html#kind=bottleneck&severity=high presets the filters.
  var hash = location.hash.slice(1);
  if (hash.indexOf("=") > 0) {
    hash.split("&").forEach(function (pair) {
      var kv = pair.split("=");
      selects.forEach(function (s) {
        if (s.getAttribute("data-insight-filter") === kv[0]) s.value = decodeURIComponent(kv[1]);
      });
    });
  } else if (hash) {
    selects.forEach(function (s) { s.value = ""; });  // a link to one insight shows it
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();
})();
