// Replay a loaded sequence through WebSocket /streams, chunk by chunk at a frame rate, and report every event.
import { key } from "./api.js";
import { nested } from "./formats.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// options: the start message's /detect options; pace: {fps, chunk}; onEvent(event) for every server message.
export function replay(seq, options, pace, onEvent) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/streams`);
  let stopped = false;
  const done = new Promise((resolve) => {
    ws.addEventListener("close", (event) => resolve(event.code));
    ws.addEventListener("error", () => onEvent({ type: "error", detail: "the WebSocket connection failed" }));
  });
  const ready = new Promise((resolve) => {
    ws.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "ready") resolve(true);
      if (event.type === "error") { stopped = true; resolve(false); }
      onEvent(event);
    });
    ws.addEventListener("close", () => resolve(false));
  });
  ws.addEventListener("open", async () => {
    // the key goes in the start message (docs/service.md, WebSocket /streams); never in the URL
    const start = { type: "start", ...options };
    if (key()) start.api_key = key();
    ws.send(JSON.stringify(start));
    if (!(await ready)) return;
    const T = seq.shape[1];
    for (let t = 0; t < T && !stopped && ws.readyState === WebSocket.OPEN; t += pace.chunk) {
      ws.send(JSON.stringify({ type: "frames", frames: nested(seq, t, Math.min(T, t + pace.chunk)) }));
      await sleep((1000 * pace.chunk) / pace.fps);
    }
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" }));
  });
  return { done, stop: () => { stopped = true; ws.close(); } };
}
