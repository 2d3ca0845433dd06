// The page starts a run, then asks the app for its status until it ends.
// Everything shown comes from the app's JSON API; names are shown as text.
// What it shows of the run, and how it asks, is run-status.js's (loaded first), as on the join page.
"use strict";

const form = $("greeting-form");

function clearOutput() {
  ["status", "result", "ui-link-line", "timeline-section"].forEach((id) => ($(id).hidden = true));
  $("timeline").replaceChildren();
  shownTimeline = "";
  renderCode([], null);
  showError("");
}

// An error stays until what it names is back: "temporal" (the Temporal light comes on),
// "app" (the app answers again), or until the next press.
function showError(text, until = "") {
  show("error", text);
  $("error").dataset.until = until;
}

function setOptionsVisible(visible) {
  $("options").hidden = !visible;
  $("toggle-options").textContent = visible ? "Hide Demo Options" : "Show Demo Options";
  remember();
}

$("toggle-options").addEventListener("click", (event) => {
  event.preventDefault();
  setOptionsVisible($("options").hidden);
});

// The presenter's settings (the name being typed, the options and their seconds) survive a
// reload of the tab (sessionStorage: this tab only); Reset clears the run and the name only.
const KEPT = "hello-ip.page";

function remember() {
  const kept = {
    name: $("name").value,
    seconds: $("sleep-seconds").value,
    options: !$("options").hidden,
  };
  try {
    sessionStorage.setItem(KEPT, JSON.stringify(kept));
  } catch (err) {
    // storage refused (a private window's quota): the settings last until a reload
  }
}

function restore() {
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
  } catch (err) {
    kept = null;
  }
  if (!kept) return;
  $("name").value = typeof kept.name === "string" ? kept.name : "";
  if (typeof kept.seconds === "string") $("sleep-seconds").value = kept.seconds;
  setOptionsVisible(kept.options === true);
}

$("name").addEventListener("input", () => {
  checkName();
  remember();
});
$("sleep-seconds").addEventListener("input", remember);

function reset() {
  currentRun = null;
  runLights = false;
  clearInterval(ticker);
  $("name").value = ""; // the next person's name; the options and their seconds stay
  checkName();
  remember();
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
      showError(data.error || `The app answered ${response.status}.`, data.lights ? "temporal" : "");
      if (data.lights) setLights(data.lights);
      $("get-greeting").disabled = false;
      return;
    }
    history.replaceState(null, "", `?run=${encodeURIComponent(data.workflow_id)}`);
    watch(data.workflow_id, data.ui_url);
  } catch (err) {
    showError("The app is not answering. Is app.py running?", "app");
    $("get-greeting").disabled = false;
  }
});

let runLights = false; // while a run is watched, its answers light the lights (one reading)

// What the page does around its run, for run-status.js's follow and poll.
const RUN_PAGE = {
  url: (workflowId) => `/api/greetings/${encodeURIComponent(workflowId)}`,
  words: {
    temporal: "The run is safe in Temporal's database. The page keeps trying.",
    app: "Is app.py running? The page keeps trying.",
    error: "",
  },
  render,
  finish,
  ended: showError,
  forgotten(data) {
    finish();
    showError(data.error);
  },
  answered(data) {
    setLights(data.lights);
    renderTimeline(data);
  },
  unanswered(status, data) {
    if (status === 0 || data.lights) setLights(status === 0 ? APP_SILENT : data.lights);
  },
};

function watch(workflowId, uiUrl) {
  runLights = true;
  $("ui-link").href = uiUrl;
  $("ui-link-line").hidden = false;
  follow(workflowId, RUN_PAGE);
}

function render() {
  renderCountdowns();
  renderStatus();
}

function finish() {
  runLights = false; // the lights ask for themselves again
  clearInterval(ticker);
  $("status").hidden = true;
  $("get-greeting").disabled = false;
}

// A reload (or an app restart) shows the same run: its id is in the URL.
restore();
checkName();
const params = new URLSearchParams(location.search);
if (params.get("run")) {
  const id = params.get("run");
  watch(id, `${document.body.dataset.workflowsUrl}/${encodeURIComponent(id)}`);
}

