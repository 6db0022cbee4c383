// Latchkey passkeys: the only script on the hosted pages, because WebAuthn
// has no HTML form. Each page holds a form with data-webauthn="login",
// "assert" or "register", the ceremony options as JSON in a
// <script type="application/json" id="webauthn-options"> element, and a
// hidden "credential" field this script fills before submitting the form,
// so the server side is an ordinary form POST (CSRF-protected, no fetch).
//
// When the browser refuses (NotAllowedError: no passkey on this device, a
// failed sync, a cancelled prompt, a failed fingerprint), the page's "try
// another way" choices are shown and focused at once: never a dead end.
(function () {
  "use strict";

  var form = document.querySelector("form[data-webauthn]");
  var optionsEl = document.getElementById("webauthn-options");
  if (!form || !optionsEl) {
    return;
  }
  var mode = form.getAttribute("data-webauthn");
  var status = document.getElementById("webauthn-status");
  var supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeList(list) {
    return (list || []).map(function (c) {
      var out = { type: c.type, id: b64urlToBuf(c.id) };
      if (c.transports) {
        out.transports = c.transports;
      }
      return out;
    });
  }

  // Options from the server's JSON, with the standard parser where the
  // browser has it and a small decoder where it does not.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuf(json.challenge);
    o.user = Object.assign({}, json.user, { id: b64urlToBuf(json.user.id) });
    o.excludeCredentials = decodeList(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuf(json.challenge);
    o.allowCredentials = decodeList(json.allowCredentials);
    return o;
  }

  // The credential as JSON, in the shape of PublicKeyCredential.toJSON().
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try {
        return cred.toJSON();
      } catch (e) {
        // Some browsers expose toJSON but throw for some authenticators;
        // the encoder below gives the same shape.
      }
    }
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = bufToB64url(r.userHandle);
      }
    }
    return out;
  }

  function say(key) {
    if (!status) {
      return;
    }
    var msg = status.getAttribute("data-msg-" + key) || "";
    status.textContent = msg;
    status.hidden = msg === "";
  }

  // showOtherWays is the fallback: the list of other factors (or the
  // password form on the sign-in page) gets the focus.
  function showOtherWays(key) {
    say(key);
    var other = document.querySelector("[data-webauthn-fallback]");
    if (other) {
      other.hidden = false;
      // Not a hidden input (the sign-in form starts with its CSRF and tx
      // fields), which cannot take the focus.
      var target = other.querySelector("a[href], input:not([type=hidden]), button, select, textarea") || other;
      if (!target.hasAttribute("tabindex") && target === other) {
        other.setAttribute("tabindex", "-1");
      }
      target.focus();
    }
  }

  function submit(cred) {
    form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(cred));
    form.submit();
  }

  function failed(err) {
    if (!err) {
      return;
    }
    if (err.name === "AbortError") {
      return; // our own abort of the autofill request
    }
    if (err.name === "InvalidStateError") {
      showOtherWays("exists");
      return;
    }
    showOtherWays("notallowed");
  }

  var options = JSON.parse(optionsEl.textContent);
  var button = document.getElementById("webauthn-button");
  if (!supported) {
    if (mode === "login") {
      return; // the password form is already there
    }
    showOtherWays("unsupported");
    if (button) {
      button.disabled = true;
    }
    return;
  }
  if (button) {
    button.hidden = false;
  }

  if (mode === "register") {
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      var name = form.querySelector("input[name=name]");
      if (name && !name.reportValidity()) {
        return;
      }
      say("");
      navigator.credentials.create({ publicKey: creationOptions(options) }).then(submit, failed);
    });
    return;
  }

  var pending = null;
  function modal() {
    if (pending) {
      pending.abort();
      pending = null;
    }
    say("");
    navigator.credentials.get({ publicKey: requestOptions(options) }).then(submit, failed);
  }
  if (button) {
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      modal();
    });
  }

  if (mode === "login") {
    // Conditional UI: the browser offers passkeys in the username field's
    // autofill (autocomplete="username webauthn").
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) {
          return;
        }
        pending = new AbortController();
        navigator.credentials.get({
          publicKey: requestOptions(options),
          mediation: "conditional",
          signal: pending.signal
        }).then(submit, function () {
          // The user never asked for this request: a browser that turns
          // it down (no passkey for this site, autofill dismissed) must
          // not show an error; the button and the form still work.
          pending = null;
        });
      });
    }
  } else if (mode === "assert" && form.hasAttribute("data-webauthn-autostart")) {
    modal();
  }
})();
