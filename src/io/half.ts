/**
 * IEEE 754 half precision (binary16) to and from numbers, and bfloat16 to numbers, for the
 * formats that store 16-bit floats (safetensors F16/BF16, GGUF F16/BF16 and the fp16 scales
 * of its quantized blocks).
 */

/** Half-precision bits to a number (exact: every half is a float32). */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** `q` rounded to an integer, ties to even (the IEEE default rounding). */
function roundHalfEven(q: number): number {
  const floor = Math.floor(q);
  const rest = q - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

/**
 * A number (a float32 value) to half-precision bits, rounding to nearest even as ggml's
 * GGML_FP32_TO_FP16 and the F16C instruction do: values from 65520 up overflow to
 * infinity, values below 2^-14 become subnormals, NaN becomes the quiet NaN 0x7e00.
 * Scaling by powers of two is exact in doubles, so the rounding sees the exact value.
 */
export function numberToHalf(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (Number.isNaN(value)) return sign | 0x7e00;
  if (magnitude >= 65520) return sign | 0x7c00;
  if (magnitude < 2 ** -14) return sign | roundHalfEven(magnitude * 2 ** 24); // 1024 is the smallest normal
  const exponent = Math.floor(Math.log2(magnitude));
  // log2 of a value just under a power of two can round up: correct by one step.
  const e =
    magnitude < 2 ** exponent ? exponent - 1 : magnitude >= 2 ** (exponent + 1) ? exponent + 1 : exponent;
  const mantissa = roundHalfEven(magnitude * 2 ** (10 - e)); // in [1024, 2048]
  return sign | ((((e + 15) << 10) + (mantissa - 1024)) & 0x7fff);
}

/** bfloat16 bits to a number: bfloat16 is the top half of a float32. */
export function bfloat16ToNumber(h: number): number {
  bits[0] = h << 16;
  return floats[0]!;
}

const floats = new Float32Array(1);
const bits = new Uint32Array(floats.buffer);
