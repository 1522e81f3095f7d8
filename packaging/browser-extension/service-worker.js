// SeatGuard page reporter (Manifest V3 service worker).
//
// For every navigation of the active tab, and whenever another tab becomes active, POST
// {"url", "title"} to the SeatGuard agent at http://127.0.0.1:<port>/page with the per-install
// secret in the X-SeatGuard-Secret header. Port and secret come from enterprise policy
// (chrome.storage.managed) or else from seatguard-config.json, written by the agent installer.
// Nothing else is read or sent: no page content, no form data, no keystrokes.

const DEFAULT_PORT = 47533;
const REPORTED_SCHEMES = /^(https?|file):/;
const MAX_URL = 65536; // the agent keeps this much of a URL; a longer one is cut, not left unreported
const MAX_TITLE = 1024;

let configPromise = null;

async function readConfig() {
  try {
    const managed = await chrome.storage.managed.get(["port", "secret"]);
    if (managed && managed.secret) {
      return { port: managed.port || DEFAULT_PORT, secret: managed.secret };
    }
  } catch (err) {
    // no managed storage (not an enterprise install): use the installer's file below
  }
  const answer = await fetch(chrome.runtime.getURL("seatguard-config.json"));
  if (!answer.ok) {
    throw new Error("seatguard-config.json missing: the agent installer has not configured this extension");
  }
  const file = await answer.json();
  return { port: file.port || DEFAULT_PORT, secret: file.secret };
}

function config() {
  if (configPromise === null) {
    configPromise = readConfig();
  }
  return configPromise;
}

// The last URL reported per tab lives in session storage: the browser stops idle service workers,
// and a restarted worker must not report the same page again.
async function markReported(tabId, url) {
  const key = `tab:${tabId}`;
  const stored = await chrome.storage.session.get(key);
  if (stored[key] === url) {
    return false;
  }
  await chrome.storage.session.set({ [key]: url });
  return true;
}

function forget(tabId) {
  return chrome.storage.session.remove(`tab:${tabId}`);
}

async function report(tab) {
  if (!tab || !tab.active || !tab.url || !REPORTED_SCHEMES.test(tab.url)) {
    return;
  }
  if (!(await markReported(tab.id, tab.url))) {
    return;
  }
  try {
    const { port, secret } = await config();
    const answer = await fetch(`http://127.0.0.1:${port}/page`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-SeatGuard-Secret": secret },
      body: JSON.stringify({ url: tab.url.slice(0, MAX_URL), title: (tab.title || "").slice(0, MAX_TITLE) }),
    });
    if (!answer.ok) {
      throw new Error(`agent answered ${answer.status}`);
    }
  } catch (err) {
    // agent not running or reconfigured: forget, so the next navigation retries with fresh config
    configPromise = null;
    await forget(tab.id);
  }
}

chrome.tabs.onUpdated.addListener((tabId, change, tab) => {
  if (change.status === "complete" || (change.url && tab.status === "complete")) {
    report(tab);
  }
});

chrome.tabs.onActivated.addListener(async ({ tabId }) => {
  await forget(tabId); // a page brought back to the front is reported again
  chrome.tabs.get(tabId).then((tab) => {
    if (tab.status === "complete") {
      report(tab);
    }
  }, () => {});
});

chrome.tabs.onRemoved.addListener((tabId) => {
  forget(tabId);
});

// Pages that finished loading before this worker started (browser start-up, extension update).
chrome.tabs.query({ active: true }).then((tabs) => {
  for (const tab of tabs) {
    if (tab.status === "complete") {
      report(tab);
    }
  }
}, () => {});
