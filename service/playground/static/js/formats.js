// Skeleton files read in the browser: .npy, JSON, PKU-MMD .txt and NTU .skeleton, into one sequence object
// {name, layout, shape: [M, T, V, C], data: Float32Array (C order), source: {kind, bytes?, media?}}.
// Routes that take a file as it is (.npy, PKU-MMD text on /detect) get its bytes; the others get JSON.

export class FormatError extends Error {}

const NTU_JOINTS = 25, NTU_BODY_FIELDS = 10, NTU_JOINT_FIELDS = 12, PKU_VALUES = 150;

export function fromNested(value, name) {
  const shape = [];
  let probe = value;
  while (Array.isArray(probe)) { shape.push(probe.length); probe = probe[0]; }
  if (shape.length === 3) shape.unshift(1);
  if (shape.length !== 4) throw new FormatError(`${name}: expected (T,V,C) or (M,T,V,C) nested lists, got rank ${shape.length}`);
  const flat = value.flat(shape.length === 4 && Array.isArray(value[0][0][0]) ? 3 : 2);
  if (flat.length !== shape.reduce((a, b) => a * b, 1)) throw new FormatError(`${name}: ragged lists`);
  return { shape, data: Float32Array.from(flat, Number) };
}

export function parseJson(text, name) {
  let doc;
  try { doc = JSON.parse(text); } catch (err) { throw new FormatError(`${name}: not JSON (${err.message})`); }
  const nested = Array.isArray(doc) ? doc : doc && doc.skeleton;
  if (!Array.isArray(nested)) throw new FormatError(`${name}: expected a nested list or {"skeleton": ...}`);
  return { name, layout: (doc && doc.layout) || null, ...fromNested(nested, name), source: { kind: "json" } };
}

export function parseNpy(bytes, name) {
  const view = new DataView(bytes);
  const magic = String.fromCharCode(...new Uint8Array(bytes, 0, 6));
  if (magic !== "\x93NUMPY") throw new FormatError(`${name}: not a .npy file`);
  const major = view.getUint8(6);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder("latin1").decode(new Uint8Array(bytes, start, headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1].split(",").filter((s) => s.trim()).map(Number);
  if (!descr || !dims || fortran) throw new FormatError(`${name}: unsupported .npy header ${header.trim()}`);
  const offset = start + headerLength;
  const count = dims.reduce((a, b) => a * b, 1);
  const readers = { "<f4": [4, (o) => view.getFloat32(o, true)], "<f8": [8, (o) => view.getFloat64(o, true)],
    "<i4": [4, (o) => view.getInt32(o, true)], "<i8": [8, (o) => Number(view.getBigInt64(o, true))] };
  if (!readers[descr]) throw new FormatError(`${name}: dtype ${descr} is not shown here (the API decides)`);
  const [size, read] = readers[descr];
  const data = new Float32Array(count);
  for (let i = 0; i < count; i += 1) data[i] = read(offset + i * size);
  const shape = dims.length === 3 ? [1, ...dims] : dims;
  if (shape.length !== 4) throw new FormatError(`${name}: rank ${dims.length}; one sequence is (T,V,C) or (M,T,V,C)`);
  return { name, layout: null, shape, data, source: { kind: "npy", bytes, media: "application/x-npy" } };
}

// PKU-MMD: one frame a line, 150 numbers (2 bodies x 25 joints x xyz); a body all zeros in every frame is absent.
export function parsePkuMmd(text, name) {
  const rows = text.split("\n").map((line) => line.trim()).filter((line) => line);
  if (!rows.length) throw new FormatError(`${name}: no frames`);
  const frames = rows.map((line, i) => {
    const values = line.split(/\s+/).map(Number);
    if (values.length !== PKU_VALUES || values.some((v) => !Number.isFinite(v))) {
      throw new FormatError(`${name}:${i + 1}: expected ${PKU_VALUES} numbers`);
    }
    return values;
  });
  const present = [0, 1].filter((b) => frames.some((f) => f.slice(b * 75, b * 75 + 75).some((v) => v !== 0)));
  const T = frames.length, data = new Float32Array(present.length * T * 75);
  present.forEach((b, m) => frames.forEach((f, t) => data.set(f.slice(b * 75, b * 75 + 75), (m * T + t) * 75)));
  return { name, layout: "ntu25", shape: [present.length, T, NTU_JOINTS, 3], data,
    source: { kind: "text", bytes: new TextEncoder().encode(text), media: "text/plain" } };
}

// NTU .skeleton: frame count; per frame a body count; per body 10 fields, the joint count (25) and 25 joint
// lines of 12 fields (x y z first). Slot m at frame t holds the m-th body listed in that frame (4 slots at most).
export function parseNtuSkeleton(text, name) {
  const lines = text.split("\n").map((line) => line.trim());
  let pos = 0;
  const next = (what) => {
    if (pos >= lines.length) throw new FormatError(`${name}: truncated, expected ${what}`);
    return lines[pos++].split(/\s+/).filter((s) => s);
  };
  const T = Number(next("the frame count")[0]);
  const frames = [];
  for (let t = 0; t < T; t += 1) {
    const bodies = [];
    for (let b = Number(next("a body count")[0]); b > 0; b -= 1) {
      if (next("a body line").length !== NTU_BODY_FIELDS) throw new FormatError(`${name}:${pos}: bad body line`);
      if (Number(next("the joint count")[0]) !== NTU_JOINTS) throw new FormatError(`${name}:${pos}: joint count must be 25`);
      const joints = [];
      for (let j = 0; j < NTU_JOINTS; j += 1) {
        const fields = next("a joint line");
        if (fields.length !== NTU_JOINT_FIELDS) throw new FormatError(`${name}:${pos}: bad joint line`);
        joints.push(...fields.slice(0, 3).map(Number));
      }
      bodies.push(joints);
    }
    frames.push(bodies);
  }
  const M = Math.max(1, Math.min(4, frames.reduce((most, f) => Math.max(most, f.length), 0)));
  const data = new Float32Array(M * T * 75);
  frames.forEach((bodies, t) => bodies.slice(0, M).forEach((joints, m) => data.set(joints, (m * T + t) * 75)));
  return { name, layout: "ntu25", shape: [M, T, NTU_JOINTS, 3], data, source: { kind: "json" } };
}

export async function readFile(file) {
  const lower = file.name.toLowerCase();
  if (lower.endsWith(".npy")) return parseNpy(await file.arrayBuffer(), file.name);
  const text = await file.text();
  if (lower.endsWith(".skeleton")) return parseNtuSkeleton(text, file.name);
  if (lower.endsWith(".json")) return parseJson(text, file.name);
  if (lower.endsWith(".txt")) return parsePkuMmd(text, file.name);
  throw new FormatError(`${file.name}: expected .npy, .json, .txt (PKU-MMD) or .skeleton (NTU)`);
}

// (M,T,V,C) nested lists of frames [from, to) for JSON bodies and /streams messages.
export function nested(seq, from = 0, to = seq.shape[1]) {
  const [M, T, V, C] = seq.shape;
  const out = [];
  for (let m = 0; m < M; m += 1) {
    const frames = [];
    for (let t = from; t < to; t += 1) {
      const joints = [];
      for (let v = 0; v < V; v += 1) {
        const o = ((m * T + t) * V + v) * C;
        joints.push(Array.from(seq.data.subarray(o, o + C)));
      }
      frames.push(joints);
    }
    out.push(frames);
  }
  return out;
}
