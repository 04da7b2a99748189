(function () {
  const $ = function (id) { return document.getElementById(id); };


  const messages = {
    invalid_mfa_code: "That code is not right. Codes change every 30 seconds, and each works once.",
    aal2_required: "Sign in again with your second factor to do this.",
    mfa_already_enabled: "Two-factor authentication is already on.",
    mfa_not_enabled: "Two-factor authentication is off.",
    too_many_attempts: "Too many wrong codes. Wait a few minutes and try again.",
    invalid_passkey: "The passkey could not be registered. Try again.",
  };
  const kit = pageKit(messages);
  const show = kit.show;
  const failure = kit.failure;
  const busy = kit.busy;
  const decodeB64 = kit.decodeB64;
  const encodeB64 = kit.encodeB64;

  // The tokens of this tab's sign-in (see /signin): in sessionStorage, never in a cookie.
  let tokens = null;
  try {
    tokens = JSON.parse(sessionStorage.getItem("tokens") || "null");
  } catch (malformed) {
    tokens = null;
  }
  function toSignin() {
    sessionStorage.removeItem("tokens");
    window.location.replace("/signin");
  }
  if (!tokens || !tokens.access_token) {
    toSignin();
    return;
  }
  function keep(body) {
    tokens = { access_token: body.access_token, refresh_token: body.refresh_token };
    sessionStorage.setItem("tokens", JSON.stringify(tokens));
  }

  function once(method, path, body) {
    return kit.request(method, path, body, tokens.access_token);
  }

  /** An API call with the access token; an expired one is refreshed once, an ended session signs out. */
  async function api(method, path, body) {
    let answer = await once(method, path, body);
    if (answer.status === 401 && answer.body.error === "token_expired") {
      const refreshed = await kit.request("POST", "/api/refresh", undefined, tokens.refresh_token);
      if (refreshed.status !== 200) return toSignin();
      keep(refreshed.body);
      answer = await once(method, path, body);
    }
    if (answer.status === 401 && answer.body.error !== "invalid_mfa_code") {
      toSignin();
      return null;
    }
    return answer;
  }



  async function render() {
    const dashboard = await api("GET", "/api/dashboard");
    if (!dashboard) return;
    $("who").textContent = "Signed in as " + dashboard.body.user.name + " <" + dashboard.body.user.email + ">.";
    const status = await api("GET", "/api/mfa");
    if (!status) return;
    const on = status.body.totp.enabled;
    $("totp").hidden = false;
    $("totp-state").textContent = on
      ? "On. " + status.body.recovery_codes_left + " unused recovery codes left."
      : "Off: signing in needs only your password.";
    $("totp-enroll").hidden = on;
    $("totp-disable-form").hidden = !on;
    $("totp-confirm-form").hidden = true;
    await renderPasskeys();
  }

  async function renderPasskeys() {
    const listed = await api("GET", "/api/passkeys");
    if (!listed || listed.status !== 200) return;
    $("passkeys").hidden = !window.PublicKeyCredential;
    const list = $("passkey-list");
    list.replaceChildren();
    listed.body.passkeys.forEach(function (passkey) {
      const item = document.createElement("li");
      item.textContent = passkey.name + " (added " + passkey.created_at.slice(0, 10) + ") ";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "Remove";
      remove.addEventListener("click", function () {
        busy(async function () {
          const answer = await api("DELETE", "/api/passkeys/" + encodeURIComponent(passkey.id));
          if (!answer) return;
          if (answer.status !== 200) return failure(answer.body);
          show("success", "Passkey removed.");
          await renderPasskeys();
        });
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  $("totp-enroll").addEventListener("click", function () {
    busy(async function () {
      const answer = await api("POST", "/api/mfa/totp/enroll");
      if (!answer) return;
      if (answer.status !== 201) return failure(answer.body);
      // The SVG is this API's own output; parsed as SVG, never as HTML, so it carries no script.
      const svg = new DOMParser().parseFromString(answer.body.qr_svg, "image/svg+xml").documentElement;
      svg.setAttribute("width", "200");
      svg.setAttribute("height", "200");
      $("qr").replaceChildren(document.importNode(svg, true));
      $("secret").textContent = answer.body.secret;
      $("totp-enroll").hidden = true;
      $("totp-confirm-form").hidden = false;
      $("confirm-code").focus();
    });
  });

  $("totp-confirm-form").addEventListener("submit", function (event) {
    event.preventDefault();
    busy(async function () {
      const answer = await api("POST", "/api/mfa/totp/confirm", { code: $("confirm-code").value });
      if (!answer) return;
      if (answer.status !== 200) return failure(answer.body);
      keep(answer.body);
      const list = $("recovery-codes");
      list.replaceChildren();
      answer.body.recovery_codes.forEach(function (code) {
        const item = document.createElement("li");
        item.textContent = code;
        list.appendChild(item);
      });
      $("recovery").hidden = false;
      $("qr").replaceChildren();
      $("secret").textContent = "";
      show("success", "Two-factor authentication is on. Your other sessions were signed out.");
      await render();
    });
  });

  $("totp-disable-form").addEventListener("submit", function (event) {
    event.preventDefault();
    busy(async function () {
      const answer = await api("DELETE", "/api/mfa/totp", { code: $("disable-code").value });
      if (!answer) return;
      if (answer.status !== 200) return failure(answer.body);
      $("recovery").hidden = true;
      show("success", "Two-factor authentication is off.");
      await render();
    });
  });

  $("passkey-add").addEventListener("click", function () {
    busy(async function () {
      const started = await api("POST", "/api/passkeys/register/start");
      if (!started) return;
      if (started.status !== 200) return failure(started.body);
      const options = started.body.options.publicKey;
      options.challenge = decodeB64(options.challenge);
      options.user.id = decodeB64(options.user.id);
      (options.excludeCredentials || []).forEach(function (c) { c.id = decodeB64(c.id); });
      const credential = await navigator.credentials.create({ publicKey: options });
      const finished = await api("POST", "/api/passkeys/register/finish", {
        ceremony_id: started.body.ceremony_id,
        name: $("passkey-name").value,
        credential: {
          id: credential.id,
          rawId: encodeB64(credential.rawId),
          type: credential.type,
          response: {
            attestationObject: encodeB64(credential.response.attestationObject),
            clientDataJSON: encodeB64(credential.response.clientDataJSON),
            transports: credential.response.getTransports ? credential.response.getTransports() : [],
          },
          extensions: credential.getClientExtensionResults(),
        },
      });
      if (!finished) return;
      if (finished.status !== 201) return failure(finished.body);
      $("passkey-name").value = "";
      show("success", "Passkey added.");
      await renderPasskeys();
    });
  });

  $("signout").addEventListener("click", function () {
    busy(async function () {
      await once("POST", "/api/logout").catch(function () {});
      toSignin();
    });
  });

  busy(render);
})();
