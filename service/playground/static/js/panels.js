// Result panels: the registry (register / delete classes with several texts) and the ranking of /recognize.
import { call, clearProblem, showProblem } from "./api.js";

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function lines(text) {
  return text.split("\n").map((s) => s.trim()).filter((s) => s);
}

export class ClassesPanel {
  constructor(root, problemBox) {
    this.root = root;
    this.problem = problemBox;
    this.table = root.querySelector("#classes-table tbody");
    this.summary = root.querySelector("#classes-summary");
    root.querySelector("#class-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.register(new FormData(event.target)).then((ok) => ok && event.target.reset());
    });
  }

  async refresh() {
    const answer = await call("GET", "/classes");
    if (!answer.ok) { showProblem(this.problem, "GET /classes", answer); return; }
    this.table.replaceChildren();
    for (const c of answer.body.classes) {
      const row = document.createElement("tr");
      row.dataset.id = c.id;
      cell(row, c.label, "label");
      cell(row, c.id, "mono");
      const texts = cell(row, "");
      const list = document.createElement("ul");
      for (const t of c.texts || [c.prompt]) {
        const li = document.createElement("li");
        li.textContent = t;
        list.append(li);
      }
      texts.append(list);
      const button = document.createElement("button");
      button.textContent = "Delete";
      button.className = "delete";
      button.addEventListener("click", () => this.remove(c.id));
      cell(row, "").append(button);
      this.table.append(row);
    }
    this.summary.textContent = `${answer.body.count} classes, registry version ${answer.body.registry_version}` +
      (answer.body.stale ? " (stale: the registry store is unreachable)" : "");
  }

  async register(form) {
    const item = { label: form.get("label").trim() };
    const description = form.get("description").trim();
    if (description) item.description = description;
    const descriptions = lines(form.get("descriptions"));
    if (descriptions.length) item.descriptions = descriptions;
    const texts = lines(form.get("texts"));
    if (texts.length) item.texts = texts;
    const answer = await call("POST", "/classes", { json: { classes: [item] } });
    if (!answer.ok) { showProblem(this.problem, "POST /classes", answer); return false; }
    clearProblem(this.problem);
    await this.refresh();
    return true;
  }

  async remove(id) {
    const answer = await call("DELETE", `/classes/${encodeURIComponent(id)}`);
    if (!answer.ok) { showProblem(this.problem, `DELETE /classes/${id}`, answer); return; }
    clearProblem(this.problem);
    await this.refresh();
  }
}

// The ranked classes with energy, score and uncertainty, the open-set verdict and every warning.
export function showRanking(root, answer) {
  const body = root.querySelector("#ranking-table tbody");
  body.replaceChildren();
  answer.results.forEach((r, i) => {
    const row = document.createElement("tr");
    Object.assign(row.dataset, { label: r.label, classId: r.class_id, energy: r.energy, score: r.score,
      uncertainty: r.uncertainty });
    cell(row, String(i + 1));
    cell(row, r.label, "label");
    cell(row, r.energy.toFixed(3), "num");
    const score = cell(row, r.score.toFixed(4), "num score");
    score.style.setProperty("--share", `${(100 * r.score).toFixed(1)}%`);
    cell(row, r.uncertainty.toFixed(4), "num");
    body.append(row);
  });
  showVerdict(root.querySelector("#open-set"), answer.open_set);
  showWarnings(root.querySelector("#warnings"), answer);
  root.querySelector("#ranking-meta").textContent =
    `bundle ${answer.bundle_version} · registry version ${answer.registry_version}`;
}

export function showVerdict(box, gate) {
  if (!gate) { box.textContent = ""; return; }
  box.dataset.accepted = gate.accepted;
  if (gate.threshold === null) {
    box.textContent = `Open set: accepted (no open-set threshold, source ${gate.source})`;
    return;
  }
  const threshold = Number(gate.threshold).toFixed(3);
  box.textContent = gate.accepted
    ? `Open set: accepted (best energy at most the threshold ${threshold}, source ${gate.source})`
    : `Open set: rejected, none of the registered classes (best energy above ${threshold}, source ${gate.source})`;
}

export function showWarnings(list, answer) {
  list.replaceChildren();
  const warnings = [];
  if (answer.demo) warnings.push("demo bundle: labels and rankings are NOT meaningful");
  if (answer.warning) warnings.push(...answer.warning.split("; "));
  for (const w of warnings) {
    const li = document.createElement("li");
    li.textContent = w;
    list.append(li);
  }
}
