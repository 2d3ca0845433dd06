// The page starts a run, then asks the app for its status until it ends.
// Everything shown comes from the app's JSON API; names are shown as text.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("greeting-form");
let currentRun = null; // the workflow id being watched
let ticker = null;

function show(id, text) {
  const el = $(id);
  el.textContent = text;
  el.hidden = text === "" || text === null || text === undefined;
}

function clearOutput() {
  ["status", "result", "ui-link-line"].forEach((id) => ($(id).hidden = true));
  show("error", "");
}

function setOptionsVisible(visible) {
  $("options").hidden = !visible;
  $("toggle-options").textContent = visible ? "Hide Demo Options" : "Show Demo Options";
}

$("toggle-options").addEventListener("click", (event) => {
  event.preventDefault();
  setOptionsVisible($("options").hidden);
});

function reset() {
  currentRun = null;
  clearInterval(ticker);
  form.reset();
  setOptionsVisible(false);
  clearOutput();
  $("get-greeting").disabled = false;
  history.replaceState(null, "", location.pathname);
  $("name").focus();
}
$("reset-button").addEventListener("click", reset);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearOutput();
  const sleepText = $("sleep-seconds").value.trim();
  const body = {
    name: $("name").value,
    sleep_seconds: sleepText === "" ? 0 : Number(sleepText),
  };
  $("get-greeting").disabled = true;
  try {
    const response = await fetch("/api/greetings", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) {
      show("error", data.error || `The app answered ${response.status}.`);
      $("get-greeting").disabled = false;
      return;
    }
    history.replaceState(null, "", `?run=${encodeURIComponent(data.workflow_id)}`);
    watch(data.workflow_id, data.ui_url);
  } catch (err) {
    show("error", "The app is not answering. Is app.py running?");
    $("get-greeting").disabled = false;
  }
});

function watch(workflowId, uiUrl) {
  currentRun = workflowId;
  const started = Date.now();
  let last = null; // the last status seen, for the elapsed-time ticker
  $("ui-link").href = uiUrl;
  $("ui-link-line").hidden = false;
  show("status-line", "Starting...");
  $("status").hidden = false;
  clearInterval(ticker);
  ticker = setInterval(() => render(last, started), 250);
  poll(workflowId, (data) => {
    last = data;
  });
}

function elapsedText(data, started) {
  const base = data && data.progress && data.progress.elapsed_seconds;
  const seconds = base !== undefined && data.fetchedAt
    ? base + (Date.now() - data.fetchedAt) / 1000
    : (Date.now() - started) / 1000;
  return `${seconds.toFixed(0)} s`;
}

function render(data, started) {
  if (!data) {
    show("status-line", `Starting... · ${elapsedText(null, started)} elapsed`);
    return;
  }
  if (data.unreachable) {
    show("status-line", `Waiting for Temporal... · ${elapsedText(null, started)} elapsed`);
    show("status-detail", data.error + "\nStill trying: the run is safe in Temporal's database.");
    return;
  }
  const p = data.progress || {};
  show("status-line", `${p.message || data.status} · ${elapsedText(data, started)} elapsed`);
  const details = [];
  if (p.last_error) details.push(`Last error: ${p.last_error}`);
  if (p.next_retry_in_seconds !== undefined && p.next_retry_in_seconds !== null) {
    details.push(`Next attempt in ${Math.max(0, p.next_retry_in_seconds).toFixed(0)} s (attempt ${p.attempt})`);
  }
  if (p.waiting_for_worker) details.push("Start worker.py and the run continues where it stopped.");
  show("status-detail", details.join("\n"));
}

async function poll(workflowId, remember) {
  while (currentRun === workflowId) {
    let data = null;
    try {
      const response = await fetch(`/api/greetings/${encodeURIComponent(workflowId)}?wait=1`);
      data = await response.json();
      if (response.status === 404) {
        finish(workflowId);
        show("error", data.error);
        return;
      }
      if (response.status === 503 || response.status === 502) data.unreachable = true;
    } catch (err) {
      data = { unreachable: true, error: "The app is not answering (is app.py running?)." };
    }
    if (currentRun !== workflowId) return;
    data.fetchedAt = Date.now();
    remember(data);
    if (data.status === "COMPLETED") {
      finish(workflowId);
      const [hello, ip, place] = data.result.greeting.split("\n");
      show("greeting-line", hello);
      show("ip-line", ip);
      show("location-line", place);
      $("result").hidden = false;
      return;
    }
    if (data.status && !["RUNNING", "UNREACHABLE"].includes(data.status)) {
      finish(workflowId);
      show("error", data.error || `The run ended: ${data.status}.`);
      return;
    }
    if (data.unreachable) await new Promise((r) => setTimeout(r, 1000));
  }
}

function finish(workflowId) {
  if (currentRun !== workflowId) return;
  clearInterval(ticker);
  $("status").hidden = true;
  $("get-greeting").disabled = false;
}

// A reload (or an app restart) shows the same run: its id is in the URL.
const params = new URLSearchParams(location.search);
if (params.get("run")) {
  const id = params.get("run");
  const ns = document.body.dataset.namespace;
  watch(id, `${document.body.dataset.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(id)}`);
}
