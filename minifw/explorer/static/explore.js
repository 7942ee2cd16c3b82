// minifw.explorer's page side (anywidget ESM). The Python side owns the walk (minifw.expr.Stepper, the
// compiler's records) and sends it as `frames`; this file only draws the frame at `step` and sends the
// buttons' moves back. Works with or without a kernel (a notebook saved with its widget state).

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function titleOf(g) {
  const t = g.querySelector(":scope > title");
  return t ? t.textContent.trim() : "";
}

function renderWalk(model, el) {
  const root = h("div", { class: "mf-explore" });
  const bar = h("div", { class: "mf-bar" });
  const inputs = h("span", { class: "mf-bar" });
  const graph = h("div", { class: "mf-graph" });
  const tables = h("div", { class: "mf-tables" });
  const text = h("div", { class: "mf-text" });
  const error = h("div", { class: "mf-error" });
  const counter = h("span", {});
  const slider = h("input", { type: "range", min: "0", value: "0" });
  const modeSel = h("select", {});
  let timer = null;

  const go = (i) => {
    const n = model.get("frames").length;
    model.set("step", Math.max(0, Math.min(n - 1, i)));
    model.save_changes();
  };
  const stop = () => { if (timer) { clearInterval(timer); timer = null; play.textContent = "Play"; } };
  const back = h("button", { onclick: () => { stop(); go(model.get("step") - 1); } }, "Back");
  const next = h("button", { onclick: () => { stop(); go(model.get("step") + 1); } }, "Next");
  const play = h("button", {
    onclick: () => {
      if (timer) return stop();
      if (model.get("step") >= model.get("frames").length - 1) go(0);
      play.textContent = "Pause";
      timer = setInterval(() => {
        const s = model.get("step");
        if (s >= model.get("frames").length - 1) return stop();
        go(s + 1);
      }, model.get("play_ms"));
    },
  }, "Play");
  slider.addEventListener("input", () => { stop(); go(parseInt(slider.value, 10)); });
  modeSel.addEventListener("change", () => {
    stop();
    const walk = (model.get("walks") || {})[modeSel.value];
    if (walk) { model.set("frames", walk); model.set("step", 0); } // every mode's walk is here: no kernel needed
    model.set("mode", modeSel.value);
    model.save_changes();
  });
  bar.append(back, next, play, slider, counter, modeSel, inputs);
  root.append(bar, h("div", { class: "mf-body" }, graph, tables), text, error);
  el.append(root);

  let shownSvg = -1, shownTable = -1;

  function drawInputs() {
    inputs.replaceChildren();
    if (model.get("kind") !== "expression") return;
    const point = model.get("point");
    for (const v of model.get("variables")) {
      const box = h("input", { type: "text", value: String(point[v]), title: `the value of ${v}` });
      box.addEventListener("change", () => {
        const p = { ...model.get("point") };
        const num = Number(box.value);
        p[v] = box.value.trim() !== "" && !Number.isNaN(num) ? num : box.value;
        model.set("point", p);
        model.save_changes();
      });
      inputs.append(h("label", {}, `${v} = `, box));
    }
    const seed = h("select", { title: "forward tangent: the input whose tangent is 1" });
    for (const v of model.get("variables")) seed.append(h("option", { value: v }, `seed ẋ: ${v}`));
    seed.value = model.get("seed");
    seed.disabled = model.get("mode") !== "tangent";
    seed.addEventListener("change", () => { model.set("seed", seed.value); model.save_changes(); });
    inputs.append(seed);
  }

  function drawModes() {
    modeSel.replaceChildren(...model.get("modes").map(([v, label]) => h("option", { value: v }, label)));
    modeSel.value = model.get("mode");
  }

  function drawTable(k) {
    tables.replaceChildren();
    for (const sec of model.get("tables")[k] || []) {
      const t = h("table", {}, h("caption", {}, sec.title));
      t.append(h("tr", {}, ...sec.header.map((c) => h("th", {}, c))));
      for (const r of sec.rows) t.append(h("tr", {}, ...r.map((c) => h("td", {}, c))));
      tables.append(t);
    }
  }

  function draw() {
    const frames = model.get("frames");
    const step = Math.max(0, Math.min(frames.length - 1, model.get("step")));
    const f = frames[step];
    slider.max = String(Math.max(0, frames.length - 1));
    slider.value = String(step);
    counter.textContent = `step ${step + 1}/${frames.length}`;
    if (!f) return;
    if (f.svg !== shownSvg) { graph.innerHTML = model.get("svgs")[f.svg] || ""; shownSvg = f.svg; }
    if (f.table !== shownTable) { drawTable(f.table); shownTable = f.table; }
    graph.querySelectorAll("g.node, g.edge").forEach((g) => g.classList.remove("mf-hl-node", "mf-hl-edge", "mf-acc"));
    graph.querySelectorAll("g.node").forEach((g) => { if (titleOf(g) === f.node) g.classList.add("mf-hl-node"); });
    if (f.edge) {
      const want = `${f.edge[0]}->${f.edge[1]}`;
      graph.querySelectorAll("g.edge").forEach((g) => {
        if (titleOf(g) === want) g.classList.add("mf-hl-edge", ...(f.accumulate ? ["mf-acc"] : []));
      });
    }
    tables.querySelectorAll("tr").forEach((tr) => tr.classList.remove("mf-hl", "mf-acc"));
    const sec = tables.querySelectorAll("table")[f.section];
    if (sec && f.row >= 0) {
      const tr = sec.querySelectorAll("tr")[f.row + 1]; // +1: the header row
      if (tr) {
        tr.classList.add("mf-hl");
        if (f.accumulate) tr.classList.add("mf-acc");
        tr.scrollIntoView({ block: "nearest" });
      }
    }
    text.textContent = f.text;
  }

  const redrawAll = () => { shownSvg = -1; shownTable = -1; draw(); };
  model.on("change:step", draw);
  model.on("change:frames", redrawAll);
  model.on("change:svgs", redrawAll);
  model.on("change:tables", redrawAll);
  model.on("change:mode", () => { drawModes(); drawInputs(); });
  model.on("change:point", drawInputs);
  model.on("change:error", () => { error.textContent = model.get("error"); });
  drawModes();
  drawInputs();
  error.textContent = model.get("error");
  draw();
  return stop;
}

