// What the presenter's page (app.js) and the join page (join.js) show of a run the same way,
// loaded before either: the name's limit, the status line (its detail, the countdown, the time
// elapsed, the problems), the greeting's lines, and the loop that asks for the run's status.
// Each page passes what is its own (its URL, its words for a problem, what it does around a run).
// Everything shown comes from the app's JSON; names are shown as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function show(id, text) {
  const node = $(id);
  node.textContent = text;
  node.hidden = text === "" || text === null || text === undefined;
}

// A name has at most 100 characters (the app refuses more, and says so): the page says it at
// the limit rather than dropping what is typed past it.
const NAME_MAX = 100;

function checkName() {
  const length = $("name").value.trim().length;
  let text = "";
  if (length > NAME_MAX) text = `${length} characters: ${NAME_MAX} characters at most`;
  else if (length === NAME_MAX) text = `${NAME_MAX} characters at most: that is the limit`;
  show("name-limit", text);
  $("name").setAttribute("aria-invalid", String(length > NAME_MAX));
}

// The run being watched, and what the page knows of it.
let currentRun = null; // its workflow id
let ticker = null; // redraws the status between answers
let seen = null; // { data, at }: the last status the app gave, and the local time it came
let problem = null; // { line, detail }: why the last request got no status
let runStart = null; // the run's start, on the local clock
let inFlight = null; // the status request's AbortController

// Watch a run: its status at once, then redrawn four times a second (countdowns keep moving
// between answers) and asked for until it ends. `page`: see poll.
function follow(workflowId, page) {
  currentRun = workflowId;
  seen = null;
  problem = null;
  runStart = null;
  $("status").hidden = false;
  page.render();
  clearInterval(ticker);
  ticker = setInterval(page.render, 250);
  poll(workflowId, page);
}

const secondsSince = (then) => (Date.now() - then) / 1000;

// One countdown per answer: the status line and the presenter's timeline read the same one.
function countdownText(countdown) {
  const left = countdown.seconds - secondsSince(seen.at);
  return left > 0 ? countdown.text.replace("{s}", Math.ceil(left)) : countdown.done;
}

// The status line, its detail and the time elapsed; returns the run's state as the line tells
// it: problem, starting, waiting (for a worker), retrying or running.
function renderStatus() {
  show("elapsed", runStart === null ? "" : `Elapsed: ${Math.floor(secondsSince(runStart))} s`);
  if (problem) {
    show("status-line", problem.line);
    show("status-detail", problem.detail);
    return "problem";
  }
  if (!seen) {
    show("status-line", "Starting the workflow...");
    show("status-detail", "");
    return "starting";
  }
  const p = seen.data.progress || {};
  const line = p.countdown ? countdownText(p.countdown) : p.message || seen.data.status;
  const details = (p.details || []).map((d) => (typeof d === "string" ? d : countdownText(d)));
  show("status-line", line);
  show("status-detail", details.join("\n"));
  return p.waiting_for_worker ? "waiting" : p.last_error ? "retrying" : "running";
}

// Why a status request got no answer the page can show, in the page's words (`words`: the
// detail when Temporal is unreachable, when the app does not answer, and after another error).
function problemFor(status, data, words) {
  if (status === 503) return { line: "Temporal is unreachable", detail: words.temporal };
  if (status === 0) return { line: "The app is not answering", detail: words.app };
  return { line: "The app reported an error", detail: `${data.error || `HTTP ${status}`}${words.error}` };
}

function showGreeting(data) {
  const [hello, ip, place] = (data.result && data.result.greeting) || [];
  show("greeting-line", hello);
  show("ip-line", ip);
  show("location-line", place);
  $("result").hidden = false;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Ask for the run's status until it ends: the first answer at once, then each request held by
// the app until there is news (or half a second). `page`: url(workflowId), the run's status
// URL; words, for problemFor; render(); finish(), when the run is no longer watched; ended(text),
// the run ended other than with a greeting; forgotten(data), a 404; optional: limit, seconds
// after a request's wait to give it up and ask again (a request lost with the network would
// hang); answered(data), after each status; unanswered(status, data), after each problem.
async function poll(workflowId, page) {
  let wait = 0;
  while (currentRun === workflowId) {
    let data = {};
    let status = 0;
    const controller = new AbortController();
    inFlight = controller;
    const limit = page.limit ? setTimeout(() => controller.abort(), 1000 * (wait + page.limit)) : null;
    try {
      const news = seen ? `&seen=${seen.data.version}` : "";
      const url = `${page.url(workflowId)}?wait=${wait}${news}`;
      const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
      status = response.status;
      data = await response.json().catch(() => ({}));
    } catch (err) {
      // no answer at all (the app is down), or woken: the page asks again at once
      status = controller.signal.aborted && controller.woken ? -1 : 0;
    } finally {
      clearTimeout(limit);
      inFlight = null;
    }
    if (currentRun !== workflowId) return;
    if (status === -1) {
      wait = 0;
      continue;
    }
    if (status === 404) {
      page.forgotten(data);
      return;
    }
    if (status !== 200) {
      problem = problemFor(status, data, page.words);
      if (page.unanswered) page.unanswered(status, data);
      page.render();
      wait = 0;
      await pause(status === 429 ? 3000 : 1000);
      continue;
    }
    problem = null;
    seen = { data, at: Date.now() };
    if (page.answered) page.answered(data);
    if (runStart === null && data.progress) {
      runStart = seen.at - 1000 * (data.progress.elapsed_seconds || 0);
    }
    page.render();
    if (data.status === "COMPLETED") {
      page.finish();
      showGreeting(data);
      return;
    }
    if (data.status !== "RUNNING") {
      page.finish();
      page.ended(data.error || `The run ended: ${data.status}.`);
      return;
    }
    wait = 0.5;
  }
}
