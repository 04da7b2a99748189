"use strict";
(function () {
  const outcome = document.getElementById("outcome");

  function show(kind, text) {
    outcome.className = kind;
    outcome.textContent = text;
  }

  // The token is the URL's fragment, which browsers never send to a server: not to this API's
  // logs, nor in a Referer. It is sent once, in the body of one request to this site's API.
  const token = window.location.hash.replace(/^#/, "");
  // Another link opened in this tab changes only the fragment, which loads nothing: start again
  // with its token.
  window.addEventListener("hashchange", function () {
    window.location.reload();
  });
  // Out of the address bar and the history, now that it is read.
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  if (!token) {
    show("failure", "This link is incomplete or damaged. Ask for a new confirmation email.");
    return;
  }
  show("pending", "Confirming your email address…");

  const messages = {
    invalid_verification_token:
      "This link is invalid, has expired or was already used. Sign in to check whether your address is confirmed, or ask for a new confirmation email.",
  };

  fetch("/api/verify-email", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: token }),
    referrerPolicy: "no-referrer",
    credentials: "omit",
  })
    .then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          show("success", "Your email address is confirmed. You can now sign in.");
          return;
        }
        const known = Object.prototype.hasOwnProperty.call(messages, body.error);
        show("failure", (known && messages[body.error]) || body.message || "Something went wrong. Please try again later.");
      });
    })
    .catch(function () {
      show("failure", "The server could not be reached. Check your connection and reload this page.");
    });
})();
