// The join page (room mode): an attendee's phone starts one run, then follows it in the same
// words as the presenter's page (the status JSON's progress) until its greeting.
// What it shows of the run, and how it asks, is run-status.js's (loaded first).
"use strict";

const base = document.body.dataset.base; // "/j/<code>": every request goes under it

// The phone's run survives a reload and a locked screen: its id is kept in localStorage (per
// room: a new room's code starts afresh).
const KEPT = `hello-ip.room:${base}`;

function kept() {
  try {
    const value = JSON.parse(localStorage.getItem(KEPT) || "null");
    return value && typeof value === "object" ? value : {};
  } catch (err) {
    return {};
  }
}

function keep(value) {
  try {
    localStorage.setItem(KEPT, JSON.stringify({ ...kept(), ...value }));
  } catch (err) {
    // storage refused (a private window): the run lasts until a reload
  }
}

$("name").addEventListener("input", () => {
  checkName();
  keep({ name: $("name").value });
});

function showForm() {
  currentRun = null;
  clearInterval(ticker);
  keep({ workflow_id: null });
  ["status", "result", "run-id", "start-another"].forEach((id) => ($(id).hidden = true));
  $("join-form").hidden = false;
  $("get-greeting").disabled = false;
}

$("start-another").addEventListener("click", () => {
  showForm();
  show("error", "");
  $("name").focus();
});

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  show("error", "");
  $("get-greeting").disabled = true;
  let status = 0;
  let data = {};
  try {
    const response = await fetch(`${base}/runs`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("name").value }),
    });
    status = response.status;
    data = await response.json().catch(() => ({}));
  } catch (err) {
    status = 0; // no answer: nothing is retried by itself (it could start the run twice)
  }
  $("get-greeting").disabled = false;
  if (status === 202 && data.workflow_id) {
    keep({ workflow_id: data.workflow_id, name: $("name").value });
    watch(data.workflow_id);
    return;
  }
  if (status === 0) {
    show("error", "The app is not answering: is this phone still on the venue's network? Try again in a moment.");
  } else if (status === 503) {
    show("error", "Temporal is unreachable right now: your run was not started. Try again in a moment.");
  } else {
    show("error", data.error || `The app answered ${status}. Try again in a moment.`);
  }
});

// What the page does around its run, for run-status.js's follow and poll.
const RUN_PAGE = {
  url: (workflowId) => `${base}/runs/${encodeURIComponent(workflowId)}`,
  limit: 10, // a request lost with the network (a locked phone, a dropped Wi-Fi) would hang
  words: {
    temporal: "Your run is safe in Temporal's database. This page keeps trying.",
    app: "Is this phone still on the venue's network? This page keeps trying.",
    error: " This page keeps trying.",
  },
  render,
  finish,
  ended: (text) => show("error", text),
  forgotten() {
    showForm();
    // The room forgot it: the presenter's Reset (runs ended), or the app restarted (a new room).
    show("error", "The room no longer has your run: the presenter reset the room or restarted the app. Start another, or scan the QR code again.");
  },
};

function watch(workflowId) {
  $("join-form").hidden = true;
  ["result", "start-another"].forEach((id) => ($(id).hidden = true));
  show("run-id", `Your run: ${workflowId}`);
  follow(workflowId, RUN_PAGE);
}

// The presenter's page's status line, word for word; its state colours the status's edge.
function render() {
  $("status").dataset.state = renderStatus();
}

function finish() {
  currentRun = null;
  clearInterval(ticker);
  $("status").hidden = true;
  $("start-another").hidden = false;
}

// A phone that wakes up asks at once rather than wait for a request its sleep lost.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && inFlight) {
    inFlight.woken = true;
    inFlight.abort();
  }
});

const saved = kept();
$("name").value = typeof saved.name === "string" ? saved.name : "";
checkName();
if (typeof saved.workflow_id === "string" && saved.workflow_id) watch(saved.workflow_id);
