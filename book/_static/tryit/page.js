// The "Try it" page: choose a photograph (or the sample), see its vessels.
// All the work happens in worker.js; this module only wires the controls and
// draws the results: the photograph, the probability map, and the vessels at
// the chosen threshold over the photograph.

const root = document.getElementById("tryit");
const $ = (name) => root.querySelector(`[data-role="${name}"]`);
const base = new URL(".", import.meta.url);

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const state = { busy: false, result: null, downloadUrl: null };

function setState(name) {
  // data-state is what the browser tests wait for: idle, busy, done or error.
  root.dataset.state = name;
  state.busy = name === "busy";
  for (const control of root.querySelectorAll("[data-disable-when-busy]")) control.disabled = state.busy;
}

function showMessage(text, kind) {
  const message = $("message");
  message.textContent = text;
  message.className = `tryit-message ${kind || ""}`;
  message.hidden = !text;
}

function showProgress(fraction, text) {
  const bar = $("progress");
  bar.hidden = false;
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = fraction;
  $("status").textContent = text;
}

function draw(canvas, width, height, fill) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const picture = context.createImageData(width, height);
  fill(picture.data);
  context.putImageData(picture, 0, 0);
}

// The vessels at the threshold over the photograph: vessel pixels in yellow,
// the rest of the photograph dimmed so that they stand out.
function drawOverlay() {
  const { facts, probabilities, fov, rgba } = state.result;
  const threshold = Number($("threshold").value);
  $("threshold-value").textContent = threshold.toFixed(2);
  let vessel = 0;
  let inside = 0;
  draw($("overlay"), facts.width, facts.height, (out) => {
    for (let i = 0; i < probabilities.length; i++) {
      const on = fov[i] && probabilities[i] >= threshold;
      inside += fov[i];
      vessel += on;
      out[4 * i] = on ? 255 : rgba[4 * i] * 0.55;
      out[4 * i + 1] = on ? 230 : rgba[4 * i + 1] * 0.55;
      out[4 * i + 2] = on ? 0 : rgba[4 * i + 2] * 0.55;
      out[4 * i + 3] = 255;
    }
  });
  $("vessel-share").textContent = `${((100 * vessel) / Math.max(1, inside)).toFixed(1)} % of the field of view`;
}

function show(result) {
  state.result = result;
  const { facts, probabilities, rgba, png } = result;
  draw($("photo"), facts.width, facts.height, (out) => out.set(rgba));
  draw($("map"), facts.width, facts.height, (out) => {
    for (let i = 0; i < probabilities.length; i++) {
      const grey = Math.round(255 * probabilities[i]);
      out.set([grey, grey, grey, 255], 4 * i);
    }
  });
  drawOverlay();
  const resized =
    facts.factor === 1
      ? "not resized (within 5 % of the model's scale)"
      : `resized by ${facts.factor.toFixed(3)} to ${facts.resized[1]} × ${facts.resized[0]} pixels, and the map back`;
  const rows = [
    ["Photograph", `${facts.name}, ${facts.width} × ${facts.height} pixels`],
    ["Field of view found", `${facts.fovDiameter} pixels across at ${facts.fieldDegrees}°: ${facts.photoPerDegree.toFixed(1)} pixels per degree`],
    ["Model's scale", `${facts.modelPerDegree.toFixed(1)} pixels per degree (DRIVE's)`],
    ["Resizing", resized],
    ["U-Net", facts.tiles > 1 ? `${facts.tiles} tiles` : "the whole image at once"],
    ["Time taken", `${facts.seconds.toFixed(1)} s in all, ${facts.modelSeconds.toFixed(1)} s of it in the U-Net`],
  ];
  const list = $("facts");
  list.replaceChildren(
    ...rows.flatMap(([term, detail]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = detail;
      return [dt, dd];
    }),
  );
  // Machine-readable for the browser tests and the benchmark.
  Object.assign(root.dataset, {
    fovDiameter: facts.fovDiameter,
    factor: facts.factor,
    seconds: facts.seconds.toFixed(3),
    width: facts.width,
    height: facts.height,
  });
  if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
  state.downloadUrl = URL.createObjectURL(png);
  const link = $("download");
  link.href = state.downloadUrl;
  link.download = `${facts.name.replace(/\.[^.]*$/, "")}_probability.png`;
  $("results").hidden = false;
}

worker.onmessage = ({ data }) => {
  if (data.type === "progress") showProgress(data.fraction, data.text);
  if (data.type === "ready") {
    root.dataset.modelBytes = data.bytes;
    $("model").textContent = `Model loaded: ${(data.bytes / 1e6).toFixed(1)} MB (${data.description.precision}).`;
  }
  if (data.type === "result") {
    $("progress").hidden = true;
    $("status").textContent = "";
    showMessage("", "");
    show(data);
    setState("done");
  }
  if (data.type === "error") {
    $("progress").hidden = true;
    $("status").textContent = "";
    showMessage(data.message, "error");
    setState("error");
  }
};

function start(file, name) {
  if (state.busy) return;
  const fieldDegrees = Number($("field").value);
  showMessage("", "");
  // The last photograph's results go: what shows is always this one's.
  $("results").hidden = true;
  state.result = null;
  setState("busy");
  showProgress(null, "Starting");
  worker.postMessage({ type: "predict", file, name, fieldDegrees });
}

$("file").addEventListener("change", (event) => {
  const [file] = event.target.files;
  if (file) start(file, file.name);
  event.target.value = ""; // choosing the same file again runs it again
});

$("sample").addEventListener("click", async () => {
  const response = await fetch(new URL("sample.png", base));
  start(await response.blob(), "sample.png");
});

$("threshold").addEventListener("input", () => {
  if (state.result) drawOverlay();
});

// The shipped model's threshold, chosen on DRIVE's validation images.
fetch(new URL("settings.json", base))
  .then((response) => response.json())
  .then((settings) => {
    $("threshold").value = settings.threshold;
    $("threshold-value").textContent = Number(settings.threshold).toFixed(2);
    $("default-threshold").textContent = Number(settings.threshold).toFixed(2);
    setState("idle");
  })
  .catch((error) => showMessage(`The page could not load its settings: ${error.message}`, "error"));
