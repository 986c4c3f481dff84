// Resampling as Pillow does it (libImaging/Resample.c), so the page resizes a
// photograph exactly as retina_tutorial.scale.resize_image and resize_mask do:
// the map the U-Net sees here is the one it sees in Python.
//
// An image is {width, height, channels, data}: data a Float32Array, the
// channels of a pixel side by side (as ImageData, without alpha).

// Pillow's filters: support (in input pixels when enlarging) and weight.
const BOX = { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) };
const BICUBIC = {
  support: 2.0,
  weight(x) {
    const a = -0.5;
    x = Math.abs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
  },
};

// For each output position: the first input pixel it reads and the
// normalised weights of the pixels from there. When shrinking, the filter is
// stretched over every input pixel the output pixel covers (no aliasing).
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = filter.support * filterScale;
  const inverse = 1.0 / filterScale;
  const result = [];
  for (let out = 0; out < outSize; out++) {
    const centre = (out + 0.5) * scale;
    const first = Math.max(0, Math.trunc(centre - support + 0.5));
    const last = Math.min(inSize, Math.trunc(centre + support + 0.5));
    const weights = new Float64Array(last - first);
    let total = 0.0;
    for (let i = 0; i < weights.length; i++) {
      weights[i] = filter.weight((i + first - centre + 0.5) * inverse);
      total += weights[i];
    }
    if (total !== 0.0) for (let i = 0; i < weights.length; i++) weights[i] /= total;
    result.push({ first, weights });
  }
  return result;
}

// One pass along rows (horizontal) or columns; sums in double precision and
// stores float32, as Pillow does for 32-bit float images.
function pass(image, outSize, filter, horizontal) {
  const { width, height, channels, data } = image;
  const outWidth = horizontal ? outSize : width;
  const outHeight = horizontal ? height : outSize;
  const out = new Float32Array(outWidth * outHeight * channels);
  const coeffs = coefficients(horizontal ? width : height, outSize, filter);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { first, weights } = coeffs[horizontal ? x : y];
      for (let c = 0; c < channels; c++) {
        let sum = 0.0;
        for (let i = 0; i < weights.length; i++) {
          const index = horizontal ? (y * width + first + i) : ((first + i) * width + x);
          sum += data[index * channels + c] * weights[i];
        }
        out[(y * outWidth + x) * channels + c] = sum;
      }
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}

/**
 * resize_image: box filter when the image shrinks (by area), bicubic when it
 * grows; rows first, then columns; values clipped to the input's range.
 */
export function resizeImage(image, height, width) {
  if (image.height === height && image.width === width) {
    return { ...image, data: image.data.slice() };
  }
  const shrinking = height * width < image.height * image.width;
  const filter = shrinking ? BOX : BICUBIC;
  let low = Infinity;
  let high = -Infinity;
  for (const value of image.data) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  let result = image;
  if (width !== image.width) result = pass(result, width, filter, true);
  if (height !== image.height) result = pass(result, height, filter, false);
  const data = result.data;
  for (let i = 0; i < data.length; i++) data[i] = Math.min(high, Math.max(low, data[i]));
  return result;
}

// Pillow's nearest-neighbour resize walks the input in steps of in/out from
// half a step in, truncating: the same source pixels as resize_mask.
function nearestIndex(inSize, outSize) {
  const step = inSize / outSize;
  const index = new Int32Array(outSize);
  let position = step * 0.5;
  for (let i = 0; i < outSize; i++) {
    index[i] = Math.min(inSize - 1, Math.max(0, Math.trunc(position)));
    position += step;
  }
  return index;
}

/** resize_mask: a Uint8Array mask (0/1) of width x height, nearest neighbour. */
export function resizeMask(mask, inHeight, inWidth, height, width) {
  const rows = nearestIndex(inHeight, height);
  const cols = nearestIndex(inWidth, width);
  const out = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = mask[rows[y] * inWidth + cols[x]];
  }
  return out;
}
