// Image scale, as retina_tutorial.scale: pixels per degree of the camera's
// field, the FOV's diameter, and the one decision of how much to resize.

/** Factors closer to 1 than this are not resampled (DRIVE stays as it is). */
export const SAME_SCALE_TOLERANCE = 0.05;
/** Enlarging more than this invents detail the photograph does not have. */
export const MAX_ENLARGEMENT = 4.0;
// Rows or columns with fewer than 2 % of the fullest one's FOV pixels do not
// count, so a speck beside the circle does not widen it.
const COLUMN_SHARE = 0.02;

function extent(counts) {
  let most = 0;
  for (const count of counts) most = Math.max(most, count);
  let first = -1;
  let last = -1;
  counts.forEach((count, index) => {
    if (count >= COLUMN_SHARE * most) {
      if (first < 0) first = index;
      last = index;
    }
  });
  return last - first + 1;
}

/**
 * fov_diameter: the FOV's width or height, whichever is larger (many cameras
 * cut the circle at the top and bottom, so its area would underestimate it).
 */
export function fovDiameter(mask, height, width) {
  const columns = new Float64Array(width);
  const rows = new Float64Array(height);
  let any = false;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x]) {
        columns[x] += 1;
        rows[y] += 1;
        any = true;
      }
    }
  }
  if (!any) throw new Error("the FOV mask is empty: no field of view to measure.");
  return Math.max(extent(columns), extent(rows));
}

/**
 * resize_factor: how much to resize a photograph of this FOV diameter and
 * field angle to reach the model's pixels per degree.
 */
export function resizeFactor(diameter, fieldDegrees, modelScale) {
  const photoPerDegree = diameter / fieldDegrees;
  const factor = modelScale.pixels_per_degree_exact / photoPerDegree;
  if (Math.abs(factor - 1.0) <= SAME_SCALE_TOLERANCE) return 1.0;
  if (factor > MAX_ENLARGEMENT) {
    throw new Error(
      `the photograph's FOV is ${diameter.toFixed(0)} px wide at ${fieldDegrees}°, ` +
        `${photoPerDegree.toFixed(1)} px/degree: it would need enlarging ${factor.toFixed(1)}x ` +
        `to reach the model's ${modelScale.pixels_per_degree_exact.toFixed(1)} px/degree ` +
        `(at most ${MAX_ENLARGEMENT}x is sensible). The photograph is too small, or its ` +
        "field of view was not found.",
    );
  }
  return factor;
}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(value) {
  const floor = Math.floor(value);
  const rest = value - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** resized_shape: [height, width] scaled by factor, at least 1 pixel each. */
export function resizedShape(height, width, factor) {
  return [Math.max(1, roundHalfEven(height * factor)), Math.max(1, roundHalfEven(width * factor))];
}

/** The model's scale from its metadata: the training scale's own numbers. */
export function modelScale(metadata) {
  const { fov_diameter: diameter, field_degrees: degrees } = metadata.training_scale;
  // pixels_per_degree in the file is rounded to 4 decimals; Python divides.
  return { diameter, degrees, pixels_per_degree_exact: diameter / degrees };
}
