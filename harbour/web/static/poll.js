// Harbour console: the one script. A region with data-poll="URL" is replaced by what URL
// answers (the server's own escaped fragment) every few seconds, until the fragment it gets
// back no longer asks to be polled, or after a bounded number of tries (a page left open must
// not keep its session alive for ever). Without scripts the page still works: reload it.
(function () {
  "use strict";
  var EVERY_MS = 10000;
  var AT_MOST = 90;

  function poll(region, left) {
    var url = region.getAttribute("data-poll");
    if (!url || left <= 0) {
      return;
    }
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "X-Harbour-Poll": "1" } })
        .then(function (answer) {
          return answer.ok ? answer.text() : null;
        })
        .then(function (html) {
          if (html === null) {
            return;
          }
          var fresh = new DOMParser().parseFromString(html, "text/html").body.firstElementChild;
          if (!fresh || fresh.id !== region.id) {
            return;
          }
          region.replaceWith(fresh);
          poll(fresh, left - 1);
        })
        .catch(function () {
          poll(region, left - 1);
        });
    }, EVERY_MS);
  }

  document.querySelectorAll("[data-poll]").forEach(function (region) {
    poll(region, AT_MOST);
  });
})();
