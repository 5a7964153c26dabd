// Enhancements only: every feature of the page works without this file.
(function () {
  "use strict";

  var DELAY_MS = 120;     // wait for a pause in typing before asking the server
  var MIN_CHARS = 2;      // the API answers nothing shorter either

  function setUpSuggestions(input) {
    var list = document.getElementById("q-suggestions");
    if (!list || !window.fetch) return;
    var endpoint = input.getAttribute("data-suggest");
    var timer = null, active = -1, asked = "";

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function choose(option) {
      // A title goes straight to its article; a phrase becomes the query.
      var link = option.querySelector("a");
      if (link) { window.location.assign(link.href); return; }
      input.value = option.textContent;
      close();
      input.form.submit();
    }

    function addOption(text, href) {
      var option = document.createElement("li");
      option.id = list.id + "-" + options().length;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      if (href) {
        var link = document.createElement("a");
        link.href = href;
        link.tabIndex = -1;
        link.textContent = text;  // text, never HTML: titles come from scraped pages
        option.className = "title";
        option.appendChild(link);
      } else {
        option.textContent = text;
      }
      // mousedown, not click: it fires before the input's blur closes the list. A title's
      // link then follows its own click, so it opens in a new tab when asked to.
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        if (!href) choose(option);
      });
      list.appendChild(option);
    }

    function show(data) {
      var phrases = data.suggestions || [], titles = data.titles || [];
      list.textContent = "";
      active = -1;
      phrases.forEach(function (text) { addOption(text, null); });
      if (titles.length) {
        var heading = document.createElement("li");
        heading.className = "group";
        heading.setAttribute("role", "presentation");
        heading.textContent = "Bài viết";
        list.appendChild(heading);
      }
      titles.forEach(function (title) { addOption(title.title, title.link); });
      var any = phrases.length + titles.length > 0;
      list.hidden = !any;
      input.setAttribute("aria-expanded", any ? "true" : "false");
    }

    function highlight(index) {
      var all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", all[active].id);
    }

    function ask() {
      var typed = input.value;
      if (typed.trim().length < MIN_CHARS) { close(); return; }
      asked = typed;
      fetch(endpoint + "?q=" + encodeURIComponent(typed), { headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : {}; })
        .then(function (data) {
          // An answer to an older keystroke is dropped: the box has moved on.
          if (asked === typed && input.value === typed && document.activeElement === input) show(data);
        })
        .catch(function () { close(); });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(options()[active]);
      } else if (event.key === "Escape") {
        event.preventDefault();  // the first Escape only closes the list; a search box would clear itself
        close();
      }
    });
    input.addEventListener("blur", close);
  }

  // On a phone the filters start folded away so the results come first.
  function foldFiltersOnNarrowScreens() {
    var filters = document.querySelector("details[data-collapse-narrow]");
    if (!filters || !window.matchMedia) return;
    var narrow = window.matchMedia("(max-width: 760px)");
    function apply() { filters.open = !narrow.matches; }
    apply();
    if (narrow.addEventListener) narrow.addEventListener("change", apply);
  }

  var box = document.querySelector("input[data-suggest]");
  if (box) setUpSuggestions(box);
  foldFiltersOnNarrowScreens();
})();
