// PNG rows from BGRX pixels with WebAssembly SIMD: pack-rows.wat (assembled at build time into
// pack-rows.wasm.ts) packs rows of 32-bit BGRX pixels into PNG rows (a filter byte, then RGB), with filter
// None or Sub fused into the packing. Where the runtime has no WebAssembly SIMD, rows.ts converts with
// @xshm/mit-shm's toRGB instead (the reference) and applies the filter after.
//
// Why it is kept: a screenshot is a whole process, and a JS converter runs once, cold (interpreted, then
// OSR), where this module's one function is compiled before it runs, and fuses filter Sub into the packing
// (toRGB's rows need a second pass for it). Measured by hand: capture in strips plus PNG of a 1080p desktop
// picture in fresh processes, 12 alternating runs each on the 2-core VM while other jobs loaded it (load
// ~12): median 194 ms with this packer against 292 with toRGB (fastest runs 89 against 132), the same file.
import { WASM_BASE64 } from './pack-rows.wasm';

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

/** The compiled module, or null where this runtime has no WebAssembly SIMD. */
function packModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(Buffer.from(WASM_BASE64, 'base64')) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** pack-rows.wat's export. */
type PackRows = (src: number, stride: number, width: number, rows: number, dst: number, sub: number) => void;

/** Packs rows into PNG rows in one of a few slots of WebAssembly memory; see simdRowPacker. */
export interface SimdRowPacker {
  pack(data: Buffer, from: number, count: number, slot: number, sub: boolean): Buffer;
}

/**
 * Packs rows of 32-bit BGRX pixels (`stride` bytes per row) into PNG rows of `width` pixels, into one of
 * `slots` slots of `maxRows` PNG rows (`width * 3 + 1` bytes each) in WebAssembly memory:
 * `pack(data, from, count, slot, sub)` copies `count` rows of `data` from its row `from` into the module's
 * memory (the captured frame is only read), packs them into `slot` and returns them (a view of that slot,
 * valid until the slot is packed again). Returns undefined without WebAssembly SIMD.
 */
export function simdRowPacker(
  width: number,
  stride: number,
  maxRows: number,
  slots: number,
): SimdRowPacker | undefined {
  const module = packModule();
  if (!module) return undefined;
  const rowBytes = width * 3 + 1;
  // Each slot leaves room for the last quad's 16-byte store; the source rows start on a 16-byte boundary.
  const slotBytes = Math.ceil((rowBytes * maxRows + STORE_SLACK) / 16) * 16;
  const input = slotBytes * slots;
  const memory = new wasm!.Memory({ initial: Math.ceil((input + stride * maxRows) / PAGE) });
  const instance = new wasm!.Instance(module, { m: { memory } });
  const packRows = instance.exports.pack as PackRows;
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
