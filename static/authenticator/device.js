// The device side of Latchkey's push protocol (docs/push-protocol.md),
// shared by the page (app.js) and the service worker (sw.js).
//
// The app holds one device: a P-256 key pair that WebCrypto made
// non-extractable, kept in IndexedDB. A stored CryptoKey is a structured
// clone that stays non-extractable, so the private key never exists outside
// the browser's key store; only the public key is exported, as the JWK of
// the requests' header. Every request is a compact JWS (ES256) of fresh
// claims, POSTed as application/jose, with no cookies.
(function (global) {
  "use strict";

  const DB_NAME = "latchkey-authenticator";
  const DB_STORE = "device";
  const DB_KEY = "current";
  const APP_VERSION = "1.0.0";
  const CHANNEL = "webpush";
  // The tag of the sign-in notification: a newer request replaces it, and
  // the page closes it once the request is answered.
  const NOTIFICATION_TAG = "latchkey-sign-in";

  // The app's own directory ({issuer}/authenticator/), from this script's
  // address: the page and the worker load it from there.
  const here = typeof document !== "undefined" && document.currentScript
    ? document.currentScript.src : global.location.href;
  const appDir = new URL(".", here).href;
  // The page, and the service worker's scope: {issuer}/authenticator.
  const appURL = appDir.slice(0, -1);

  const utf8 = new TextEncoder();

  function b64url(bytes) {
    let s = "";
    for (const b of bytes) {
      s += String.fromCharCode(b);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromB64url(s) {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  // randomID is a jti: 128 random bits, base64url (22 characters).
  function randomID() {
    return b64url(crypto.getRandomValues(new Uint8Array(16)));
  }

  function openDB() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(DB_STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function inStore(mode, op) {
    const db = await openDB();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(DB_STORE, mode);
        const req = op(tx.objectStore(DB_STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  // A device record: {issuer, id, jwk, keyPair, name}.
  const load = () => inStore("readonly", (s) => s.get(DB_KEY)).then((d) => d || null);
  const save = (device) => inStore("readwrite", (s) => s.put(device, DB_KEY));
  const forget = () => inStore("readwrite", (s) => s.delete(DB_KEY));

  // newDevice makes the key of a new enrolment (one per enrolment, never
  // reused) and its id, the RFC 7638 thumbprint of the public key.
  async function newDevice(issuer, name) {
    const keyPair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    // WebCrypto exports full-length coordinates, as the protocol requires.
    const pub = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
    const jwk = { kty: "EC", crv: "P-256", x: pub.x, y: pub.y };
    const canonical = '{"crv":"P-256","kty":"EC","x":"' + jwk.x + '","y":"' + jwk.y + '"}';
    const id = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(canonical))));
    return { issuer, id, jwk, keyPair, name };
  }

  async function sign(device, claims) {
    const header = { alg: "ES256", typ: "latchkey-push+jwt", jwk: device.jwk };
    const input = b64url(utf8.encode(JSON.stringify(header))) + "." + b64url(utf8.encode(JSON.stringify(claims)));
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, device.keyPair.privateKey, utf8.encode(input));
    // WebCrypto's ECDSA signature is r || s, 64 bytes: exactly what JWS
    // ES256 wants (RFC 7518 section 3.4), with no DER to undo.
    return input + "." + b64url(new Uint8Array(sig));
  }

  // skew corrects this clock by Latchkey's (milliseconds to add), learnt
  // from the Date header of a stale_request answer.
  let skew = 0;

  // send signs a request of kind with the common claims and extra, POSTs it
  // to {issuer}/push/{endpoint}, and resolves to {status, ok, body}. It
  // rejects only when Latchkey cannot be reached. A stale_request (this
  // clock is more than five minutes off) is signed again once, with the
  // clock corrected.
  async function send(device, endpoint, kind, extra) {
    for (let attempt = 0; ; attempt++) {
      const claims = Object.assign({
        kind, aud: device.issuer, sub: device.id, iat: Math.floor((Date.now() + skew) / 1000), jti: randomID()
      }, extra);
      const res = await fetch(device.issuer + "/push/" + endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/jose", "Accept": "application/json" },
        body: await sign(device, claims),
        credentials: "omit",
        cache: "no-store"
      });
      let body;
      try {
        body = await res.json();
      } catch (e) {
        body = { error: "server_error" };
      }
      const serverTime = Date.parse(res.headers.get("Date") || "");
      if (body.error === "stale_request" && attempt === 0 && !Number.isNaN(serverTime)) {
        skew = serverTime - Date.now();
        continue;
      }
      return { status: res.status, ok: res.ok, body };
    }
  }

  function permission() {
    return "Notification" in global ? global.Notification.permission : "default";
  }

  // pushState is what enrolment and heartbeats report: the permission and,
  // when there is one, the subscription as the push token.
  function pushState(subscription) {
    const s = { channel: CHANNEL, permission: permission(), app_version: APP_VERSION };
    if (subscription) {
      s.push_token = JSON.stringify(subscription.toJSON());
    }
    return s;
  }

  const enrol = (device, token, subscription) => send(device, "enrol", "enrol",
    Object.assign({ token, name: device.name, platform: "web" }, pushState(subscription)));
  const heartbeat = (device, subscription) => send(device, "heartbeat", "heartbeat", pushState(subscription));
  const fetchChallenge = (device, challenge) => send(device, "challenge", "fetch", { challenge });

  // answer sends a decision on the challenge whose details were fetched;
  // number only with "approve".
  function answer(device, details, decision, number) {
    const claims = { challenge: details.challenge, nonce: details.nonce, decision };
    if (decision === "approve") {
      claims.number = number;
    }
    return send(device, "answer", "answer", claims);
  }

  // config is {issuer, vapid_public_key} of the deployment that serves the
  // app.
  async function config() {
    const res = await fetch(appDir + "config.json", { credentials: "omit", cache: "no-store" });
    if (!res.ok) {
      throw new Error("config.json: status " + res.status);
    }
    return res.json();
  }

  function sameBytes(a, b) {
    if (!a || !b || a.byteLength !== b.byteLength) {
      return false;
    }
    const x = new Uint8Array(a);
    const y = new Uint8Array(b);
    return x.every((v, i) => v === y[i]);
  }

  // subscribe returns the registration's push subscription for the VAPID
  // key, making one if needed. A subscription made for another key (the
  // deployment changed its key) is replaced: pushes signed with the new key
  // would be refused by the push service.
  async function subscribe(registration, vapidKey) {
    const key = fromB64url(vapidKey);
    const existing = await registration.pushManager.getSubscription();
    if (existing) {
      if (sameBytes(existing.options.applicationServerKey, key)) {
        return existing;
      }
      await existing.unsubscribe();
    }
    return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }

  global.LatchkeyDevice = {
    appDir, appURL, notificationTag: NOTIFICATION_TAG, load, save, forget, newDevice, permission,
    enrol, heartbeat, fetchChallenge, answer, config, subscribe
  };
})(self);
