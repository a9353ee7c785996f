// Harbour console: typing in a form counts as being here. A session ends after some minutes
// without a request, and answers typed over a long conversation with a youth make none: while
// someone types into a form, this tells the server so (POST /still-here, with the form's CSRF
// token), at most once a minute. A page merely left open sends nothing, and its session ends.
(function () {
  "use strict";
  var AT_MOST_EVERY_MS = 60000;
  var last = Date.now(); // the page's own request

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    var token = form && form.querySelector("input[name=csrf]");
    var now = Date.now();
    if (!token || now - last < AT_MOST_EVERY_MS) {
      return;
    }
    last = now;
    var body = new FormData();
    body.append("csrf", token.value);
    fetch("/still-here", { method: "POST", body: body, credentials: "same-origin" }).catch(
      function () {}
    );
  });
})();
