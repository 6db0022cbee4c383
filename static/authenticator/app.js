// Latchkey Authenticator's page: enrolment from the account page's code,
// heartbeats, and a pending sign-in with number matching
// (docs/push-protocol.md). device.js speaks the protocol, strings.js holds
// the text, sw.js receives the pushes.
(function () {
  "use strict";

  const T = self.LatchkeyText.t;
  const D = self.LatchkeyDevice;

  // How long enrolment waits for the browser's push service, and a
  // heartbeat for the subscription. A phone that cannot reach it (offline,
  // or a browser without one) is enrolled anyway; a subscription that
  // arrives later is reported by a heartbeat then.
  const SUBSCRIBE_WAIT = 8000;
  const HEARTBEAT_WAIT = 2000;

  const $ = (id) => document.getElementById(id);

  let config = null; // {issuer, vapid_public_key}
  let device = null; // the stored device, null before enrolment
  let registration = null; // the service worker's, null without one
  let busy = false; // a request of the user's is under way
  let current = ""; // the id of the sign-in request on screen
  let pending = null; // its fetched details
  let deadline = 0; // when it expires, in performance.now() time
  let timer = 0;

  function localise() {
    document.documentElement.lang = self.LatchkeyText.lang;
    document.title = T("app.name");
    for (const el of document.querySelectorAll("[data-t]")) {
      el.textContent = T(el.dataset.t);
    }
  }

  // show displays one view. After an action, the focus moves to its
  // heading, so that a screen reader says where the user is now.
  function show(id, focus) {
    $("loading").hidden = true;
    for (const s of document.querySelectorAll("main > section")) {
      s.hidden = s.id !== id;
    }
    if (focus) {
      $(id).querySelector("h1").focus();
    }
  }

  function notice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  function progress(text) {
    $("progress").textContent = text || "";
  }

  function setBusy(b) {
    busy = b;
    for (const el of document.querySelectorAll("#view-enrol button, #view-challenge button")) {
      el.setAttribute("aria-disabled", String(b));
    }
  }

  function errorText(body) {
    switch (body.error) {
      case "invalid_enrolment_token":
        return T("error.invalid_enrolment_token");
      case "unknown_device":
        return T("error.unknown_device");
    }
    return T("error.other", body.error || "server_error");
  }

  function supported() {
    return self.isSecureContext && "serviceWorker" in navigator && "PushManager" in self &&
      "Notification" in self && "indexedDB" in self && !!self.crypto && !!crypto.subtle;
  }

  // --- push subscription and heartbeats -------------------------------

  let subscribing = null; // a subscription request still under way
  let late = false; // someone stopped waiting for it

  // subscription resolves to the push subscription, or to null when there
  // is none within wait ms: no permission, or no push service in reach.
  function subscription(wait) {
    if (!registration || D.permission() !== "granted" || !config.vapid_public_key) {
      return Promise.resolve(null);
    }
    if (!subscribing) {
      late = false;
      subscribing = D.subscribe(registration, config.vapid_public_key);
      subscribing.then(() => {
        subscribing = null;
        if (late) {
          heartbeat();
        }
      }, () => {
        subscribing = null;
      });
    }
    let timeout = 0;
    const giveUp = new Promise((resolve) => {
      timeout = setTimeout(() => {
        late = true;
        resolve(null);
      }, wait);
    });
    return Promise.race([subscribing, giveUp]).catch(() => null).finally(() => clearTimeout(timeout));
  }

  let beating = false;
  let beatAgain = false;

  // heartbeat tells Latchkey the permission and subscription: on start, on
  // return to the foreground, and when either changes. One at a time.
  function heartbeat() {
    if (!device) {
      return;
    }
    if (beating) {
      beatAgain = true;
      return;
    }
    beating = true;
    beat().catch(() => {}).finally(() => {
      beating = false;
      if (beatAgain) {
        beatAgain = false;
        heartbeat();
      }
    });
  }

  async function beat() {
    const sub = await subscription(HEARTBEAT_WAIT);
    let res;
    try {
      res = await D.heartbeat(device, sub);
    } catch (e) {
      return; // offline: the next start or foreground tries again
    }
    if (res.body.error === "unknown_device") {
      await removed();
    } else if (res.ok) {
      renderStatus(res.body);
    }
  }

  let watching = false;

  function watchPermission() {
    if (watching || !navigator.permissions) {
      return;
    }
    watching = true;
    navigator.permissions.query({ name: "notifications" }).then((status) => {
      status.onchange = heartbeat;
    }, () => {});
  }

  // removed forgets a device that Latchkey no longer knows.
  async function removed() {
    await D.forget();
    device = null;
    stopTimer();
    show("view-none", true);
    notice(T("error.unknown_device"));
  }

  // --- the device view ---------------------------------------------------

  function showDevice(opts) {
    $("device-name-value").textContent = device.name;
    $("device-id").textContent = device.id;
    $("device-enrolled").hidden = !opts.enrolled;
    if (opts.status) {
      renderStatus(opts.status);
    }
    show("view-device", opts.focus);
  }

  function renderStatus(st) {
    const el = $("device-status");
    el.dataset.ready = st.push_ready ? "yes" : "no";
    let text = st.push_ready ? T("status.ready") : T("status." + (st.reason || "no_valid_token"));
    const permission = D.permission();
    if (permission === "denied") {
      text += " " + T("status.blocked");
    }
    el.textContent = text;
    $("allow-button").hidden = permission !== "default";
  }

  // --- enrolment ---------------------------------------------------------

  let enrolling = null; // the new device: a retry keeps its key

  function defaultName() {
    const ua = navigator.userAgent;
    const pick = (pairs) => (pairs.find((p) => ua.includes(p[0])) || ["", ""])[1];
    const browser = pick([["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["CriOS/", "Chrome"],
      ["Chrome/", "Chrome"], ["Safari/", "Safari"]]);
    const system = pick([["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"],
      ["Mac OS X", "Mac"], ["CrOS", "ChromeOS"], ["Linux", "Linux"]]);
    return [system, browser].filter(Boolean).join(" ") || T("device.heading");
  }

  function validName(name) {
    return name.length >= 1 && [...name].length <= 64 && !/[\p{Cc}\p{Cf}]/u.test(name);
  }

  function showEnrol(token) {
    $("device-name").value = defaultName();
    $("enrol-form").addEventListener("submit", (e) => {
      e.preventDefault();
      enrol(token);
    });
    show("view-enrol", false);
  }

  async function enrol(token) {
    if (busy) {
      return;
    }
    const name = $("device-name").value.trim();
    if (!validName(name)) {
      $("device-name").setAttribute("aria-invalid", "true");
      notice(T("enrol.name_invalid"));
      $("device-name").focus();
      return;
    }
    $("device-name").removeAttribute("aria-invalid");
    // Asked before any await, inside the click: browsers show the prompt
    // only for a user's gesture.
    const asked = Notification.requestPermission();
    setBusy(true);
    notice("");
    progress(T("enrol.working"));
    try {
      await asked;
      const sub = await subscription(SUBSCRIBE_WAIT);
      enrolling = enrolling || await D.newDevice(config.issuer, name);
      enrolling.name = name;
      const res = await D.enrol(enrolling, token, sub);
      // device_exists: an earlier try with this key got through.
      if (res.ok || res.body.error === "device_exists") {
        await D.save(enrolling);
        device = enrolling;
        enrolling = null;
        showDevice({ enrolled: true, focus: true, status: res.ok ? res.body : null });
        if (!res.ok) {
          heartbeat();
        }
        watchPermission();
        return;
      }
      notice(errorText(res.body));
    } catch (e) {
      notice(T("error.network"));
    } finally {
      setBusy(false);
      progress("");
    }
  }

  // --- a pending sign-in -------------------------------------------------

  function stopTimer() {
    clearInterval(timer);
    timer = 0;
  }

  // openChallenge fetches the request's details (the delivery
  // acknowledgement, if the service worker has not sent one already) and
  // asks for the number.
  async function openChallenge(id) {
    if (!device || typeof id !== "string" || !id || id === current) {
      return;
    }
    stopTimer();
    current = id;
    pending = null;
    notice("");
    $("challenge-body").hidden = true;
    $("challenge-loading").hidden = false;
    show("view-challenge", true);
    let res;
    try {
      res = await D.fetchChallenge(device, id);
    } catch (e) {
      if (current === id) {
        finish("error", T("error.network"));
      }
      return;
    }
    if (current !== id) {
      return; // another request came meanwhile
    }
    if (!res.ok) {
      ended(res.body);
      return;
    }
    pending = res.body;
    deadline = performance.now() + pending.expires_in * 1000;
    fill(pending);
    $("challenge-loading").hidden = true;
    $("challenge-body").hidden = false;
    tick();
    timer = setInterval(tick, 1000);
  }

  function fill(d) {
    $("ch-account").textContent = d.account;
    $("ch-app").textContent = d.app;
    for (const f of ["browser", "location", "ip"]) {
      $("ch-" + f).textContent = d[f] || "";
      $("ch-" + f + "-row").hidden = !d[f];
    }
    const box = $("choices");
    box.replaceChildren();
    for (const c of d.choices) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn choice";
      b.textContent = c;
      b.dataset.number = c;
      b.addEventListener("click", () => answer("approve", c));
      box.append(b);
    }
    $("number-input").value = "";
    $("number-input").removeAttribute("aria-invalid");
  }

  function tick() {
    const left = Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
    $("ch-time-left").textContent = T("challenge.seconds", left);
    if (left === 0) {
      finish("expired");
    }
  }

  async function answer(decision, number) {
    if (!pending || busy) {
      return;
    }
    const details = pending;
    setBusy(true);
    notice("");
    progress(T("challenge.sending"));
    let res;
    try {
      res = await D.answer(device, details, decision, number);
    } catch (e) {
      notice(T("error.network"));
      return;
    } finally {
      setBusy(false);
      progress("");
    }
    if (pending !== details) {
      return; // expired on screen meanwhile
    }
    if (res.ok) {
      finish(res.body.result);
      return;
    }
    const input = $("number-input");
    switch (res.body.error) {
      case "wrong_number":
        input.setAttribute("aria-invalid", "true");
        notice(T("challenge.wrong_number", res.body.attempts_left));
        input.focus();
        input.select();
        return;
      case "invalid_nonce":
        // The request was renewed: fetch it again and ask again.
        current = "";
        openChallenge(details.challenge);
        return;
    }
    ended(res.body);
  }

  // ended shows why a request can no longer be answered.
  function ended(body) {
    switch (body.error) {
      case "challenge_ended":
        finish("ended");
        return;
      case "already_answered":
        finish("answered");
        return;
      case "challenge_expired":
        finish("expired");
        return;
      case "unknown_challenge":
        finish("unknown");
        return;
      case "unknown_device":
        removed();
        return;
    }
    finish("error", errorText(body));
  }

  // finish shows the outcome: approved, denied, reported, ended, ...
  function finish(kind, detail) {
    stopTimer();
    current = "";
    pending = null;
    if (registration) {
      registration.getNotifications({ tag: D.notificationTag })
        .then((ns) => ns.forEach((n) => n.close()), () => {});
    }
    $("view-result").dataset.result = kind;
    $("result-heading").textContent = T("result." + kind);
    $("result-body").textContent = detail || T("result." + kind + "_body");
    show("view-result", true);
  }

  function typedNumber(e) {
    e.preventDefault();
    const input = $("number-input");
    const v = input.value.trim();
    if (!/^[0-9]{2}$/.test(v)) {
      input.setAttribute("aria-invalid", "true");
      notice(T("challenge.two_digits"));
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    answer("approve", v);
  }

  // --- start -------------------------------------------------------------

  function hashParams() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (location.hash) {
      // The enrolment token is a secret: off the address bar and history.
      history.replaceState(null, "", location.pathname + location.search);
    }
    return params;
  }

  async function start() {
    localise();
    if (!supported()) {
      show("view-unsupported", false);
      return;
    }
    const params = hashParams();
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.type === "challenge") {
        openChallenge(e.data.challenge);
      }
    });
    navigator.serviceWorker.startMessages();
    window.addEventListener("hashchange", () => openChallenge(hashParams().get("challenge")));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        heartbeat();
      }
    });
    $("allow-button").addEventListener("click", () => {
      Notification.requestPermission().then(heartbeat, heartbeat);
    });
    $("number-form").addEventListener("submit", typedNumber);
    $("deny-button").addEventListener("click", () => answer("deny"));
    $("not-me-button").addEventListener("click", () => answer("not_me"));
    $("result-done").addEventListener("click", () => {
      notice("");
      if (device) {
        showDevice({ focus: true });
      } else {
        show("view-none", true);
      }
    });

    try {
      device = await D.load();
    } catch (e) {
      show("view-unsupported", false); // no IndexedDB here (a private window)
      return;
    }
    try {
      config = await D.config();
    } catch (e) {
      show("view-none", false);
      notice(T("error.network"));
      return;
    }
    try {
      registration = await navigator.serviceWorker.register(D.appDir + "sw.js", { scope: D.appURL });
    } catch (e) {
      registration = null; // no pushes; the status will say so
    }

    const token = params.get("enrol");
    if (token) {
      showEnrol(token);
      return;
    }
    if (!device) {
      show("view-none", false);
      return;
    }
    showDevice({ focus: false });
    heartbeat();
    watchPermission();
    openChallenge(params.get("challenge"));
  }

  start().catch(() => {
    show("view-none", false);
    notice(T("error.network"));
  });
})();
