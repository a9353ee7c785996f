// Harbour console: a form marked data-swap is sent without leaving the page. The server answers
// such a request (it carries "HX-Request: true", the header htmx sends) with a fragment: each
// element in it replaces the page's element of the same id (the server's own escaped HTML).
// Anything else (a whole page: signed out, a refusal page) or no answer at all: the form is
// posted the ordinary way, as it is without scripts. Focus goes to the element the fragment
// marks data-focus (a refusal, an item just added), or else back to the item or section the
// form belonged to; a region marked data-live keeps its element (its new content is announced).
(function () {
  "use strict";

  function plain(form) {
    form.removeAttribute("data-swap");
    HTMLFormElement.prototype.submit.call(form);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-swap")) {
      return;
    }
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") {
      return; // a double click: the first is on its way
    }
    var holder = form.closest("[id]");
    var holderId = holder ? holder.id : null;
    form.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
    })
      .then(function (answer) {
        return answer.text().then(function (html) {
          return answer.redirected ? null : html;
        });
      })
      .then(function (html) {
        if (html === null || /^\s*<!DOCTYPE/i.test(html)) {
          plain(form);
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html").body;
        var focus = null;
        Array.prototype.slice.call(fresh.children).forEach(function (element) {
          var old = element.id ? document.getElementById(element.id) : null;
          if (old) {
            var placed = document.importNode(element, true);
            if (placed.hasAttribute("data-live")) {
              // A live region is kept and its content changed, so screen readers announce it.
              old.className = placed.className;
              old.setAttribute("role", placed.getAttribute("role") || "status");
              old.replaceChildren.apply(old, Array.prototype.slice.call(placed.childNodes));
              old.toggleAttribute("data-focus", placed.hasAttribute("data-focus"));
              placed = old;
            } else {
              old.replaceWith(placed);
            }
            if (placed.hasAttribute("data-focus")) {
              focus = placed;
            } else if (!focus) {
              focus = placed.querySelector("[data-focus]");
            }
          }
        });
        form.removeAttribute("aria-busy");
        focus = focus || (holderId ? document.getElementById(holderId) : null);
        if (focus) {
          focus.focus();
        }
      })
      .catch(function () {
        plain(form);
      });
  });
})();
