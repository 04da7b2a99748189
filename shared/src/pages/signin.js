(function () {
  const passwordForm = document.getElementById("password-form");
  const codeForm = document.getElementById("code-form");
  const recoveryForm = document.getElementById("recovery-form");
  const passkeyButton = document.getElementById("passkey");
  const outcome = document.getElementById("outcome");
  const buttons = Array.from(document.querySelectorAll("button"));


  const messages = {
    invalid_credentials: "The email address or the password is not right.",
    email_not_verified: "Confirm your email address first: follow the link we sent you.",
    too_many_attempts: "Too many failed attempts. Wait a few minutes and try again.",
    rate_limited: "Too many requests from this network. Wait a little and try again.",
    invalid_mfa_code: "That code is not right. Codes change every 30 seconds, and each works once.",
    invalid_mfa_token: "This sign-in has expired. Enter your password again.",
    invalid_passkey: "The passkey could not be verified. Try again, or sign in with your password.",
  };
  const kit = pageKit(messages);
  const show = kit.show;
  const failure = kit.failure;
  const busy = kit.busy;
  const decodeB64 = kit.decodeB64;
  const encodeB64 = kit.encodeB64;

  /** A JSON POST to this site's API, without a token: the status and the parsed body. */
  function api(path, body) {
    return kit.request("POST", path, body);
  }


  /** Signed in: the tokens live in this tab only (sessionStorage, never a cookie), then the account page. */
  function signedIn(body) {
    sessionStorage.setItem("tokens", JSON.stringify({
      access_token: body.access_token,
      refresh_token: body.refresh_token,
    }));
    if (body.device_token) {
      // Exempts this browser from the lockout others cause on this account (not a credential).
      localStorage.setItem("device_token", body.device_token);
    }
    show("success", "Signed in.");
    window.location.assign("/account");
  }


  let mfaToken = "";

  passwordForm.addEventListener("submit", function (event) {
    event.preventDefault();
    busy(async function () {
      const body = {
        email: document.getElementById("email").value,
        password: document.getElementById("password").value,
      };
      const device = localStorage.getItem("device_token");
      if (device) body.device_token = device;
      const answer = await api("/api/signin", body);
      if (answer.status !== 200) return failure(answer.body);
      if (answer.body.mfa_required) {
        mfaToken = answer.body.mfa_token;
        passwordForm.hidden = true;
        codeForm.hidden = false;
        outcome.hidden = true;
        document.getElementById("code").focus();
        return;
      }
      signedIn(answer.body);
    });
  });

  async function verify(field, value) {
    const body = { mfa_token: mfaToken };
    body[field] = value;
    const answer = await api("/api/mfa/verify", body);
    if (answer.status === 200) return signedIn(answer.body);
    if (answer.body.error === "invalid_mfa_token") {
      codeForm.hidden = true;
      recoveryForm.hidden = true;
      passwordForm.hidden = false;
    }
    failure(answer.body);
  }

  codeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    busy(function () { return verify("code", document.getElementById("code").value); });
  });
  recoveryForm.addEventListener("submit", function (event) {
    event.preventDefault();
    busy(function () { return verify("recovery_code", document.getElementById("recovery-code").value); });
  });
  document.getElementById("use-recovery").addEventListener("click", function () {
    codeForm.hidden = true;
    recoveryForm.hidden = false;
    document.getElementById("recovery-code").focus();
  });


  passkeyButton.addEventListener("click", function () {
    busy(async function () {
      const started = await api("/api/passkeys/signin/start", {});
      if (started.status !== 200) return failure(started.body);
      const options = started.body.options.publicKey;
      options.challenge = decodeB64(options.challenge);
      (options.allowCredentials || []).forEach(function (c) { c.id = decodeB64(c.id); });
      const credential = await navigator.credentials.get({ publicKey: options });
      const response = credential.response;
      const finished = await api("/api/passkeys/signin/finish", {
        ceremony_id: started.body.ceremony_id,
        credential: {
          id: credential.id,
          rawId: encodeB64(credential.rawId),
          type: credential.type,
          response: {
            authenticatorData: encodeB64(response.authenticatorData),
            clientDataJSON: encodeB64(response.clientDataJSON),
            signature: encodeB64(response.signature),
            userHandle: response.userHandle ? encodeB64(response.userHandle) : null,
          },
          extensions: credential.getClientExtensionResults(),
        },
      });
      if (finished.status !== 200) return failure(finished.body);
      signedIn(finished.body);
    });
  });

  buttons.forEach(function (b) { b.disabled = false; });
  // The passkey endpoints are routed (/api/passkeys/signin/*): the button shows wherever the
  // browser supports WebAuthn. Set this to false to hide it again, e.g. on a stack whose
  // ceremony functions are not configured.
  const PASSKEYS_SERVED = true;
  passkeyButton.hidden = !(PASSKEYS_SERVED && window.PublicKeyCredential);
})();
