// Booking page. Without JavaScript everything works: the zone is a GET form with suggestions,
// days and times are links. With it: the visitor's own zone goes into the URL the first time
// (?tz=), the zone field becomes a searchable list (the visitor's zone first), focus stays where
// it was when htmx swaps the calendar, and the error summary takes focus.
(function () {
  "use strict";
  var detected = "";
  try { detected = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { detected = ""; }

  var url = new URL(window.location.href);
  if (!url.searchParams.get("tz") && detected && document.getElementById("zone-form")) {
    url.searchParams.set("tz", detected);
    window.location.replace(url.toString());
    return;
  }

  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // --- searchable zone list ------------------------------------------------------------------
  var input = document.getElementById("tz");
  var datalist = document.getElementById("tz-options");
  if (input && datalist) {
    var zones = Array.prototype.map.call(datalist.options, function (o) {
      return { name: o.value, label: o.textContent };
    });
    if (detected) {
      zones = zones.filter(function (z) { return z.name !== detected; });
      zones.unshift({ name: detected, label: "Your zone: " + detected.replace(/_/g, " ") });
    }
    input.removeAttribute("list");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", "tz-results");
    var list = document.createElement("ul");
    list.id = "tz-results";
    list.className = "zone-results";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Time zones");
    list.hidden = true;
    input.parentNode.appendChild(list);
    var active = -1;
    var shown = [];

    var normalise = function (s) { return s.toLowerCase().replace(/[_\s]+/g, " "); };
    var choose = function (name) {
      input.value = name;
      close();
      input.form.submit();
    };
    var close = function () {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    };
    var highlight = function (index) {
      var items = list.children;
      for (var i = 0; i < items.length; i++) items[i].setAttribute("aria-selected", i === index ? "true" : "false");
      active = index;
      if (index >= 0 && items[index]) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      }
    };
    var render = function () {
      var query = normalise(input.value.trim());
      shown = zones.filter(function (z) {
        return !query || normalise(z.name).indexOf(query) !== -1 || normalise(z.label).indexOf(query) !== -1;
      }).slice(0, 50);
      list.textContent = "";
      shown.forEach(function (z, i) {
        var li = document.createElement("li");
        li.id = "tz-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.zone = z.name;
        li.textContent = z.label;
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(z.name); });
        list.appendChild(li);
      });
      if (!shown.length) {
        var empty = document.createElement("li");
        empty.className = "zone-empty";
        empty.textContent = "No time zone matches. Try a city name, such as Paris.";
        list.appendChild(empty);
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(shown.length ? 0 : -1);
    };
    input.addEventListener("focus", function () { input.select(); });
    input.addEventListener("input", render);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { render(); return; }
        var next = active + (event.key === "ArrowDown" ? 1 : -1);
        highlight(Math.max(0, Math.min(shown.length - 1, next)));
      } else if (event.key === "Enter" && !list.hidden && active >= 0 && shown[active]) {
        event.preventDefault();
        choose(shown[active].name);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", close);
  }

  // --- keep focus on the link that was used when htmx swaps the calendar -----------------------
  var lastId = "";
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    lastId = event.target && event.target.id ? event.target.id : "";
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    var target = (lastId && document.getElementById(lastId)) || document.getElementById("month-title");
    if (target) {
      if (!target.hasAttribute("tabindex") && target.tagName !== "A") target.setAttribute("tabindex", "-1");
      target.focus();
    }
  });
})();
