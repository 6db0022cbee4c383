// The push step of the sign-in page: ask the server how the push is going
// (a long poll, answered from the store, so the phone's answer may reach
// any node) and move on when it is approved, refused or given up. Without
// this script the "Check" button does the same by hand.
(function () {
  "use strict";
  var status = document.getElementById("push-status");
  if (!status || !window.fetch) {
    return;
  }
  var url = status.getAttribute("data-status-url");
  var delay = 0;

  function poll() {
    fetch(url + "&wait=25", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (res.status >= 400 && res.status < 500) {
          // The sign-in is over here (expired, or reported as not the
          // user's): the page itself says so.
          window.location.reload();
          return { stop: true };
        }
        if (!res.ok) {
          throw new Error("status " + res.status);
        }
        return res.json();
      })
      .then(function (body) {
        if (body.stop) {
          return;
        }
        delay = 0;
        if (body.next) {
          status.textContent = status.getAttribute(body.status === "approved" ? "data-msg-approved" : "data-msg-ended");
          window.location.assign(body.next);
          return;
        }
        poll();
      })
      .catch(function () {
        // A dropped connection or a restarting node: try again, backing
        // off up to 10 s.
        delay = Math.min(delay ? delay * 2 : 1000, 10000);
        window.setTimeout(poll, delay);
      });
  }
  poll();
})();
