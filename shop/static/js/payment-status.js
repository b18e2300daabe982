// The WeChat Pay QR page: ask the shop every two seconds whether the order is paid, and move
// on to the order page as soon as it is no longer waiting for the payment.
(function () {
  "use strict";
  var panel = document.querySelector("[data-status-url]");
  if (!panel) {
    return;
  }
  var url = panel.getAttribute("data-status-url");
  var stopped = false;
  function check() {
    if (stopped) {
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && answer.done) {
          stopped = true;
          window.location.assign(answer.url);
          return;
        }
        window.setTimeout(check, 2000);
      })
      .catch(function () {
        window.setTimeout(check, 5000);
      });
  }
  window.setTimeout(check, 2000);
})();