// The timeline: one row per step, from the run's event history (the app's JSON).
// Rebuilt only when the app's answer changes; the countdowns move in between.
let shownTimeline = "";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const STATE_WORDS = {
  scheduled: "waiting",
  running: "running",
  retrying: "retrying",
  waiting: "waiting",
  completed: "done",
  fired: "fired",
  failed: "failed",
  mismatch: "mismatch",
  replayed: "replayed",
  "task failed": "failed",
};

// What moves between two answers is left out of the key: the rows stay, their countdowns move.
const MOVING = ["countdown", "fires_in_seconds", "next_retry_in_seconds"];

function renderTimeline(data) {
  const rows = data.timeline || [];
  const key = JSON.stringify(rows, (k, v) => (MOVING.includes(k) ? undefined : v));
  if (key === shownTimeline) return renderCountdowns();
  shownTimeline = key;
  const items = rows.map((row, index) => {
    const li = el("li");
    li.dataset.step = row.step;
    li.dataset.state = row.state;
    li.append(el("span", "step-name", row.step === "timer" ? "durable timer" : row.step));
    li.append(el("span", "step-state", STATE_WORDS[row.state] || row.state));
    // A mismatch's full report is in the status line: here, where the history disagrees.
    const short = row.state === "mismatch" && row.event;
    li.append(el("span", "step-text", short ? `The code does not match the history at ${row.event}` : row.text));
    if ((row.failures || []).length) {
      const failures = el("span", "step-failures");
      row.failures.forEach((f) => {
        const why = f.error ? `: ${f.error}` : " (the app did not see its error; Temporal keeps the last)";
        failures.append(el("span", "step-failure", `Attempt ${f.attempt} failed${why}`));
      });
      li.append(failures);
    }
    if (row.countdown) {
      const left = el("span", "step-note countdown");
      left.dataset.row = index;
      left.setAttribute("aria-hidden", "true");
      li.append(left);
      if (row.step === "timer") {
        const bar = el("span", "bar");
        bar.setAttribute("aria-hidden", "true");
        const fill = el("span");
        fill.dataset.row = index;
        fill.dataset.total = row.timer_seconds;
        bar.append(fill);
        li.append(bar);
      }
    }
    if (row.note) li.append(el("span", "step-note from-history", row.note));
    if (row.calls) li.append(el("span", "step-note calls", row.calls));
    return li;
  });
  $("timeline").replaceChildren(...items);
  $("timeline-section").hidden = items.length === 0;
  document.querySelectorAll(".step-failures").forEach((node) => (node.scrollTop = node.scrollHeight));
  renderCode(rows, data.input);
  renderCountdowns();
}

function renderCountdowns() {
  const rows = (seen && seen.data.timeline) || [];
  document.querySelectorAll("#timeline [data-row], #code [data-row]").forEach((node) => {
    const countdown = (rows[Number(node.dataset.row)] || {}).countdown;
    if (!countdown) return;
    if (node.dataset.total) {
      const total = Number(node.dataset.total);
      const left = Math.max(0, countdown.seconds - secondsSince(seen.at));
      node.style.width = `${Math.min(100, (100 * (total - left)) / total)}%`;
    } else {
      node.textContent = countdownText(countdown);
    }
  });
}

// The code view: the run method as the app read it (its lines, from the server), each step's
// lines marked from the same timeline rows as the timeline: one reading, two views.
const codeBlocks = []; // { step, lines: [li...] }, in the code's order
document.querySelectorAll("#code li[data-block]").forEach((li) => {
  const index = Number(li.dataset.block);
  codeBlocks[index] = codeBlocks[index] || { step: li.dataset.step, lines: [] };
  codeBlocks[index].lines.push(li);
});

// The timeline's rows matched to the code's steps in order (a step the code skipped, such
// as the timer of a run without one, is passed over); rows with no line of this code left.
function matchRows(rows) {
  const matched = new Map(); // block index -> row index
  const unmatched = [];
  let next = 0;
  rows.forEach((row, index) => {
    if (row.step === "replay") return;
    const at = codeBlocks.findIndex((b, i) => i >= next && b && b.step === row.step);
    if (at < 0) {
      unmatched.push(row);
      return;
    }
    matched.set(at, index);
    next = at + 1;
  });
  return { matched, unmatched };
}

