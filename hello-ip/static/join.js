// The join page (room mode): an attendee's phone starts one run, then follows it in the same
// words as the presenter's page (the status JSON's progress) until its greeting.
// Everything shown comes from the app's JSON; names are shown as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const base = document.body.dataset.base; // "/j/<code>": every request goes under it
const NAME_MAX = 100;

function show(id, text) {
  const node = $(id);
  node.textContent = text;
  node.hidden = text === "" || text === null || text === undefined;
}

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

function checkName() {
  const length = $("name").value.trim().length;
  let text = "";
  if (length > NAME_MAX) text = `${length} characters: ${NAME_MAX} characters at most`;
  else if (length === NAME_MAX) text = `${NAME_MAX} characters at most: that is the limit`;
  show("name-limit", text);
  $("name").setAttribute("aria-invalid", String(length > NAME_MAX));
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

// The run being watched, and what the page knows of it.
let currentRun = null;
let ticker = null;
let seen = null; // { data, at }: the last status, and the local time it came
let problem = null; // { line, detail }: why the last request got no status
let runStart = null;
let inFlight = null; // the status request's AbortController

function watch(workflowId) {
  currentRun = workflowId;
  seen = null;
  problem = null;
  runStart = null;
  $("join-form").hidden = true;
  ["result", "start-another"].forEach((id) => ($(id).hidden = true));
  show("run-id", `Your run: ${workflowId}`);
  $("status").hidden = false;
  render();
  clearInterval(ticker);
  ticker = setInterval(render, 250); // countdowns keep moving between answers
  poll(workflowId);
}

const secondsSince = (then) => (Date.now() - then) / 1000;

function countdownText(countdown) {
  const left = countdown.seconds - secondsSince(seen.at);
  return left > 0 ? countdown.text.replace("{s}", Math.ceil(left)) : countdown.done;
}

// The presenter's page's status line, word for word (app.js's render).
function render() {
  show("elapsed", runStart === null ? "" : `Elapsed: ${Math.floor(secondsSince(runStart))} s`);
  const status = $("status");
  if (problem) {
    status.dataset.state = "problem";
    show("status-line", problem.line);
    show("status-detail", problem.detail);
    return;
  }
  if (!seen) {
    status.dataset.state = "starting";
    show("status-line", "Starting the workflow...");
    show("status-detail", "");
    return;
  }
  const p = seen.data.progress || {};
  status.dataset.state = p.waiting_for_worker ? "waiting" : p.last_error ? "retrying" : "running";
  const line = p.countdown ? countdownText(p.countdown) : p.message || seen.data.status;
  const details = (p.details || []).map((d) => (typeof d === "string" ? d : countdownText(d)));
  show("status-line", line);
  show("status-detail", details.join("\n"));
}

const TEMPORAL_DOWN = {
  line: "Temporal is unreachable",
  detail: "Your run is safe in Temporal's database. This page keeps trying.",
};
const APP_DOWN = {
  line: "The app is not answering",
  detail: "Is this phone still on the venue's network? This page keeps trying.",
};

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(workflowId) {
  let wait = 0; // the first answer at once; then each request is held until there is news
  while (currentRun === workflowId) {
    let data = {};
    let status = 0;
    const controller = new AbortController();
    inFlight = controller;
    // A request lost with the network (a locked phone, a dropped Wi-Fi) would hang: give up on
    // it after its wait and 10 s more, and ask again.
    const limit = setTimeout(() => controller.abort(), 1000 * wait + 10000);
    try {
      const news = seen ? `&seen=${seen.data.version}` : "";
      const url = `${base}/runs/${encodeURIComponent(workflowId)}?wait=${wait}${news}`;
      const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
      status = response.status;
      data = await response.json().catch(() => ({}));
    } catch (err) {
      status = controller.signal.aborted && controller.woken ? -1 : 0;
    } finally {
      clearTimeout(limit);
      inFlight = null;
    }
    if (currentRun !== workflowId) return;
    if (status === -1) {
      wait = 0; // woken (the phone's screen is back on): ask again at once
      continue;
    }
    if (status === 404) {
      showForm();
      // The room forgot it: the presenter's Reset (runs ended), or the app restarted (a new room).
      show("error", "The room no longer has your run: the presenter reset the room or restarted the app. Start another, or scan the QR code again.");
      return;
    }
    if (status !== 200) {
      if (status === 503) problem = TEMPORAL_DOWN;
      else if (status === 0) problem = APP_DOWN;
      else problem = { line: "The app reported an error", detail: `${data.error || `HTTP ${status}`} This page keeps trying.` };
      render();
      wait = 0;
      await pause(status === 429 ? 3000 : 1000);
      continue;
    }
    problem = null;
    seen = { data, at: Date.now() };
    if (runStart === null && data.progress) {
      runStart = seen.at - 1000 * (data.progress.elapsed_seconds || 0);
    }
    render();
    if (data.status === "COMPLETED") {
      finish();
      const [hello, ip, place] = (data.result && data.result.greeting) || [];
      show("greeting-line", hello);
      show("ip-line", ip);
      show("location-line", place);
      $("result").hidden = false;
      return;
    }
    if (data.status !== "RUNNING") {
      finish();
      show("error", data.error || `The run ended: ${data.status}.`);
      return;
    }
    wait = 0.5;
  }
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
