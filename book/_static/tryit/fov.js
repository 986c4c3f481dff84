// The field of view (the illuminated retina), found as
// retina_tutorial.field_of_view.estimate_fov finds it: the red channel is
// bright all over the retina and near black outside, so the mask is red above
// 15 % of its 99th percentile, opened to remove specks, cut to its largest
// connected piece, with holes filled row- and column-wise.

import { resizeImage, resizeMask } from "./resize.js";

/** Large photographs are reduced to at most this many pixels a side first. */
export const FOV_WORKING_SIDE = 1024;

// NumPy's default ("linear") percentile.
function percentile(values, q) {
  const sorted = Float32Array.from(values).sort();
  const position = (q / 100) * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

// Pillow's MinFilter / MaxFilter on a 0/1 mask: a size x size square, edges
// repeated. A square's minimum is the minimum over rows of the minimum over
// columns, and on 0/1 values min and max are "all" and "any".
function rankFilter(mask, height, width, size, kind) {
  const half = Math.floor(size / 2);
  const wanted = kind === "min" ? 0 : 1; // the value that wins if present
  const along = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let value = 1 - wanted;
      for (let d = -half; d <= half; d++) {
        const xx = x + d < 0 ? 0 : x + d >= width ? width - 1 : x + d;
        if (mask[row + xx] === wanted) {
          value = wanted;
          break;
        }
      }
      along[row + x] = value;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let value = 1 - wanted;
      for (let d = -half; d <= half; d++) {
        const yy = y + d < 0 ? 0 : y + d >= height ? height - 1 : y + d;
        if (along[yy * width + x] === wanted) {
          value = wanted;
          break;
        }
      }
      out[y * width + x] = value;
    }
  }
  return out;
}

// The largest 4-connected piece, labelled on a coarse grid (at most ~128
// cells a side) by spreading the largest label to neighbours until nothing
// changes; one coarse cell of slack keeps the fine boundary whole.
function largestComponent(mask, height, width) {
  if (!mask.some((v) => v)) return mask;
  const step = Math.max(1, Math.ceil(Math.max(height, width) / 128));
  const rows = Math.ceil(height / step);
  const cols = Math.ceil(width / step);
  const coarse = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let count = 0;
      for (let y = r * step; y < Math.min(height, (r + 1) * step); y++) {
        for (let x = c * step; x < Math.min(width, (c + 1) * step); x++) count += mask[y * width + x];
      }
      coarse[r * cols + c] = count / (step * step) >= 0.5 ? 1 : 0;
    }
  }
  if (!coarse.some((v) => v)) return mask;
  let labels = new Int32Array(rows * cols);
  coarse.forEach((inside, i) => {
    labels[i] = inside ? i + 1 : 0;
  });
  for (;;) {
    const grown = labels.slice();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        if (!coarse[i]) continue;
        let best = labels[i];
        if (r > 0) best = Math.max(best, labels[i - cols]);
        if (r < rows - 1) best = Math.max(best, labels[i + cols]);
        if (c > 0) best = Math.max(best, labels[i - 1]);
        if (c < cols - 1) best = Math.max(best, labels[i + 1]);
        grown[i] = best;
      }
    }
    if (grown.every((v, i) => v === labels[i])) break;
    labels = grown;
  }
  const counts = new Map();
  for (const label of labels) if (label > 0) counts.set(label, (counts.get(label) || 0) + 1);
  let keepLabel = 0;
  let most = -1;
  for (const [label, count] of [...counts.entries()].sort((a, b) => a[0] - b[0])) {
    if (count > most) {
      most = count;
      keepLabel = label;
    }
  }
  let keep = Uint8Array.from(labels, (label) => (label === keepLabel ? 1 : 0));
  keep = rankFilter(keep, rows, cols, 3, "max");
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      out[i] = mask[i] && keep[Math.floor(y / step) * cols + Math.floor(x / step)] ? 1 : 0;
    }
  }
  return out;
}

// Every row, then every column, filled between its first and last pixel set;
// a pixel stays only where both fills have it.
function fillSpans(mask, height, width) {
  const rows = filledAlong(mask, height, width, (y, x) => y * width + x);
  const columns = filledAlong(mask, width, height, (x, y) => y * width + x);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = rows[i] & columns[i];
  return out;
}

// Each of `lines` lines of `length` pixels (pixel k of line n at index(n, k))
// set from its first pixel set in `mask` to its last.
function filledAlong(mask, lines, length, index) {
  const filled = new Uint8Array(mask.length);
  for (let line = 0; line < lines; line++) {
    let first = -1;
    let last = -1;
    for (let k = 0; k < length; k++) {
      if (mask[index(line, k)]) {
        if (first < 0) first = k;
        last = k;
      }
    }
    for (let k = first; first >= 0 && k <= last; k++) filled[index(line, k)] = 1;
  }
  return filled;
}

/**
 * estimate_fov: a Uint8Array mask (1 inside the FOV) of an RGB image
 * {width, height, channels: 3, data} with values in [0, 1].
 * Throws when the image is uniformly dark: there is no retina to find.
 */
export function estimateFov(image) {
  const { width, height } = image;
  const step = Math.ceil(Math.max(height, width) / FOV_WORKING_SIDE);
  if (step > 1) {
    // The disc is found as well on a reduced copy, in a fraction of the time.
    const small = resizeImage(image, Math.ceil(height / step), Math.ceil(width / step));
    const mask = estimateFov(small);
    return resizeMask(mask, small.height, small.width, height, width);
  }
  const red = new Float32Array(width * height);
  for (let i = 0; i < red.length; i++) red[i] = image.data[i * 3];
  const level = percentile(red, 99);
  if (level <= 0.02) {
    throw new Error(
      `the image is uniformly dark (red channel 99th percentile ${level.toFixed(3)}): ` +
        "no field of view can be found in it.",
    );
  }
  // NumPy compares float32 pixels with the threshold rounded to float32.
  const threshold = Math.fround(0.15 * level);
  let mask = Uint8Array.from(red, (value) => (value > threshold ? 1 : 0));
  const size = Math.max(3, 2 * Math.floor(Math.min(height, width) / 400) + 1);
  mask = rankFilter(rankFilter(mask, height, width, size, "min"), height, width, size, "max");
  mask = largestComponent(mask, height, width);
  return fillSpans(mask, height, width);
}
