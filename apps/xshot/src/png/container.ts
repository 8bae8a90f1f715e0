// The PNG file around the deflated rows: the signature and the IHDR, IDAT and IEND chunks, as parts for
// one vectored write (the IDAT body is never joined into one buffer).
import { crc32 as zlibCrc32 } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The parts of an 8-bit RGB PNG (colour type 2) around one zlib stream, itself in parts. */
export function pngFile(width: number, height: number, idat: readonly Buffer[]): Buffer[] {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // colour type: truecolour, no alpha (X pixels have none)
  return [PNG_SIGNATURE, chunk('IHDR', header), ...chunkParts('IDAT', idat), chunk('IEND', Buffer.alloc(0))];
}

/** A chunk whose body is several parts, without joining them: length and type, the parts, the CRC. */
function chunkParts(type: string, body: readonly Buffer[]): Buffer[] {
  const head = Buffer.allocUnsafe(8);
  let length = 0;
  for (const part of body) length += part.length;
  head.writeUInt32BE(length, 0);
  head.write(type, 4, 'latin1');
  let crc = crc32(head.subarray(4, 8));
  for (const part of body) crc = crc32(part, crc);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32BE(crc, 0);
  return [head, ...body, tail];
}

function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** node:zlib's crc32 (Node >= 20.15), else a table; `previous` continues an earlier CRC. */
function crc32(data: Buffer, previous = 0): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(data, previous) >>> 0;
  let table = crcTable;
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
    crcTable = table;
  }
  let c = previous ^ -1;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
let crcTable: Int32Array | undefined;
