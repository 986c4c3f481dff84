// The model's own description, read from the ONNX file: its metadata_props
// entry "retina_tutorial" (JSON: training scale, required multiple, tile
// overlap, precision, provenance). onnxruntime-web does not expose custom
// metadata, and an ONNX file is a protocol buffer whose top-level fields can
// be walked in a few lines, so the page reads it itself.

const METADATA_PROPS = 14; // ModelProto.metadata_props
const KEY = 1; // StringStringEntryProto.key
const VALUE = 2; // StringStringEntryProto.value

function readVarint(bytes, position) {
  let value = 0;
  let shift = 1;
  for (;;) {
    const byte = bytes[position++];
    value += (byte & 0x7f) * shift; // multiplication: lengths may pass 2 ** 31
    if (byte < 0x80) return [value, position];
    shift *= 128;
  }
}

// Yields [field number, wire type, value or [start, end] of the bytes].
function* fields(bytes, start, end) {
  let position = start;
  while (position < end) {
    let key;
    [key, position] = readVarint(bytes, position);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let value;
      [value, position] = readVarint(bytes, position);
      yield [field, wire, value];
    } else if (wire === 2) {
      let length;
      [length, position] = readVarint(bytes, position);
      yield [field, wire, [position, position + length]];
      position += length;
    } else if (wire === 1) {
      position += 8;
    } else if (wire === 5) {
      position += 4;
    } else {
      throw new Error(`not an ONNX file (protocol buffer wire type ${wire})`);
    }
  }
}

/** The ONNX model's metadata_props as a plain object of strings. */
export function metadataProps(buffer) {
  const bytes = new Uint8Array(buffer);
  const text = new TextDecoder();
  const found = {};
  for (const [field, wire, span] of fields(bytes, 0, bytes.length)) {
    if (field !== METADATA_PROPS || wire !== 2) continue;
    let key = "";
    let value = "";
    for (const [inner, innerWire, [from, to]] of fields(bytes, span[0], span[1])) {
      if (innerWire !== 2) continue;
      if (inner === KEY) key = text.decode(bytes.subarray(from, to));
      if (inner === VALUE) value = text.decode(bytes.subarray(from, to));
    }
    found[key] = value;
  }
  return found;
}

/** The package's description of the model, checked for what the page needs. */
export function modelDescription(buffer) {
  const props = metadataProps(buffer);
  if (!("retina_tutorial" in props)) {
    throw new Error("the model file carries no retina_tutorial metadata (training scale).");
  }
  const description = JSON.parse(props.retina_tutorial);
  for (const name of ["training_scale", "required_multiple", "tile_overlap"]) {
    if (!(name in description)) throw new Error(`the model's metadata lacks ${name}.`);
  }
  return description;
}