const MARK_WORDS = { mismatch: "mismatch", "from history": "from history", skipped: "skipped" };

// A step's mark: { state, word, parts: [text or { row } (its countdown)] }.
function markFor(row, index) {
  const countdown = row.countdown ? { row: index } : null;
  if (row.step === "timer") {
    if (row.state === "waiting") return { state: "waiting", word: "waiting", parts: ["Durable timer:", countdown] };
    return { state: "fired", word: "fired", parts: [row.text] };
  }
  if (row.step === "greeting") {
    const done = row.state === "completed";
    return { state: done ? "returned" : "failed", word: done ? "returned" : "failed", parts: [row.text] };
  }
  if (row.state === "completed") {
    if (row.from_history) {
      const result = typeof row.result === "string" ? ` (${row.result})` : "";
      return { state: "from history", word: "from history", parts: [`Its result${result} taken from the history by a restarted worker: not run again`] };
    }
    return { state: "ran", word: "ran", parts: [`Ran: ${row.text}`] };
  }
  if (row.state === "retrying") {
    const failures = row.failures || [];
    const last = failures.length ? failures[failures.length - 1].error : null;
    const error = last || row.last_failure;
    const parts = [`Attempt ${row.attempt - 1} failed;`, countdown];
    if (error) parts.push({ error: `Last error: ${error}` });
    return { state: "retrying", word: "retrying", parts };
  }
  if (row.state === "failed") return { state: "failed", word: "failed", parts: [row.text] };
  return { state: row.state === "running" ? "running" : "waiting", word: STATE_WORDS[row.state] || row.state, parts: [row.text] };
}

let shownCode = "";

function renderCode(rows, input) {
  if (!codeBlocks.length) return;
  const key = JSON.stringify(rows, (k, v) => (MOVING.includes(k) ? undefined : v));
  if (key === shownCode) return;
  shownCode = key;
  document.querySelectorAll("#code li.mark").forEach((li) => li.remove());
  document.querySelectorAll("#code li[data-mark]").forEach((li) => delete li.dataset.mark);
  const { matched, unmatched } = matchRows(rows);
  const marks = new Map(); // block index -> mark
  matched.forEach((rowIndex, block) => marks.set(block, markFor(rows[rowIndex], rowIndex)));
  // A step the run went past without doing: the timer of a run with 0 seconds.
  const reached = Math.max(-1, ...matched.keys());
  codeBlocks.forEach((block, index) => {
    if (block && !marks.has(index) && index < reached && block.step === "timer") {
      const why = input && input.sleep_seconds === 0 ? "sleep_seconds is 0: no timer" : "not done by this run";
      marks.set(index, { state: "skipped", word: "skipped", parts: [why] });
    }
  });
  // Demo 6: the step of the history where the worker's code expected something else.
  let note = "";
  const replay = rows.find((row) => row.step === "replay");
  if (replay) {
    const block = [...matched.entries()].find(([, rowIndex]) => rowIndex === replay.at_row);
    const where = replay.event ? ` (${replay.event})` : "";
    if (replay.state === "mismatch" && block) {
      const expected = `The history has this step here${where}; the restarted worker's code expected another one. Its workflow.py is not the one shown here.`;
      marks.set(block[0], { state: "mismatch", word: "mismatch", parts: [expected] });
    } else if (replay.state === "mismatch") {
      note = `Mismatch: the worker's code does not match the run's history${where}.`;
    } else if (replay.state === "replayed" && block) {
      const mark = marks.get(block[0]) || { parts: [] };
      mark.parts.push("Replayed by a worker whose code matches: the run went on.");
    }
  }
  if (unmatched.length && !note) {
    const steps = [...new Set(unmatched.map((row) => (row.step === "timer" ? "durable timer" : row.step)))];
    note = `This run's history has steps this code does not have where they happened (${steps.join(", ")}): a worker with other code ran it.`;
  }
  show("code-note", note);
  marks.forEach((mark, index) => {
    const lines = codeBlocks[index].lines;
    lines.forEach((li) => (li.dataset.mark = mark.state));
    const li = el("li", "mark");
    li.dataset.mark = mark.state;
    li.dataset.forStep = codeBlocks[index].step;
    li.append(el("span", "mark-word", MARK_WORDS[mark.word] || mark.word), " ");
    mark.parts.forEach((part) => {
      if (part === null) return;
      if (typeof part === "string") li.append(el("span", "mark-text", `${part} `));
      else if (part.error) li.append(el("span", "mark-text mark-error", `${part.error} `));
      else {
        const left = el("span", "mark-text countdown");
        left.dataset.row = part.row;
        li.append(left, document.createTextNode(" "));
      }
    });
    lines[lines.length - 1].after(li);
  });
}

