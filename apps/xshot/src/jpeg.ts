// JPEG through libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0), called through koffi, which a shot
// has loaded already (@xshm/shm): no libvips to load. TurboJPEG reads 32 bpp BGRX rows straight from the
// captured frame (its pitch is the frame's stride), so nothing is converted or copied and the frame is only
// read. encode.ts falls back to sharp where the library is missing.
//
// Candidates measured by hand on a 1080p capture of the benchmark's desktop picture at q80, the encode step
// only, in fresh processes alternating, on the 2-core VM while other jobs loaded it (so only ratios count):
// - this: median 64.5 ms, fastest 16.6 (7 runs), 293 KB;
// - sharp: 713.6 ms, fastest 258.3, 283 KB (mostly loading libvips: loading sharp alone took 293, fastest 155);
// - mozjpeg compiled to WebAssembly (@jsquash/jpeg, baseline): 110-163 ms to load and compile, then
//   3.1-3.3 s to encode (trellis quantisation), against 71-139 ms for this in the same 3 rounds;
// - encoding from the capture's strips, as the PNG path does: TurboJPEG 2 takes a whole picture, libjpeg's
//   row API reports errors by longjmp (which a koffi call cannot survive), and capture() is the faster
//   one-shot capture anyway (mit-shm's bench: 2.6 against 4.8 ms for strips());
// - TJ_OPTIMIZE=1 (optimised Huffman tables): 3.5% smaller files for ~2.5x the encode time; not taken.
import { type EncodableImage, packedRGB } from './encodable';
import { copyOut, type Library, openOnce } from './native-library';

/** The library loaded unless XSHOT_TURBOJPEG names another file (tests name a missing one). */
export const TURBOJPEG_LIBRARY = 'libturbojpeg.so.0';

// <turbojpeg.h>, TurboJPEG 2.x (the 3.x library keeps these entry points and values).
const TJPF_RGB = 0;
const TJPF_BGRX = 3;
const TJPF_XRGB = 5;
/** 4:2:0 chroma subsampling, as sharp, scrot (imlib2) and libjpeg's own defaults use. */
const TJSAMP_420 = 2;
/** No flags: a baseline (not progressive) JPEG, the accurate integer DCT, libjpeg's default Huffman tables. */
const TJ_FLAGS = 0;

/** TurboJPEG's pixel format for a 32 bpp layout it reads as is. */
const WORD_FORMATS: Record<string, number> = {
  BGRX: TJPF_BGRX,
  BGRA: TJPF_BGRX,
  XRGB: TJPF_XRGB,
  ARGB: TJPF_XRGB,
};

export interface TurboJPEG {
  /** Which library this is, for --verbose. */
  readonly name: string;
  /** A baseline JPEG of `image` at `quality` (1-100). */
  encode(image: EncodableImage, quality: number): Buffer;
  /**
   * A baseline JPEG of packed 8-bit RGB rows, encoded on a worker thread (koffi's async call), so a stream
   * captures the next frame while this one encodes. Calls may overlap: each holds its own compressor.
   */
  encodeRGB(rgb: Buffer, width: number, height: number, quality: number): Promise<Buffer>;
}

type Handle = bigint;
interface TurboJPEGFunctions {
  init: () => Handle | null;
  compress: (
    handle: Handle,
    source: Buffer,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    jpeg: BigUint64Array,
    size: BigUint64Array,
    subsampling: number,
    quality: number,
    flags: number,
  ) => number;
  free: (buffer: bigint) => void;
  error: (handle: Handle) => string;
}

/** koffi's asynchronous form of a function: the same arguments, then a Node-style callback. */
type Async<F> = F extends (...args: infer A) => infer R
  ? { async(...args: [...A, (error: unknown, result: R) => void]): void }
  : never;

/**
 * TurboJPEG from `library` (default: $XSHOT_TURBOJPEG, else libturbojpeg.so.0), or the Error that says why
 * it could not be loaded. Loaded once per process and path.
 */
export function turboJPEG(library = process.env.XSHOT_TURBOJPEG || TURBOJPEG_LIBRARY): TurboJPEG | Error {
  return openOnce(library, (lib) => bind(lib, library));
}

function bind(lib: Library, library: string): TurboJPEG {
  const c: TurboJPEGFunctions = {
    init: lib.func('void *tjInitCompress(void)'),
    // The two out-parameters (unsigned char **jpegBuf, unsigned long *jpegSize) are passed as one-word typed
    // arrays, which koffi hands over by address: *jpegBuf starts NULL, so TurboJPEG allocates the output.
    compress: lib.func(
      'int tjCompress2(void *handle, const uint8_t *src, int width, int pitch, int height, int pixelFormat, ' +
        'void *jpegBuf, void *jpegSize, int jpegSubsamp, int jpegQual, int flags)',
    ),
    free: lib.func('void tjFree(void *buffer)'),
    error: lib.func('const char *tjGetErrorStr2(void *handle)'),
  };
  const compressAsync = c.compress as unknown as Async<TurboJPEGFunctions['compress']>;
  let handle: Handle | undefined;
  const out = new BigUint64Array(2);
  /** Compressors of finished encodeRGB calls, for the next ones (a handle is one thread's at a time). */
  const idle: Handle[] = [];
  return {
    name: `libjpeg-turbo (${library})`,
    encodeRGB(rgb, width, height, quality) {
      const own = idle.pop() ?? c.init();
      if (own === null)
        return Promise.reject(new Error(`${library}: tjInitCompress failed (out of memory?)`));
      const result = new BigUint64Array(2);
      return new Promise((resolve, reject) => {
        compressAsync.async(
          own,
          rgb,
          width,
          width * 3,
          height,
          TJPF_RGB,
          result.subarray(0, 1),
          result.subarray(1, 2),
          TJSAMP_420,
          quality,
          TJ_FLAGS,
          (error, status) => {
            const [address, size] = [result[0]!, Number(result[1]!)];
            try {
              if (error) reject(error);
              else if (status !== 0)
                reject(new Error(`${library}: tjCompress2 of ${width}x${height} failed: ${c.error(own)}`));
              else resolve(copyOut(address, size));
            } finally {
              if (address !== 0n) c.free(address);
              idle.push(own);
            }
          },
        );
      });
    },
    encode(image, quality) {
      handle ??= c.init() ?? undefined;
      if (handle === undefined) throw new Error(`${library}: tjInitCompress failed (out of memory?)`);
      const { width, height } = image;
      const wordFormat = image.format.bitsPerPixel === 32 ? WORD_FORMATS[image.format.channels] : undefined;
      // Any other layout (16 bpp, odd masks) is converted once by mit-shm's toRGB.
      const source = wordFormat === undefined ? packedRGB(image) : image.data;
      const pitch = wordFormat === undefined ? width * 3 : image.stride;
      out.fill(0n);
      const status = c.compress(
        handle,
        source,
        width,
        pitch,
        height,
        wordFormat ?? TJPF_RGB,
        out.subarray(0, 1),
        out.subarray(1, 2),
        TJSAMP_420,
        quality,
        TJ_FLAGS,
      );
      const [address, size] = [out[0]!, Number(out[1]!)];
      try {
        if (status !== 0)
          throw new Error(`${library}: tjCompress2 of ${width}x${height} failed: ${c.error(handle)}`);
        return copyOut(address, size);
      } finally {
        if (address !== 0n) c.free(address);
      }
    },
  };
}
