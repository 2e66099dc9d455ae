// Time zones in the browser (no inline script: the pages' Content-Security-Policy forbids it).
//
// 1. A signed-in person with no zone saved (body[data-save-zone-url]) gets the browser's own
//    zone saved as their default, once; they can change it on their profile.
// 2. A zone select (select[data-zone-picker]) gets a search box that narrows its options by
//    place, country, zone name or offset, and, when the page asks for it
//    (data-prefer-browser-zone), preselects the browser's zone.
(function () {
  "use strict";

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function saveDefaultZone() {
    var url = document.body.getAttribute("data-save-zone-url");
    var zone = browserZone();
    if (!url || !zone) {
      return;
    }
    var body = new URLSearchParams({ time_zone: zone });
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    });
  }

  function preselectBrowserZone(select) {
    var zone = browserZone();
    var aliases = {};
    try {
      aliases = JSON.parse(select.getAttribute("data-aliases") || "{}");
    } catch (error) {
      aliases = {};
    }
    var wanted = aliases[zone] || zone;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === wanted) {
        select.selectedIndex = i;
        return;
      }
    }
  }

  function addSearch(select) {
    var search = document.createElement("input");
    search.type = "search";
    search.className = "form-control mb-2 zone-search";
    search.placeholder = "Search by city, country or offset (e.g. Berlin, Japan, +05:30)";
    search.setAttribute("aria-label", "Search zones by place, country or offset");
    search.setAttribute("aria-controls", select.id);
    search.setAttribute("autocomplete", "off");
    select.parentNode.insertBefore(search, select);

    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // choosing, not submitting the form
        select.focus();
      }
    });
    search.addEventListener("input", function () {
      var query = search.value.trim().toLowerCase();
      var firstShown = null;
      var firstWhole = null; // a whole-word match ("india": Kolkata before Indianapolis)
      var selectedShown = false;
      for (var i = 0; i < select.options.length; i++) {
        var option = select.options[i];
        var words = (option.text + " " + (option.getAttribute("data-search") || "")).toLowerCase();
        var shown = query === "" || words.indexOf(query) !== -1;
        option.hidden = !shown;
        if (shown && firstShown === null) {
          firstShown = option;
        }
        var spaced = " " + words.replace(/[(),;/]/g, " ") + " ";
        if (shown && firstWhole === null && spaced.indexOf(" " + query + " ") !== -1) {
          firstWhole = option;
        }
        if (shown && option.selected) {
          selectedShown = true;
        }
      }
      var groups = select.querySelectorAll("optgroup");
      for (var g = 0; g < groups.length; g++) {
        groups[g].hidden = groups[g].querySelector("option:not([hidden])") === null;
      }
      var best = firstWhole || firstShown;
      if (query !== "" && best !== null && !(selectedShown && firstWhole === null)) {
        best.selected = true;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  function start() {
    saveDefaultZone();
    var selects = document.querySelectorAll("select[data-zone-picker]");
    for (var i = 0; i < selects.length; i++) {
      if (selects[i].hasAttribute("data-prefer-browser-zone")) {
        preselectBrowserZone(selects[i]);
      }
      addSearch(selects[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