// The two lights: from the run's answers while a run is watched (the status and the lights
// are one reading), else asked for twice a second.
const APP_SILENT = {
  temporal: { on: null, text: "Temporal: unknown", detail: "the app is not answering" },
  worker: { on: null, text: "Worker: unknown", detail: "the app is not answering" },
};

function setLights(lights) {
  setLight("light-temporal", lights.temporal);
  setLight("light-worker", lights.worker);
  const error = $("error");
  const back = { temporal: lights.temporal.on === true, app: lights !== APP_SILENT };
  if (!error.hidden && back[error.dataset.until]) showError(""); // what it named is back
}

function setLight(id, light) {
  const node = $(id);
  node.dataset.on = light.on === null || light.on === undefined ? "unknown" : String(light.on);
  // Only the light's words are announced (aria-live), and only when they change.
  const text = node.querySelector(".light-text");
  if (text.textContent !== light.text) text.textContent = light.text;
  node.querySelector(".light-detail").textContent = light.detail ? `(${light.detail})` : "";
}

async function pollLights() {
  for (;;) {
    if (!runLights) {
      try {
        const response = await fetch("/api/lights");
        const data = await response.json();
        if (!runLights) setLights(data);
      } catch (err) {
        if (!runLights) setLights(APP_SILENT);
      }
    }
    await pause(500); // cheap: one reading for all pages
  }
}
pollLights();

// The stage panel: only when make demo runs the pieces (GET /api/stage answers 200).
// Each button does to the real process what the presenter would do in its terminal.
let stageToken = null;
const BUTTONS = [
  ["interrupt", "Ctrl-C"],
  ["kill", "kill -9"],
  ["start", "Start"],
];

function pieceRow(piece) {
  let row = document.querySelector(`.piece[data-name="${piece.name}"]`);
  if (row) return row;
  row = el("div", "piece");
  row.dataset.name = piece.name;
  const head = el("div", "piece-head");
  head.append(el("span", "piece-name", piece.name), el("span", "piece-state"));
  if (piece.buttons) {
    BUTTONS.forEach(([action, label]) => {
      const button = el("button", `press-${action}`, label);
      button.type = "button";
      button.setAttribute("aria-label", `${label}: ${piece.name}`);
      button.addEventListener("click", () => press(piece.name, action));
      head.append(button);
    });
  }
  row.append(head, el("pre", "piece-lines"));
  $("stage-pieces").append(row);
  return row;
}

function renderStage(pieces) {
  pieces.forEach((piece) => {
    const row = pieceRow(piece);
    row.dataset.state = piece.state;
    let state = piece.state;
    if (piece.pid) state += ` (pid ${piece.pid})`;
    if (piece.exit !== undefined) state += ` (exit ${piece.exit})`;
    row.querySelector(".piece-state").textContent = state;
    const lines = row.querySelector(".piece-lines");
    lines.textContent = piece.lines.join("\n");
    lines.scrollTop = lines.scrollHeight; // the newest line in sight
  });
}

async function press(name, action) {
  const message = $("stage-message");
  try {
    const response = await fetch(`/api/stage/${encodeURIComponent(name)}/${action}`, {
      method: "POST",
      headers: { "X-Stage-Token": stageToken || "" },
    });
    const data = await response.json().catch(() => ({}));
    message.textContent = data.message || data.error || `The app answered ${response.status}.`;
    message.dataset.refused = String(!response.ok);
  } catch (err) {
    message.textContent = "The app is not answering.";
    message.dataset.refused = "true";
  }
  pollStageOnce();
}

async function pollStageOnce() {
  try {
    const response = await fetch("/api/stage");
    if (response.status === 404) return false; // not under make demo: no panel
    const data = await response.json();
    if (response.ok) {
      stageToken = data.token;
      renderStage(data.pieces);
      $("stage-panel").hidden = false;
    }
  } catch (err) {
    // the app is down: the panel keeps its last state until it answers again
  }
  return true;
}

