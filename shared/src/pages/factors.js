"use strict";
/**
 * What the sign-in and account pages share (inlined before each page's own script): the outcome
 * line, the answer to an API error, a busy state, API requests, and WebAuthn's base64url fields.
 */
function pageKit(messages) {
  const outcome = document.getElementById("outcome");

  function show(kind, text) {
    outcome.hidden = false;
    outcome.className = kind;
    outcome.textContent = text;
  }

  /** An API error as a person reads it: ours where we have one, else the API's message. */
  function failure(body) {
    const known = Object.prototype.hasOwnProperty.call(messages, body.error);
    show("failure", (known && messages[body.error]) || body.message || "Something went wrong. Please try again later.");
  }

  /** Runs `work` with every button disabled, so nothing is sent twice. */
  async function busy(work) {
    const buttons = Array.from(document.querySelectorAll("button"));
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      await work();
    } catch (error) {
      show("failure", "The server could not be reached, or the browser refused. Try again.");
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  // WebAuthn's JSON carries binary fields in base64url; the browser API takes and gives buffers.
  function decodeB64(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); }).buffer;
  }
  function encodeB64(buffer) {
    let raw = "";
    new Uint8Array(buffer).forEach(function (b) { raw += String.fromCharCode(b); });
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /**
   * One JSON request to this site's API, with `token` as bearer when given: the status and the
   * parsed body. No cookie goes, and no Referer.
   */
  async function request(method, path, body, token) {
    const headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      referrerPolicy: "no-referrer",
      credentials: "omit",
    });
    return { status: response.status, body: await response.json().catch(function () { return {}; }) };
  }

  return {
    show: show,
    failure: failure,
    busy: busy,
    decodeB64: decodeB64,
    encodeB64: encodeB64,
    request: request,
  };
}
