// The 3D view: the sequence's bones drawn with three.js (vendored), orbit controls, play / pause / scrub.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const SIDE_COLOURS = { left: 0x2f7fe0, right: 0xe07a2f, centre: 0x3a3f47 };

function side(name) {
  if (/left/i.test(name) || /^L[A-Z]/.test(name)) return "left";
  if (/right/i.test(name) || /^R[A-Z]/.test(name)) return "right";
  return "centre";
}

// Display coordinates (y up): image and camera layouts have y down, turned by 180 degrees about the viewing
// axis like the API's mapping does (a rotation, so left stays left); 2D layouts lie in the z = 0 plane.
function displayPoint(seq, drawing, m, t, v) {
  const [, T, V, C] = seq.shape;
  const o = ((m * T + t) * V + v) * C;
  const d = seq.data;
  const flip = drawing.axes === "ntu" ? 1 : -1;
  return [flip * d[o], flip * d[o + 1], drawing.dims === 3 ? d[o + 2] : 0];
}

function present(seq, m, t) {
  const [, T, V, C] = seq.shape;
  const o = (m * T + t) * V * C;
  return seq.data.subarray(o, o + V * C).some((x) => x !== 0);
}

export class Viewer {
  constructor(canvas, onFrame) {
    this.canvas = canvas;
    this.onFrame = onFrame;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0xf7f8fa);
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.01, 1000);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.addEventListener("change", () => this.render());
    this.bodies = [];
    this.frame = 0;
    this.playing = false;
    this.fps = 30;
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.canvas;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  load(seq, drawing, fps) {
    this.pause();
    for (const body of this.bodies) { body.geometry.dispose(); body.children[0].geometry.dispose(); }
    this.scene.clear();
    this.seq = seq;
    this.drawing = drawing;
    this.fps = fps || 30;
    const [M, , V] = seq.shape;
    const colours = drawing.bones.flatMap(([a, b]) => {
      const s = side(drawing.joints[b]) === "centre" ? side(drawing.joints[a]) : side(drawing.joints[b]);
      const c = new THREE.Color(SIDE_COLOURS[s]);
      return [c.r, c.g, c.b, c.r, c.g, c.b];
    });
    this.bodies = [];
    for (let m = 0; m < M; m += 1) {
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute("position", new THREE.Float32BufferAttribute(new Float32Array(drawing.bones.length * 6), 3));
      geometry.setAttribute("color", new THREE.Float32BufferAttribute(colours, 3));
      const lines = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ vertexColors: true }));
      // the joints as dots: WebGL draws lines one pixel wide whatever their width
      const joints = new THREE.Points(new THREE.BufferGeometry(), new THREE.PointsMaterial({ color: 0x3a3f47,
        size: 5, sizeAttenuation: false }));
      joints.geometry.setAttribute("position", new THREE.Float32BufferAttribute(new Float32Array(V * 3), 3));
      lines.add(joints);
      this.bodies.push(lines);
      this.scene.add(lines);
    }
    this.frame = 0;
    this.fit();
    this.show(0);
  }

  // Aim the camera from the sensor's side at the middle of everything the sequence shows.
  fit() {
    const box = new THREE.Box3();
    const [M, T, V] = this.seq.shape;
    const step = Math.max(1, Math.floor(T / 60));
    for (let m = 0; m < M; m += 1) {
      for (let t = 0; t < T; t += step) {
        if (!present(this.seq, m, t)) continue;
        for (let v = 0; v < V; v += 1) box.expandByPoint(new THREE.Vector3(...displayPoint(this.seq, this.drawing, m, t, v)));
      }
    }
    if (box.isEmpty()) box.set(new THREE.Vector3(-1, -1, -1), new THREE.Vector3(1, 1, 1));
    const centre = box.getCenter(new THREE.Vector3());
    const size = Math.max(...box.getSize(new THREE.Vector3()).toArray(), 1e-3);
    // far enough for the largest side to fill 70 % of the view height, from the sensor's side, a little above
    const distance = (size / 2 / Math.tan(THREE.MathUtils.degToRad(this.camera.fov / 2))) / 0.7;
    this.camera.position.copy(centre).add(new THREE.Vector3(0.3, 0.15, -1).normalize().multiplyScalar(distance));
    this.camera.near = size / 100;
    this.camera.far = size * 100;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(centre);
    const grid = new THREE.GridHelper(size * 2, 10, 0xb8bec8, 0xdde1e7);
    grid.position.set(centre.x, box.min.y, centre.z);
    this.scene.add(grid);
    this.controls.update();
  }

  show(t) {
    if (!this.seq) return;
    const T = this.seq.shape[1];
    this.frame = Math.max(0, Math.min(T - 1, Math.round(t)));
    this.bodies.forEach((lines, m) => {
      lines.visible = present(this.seq, m, this.frame);
      const position = lines.geometry.getAttribute("position");
      this.drawing.bones.forEach(([a, b], i) => {
        position.setXYZ(2 * i, ...displayPoint(this.seq, this.drawing, m, this.frame, a));
        position.setXYZ(2 * i + 1, ...displayPoint(this.seq, this.drawing, m, this.frame, b));
      });
      position.needsUpdate = true;
      lines.geometry.computeBoundingSphere();
      const dots = lines.children[0].geometry;
      for (let v = 0; v < this.seq.shape[2]; v += 1) {
        dots.getAttribute("position").setXYZ(v, ...displayPoint(this.seq, this.drawing, m, this.frame, v));
      }
      dots.getAttribute("position").needsUpdate = true;
      dots.computeBoundingSphere();
    });
    this.render();
    this.onFrame(this.frame, T);
  }

  play() {
    if (!this.seq || this.playing) return;
    this.playing = true;
    let last = performance.now(), clock = this.frame;
    const tick = (now) => {
      if (!this.playing) return;
      clock += ((now - last) / 1000) * this.fps;
      last = now;
      this.show(Math.floor(clock) % this.seq.shape[1]);
      if (clock >= this.seq.shape[1]) clock -= this.seq.shape[1];
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  pause() {
    this.playing = false;
  }

  render() {
    this.renderer.render(this.scene, this.camera);
  }
}
