// The playground: wires the panels to the documented routes (GET /info, /classes, /openapi.json,
// /playground/samples, /playground/layouts; POST /recognize, /detect; WebSocket /streams).
import { call, clearProblem, query, setKey, showProblem } from "./api.js";
import { FormatError, fromNested, nested, readFile } from "./formats.js";
import { forRoute, loadOptions } from "./options.js";
import { ClassesPanel, showRanking, showVerdict, showWarnings } from "./panels.js";
import { replay } from "./streams.js";
import { Timeline } from "./timeline.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const state = { seq: null, fps: 30, layouts: {}, info: null, stream: null };
let viewer, timeline;

function mark(what, value) {
  document.body.dataset[what] = value;
}

function requestOptions(route) {
  const number = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const common = { layout: $("layout").value, units: $("units").value, mirror: $("mirror").checked };
  if (route === "recognize") {
    return forRoute(route, { ...common, top_k: number("top-k"), open_set_threshold: number("threshold") });
  }
  return forRoute(route, { ...common, window: number("window"), stride: number("stride"),
    threshold: number("threshold") });
}

function fillUnits() {
  const dims = state.info?.layouts?.[$("layout").value]?.dims ?? 3;
  const choices = dims === 2 ? ["", "px"] : ["", "m", "cm", "mm"];
  $("units").replaceChildren(...choices.map((u) => new Option(u || "default", u)));
}

function draw() {
  const seq = state.seq, drawing = state.layouts[$("layout").value];
  if (!seq || !drawing) return;
  if (drawing.joints.length !== seq.shape[2]) {
    $("seq-meta").textContent = `${seq.name}: ${seq.shape[2]} joints do not fit layout ${$("layout").value}`;
    return;
  }
  viewer.load(seq, drawing, state.fps);
  $("scrub").max = seq.shape[1] - 1;
  timeline.reset(seq.shape[1]);
  const [M, T, V, C] = seq.shape;
  $("seq-meta").textContent = `${seq.name}: ${T} frames, ${M} body slot(s), ${V} joints × ${C}`;
}

function setSequence(seq, fps = 30) {
  state.seq = seq;
  state.fps = fps;
  const fits = (name) => state.info?.layouts?.[name]?.joints === seq.shape[2] &&
    state.info.layouts[name].channels.includes(seq.shape[3]);
  if (seq.layout && state.layouts[seq.layout]) $("layout").value = seq.layout;
  else if (!fits($("layout").value)) $("layout").value = Object.keys(state.info?.layouts || {}).find(fits) || "ntu25";
  fillUnits();
  draw();
}

async function loadSample(name) {
  const answer = await call("GET", `/playground/samples/${encodeURIComponent(name)}`);
  if (!answer.ok) { showProblem($("problem-input"), `GET /playground/samples/${name}`, answer); return false; }
  clearProblem($("problem-input"));
  const sample = answer.body;
  setSequence({ name: sample.name, layout: sample.layout, ...fromNested(sample.skeleton, sample.name),
    source: { kind: "json" } }, sample.fps);
  $("sample").value = sample.name;
  return true;
}

async function loadFile(file) {
  try {
    setSequence(await readFile(file));
    $("sample").value = "";
    clearProblem($("problem-input"));
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    showProblem($("problem-input"), "reading the file in the browser", { status: "-", body: err.message });
  }
}

// Send the sequence as the route takes it: a file's own bytes where the API reads that format, else JSON.
function post(route, path, options) {
  const seq = state.seq, source = seq.source;
  const raw = source.kind === "npy" || (source.kind === "text" && route === "detect");
  if (raw) return call("POST", path + query(options), { body: source.bytes, contentType: source.media });
  return call("POST", path, { json: { skeleton: nested(seq), ...options } });
}

// POST the sequence to a route; the answer's body, or null after showing its problem in `box`.
async function send(route, box) {
  if (!state.seq) return null;
  mark(route, "busy");
  const answer = await post(route, `/${route}`, requestOptions(route));
  if (!answer.ok) { showProblem(box, `POST /${route}`, answer); mark(route, "error"); return null; }
  clearProblem(box);
  return answer.body;
}

async function recognize() {
  const body = await send("recognize", $("problem-results"));
  if (!body) return;
  showRanking($("results"), body);
  mark("recognize", "done");
}

