// The page's work, off the main thread so the page stays responsive: decode
// the photograph, find its field of view, resize it to the model's scale,
// run the U-Net (onnxruntime-web, WebAssembly, one thread), resize the map
// back and set it to 0 outside the FOV, as
// retina_tutorial.inference.predict_photograph does. Nothing leaves the
// reader's machine: the model and the runtime are fetched from this site,
// the photograph is never sent anywhere.
//
// Messages in: {type: "predict", file, name, fieldDegrees}.
// Messages out: progress, ready (model loaded), result, error.

import * as ort from "./ort/ort.wasm.bundle.min.mjs";
import { estimateFov } from "./fov.js";
import { modelDescription } from "./metadata.js";
import { probabilityPng } from "./png.js";
import { resizeImage } from "./resize.js";
import { fovDiameter, modelScale, resizeFactor, resizedShape } from "./scale.js";
import { predict } from "./tiles.js";

// GitHub Pages cannot send the COOP/COEP headers threads need: one thread.
ort.env.wasm.numThreads = 1;
// The loader is bundled in; only the WebAssembly binary is fetched, from this site.
ort.env.wasm.wasmPaths = { wasm: new URL("./ort/ort-wasm-simd-threaded.wasm", import.meta.url).href };

const post = (message, transfer = []) => self.postMessage(message, transfer);
const progress = (stage, fraction, text) => post({ type: "progress", stage, fraction, text });

/** An error the reader can act on (shown as it is, without a stack). */
class PhotoError extends Error {}

async function fetchWithProgress(url, stage, text) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const size = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const parts = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.length;
    if (size) progress(stage, Math.min(1, received / size), text);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

// The model is loaded once, on the first photograph (or when asked).
let loading = null;
function loadModel() {
  loading ??= (async () => {
    const settings = await (await fetch(new URL("./settings.json", import.meta.url))).json();
    const bytes = await fetchWithProgress(new URL(settings.model, import.meta.url), "model", "Loading the model");
    const description = modelDescription(bytes.buffer);
    progress("model", 1, "Starting the runtime");
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    post({ type: "ready", description, bytes: bytes.length });
    return { session, description };
  })();
  loading.catch(() => {
    loading = null; // a failed download can be retried
  });
  return loading;
}

// Pixel values as stored in the file: no colour management (browsers convert
// to the display's colours otherwise, and Pillow does not), EXIF orientation
// applied (as read_fundus does).
async function decode(file, name) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const tiff = (head[0] === 0x49 && head[1] === 0x49 && head[2] === 42) || (head[0] === 0x4d && head[1] === 0x4d && head[3] === 42);
  if (tiff) {
    throw new PhotoError(`${name} is a TIFF image, which browsers cannot decode. Save it as PNG (or a high-quality JPEG) and choose that.`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image" });
  } catch {
    throw new PhotoError(`${name} cannot be read as an image. Choose a colour fundus photograph as PNG or JPEG.`);
  }
  const { width, height } = bitmap;
  if (width < 32 || height < 32) {
    throw new PhotoError(`${name} is only ${width} × ${height} pixels: too small to be a fundus photograph the model can read (its field of view should be a few hundred pixels across).`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const data = new Float32Array(width * height * 3);
  let grey = true;
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i] / 255;
    data[j + 1] = rgba[i + 1] / 255;
    data[j + 2] = rgba[i + 2] / 255;
    if (grey && (rgba[i] !== rgba[i + 1] || rgba[i] !== rgba[i + 2])) grey = false;
  }
  if (grey) {
    throw new PhotoError(`${name} is a greyscale image. The model was trained on colour (RGB) fundus photographs; choose the original colour photograph.`);
  }
  return { image: { width, height, channels: 3, data }, rgba };
}

async function run(file, name, fieldDegrees) {
  const { session, description } = await loadModel();
  const start = performance.now();
  progress("photo", 0, "Reading the photograph");
  const { image, rgba } = await decode(file, name);
  const { width, height } = image;
  if (!(fieldDegrees > 0 && fieldDegrees <= 200)) {
    throw new PhotoError(`the field of view must be an angle in degrees between 0 and 200 (fundus cameras have 30° to 60°), not ${fieldDegrees}.`);
  }

  progress("fov", 0, "Finding the field of view");
  let fov;
  let diameter;
  let factor;
  const training = modelScale(description);
  try {
    fov = estimateFov(image);
    diameter = fovDiameter(fov, height, width);
    factor = resizeFactor(diameter, fieldDegrees, training);
  } catch (error) {
    throw new PhotoError(`${name}: ${error.message}`);
  }

  // To the model's pixels per degree, through the U-Net, and back.
  const [modelHeight, modelWidth] = resizedShape(height, width, factor);
  progress("resize", 0, `Resizing by ${factor.toFixed(3)}`);
  const atScale = factor === 1 ? image : resizeImage(image, modelHeight, modelWidth);
  let tiles = 0;
  const forward = async (input) => {
    const tensor = new ort.Tensor("float32", input.data, [1, input.height, input.width, 3]);
    const output = await session.run({ image: tensor });
    tiles += 1;
    return output.probability.data;
  };
  const modelStart = performance.now();
  const map = await predict(atScale, forward, {
    multiple: description.required_multiple,
    overlap: description.tile_overlap,
    progress: (done, total) => progress("predict", done / total, total > 1 ? `Predicting tile ${Math.min(done + 1, total)} of ${total}` : "Predicting"),
  });
  const modelSeconds = (performance.now() - modelStart) / 1000;
  let probabilities = map;
  if (factor !== 1) {
    const back = resizeImage({ width: modelWidth, height: modelHeight, channels: 1, data: map }, height, width);
    probabilities = back.data;
  }
  for (let i = 0; i < probabilities.length; i++) {
    probabilities[i] = fov[i] ? Math.min(1, Math.max(0, probabilities[i])) : 0;
  }
  const seconds = (performance.now() - start) / 1000;
  progress("png", 0, "Writing the PNG");
  const png = await probabilityPng(probabilities, width, height, { resize_factor: factor.toFixed(6) });
  const facts = {
    name,
    width,
    height,
    fieldDegrees,
    fovDiameter: diameter,
    photoPerDegree: diameter / fieldDegrees,
    modelPerDegree: training.pixels_per_degree_exact,
    factor,
    resized: [modelHeight, modelWidth],
    tiles,
    seconds,
    modelSeconds,
  };
  post({ type: "result", facts, probabilities, fov, rgba, png }, [probabilities.buffer, fov.buffer, rgba.buffer]);
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") await loadModel();
    if (data.type === "predict") await run(data.file, data.name, data.fieldDegrees);
  } catch (error) {
    const known = error instanceof PhotoError;
    post({ type: "error", message: known ? error.message : `Something went wrong: ${error.message || error}`, known });
  }
};
