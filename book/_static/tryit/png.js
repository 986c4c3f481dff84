// The probability map as a 16-bit greyscale PNG, value = round(65535 x p),
// 0 outside the FOV: the file retina_tutorial.inference.write_probabilities
// writes, so the page's download and `retina-tutorial predict`'s compare
// directly. A canvas can only export 8-bit PNGs, which would lose the fine
// ranking ROC AUC depends on; the browser's CompressionStream("deflate")
// gives the zlib stream PNG needs, so the encoder is a few lines.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function deflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A Blob holding the 16-bit PNG of `probabilities` (Float32Array, width x height). */
export async function probabilityPng(probabilities, width, height, text = {}) {
  // Each row: filter type 0 (none), then big-endian 16-bit samples.
  const raw = new Uint8Array(height * (1 + 2 * width));
  const view = new DataView(raw.buffer);
  for (let y = 0; y < height; y++) {
    const row = y * (1 + 2 * width);
    for (let x = 0; x < width; x++) {
      const p = Math.min(1, Math.max(0, probabilities[y * width + x]));
      view.setUint16(row + 1 + 2 * x, Math.round(p * 65535));
    }
  }
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, width);
  headerView.setUint32(4, height);
  header.set([16, 0, 0, 0, 0], 8); // 16 bits, greyscale, deflate, no filter choice, no interlace
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header)];
  for (const [key, value] of Object.entries(text)) {
    parts.push(chunk("tEXt", new TextEncoder().encode(`${key}\0${value}`)));
  }
  parts.push(chunk("IDAT", await deflate(raw)), chunk("IEND", new Uint8Array(0)));
  return new Blob(parts, { type: "image/png" });
}
