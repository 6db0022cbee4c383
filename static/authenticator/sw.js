// Latchkey Authenticator's service worker. Latchkey's push says only
// {iss, challenge}. The worker acknowledges it at once with the signed
// fetch of the details: a push not acknowledged within seconds moves the
// sign-in on to another factor, and the user may take longer than that to
// reach the phone. Then it shows a notification and tells the open pages;
// a tap on the notification opens the app on the request.
"use strict";

importScripts("strings.js", "device.js");

const T = self.LatchkeyText.t;
const D = self.LatchkeyDevice;

self.addEventListener("install", (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("push", (event) => event.waitUntil(onPush(event.data)));
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  event.waitUntil(openApp(data.challenge));
});
self.addEventListener("pushsubscriptionchange", (event) => event.waitUntil(onSubscriptionChange(event)));

async function onPush(data) {
  let msg = null;
  try {
    msg = data ? data.json() : null;
  } catch (e) {
    msg = null;
  }
  const device = await D.load();
  if (!device || !msg || msg.iss !== device.issuer || typeof msg.challenge !== "string") {
    return; // not from the issuer this phone is enrolled with
  }
  const ack = await D.fetchChallenge(device, msg.challenge).catch(() => null);
  if (ack && !ack.ok) {
    return; // answered, ended or not for this phone: nothing to ask
  }
  // The lock screen learns nothing: the details are shown in the app.
  await self.registration.showNotification(T("notify.title"), {
    body: T("notify.body"),
    tag: D.notificationTag,
    renotify: true,
    requireInteraction: true,
    data: { challenge: msg.challenge }
  });
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const w of windows) {
    w.postMessage({ type: "challenge", challenge: msg.challenge });
  }
}

// openApp focuses the app's page, or opens it, on the challenge.
async function openApp(challenge) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => w.url.split("#")[0] === D.appURL);
  if (open) {
    await open.focus();
    if (challenge) {
      open.postMessage({ type: "challenge", challenge });
    }
    return;
  }
  await self.clients.openWindow(D.appURL + (challenge ? "#challenge=" + encodeURIComponent(challenge) : ""));
}

// onSubscriptionChange reports a renewed (or lost) subscription, so that
// Latchkey does not keep pushing to a dead one.
async function onSubscriptionChange(event) {
  const device = await D.load();
  if (!device) {
    return;
  }
  let sub = event.newSubscription || null;
  if (!sub && D.permission() === "granted") {
    try {
      sub = await D.subscribe(self.registration, (await D.config()).vapid_public_key);
    } catch (e) {
      sub = null;
    }
  }
  await D.heartbeat(device, sub).catch(() => null);
}
