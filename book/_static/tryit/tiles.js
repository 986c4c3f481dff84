// Prediction at any size, as retina_tutorial.inference.predict: the U-Net
// needs sides divisible by its required multiple (16 for 4 poolings), so the
// image is padded by reflection and cropped back; an image larger than
// AUTO_TILE_PIXELS is predicted in overlapping tiles blended with a smooth
// window, so memory stays bounded and no seams show (retina_tutorial.grid).

/** Images with more pixels than this are predicted in tiles. */
export const AUTO_TILE_PIXELS = 1500 * 1500;
/** Side of the tiles. */
export const DEFAULT_TILE_SIZE = 1024;

const roundUp = (length, multiple) => Math.ceil(length / multiple) * multiple;

/** pad_amounts: [[top, bottom], [left, right]], the odd pixel at the bottom or right. */
export function padAmounts(height, width, multiple) {
  const extraH = roundUp(height, multiple) - height;
  const extraW = roundUp(width, multiple) - width;
  const top = Math.floor(extraH / 2);
  const left = Math.floor(extraW / 2);
  return [
    [top, extraH - top],
    [left, extraW - left],
  ];
}

// NumPy's "reflect" padding (the edge pixel is not repeated); a side of one
// pixel has nothing to reflect, so it is repeated.
function reflect(index, length) {
  if (length === 1) return 0;
  const period = 2 * (length - 1);
  index = ((index % period) + period) % period;
  return index < length ? index : period - index;
}

/** pad_to_multiple for an RGB image; returns the padded image and where the original lies. */
export function padToMultiple(image, multiple) {
  const [[top, bottom], [left, right]] = padAmounts(image.height, image.width, multiple);
  const height = image.height + top + bottom;
  const width = image.width + left + right;
  const data = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const sy = reflect(y - top, image.height);
    for (let x = 0; x < width; x++) {
      const sx = reflect(x - left, image.width);
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = image.data[(sy * image.width + sx) * 3 + c];
    }
  }
  return { image: { width, height, channels: 3, data }, box: { top, left, height: image.height, width: image.width } };
}

/**
 * tile_layout along one axis: the tile's side and the start of each tile.
 * Starts stay on the model's grid, so pooling windows line up with the whole
 * image's; the last tile is aligned with the far edge.
 */
export function tileStarts(length, tile, overlap, multiple) {
  tile = Math.min(tile, length);
  const stride = Math.floor((tile - overlap) / multiple) * multiple;
  if (length <= tile) return { tile, starts: [0] };
  const starts = [];
  for (let start = 0; start < length - tile; start += stride) starts.push(start);
  starts.push(length - tile);
  return { tile, starts };
}

/**
 * tile_weights: the outer quarter of an overlap shared with another tile gets
 * weight 0 (the U-Net saw zero padding there), the middle half a raised
 * cosine ramp; edges on the image border keep full weight.
 */
export function tileWeights(start, tile, length, overlap) {
  const weights = new Float32Array(tile);
  const margin = Math.floor(overlap / 4);
  const ramp = Math.floor(overlap / 2);
  for (let i = 0; i < tile; i++) {
    let distance = Infinity;
    if (start > 0) distance = Math.min(distance, i);
    if (start + tile < length) distance = Math.min(distance, tile - 1 - i);
    if (ramp === 0) {
      weights[i] = distance >= margin ? 1 : 0;
    } else {
      const t = Math.min(1, Math.max(0, (distance - margin + 0.5) / ramp));
      weights[i] = 0.5 - 0.5 * Math.cos(Math.PI * t);
    }
  }
  return weights;
}

function cut(image, top, left, height, width) {
  const data = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    data.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, channels: 3, data };
}

/**
 * predict: (H, W) probabilities in [0, 1] for an RGB image, through
 * `forward(image)` (the U-Net on one padded image or tile). `progress(done,
 * total)` is told after each tile.
 */
export async function predict(image, forward, { multiple, overlap, progress = () => {} }) {
  const { image: padded, box } = padToMultiple(image, multiple);
  let map;
  if (image.height * image.width <= AUTO_TILE_PIXELS) {
    progress(0, 1);
    map = await forward(padded);
    progress(1, 1);
  } else {
    const size = roundUp(DEFAULT_TILE_SIZE, multiple);
    const rows = tileStarts(padded.height, size, overlap, multiple);
    const cols = tileStarts(padded.width, size, overlap, multiple);
    const total = new Float32Array(padded.height * padded.width);
    const weight = new Float32Array(padded.height * padded.width);
    const count = rows.starts.length * cols.starts.length;
    let done = 0;
    progress(0, count);
    for (const r of rows.starts) {
      const along = tileWeights(r, rows.tile, padded.height, overlap);
      for (const c of cols.starts) {
        const across = tileWeights(c, cols.tile, padded.width, overlap);
        const output = await forward(cut(padded, r, c, rows.tile, cols.tile));
        for (let y = 0; y < rows.tile; y++) {
          for (let x = 0; x < cols.tile; x++) {
            const w = along[y] * across[x];
            const i = (r + y) * padded.width + c + x;
            total[i] += w * output[y * cols.tile + x];
            weight[i] += w;
          }
        }
        progress(++done, count);
      }
    }
    map = total.map((value, i) => value / weight[i]);
  }
  const out = new Float32Array(box.height * box.width);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const value = map[(box.top + y) * padded.width + box.left + x];
      out[y * box.width + x] = Math.min(1, Math.max(0, value));
    }
  }
  return out;
}
