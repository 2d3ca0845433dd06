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

// What the page knows about the run being watched, and when it learnt it.
let seen = null; // { data, at }: the last status the app gave, and the local time
let problem = null; // { line, detail }: why the last request got no status
let runStart = null; // the run's start, on the local clock

function watch(workflowId, uiUrl) {
  currentRun = workflowId;
  seen = null;
  problem = null;
  runStart = null;
  $("ui-link").href = uiUrl;
  $("ui-link-line").hidden = false;
  $("status").hidden = false;
  render();
  clearInterval(ticker);
  ticker = setInterval(render, 250); // countdowns keep moving between answers
  poll(workflowId);
}

const secondsSince = (then) => (Date.now() - then) / 1000;

function render() {
  show("elapsed", runStart === null ? "" : `Elapsed: ${Math.floor(secondsSince(runStart))} s`);
  if (problem) {
    show("status-line", problem.line);
    show("status-detail", problem.detail);
    return;
  }
  if (!seen) {
    show("status-line", "Starting the workflow...");
    show("status-detail", "");
    return;
  }
  const p = seen.data.progress || {};
  const since = secondsSince(seen.at);
  let line = p.message || seen.data.status;
  if (p.step === "timer") {
    const left = Math.ceil(p.timer_seconds_left - since);
    line = left > 0 ? `Sleeping on a durable timer: ${left} s left` : "The timer is firing...";
  }
  const details = [];
  if (p.last_error) details.push(`Last error: ${p.last_error}`);
  if (p.next_retry_in_seconds !== undefined && p.next_retry_in_seconds !== null) {
    const next = Math.max(0, Math.ceil(p.next_retry_in_seconds - since));
    details.push(`Attempt ${p.attempt} in ${next} s`);
  }
  if (p.hint) details.push(p.hint);
  show("status-line", line);
  show("status-detail", details.join("\n"));
}

const TEMPORAL_DOWN = {
  line: "Temporal is unreachable",
  detail: "The run is safe in Temporal's database. The page keeps trying.",
};
const APP_DOWN = {
  line: "The app is not answering",
  detail: "Is app.py running? The page keeps trying.",
};

async function poll(workflowId) {
  let wait = 0; // the first answer at once; then hold each request up to half a second
  while (currentRun === workflowId) {
    let data = null;
    let status = 0;
    try {
      const response = await fetch(`/api/greetings/${encodeURIComponent(workflowId)}?wait=${wait}`);
      status = response.status;
      data = await response.json().catch(() => ({}));
    } catch (err) {
      status = 0; // no answer at all: the app is down
    }
    if (currentRun !== workflowId) return;
    if (status === 404) {
      finish(workflowId);
      show("error", data.error);
      return;
    }
    if (status !== 200) {
      if (status === 503) problem = TEMPORAL_DOWN;
      else if (status === 0) problem = APP_DOWN;
      else problem = { line: "The app reported an error", detail: data.error || `HTTP ${status}` };
      render();
      wait = 0;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    problem = null;
    seen = { data, at: Date.now() };
    if (runStart === null && data.progress) {
      runStart = seen.at - 1000 * (data.progress.elapsed_seconds || 0);
    }
    render();
    if (data.status === "COMPLETED") {
      finish(workflowId);
      const [hello, ip, place] = data.result.greeting.split("\n");
      show("greeting-line", hello);
      show("ip-line", ip);
      show("location-line", place);
      $("result").hidden = false;
      return;
    }
    if (data.status !== "RUNNING") {
      finish(workflowId);
      show("error", data.error || `The run ended: ${data.status}.`);
      return;
    }
    wait = 0.5;
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
