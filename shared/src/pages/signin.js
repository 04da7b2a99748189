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
    // Sign-in with a provider: the callback sends these back as ?error=, the exchange as JSON.
    email_not_verified_at_provider: "The provider has not confirmed that email address, or an account with it waits for confirmation here. Confirm it first, or sign in another way.",
    access_denied: "The sign-in was cancelled at the provider.",
    invalid_oauth_state: "That sign-in took too long or was already used. Start again.",
    invalid_grant: "The provider's answer could not be used. Start again.",
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
      firstStepDone(answer.body);
    });
  });

  /** A first step's answer (password or provider): the second step when asked, else signed in. */
  function firstStepDone(body) {
    if (!body.mfa_required) return signedIn(body);
    mfaToken = body.mfa_token;
    passwordForm.hidden = true;
    codeForm.hidden = false;
    outcome.hidden = true;
    document.getElementById("code").focus();
  }

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

  // Sign-in with a provider, PKCE as an app does it (RFC 7636): a fresh verifier stays in this
  // tab, the API only ever sees its SHA-256, and the one-time code it hands back is worth
  // nothing without the verifier.
  document.querySelectorAll("button[data-provider]").forEach(function (button) {
    button.addEventListener("click", function () {
      busy(async function () {
        const verifier = encodeB64(crypto.getRandomValues(new Uint8Array(32)));
        const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
        sessionStorage.setItem("oauth_verifier", verifier);
        const query = new URLSearchParams({
          redirect_to: window.location.origin + "/signin",
          code_challenge: encodeB64(digest),
          code_challenge_method: "S256",
        });
        window.location.assign("/api/oauth/" + button.dataset.provider + "/authorize?" + query);
      });
    });
  });

  /** Back from a provider (?code= or ?error=): the code and this tab's verifier make a session. */
  async function returnFromProvider() {
    const params = new URLSearchParams(window.location.search);
    const code = params.get("code");
    const error = params.get("error");
    if (code === null && error === null) return;
    // The code works once: keep it out of the history and of a reload.
    window.history.replaceState(null, "", window.location.pathname);
    const verifier = sessionStorage.getItem("oauth_verifier");
    sessionStorage.removeItem("oauth_verifier");
    if (error !== null) {
      return failure({ error: error === "email_not_verified" ? "email_not_verified_at_provider" : error });
    }
    if (!verifier) {
      return failure({ error: "invalid_oauth_state" });
    }
    const answer = await api("/api/oauth/token", { code: code, code_verifier: verifier });
    if (answer.status !== 200) return failure(answer.body);
    firstStepDone(answer.body);
  }

  document.getElementById("to-signup").addEventListener("click", function () {
    window.location.assign("/signup");
  });

  buttons.forEach(function (b) { b.disabled = false; });
  busy(returnFromProvider);
  // The passkey endpoints are routed (/api/passkeys/signin/*): the button shows wherever the
  // browser supports WebAuthn. Set this to false to hide it again, e.g. on a stack whose
  // ceremony functions are not configured.
  const PASSKEYS_SERVED = true;
  passkeyButton.hidden = !(PASSKEYS_SERVED && window.PublicKeyCredential);
})();
