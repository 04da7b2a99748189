"use strict";
(function () {
  const form = document.getElementById("reset-form");
  const password = document.getElementById("password");
  const confirm = document.getElementById("confirm");
  const button = document.getElementById("submit");
  const outcome = document.getElementById("outcome");

  function show(kind, text) {
    outcome.hidden = false;
    outcome.className = kind;
    outcome.textContent = text;
  }

  // The token is the URL's fragment, which browsers never send to a server: not to this API's
  // logs, nor a proxy's, nor in a Referer. It is sent once, in the path of one request to this
  // site's API.
  let token = "";
  try {
    token = decodeURIComponent(window.location.hash.replace(/^#/, ""));
  } catch (malformed) {
    token = "";
  }
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
    form.hidden = true;
    show("failure", "This link is incomplete or damaged. Ask for a new password-reset email.");
    return;
  }
  button.disabled = false;

  const messages = {
    invalid_reset_token: "This link is invalid, has expired or was already used. Ask for a new password-reset email.",
    invalid_password: null, // the API's own message states the rule that was broken
    missing_field: "Please type a new password.",
    payload_too_large: "That password is far too long.",
  };

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (password.value !== confirm.value) {
      show("failure", "The two passwords differ. Type the same password twice.");
      return;
    }
    if (Array.from(password.value).length < 8) {
      show("failure", "The password must be at least 8 characters long.");
      return;
    }
    button.disabled = true;
    try {
      const response = await fetch("/api/reset-password/" + encodeURIComponent(token), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ password: password.value }),
        referrerPolicy: "no-referrer",
        credentials: "omit",
      });
      const body = await response.json().catch(function () { return {}; });
      if (response.ok) {
        form.hidden = true;
        show("success", "Your password has been changed. You can now sign in with your new password.");
        return;
      }
      const known = Object.prototype.hasOwnProperty.call(messages, body.error);
      show("failure", (known && messages[body.error]) || body.message || "Something went wrong. Please try again later.");
    } catch (error) {
      show("failure", "The server could not be reached. Check your connection and try again.");
    } finally {
      button.disabled = false;
    }
  });
})();
