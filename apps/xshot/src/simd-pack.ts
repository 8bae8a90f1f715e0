// PNG rows from BGRX pixels with WebAssembly SIMD: a hand-assembled module (no toolchain) whose one
// function packs rows of 32-bit BGRX pixels into PNG rows (a filter byte, then RGB), with filter None or
// Sub. Used by encode.ts for 32 bpp frames; the JS loop there remains the fallback where the runtime has no
// WebAssembly SIMD.
//
// Why: a screenshot is a whole process, and the JS loop runs once, cold (interpreted, then OSR), where
// this module's one function is compiled before it runs. Measured inside fresh 1080p shots (desktop
// picture, the 4 bands of encode.ts, the frame's pages already mapped), 6 alternating runs each: the JS loop
// 5.5-8.1 ms for the first band and ~2-2.5 ms for each other one, ~12-13 ms in all; this module ~1 ms to
// compile and instantiate, 2.6-4.5 ms for the first band (its memory is new) and ~1-1.5 ms for each other one,
// copy included, ~7-9 ms in all.

/** The WebAssembly value and opcode bytes the module uses (core spec and the fixed-width SIMD proposal). */
const I32 = 0x7f;
const V128 = 0x7b;
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  i32Store8: 0x3a,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32ShrU: 0x76,
  simd: 0xfd,
} as const;
/** Sub-opcodes after the 0xfd prefix (all below 0x80, so one LEB128 byte each). */
const SIMD = {
  v128Load: 0x00,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  i8x16ExtractLaneU: 0x16,
  i32x4Splat: 0x11,
  i32x4ExtractLane: 0x1b,
  i8x16Sub: 0x71,
} as const;
const EMPTY_BLOCK = 0x40;

// Locals of pack(): the parameters, then the function's own.
const SRC = 0; // byte offset of the first source pixel
const STRIDE = 1; // bytes from one source row to the next
const WIDTH = 2; // pixels per row
const ROWS = 3;
const DST = 4; // byte offset of the first output row
const SUB = 5; // 1: filter Sub, 0: filter None
const Y = 6;
const S = 7; // source cursor
const D = 8; // output cursor
const Q = 9; // quads (groups of 4 pixels) left in the row
const X = 10; // single pixels left in the row
const LAST = 11; // the previous pixel (Sub, tail pixels)
const PREV = 12; // the previous quad (Sub)
const V = 13; // the current quad

/** Lanes of i8x16.shuffle(prev, v): the pixel before each of v's four pixels. */
const PREVIOUS_PIXELS = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
/** Lanes of i8x16.shuffle(v, v): B G R X x4 -> R G B x4 in the first 12 bytes (the last 4 are junk). */
const RGB_FROM_BGRX = [2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, 0, 0, 0, 0];

const get = (local: number) => [OP.localGet, local];
const set = (local: number) => [OP.localSet, local];
const i32 = (value: number) => [OP.i32Const, ...signedLEB(value)];
const add = (local: number, amount: number) => [...get(local), ...i32(amount), OP.i32Add, ...set(local)];
const memarg = (align: number) => [align, 0];

/**
 * pack(src, stride, width, rows, dst, sub): for each row, the filter byte, then each pixel's R G B (minus
 * the previous pixel's, byte-wise, with Sub). Quads go through one shuffle and one 16-byte store (the
 * store's last 4 bytes land where the next pixels or the next row go, and are overwritten; the caller
 * leaves 16 bytes of room after the last row); the width % 4 last pixels go one by one.
 */