async function detect() {
  const body = await send("detect", $("problem-detect"));
  if (!body) return;
  timeline.showDetect(body);
  showVerdict($("detect-open-set"), body.open_set);
  showWarnings($("detect-warnings"), body);
  $("detect-meta").textContent = `${body.segments.length} segment(s), ${body.background.length} background ` +
    `stretch(es); ${body.window.count} windows of ${body.window.length} frames every ${body.window.stride}; ` +
    `${body.seconds.toFixed(2)} s`;
  mark("detect", "done");
}

function logEvent(event) {
  const li = document.createElement("li");
  li.dataset.type = event.type;
  if (event.start_frame !== undefined) Object.assign(li.dataset, { start: event.start_frame, end: event.end_frame });
  const { type, ...rest } = event;
  li.textContent = `${type} ${JSON.stringify(rest)}`;
  $("stream-log").prepend(li);
  if (event.type === "segment") timeline.addStreamSegment(event);
  if (event.type === "window") viewer.show(event.end_frame);
  if (event.type === "error") showProblem($("problem-detect"), "WebSocket /streams", { status: event.status, body: event });
}

async function stream() {
  if (!state.seq) return;
  state.stream?.stop();
  $("stream-log").replaceChildren();
  timeline.clearStream();
  mark("stream", "busy");
  const pace = { fps: Number($("stream-fps").value), chunk: 8 };
  state.stream = replay(state.seq, requestOptions("streams"), pace, logEvent);
  const code = await state.stream.done;
  mark("stream", code === 1000 ? "done" : "error");
}

async function init() {
  viewer = new Viewer($("view"), (frame, T) => {
    $("scrub").value = frame;
    $("frame").textContent = `frame ${frame} / ${T - 1}`;
    timeline.cursorAt(frame, T);
  });
  timeline = new Timeline($("timeline"), (frame) => viewer.show(frame));
  const classes = new ClassesPanel($("classes"), $("problem-classes"));
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey($("api-key").value);
    $("key-state").textContent = $("api-key").value ? "key set (kept in this page's memory only)" : "no key";
    $("api-key").value = "";
  });
  const [info, layouts, samples, doc] = await Promise.all(["/info", "/playground/layouts", "/playground/samples",
    "/openapi.json"].map((path) => call("GET", path)));
  if (!info.ok) showProblem($("problem-input"), "GET /info", info);
  state.info = info.ok ? info.body : null;
  state.layouts = layouts.ok ? layouts.body : {};
  await loadOptions(doc.ok ? doc.body : { paths: {} });
  $("layout").replaceChildren(...Object.keys(state.info?.layouts || state.layouts).map((n) => new Option(n, n)));
  fillUnits();
  if (state.info) {
    $("bundle").textContent = `bundle ${state.info.bundle_version} · ${state.info.device}` +
      (state.info.demo ? " · DEMO bundle: rankings are not meaningful" : "");
  }
  $("sample").append(new Option("choose a sample", ""));
  for (const s of samples.ok ? samples.body.samples : []) {
    $("sample").append(new Option(`${s.name} (${s.frames} frames)`, s.name));
    const link = document.createElement("a");
    link.href = `/playground?sample=${encodeURIComponent(s.name)}`;
    link.textContent = s.name;
    link.title = s.description;
    $("sample-links").append(link, " ");
  }
  $("load-sample").addEventListener("click", () => $("sample").value && loadSample($("sample").value));
  $("file").addEventListener("change", (event) => event.target.files[0] && loadFile(event.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) loadFile(event.dataTransfer.files[0]);
  });
  $("layout").addEventListener("change", () => { fillUnits(); draw(); });
  $("recognize").addEventListener("click", recognize);
  $("detect").addEventListener("click", detect);
  $("stream").addEventListener("click", stream);
  $("play").addEventListener("click", () => viewer.play());
  $("pause").addEventListener("click", () => viewer.pause());
  $("scrub").addEventListener("input", (event) => { viewer.pause(); viewer.show(Number(event.target.value)); });
  await classes.refresh();
  const name = new URLSearchParams(location.search).get("sample");
  if (name && (await loadSample(name))) await recognize();
  mark("ready", "true");
}

init();
