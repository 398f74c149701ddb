// Draws the dashboard's charts from the JSON options the server put in the page (ECharts, served locally),
// redraws them after an HTMX swap, and exports a chart as PNG. Everything else works without JavaScript.
(function () {
  "use strict";

  function draw(root) {
    root.querySelectorAll("[data-chart]").forEach(function (box) {
      var source = document.getElementById(box.dataset.chart);
      if (!source || box.dataset.drawn) return;
      var chart = echarts.init(box, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      box.dataset.drawn = "1";
    });
  }

  function resizeAll() {
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var chart = echarts.getInstanceByDom(box);
      if (chart) chart.resize();
    });
  }

  function downloadPng(button) {
    var box = document.getElementById(button.dataset.png);
    var chart = box && echarts.getInstanceByDom(box);
    if (!chart) return;
    var link = document.createElement("a");
    link.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
    link.download = button.dataset.filename || "chart.png";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  // The taxonomy editor: a refused document's named line is selected in the textarea and scrolled into view.
  function showErrorLine() {
    var box = document.querySelector("textarea[data-error-line]");
    var line = box && parseInt(box.dataset.errorLine, 10);
    if (!line) return;
    var lines = box.value.split("\n");
    var start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
    var end = start + (lines[line - 1] || "").length;
    box.focus({ preventScroll: true });
    box.setSelectionRange(start, end);
    var height = parseFloat(getComputedStyle(box).lineHeight) || 20;
    box.scrollTop = Math.max(0, (line - 4) * height);
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); showErrorLine(); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
  window.addEventListener("resize", resizeAll);
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-png]");
    if (button) downloadPng(button);
  });
  // Typing a date means a custom period; this runs before HTMX sends the form on the same change.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches(".filters input[type=date]") && input.form && input.form.period) {
      input.form.period.value = "custom";
    }
  }, true);
})();