function packBody(): number[] {
  // biome-ignore format: one line per step reads like the pseudo-code in the comment above
  const body = [
    ...get(DST), ...set(D),
    OP.block, EMPTY_BLOCK, OP.loop, EMPTY_BLOCK,
      ...get(Y), ...get(ROWS), OP.i32GeU, OP.brIf, 1,
      ...get(SRC), ...get(Y), ...get(STRIDE), OP.i32Mul, OP.i32Add, ...set(S),
      ...get(D), ...get(SUB), OP.i32Store8, ...memarg(0), ...add(D, 1),
      OP.simd, SIMD.v128Const, ...new Array<number>(16).fill(0), ...set(PREV),
      ...i32(0), ...set(LAST),
      ...get(WIDTH), ...i32(2), OP.i32ShrU, ...set(Q),
      OP.block, EMPTY_BLOCK, OP.loop, EMPTY_BLOCK,
        ...get(Q), OP.i32Eqz, OP.brIf, 1,
        ...get(S), OP.simd, SIMD.v128Load, ...memarg(0), ...set(V),
        ...get(SUB), OP.if, EMPTY_BLOCK,
          ...get(V),
          ...get(PREV), ...get(V), OP.simd, SIMD.i8x16Shuffle, ...PREVIOUS_PIXELS,
          OP.simd, SIMD.i8x16Sub,
          ...get(V), ...set(PREV),
          ...set(V),
        OP.end,
        ...get(D), ...get(V), ...get(V), OP.simd, SIMD.i8x16Shuffle, ...RGB_FROM_BGRX,
        OP.simd, SIMD.v128Store, ...memarg(0),
        ...add(S, 16), ...add(D, 12), ...add(Q, -1),
        OP.br, 0,
      OP.end, OP.end,
      // The previous pixel for the tail: the last of the last quad (0 when the row had none).
      ...get(PREV), OP.simd, SIMD.i32x4ExtractLane, 3, ...set(LAST),
      ...get(WIDTH), ...i32(3), OP.i32And, ...set(X),
      OP.block, EMPTY_BLOCK, OP.loop, EMPTY_BLOCK,
        ...get(X), OP.i32Eqz, OP.brIf, 1,
        ...get(S), OP.i32Load, ...memarg(0), OP.simd, SIMD.i32x4Splat, ...set(V),
        ...get(SUB), OP.if, EMPTY_BLOCK,
          ...get(V), ...get(LAST), OP.simd, SIMD.i32x4Splat, OP.simd, SIMD.i8x16Sub,
          ...get(V), OP.simd, SIMD.i32x4ExtractLane, 0, ...set(LAST),
          ...set(V),
        OP.end,
        ...get(D), ...get(V), OP.simd, SIMD.i8x16ExtractLaneU, 2, OP.i32Store8, ...memarg(0),
        ...get(D), ...get(V), OP.simd, SIMD.i8x16ExtractLaneU, 1, OP.i32Store8, ...[0, 1],
        ...get(D), ...get(V), OP.simd, SIMD.i8x16ExtractLaneU, 0, OP.i32Store8, ...[0, 2],
        ...add(S, 4), ...add(D, 3), ...add(X, -1),
        OP.br, 0,
      OP.end, OP.end,
      ...add(Y, 1),
      OP.br, 0,
    OP.end, OP.end,
    OP.end,
  ];
  const locals = [2, 6, I32, 2, V128];
  return [...unsignedLEB(locals.length + body.length), ...locals, ...body];
}

/** The module: imports memory `m.memory`, exports `pack`. */
function moduleBytes(): Uint8Array {
  const section = (id: number, content: number[]) => [id, ...unsignedLEB(content.length), ...content];
  const name = (text: string) => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 6, I32, I32, I32, I32, I32, I32, 0]), // type 0: (i32 x6) -> ()
    ...section(2, [1, ...name('m'), ...name('memory'), 0x02, 0x00, 1]), // memory, at least 1 page
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(7, [1, ...name('pack'), 0x00, 0]), // export function 0 as "pack"
    ...section(10, [1, ...packBody()]),
  ]);
}

function unsignedLEB(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function signedLEB(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const PAGE = 65536;
/** Room after the last output row for the last quad's 16-byte store. */
const STORE_SLACK = 16;

/** The part of the WebAssembly JS API used here (TypeScript declares it in lib.dom, left out here). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  Instance: new (module: WasmModule, imports: object) => { readonly exports: Record<string, unknown> };
}
type WasmModule = { readonly kind: 'WebAssembly.Module' };
const wasm = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where this runtime has no WebAssembly SIMD (then encode.ts packs in JS). */
function packModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(moduleBytes()) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * Packs rows of 32-bit BGRX pixels (`stride` bytes per row) into PNG rows of `width` pixels, into one of
 * `slots` slots of `maxRows` PNG rows (`width * 3 + 1` bytes each) in WebAssembly memory:
 * `pack(data, from, count, slot, sub)` copies `count` rows of `data` from its row `from` into the module's
 * memory, packs them into `slot` and returns them (a view of that slot, valid until the slot is packed
 * again). Returns undefined without WebAssembly SIMD.
 */
export function simdRowPacker(
  width: number,
  stride: number,
  maxRows: number,
  slots: number,
): { pack(data: Buffer, from: number, count: number, slot: number, sub: boolean): Buffer } | undefined {
  const module = packModule();
  if (!module) return undefined;
  const rowBytes = width * 3 + 1;
  // Each slot leaves room for the last quad's 16-byte store; the source rows start on a 16-byte boundary.
  const slotBytes = Math.ceil((rowBytes * maxRows + STORE_SLACK) / 16) * 16;
  const input = slotBytes * slots;
  const memory = new wasm!.Memory({ initial: Math.ceil((input + stride * maxRows) / PAGE) });
  const instance = new wasm!.Instance(module, { m: { memory } });
  const packRows = instance.exports.pack as (
    src: number,
    stride: number,
    width: number,
    rows: number,
    dst: number,
    sub: number,
  ) => void;
  const bytes = new Uint8Array(memory.buffer);
  return {
    pack(data, from, count, slot, sub) {
      if (count > maxRows || slot >= slots)
        throw new RangeError(
          `simdRowPacker: ${count} rows into slot ${slot}; at most ${maxRows} rows, ${slots} slots`,
        );
      const start = from * stride;
      bytes.set(data.subarray(start, start + stride * (count - 1) + width * 4), input);
      packRows(input, stride, width, count, slot * slotBytes, sub ? 1 : 0);
      return Buffer.from(memory.buffer, slot * slotBytes, count * rowBytes);
    },
  };
}
