(function () {
  const form = document.getElementById("signup-form");
  const messages = {
    invalid_email: "That email address does not look right.",
    invalid_password: null, // the API's own message states the rule that was broken
    invalid_name: null,
    missing_field: "Please fill in every field.",
    rate_limited: "Too many sign-ups from this network. Wait a little and try again.",
    email_taken: "An account with this address exists already: sign in instead.",
  };
  const kit = pageKit(messages);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    kit.busy(async function () {
      const answer = await kit.request("POST", "/api/signup", {
        name: document.getElementById("name").value,
        email: document.getElementById("email").value,
        password: document.getElementById("password").value,
      });
      // 202: the same answer whether or not the address has an account (nothing to enumerate);
      // 201: a stack that does not prove addresses.
      if (answer.status === 202 || answer.status === 201) {
        form.hidden = true;
        kit.show(
          "success",
          answer.status === 202
            ? "Check your email: follow the link we sent to finish creating your account."
            : "Your account is ready: you can sign in now.",
        );
        return;
      }
      kit.failure(answer.body);
    });
  });
  document.getElementById("to-signin").addEventListener("click", function () {
    window.location.assign("/signin");
  });
  document.getElementById("submit").disabled = false;
})();
