// WebP through libwebp's simple encoding API (Debian's libwebp7), called through koffi: the same encoder
// sharp uses (its files are byte for byte the same at the same quality), without loading libvips.
// encode.ts falls back to sharp where the library is missing.
//
// Measured by hand as jpeg.ts's candidates were (1080p desktop picture, q80, encode step only, 7 alternating
// fresh processes on the loaded VM): median 699 ms, fastest 227, against sharp's 878 and 335 (loading sharp
// alone: 293 and 155), both 172602 bytes.
import { type EncodableImage, packedRGB } from './encodable';
import { copyOut, type Library, openOnce } from './native-library';

/** The library loaded unless XSHOT_LIBWEBP names another file (tests name a missing one). */
export const LIBWEBP_LIBRARY = 'libwebp.so.7';

export interface WebPEncoder {
  /** Which library this is, for --verbose. */
  readonly name: string;
  /** A lossy WebP of `image` at `quality` (1-100). */
  encode(image: EncodableImage, quality: number): Buffer;
}

/**
 * libwebp from `library` (default: $XSHOT_LIBWEBP, else libwebp.so.7), or the Error that says why it could
 * not be loaded. Loaded once per process and path.
 */
export function libWebP(library = process.env.XSHOT_LIBWEBP || LIBWEBP_LIBRARY): WebPEncoder | Error {
  return openOnce(library, (lib) => bind(lib, library));
}

function bind(lib: Library, library: string): WebPEncoder {
  // The out-parameter (uint8_t **output) is a one-word typed array, which koffi hands over by address.
  const encodeRGB: (
    rgb: Buffer,
    width: number,
    height: number,
    stride: number,
    quality: number,
    output: BigUint64Array,
  ) => number | bigint = lib.func(
    'size_t WebPEncodeRGB(const uint8_t *rgb, int width, int height, int stride, float quality, void *output)',
  );
  const free: (pointer: bigint) => void = lib.func('void WebPFree(void *pointer)');
  const output = new BigUint64Array(1);
  return {
    name: `libwebp (${library})`,
    encode(image, quality) {
      const { width, height } = image;
      // RGB, not the frame's BGRX words: WebPEncodeBGRA would keep the X byte (often 0) as alpha.
      const rgb = packedRGB(image);
      output[0] = 0n;
      const size = Number(encodeRGB(rgb, width, height, width * 3, quality, output));
      const address = output[0]!;
      try {
        if (size === 0) throw new Error(`${library}: WebPEncodeRGB of ${width}x${height} failed`);
        return copyOut(address, size);
      } finally {
        if (address !== 0n) free(address);
      }
    },
  };
}
