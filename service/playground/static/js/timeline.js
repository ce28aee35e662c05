// The timeline under the 3D view: /detect's segments and background, /streams' events, and a cursor that
// follows the animation (a click on the timeline moves the animation there).

const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

export function colourOf(label) {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

function block(lane, frames, item) {
  const el = document.createElement("div");
  el.className = `block ${item.kind}`;
  el.style.left = `${(100 * item.start_frame) / frames}%`;
  el.style.width = `${(100 * (item.end_frame - item.start_frame + 1)) / frames}%`;
  if (item.label) el.style.background = colourOf(item.label);
  el.dataset.start = item.start_frame;
  el.dataset.end = item.end_frame;
  el.dataset.kind = item.kind;
  if (item.label) el.dataset.label = item.label;
  if (item.score !== undefined && item.score !== null) el.dataset.score = item.score;
  const what = item.label || "background (none of the registered classes)";
  el.title = `${what}: frames ${item.start_frame}-${item.end_frame}` +
    (item.score !== undefined && item.score !== null ? `, score ${Number(item.score).toFixed(3)}` : "");
  lane.append(el);
  return el;
}

export class Timeline {
  constructor(root, onSeek) {
    this.root = root;
    this.frames = 0;
    this.detectLane = root.querySelector("#lane-detect");
    this.streamLane = root.querySelector("#lane-stream");
    this.cursor = root.querySelector("#timeline-cursor");
    root.addEventListener("click", (event) => {
      if (!this.frames) return;
      const box = this.detectLane.getBoundingClientRect();
      onSeek(Math.floor(((event.clientX - box.left) / box.width) * this.frames));
    });
  }

  reset(frames) {
    this.frames = frames;
    this.detectLane.replaceChildren();
    this.streamLane.replaceChildren();
  }

  showDetect(answer) {
    this.detectLane.replaceChildren();
    const frames = answer.frames;
    for (const s of answer.background) block(this.detectLane, frames, { ...s, kind: "background" });
    for (const s of answer.segments) block(this.detectLane, frames, { ...s, kind: "segment" });
  }

  clearStream() {
    this.streamLane.replaceChildren();
  }

  addStreamSegment(event) {
    if (!this.frames) return;
    block(this.streamLane, this.frames, { ...event, kind: event.background ? "background" : "segment" });
  }

  cursorAt(frame, frames) {
    this.cursor.style.left = `${(100 * (frame + 0.5)) / Math.max(frames, 1)}%`;
  }
}
