// Flagon admin: progressive enhancement only. Every form works without
// this script; it applies the theme at once, shows a rollout's total as
// it is typed, hides rollout inputs that do not apply, and copies links.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // Theme: apply on change, and store it through the form.
    var sel = document.querySelector("[data-theme-select]");
    if (sel) {
      sel.addEventListener("change", function () {
        if (sel.value) {
          root.setAttribute("data-theme", sel.value);
        } else {
          root.removeAttribute("data-theme");
        }
        sel.form.submit();
      });
    }

    // Rollouts: show the split only when it is chosen, and its total.
    document.querySelectorAll("[data-serve]").forEach(function (box) {
      var mode = box.querySelector("[data-serve-mode]");
      var split = box.querySelector("[data-split]");
      var total = box.querySelector("[data-split-total]");
      if (!mode || !split) {
        return;
      }
      function update() {
        split.hidden = mode.value !== "split";
        var sum = 0;
        var any = false;
        split.querySelectorAll("[data-pct]").forEach(function (input) {
          var v = parseFloat(input.value);
          if (!isNaN(v)) {
            sum += v;
            any = true;
          }
        });
        if (total) {
          sum = Math.round(sum * 1000) / 1000;
          total.textContent = any ? "Total: " + sum + "%" + (sum === 100 ? "" : " (must be 100%)") : "";
          total.classList.toggle("field-error", any && sum !== 100);
        }
      }
      mode.addEventListener("change", update);
      split.addEventListener("input", update);
      update();
    });

    // Share links: a copy button.
    document.querySelectorAll("[data-copy]").forEach(function (btn) {
      var src = document.querySelector("[data-copy-source]");
      if (!src || !navigator.clipboard) {
        return;
      }
      btn.hidden = false;
      btn.addEventListener("click", function () {
        navigator.clipboard.writeText(src.value).then(function () {
          btn.textContent = "Copied";
        });
      });
    });
  });
})();