async function pollStage() {
  while (await pollStageOnce()) {
    await pause(1000);
  }
}
pollStage();

// The room panel (room mode: the app started with --room): only when GET /api/room answers
// 200 (404 when room mode is off: nothing on the page changes). The join URL and its QR code,
// the room's timer, its counts, every run of the room (newest first) and the proof; asked for
// every second.
let roomOn = false;
let shownRoom = { qr: "", runs: "" };
let roomSecondsEdited = false; // the presenter is typing a timer: the refresh leaves it alone

const ROOM_STATES = { running: "running", waiting: "waiting", done: "done", failed: "failed" };

function renderRoom(room) {
  roomOn = true;
  $("room-panel").hidden = false;
  show("room-url", room.url);
  if (room.qr_svg !== shownRoom.qr) {
    $("room-qr").src = room.qr_svg; // a data: URI made by the app (segno): nothing fetched
    shownRoom.qr = room.qr_svg;
  }
  if (!roomSecondsEdited && document.activeElement !== $("room-seconds")) {
    $("room-seconds").value = String(room.sleep_seconds);
  }
  show("room-summary", room.summary);
  show("room-unreachable", room.unreachable || "");
  $("room-runs").dataset.stale = String(Boolean(room.unreachable)); // the runs as last read
  const proof = room.proof || {};
  $("room-proof").dataset.ok = String(proof.ok === undefined ? null : proof.ok);
  show("room-proof-text", proof.text || "");
  show("room-proof-standin", proof.standin || "");
  const runs = room.runs || [];
  const key = JSON.stringify(runs);
  if (key === shownRoom.runs) return;
  shownRoom.runs = key;
  const list = $("room-runs");
  const scrolled = list.scrollTop;
  list.replaceChildren(
    ...runs.map((run) => {
      const li = el("li");
      li.dataset.state = run.state;
      li.dataset.workflowId = run.workflow_id;
      const name = el("a", "room-name", run.name);
      name.href = run.ui_url;
      name.target = "_blank";
      name.rel = "noopener";
      li.append(name, el("span", "step-state", ROOM_STATES[run.state] || run.state));
      li.append(el("span", "room-step", run.message || run.step || ""));
      return li;
    }),
  );
  list.hidden = runs.length === 0;
  list.scrollTop = scrolled; // the presenter's scroll stays where it was
}

function roomSaid(text, refused) {
  show("room-message", text);
  $("room-message").dataset.refused = String(refused);
}

async function askRoom(method, path, body) {
  const options = { method };
  if (body !== undefined) {
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

$("room-seconds").addEventListener("input", () => (roomSecondsEdited = true));

$("room-timer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("room-seconds").value.trim();
  const seconds = text === "" ? null : Number(text);
  try {
    const { status, data } = await askRoom("POST", "/api/room", { sleep_seconds: seconds });
    if (status !== 200) return roomSaid(data.error || `The app answered ${status}.`, true);
    roomSecondsEdited = false;
    renderRoom(data);
    roomSaid(`The room's new runs wait ${data.sleep_seconds} s on their timer.`, false);
  } catch (err) {
    roomSaid("The app is not answering.", true);
  }
});

// The page's Reset clears the room's ended runs too (runs in flight stay listed).
$("reset-button").addEventListener("click", async () => {
  if (!roomOn) return;
  try {
    const { status, data } = await askRoom("POST", "/api/room/reset");
    if (status === 200) renderRoom(data);
    else roomSaid(data.error || `The app answered ${status}.`, true);
  } catch (err) {
    roomSaid("The app is not answering.", true);
  }
});

async function pollRoomOnce() {
  try {
    const { status, data } = await askRoom("GET", "/api/room");
    if (status === 404) {
      // room mode is off (or the app came back without it): no panel
      roomOn = false;
      $("room-panel").hidden = true;
      return false;
    }
    if (status === 200) renderRoom(data);
  } catch (err) {
    // the app is down: the panel keeps its last state (the lights say so) until it answers
  }
  return true;
}

async function pollRoom() {
  while (await pollRoomOnce()) {
    await pause(1000);
  }
}
pollRoom();