function renderSpeed(model, el) {
  const root = h("div", { class: "mf-explore" });
  const sel = h("select", {});
  const status = h("span", {});
  const table = h("table", {});
  const text = h("div", { class: "mf-text" });
  const error = h("div", { class: "mf-error" });
  sel.addEventListener("change", () => { model.set("batch", parseInt(sel.value, 10)); model.save_changes(); });
  root.append(h("div", { class: "mf-bar" }, h("label", {}, "batch size ", sel), status), table, text, error);
  el.append(root);

  function draw() {
    sel.replaceChildren(...model.get("batches").map((b) => h("option", { value: String(b) }, String(b))));
    sel.value = String(model.get("batch"));
    status.textContent = model.get("busy") ? "measuring…" : "";
    const cross = model.get("crossover");
    table.replaceChildren(h("tr", {}, ...["batch", "eager ms", "compiled ms", "compiled speed-up"].map(
      (c) => h("th", {}, c))));
    for (const r of model.get("measured")) {
      const tr = h("tr", {}, h("td", {}, String(r.batch)), h("td", {}, r.eager_ms.toPrecision(3)),
        h("td", {}, r.jit_ms.toPrecision(3)), h("td", {}, `${r.ratio.toFixed(2)}x`));
      if (cross !== null && r.batch >= cross) tr.classList.add("mf-win");
      if (r.batch === model.get("batch")) tr.classList.add("mf-hl");
      table.append(tr);
    }
    text.textContent = model.get("text");
    error.textContent = model.get("error");
  }
  for (const k of ["batch", "batches", "measured", "crossover", "busy", "text", "error"]) model.on(`change:${k}`, draw);
  draw();
}

export default {
  render({ model, el }) {
    return model.get("kind") === "speed" ? renderSpeed(model, el) : renderWalk(model, el);
  },
};
