// The page served at /desktop: draws the remote screen onto a canvas from the WebSocket's updates (deflated
// palette or raw pixels, JPEG rectangles, and copies of its own pixels for scrolls, as encode-tile.ts lays
// them out, acknowledged once drawn), scales it to the window, shows the remote cursor's shape as a CSS
// cursor, reconnects when the connection drops, and with control sends keys (as X keysyms), pointer, wheel
// and clipboard text. Kept as a string so it ships inside dist/ with the code.

export const DESKTOP_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xshot desktop</title>
<style>
  html, body { margin: 0; height: 100%; background: #111; overflow: hidden; }
  #screen { position: absolute; left: 0; top: 0; display: block; outline: none; }
  #keys { position: fixed; left: -1000px; top: 0; width: 10px; height: 10px; opacity: 0; }
  #status {
    position: fixed; right: 8px; bottom: 8px; padding: 2px 8px; border-radius: 4px;
    font: 12px/1.6 system-ui, sans-serif; color: #ddd; background: rgba(0, 0, 0, 0.45); pointer-events: none;
  }
  #message {
    position: fixed; inset: 0; display: none; align-items: center; justify-content: center;
    font: 18px/1.5 system-ui, sans-serif; color: #fff; background: rgba(0, 0, 0, 0.6); text-align: center;
  }
  body[data-state="disconnected"] #message, body[data-state="connecting"] #message { display: flex; }
  #clipboard-toggle {
    position: fixed; right: 8px; top: 8px; font: 12px system-ui, sans-serif; opacity: 0.5;
  }
  #clipboard-toggle:hover { opacity: 1; }
  #clipboard-panel { position: fixed; right: 8px; top: 36px; display: none; }
  #clipboard-panel.open { display: block; }
  #clip { width: 320px; height: 120px; font: 12px monospace; }
  body[data-control="false"] #clipboard-toggle { display: none; }
</style>
</head>
<body data-state="connecting" data-control="false">
<canvas id="screen" width="1" height="1" tabindex="-1"></canvas>
<textarea id="keys" aria-hidden="true" autocomplete="off" autocorrect="off" autocapitalize="off" spellcheck="false"></textarea>
<button id="clipboard-toggle" type="button">clipboard</button>
<div id="clipboard-panel"><textarea id="clip" placeholder="Text typed here becomes the remote clipboard; copies made there appear here."></textarea></div>
<div id="status">connecting…</div>
<div id="message"><p id="message-text">Connecting…</p></div>
<script>
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const socketUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/desktop.ws' +
    (token ? '?token=' + encodeURIComponent(token) : '');
  const canvas = document.getElementById('screen');
  const context = canvas.getContext('2d', { alpha: false });
  const keys = document.getElementById('keys');
  const clip = document.getElementById('clip');
  const status = document.getElementById('status');
  const messageText = document.getElementById('message-text');
  const JPEG = 1;
  const ZLIB = 2;
  const PALETTE = 3;
  const JPEG_HALF = 4;
  const COPY = 5;
  // For tests and the benchmark: what arrived and what was drawn (last: the last update's rectangles as
  // [encoding, x, y, width, height]; pixels: pixels drawn so far by encoding number; drawMs: what the last
  // update cost the page, as its acknowledgement says).
  const stats = window.__desktop = { updates: 0, rects: 0, bytes: 0, lastDrawAt: 0, last: [], pixels: [0, 0, 0, 0, 0, 0], drawMs: 0, clipboard: null, state: 'connecting', control: false };
  let socket = null;
  let width = 0;
  let height = 0;
  let control = false;
  let retries = 0;
  let drawing = Promise.resolve();
  let parsing = Promise.resolve();
  let inflater = null;

  // The server deflates each update's headers and lossless pixels through one zlib stream per socket,
  // flushed after each update: one inflater per socket, kept open across messages, gives the bytes back in
  // order, and take(n) reads exactly the next n of them.
  function newInflater() {
    const stream = new DecompressionStream('deflate');
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    let rest = null;
    return {
      write(bytes) {
        writer.write(bytes).catch(() => {});
      },
      async take(length) {
        const out = new Uint8Array(length);
        let have = 0;
        while (have < length) {
          if (!rest) {
            const { value, done } = await reader.read();
            if (done) throw new Error('the deflate stream ended');
            rest = value;
          }
          const n = Math.min(length - have, rest.length);
          out.set(rest.subarray(0, n), have);
          have += n;
          rest = n < rest.length ? rest.subarray(n) : null;
        }
        return out;
      },
      async varint() {
        let value = 0;
        for (let shift = 0; ; shift += 7) {
          const byte = (await this.take(1))[0];
          value += (byte & 127) * 2 ** shift;
          if (byte < 128) return value;
        }
      },
    };
  }

  /** A palette rectangle (encodePalette on the server) to canvas pixels. */
  async function paletteImage(input, w, h) {
    const colours = (await input.take(1))[0];
    const palette = await input.take(colours * 3);
    const bits = colours <= 1 ? 0 : colours <= 2 ? 1 : colours <= 4 ? 2 : 4;
    const packed = await input.take(Math.ceil((w * h * bits) / 8));
    const perByte = 8 / bits;
    const mask = (1 << bits) - 1;
    const image = new ImageData(w, h);
    const px = image.data;
    for (let i = 0, j = 0; i < w * h; i++, j += 4) {
      const k = bits ? ((packed[Math.floor(i / perByte)] >> (8 - bits * ((i % perByte) + 1))) & mask) * 3 : 0;
      px[j] = palette[k];
      px[j + 1] = palette[k + 1];
      px[j + 2] = palette[k + 2];
      px[j + 3] = 255;
    }
    return image;
  }

  /** Packed RGB to canvas pixels (opaque RGBA). */
  function imageOf(rgb, w, h) {
    const image = new ImageData(w, h);
    const px = image.data;
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      px[j] = rgb[i];
      px[j + 1] = rgb[i + 1];
      px[j + 2] = rgb[i + 2];
      px[j + 3] = 255;
    }
    return image;
  }
  /** event.code -> keysym sent on keydown, so keyup lifts the same key whatever Shift did meanwhile. */
  const held = new Map();
  const buttons = new Set();
  let lastMove = '';
  let wheelX = 0;
  let wheelY = 0;

  function setState(state, text) {
    stats.state = state;
    document.body.dataset.state = state;
    messageText.textContent = text || '';
    status.textContent = (width ? width + '\\u00d7' + height + ' \\u00b7 ' : '') + state + (state === 'connected' && !control ? ' (view only)' : '');
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function fit() {
    if (!width) return;
    const scale = Math.min(innerWidth / width, innerHeight / height);
    canvas.style.width = Math.round(width * scale) + 'px';
    canvas.style.height = Math.round(height * scale) + 'px';
    canvas.style.left = Math.round((innerWidth - width * scale) / 2) + 'px';
    canvas.style.top = Math.round((innerHeight - height * scale) / 2) + 'px';
  }
  addEventListener('resize', fit);

  function connect() {
    setState('connecting', retries ? 'Reconnecting…' : 'Connecting…');
    socket = new WebSocket(socketUrl);
    socket.binaryType = 'arraybuffer';
    inflater = newInflater();
    drawing = Promise.resolve();
    parsing = Promise.resolve();
    socket.onopen = () => { retries = 0; };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') onControl(JSON.parse(event.data));
      else onUpdate(event.data);
    };
    socket.onclose = () => {
      releaseAll(false);
      const wait = Math.min(10000, 500 * 2 ** retries);
      retries++;
      setState('disconnected', 'Disconnected \\u2014 reconnecting in ' + Math.ceil(wait / 1000) + ' s\\u2026');
      setTimeout(connect, wait);
    };
  }

  function onControl(message) {
    if (message.t === 'hello') {
      width = message.width;
      height = message.height;
      control = stats.control = message.control;
      document.body.dataset.control = String(control);
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      fit();
      setState('connected');
      keys.focus();
    } else if (message.t === 'cursor') {
      canvas.style.cursor = 'url(data:image/png;base64,' + message.png + ') ' + message.x + ' ' + message.y + ', default';
    } else if (message.t === 'clip') {
      stats.clipboard = message.s;
      clip.value = message.s;
      if (navigator.clipboard) navigator.clipboard.writeText(message.s).catch(() => {});
    }
  }

  // Binary messages arrive as ArrayBuffers. As Blobs (a JPEG a slice of one, no copy), reading the headers
  // took a round trip to the browser process: typing latency median 33 against 20 ms in an A/B run, and full-
  // screen motion no faster (14-16 against 17 updates/s).
  function onUpdate(buffer) {
    const bytes = new Uint8Array(buffer);
    let at = 0;
    let packed = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      packed += (byte & 127) * 2 ** shift;
      if (byte < 128) break;
    }
    const current = inflater;
    const arrivedAt = performance.now();
    current.write(bytes.subarray(at, at + packed));
    stats.bytes += buffer.byteLength;
    // Inflating and drawing each keep the order the updates came in, but an update's JPEGs start decoding as
    // soon as it is parsed, while the one before it may still be decoding or drawing: with updates in
    // flight, a page on two cores decodes one while it draws another.
    const parsed = parsing.then(async () => {
      const count = await current.varint();
      let tail = at + packed;
      const pieces = [];
      const last = [];
      for (let i = 0; i < count; i++) {
        const x = await current.varint();
        const y = await current.varint();
        const w = await current.varint();
        const h = await current.varint();
        const encoding = (await current.take(1))[0];
        last.push([encoding, x, y, w, h]);
        stats.pixels[encoding] += w * h;
        if (encoding === PALETTE) {
          pieces.push({ x, y, image: await paletteImage(current, w, h) });
        } else if (encoding === ZLIB) {
          pieces.push({ x, y, image: imageOf(await current.take(w * h * 3), w, h) });
        } else if (encoding === COPY) {
          pieces.push({ x, y, w, h, sourceY: await current.varint() });
        } else if (encoding === JPEG || encoding === JPEG_HALF) {
          const length = await current.varint();
          const jpeg = new Blob([bytes.subarray(tail, tail + length)], { type: 'image/jpeg' });
          tail += length;
          pieces.push({ x, y, w, h, bitmap: createImageBitmap(jpeg) });
        } else throw new Error('unknown encoding ' + encoding);
      }
      return { pieces, last };
    });
    parsing = parsed.catch(() => {});
    drawing = drawing.then(async () => {
      const { pieces, last } = await parsed;
      for (const piece of pieces) {
        if (piece.image) {
          context.putImageData(piece.image, piece.x, piece.y);
          continue;
        }
        if (piece.sourceY !== undefined) {
          // A scroll: pixels the canvas already holds, moved. getImageData/putImageData copy them exactly
          // (no smoothing or colour conversion), overlapping source and destination included.
          context.putImageData(context.getImageData(piece.x, piece.sourceY, piece.w, piece.h), piece.x, piece.y);
          continue;
        }
        const bitmap = await piece.bitmap;
        // A half-size JPEG is drawn stretched over its rectangle (the same call when it is whole size).
        context.drawImage(bitmap, piece.x, piece.y, piece.w, piece.h);
        bitmap.close();
      }
      // The time this update cost the page: from when it could start on it (it came, and the one before was
      // drawn) until drawn. The server sends half-size JPEGs to a page that is too slow for whole ones.
      const drawnAt = performance.now();
      const ms = Math.round(drawnAt - Math.max(arrivedAt, stats.lastDrawAt));
      stats.updates++;
      stats.rects += pieces.length;
      stats.last = last;
      stats.lastDrawAt = drawnAt;
      stats.drawMs = ms;
      send({ t: 'ack', ms });
    }).catch(() => {
      // The inflater cannot resynchronise after a bad update: start over on a new connection.
      if (socket && inflater === current) socket.close();
    });
  }

  // ---- input (only with control; the server ignores it otherwise) ----
  const NAMED = {
    Backspace: 0xff08, Tab: 0xff09, Enter: 0xff0d, Escape: 0xff1b, Delete: 0xffff, Home: 0xff50,
    ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54, PageUp: 0xff55,
    PageDown: 0xff56, End: 0xff57, Insert: 0xff63, ContextMenu: 0xff67, Pause: 0xff13, ScrollLock: 0xff14,
    PrintScreen: 0xff61, NumLock: 0xff7f, CapsLock: 0xffe5, AltGraph: 0xfe03,
  };
  const SIDED = { Shift: [0xffe1, 0xffe2], Control: [0xffe3, 0xffe4], Alt: [0xffe9, 0xffea], Meta: [0xffeb, 0xffec] };

  function keysymOf(event) {
    const key = event.key;
    if (SIDED[key]) return SIDED[key][event.location === 2 ? 1 : 0];
    if (NAMED[key]) return NAMED[key];
    if (/^F([1-9]|1[0-9]|2[0-4])$/.test(key)) return 0xffbd + Number(key.slice(1));
    const chars = Array.from(key);
    if (chars.length !== 1) return 0;
    const code = chars[0].codePointAt(0);
    if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
    return code < 0x20 ? 0 : 0x1000000 + code;
  }

  keys.addEventListener('keydown', (event) => {
    if (!control || event.isComposing) return;
    const keysym = keysymOf(event);
    if (!keysym) return; // Dead, Process, Unidentified: the text arrives as an input event
    event.preventDefault();
    const id = event.code || event.key;
    if (held.has(id)) send({ t: 'key', k: held.get(id), d: false }); // auto-repeat
    held.set(id, keysym);
    send({ t: 'key', k: keysym, d: true });
  });
  keys.addEventListener('keyup', (event) => {
    if (!control) return;
    const id = event.code || event.key;
    const keysym = held.get(id);
    if (keysym === undefined) return;
    event.preventDefault();
    held.delete(id);
    send({ t: 'key', k: keysym, d: false });
  });
  // Text that came without a usable key event: an input method, a dead key, pasted or inserted text.
  keys.addEventListener('input', () => {
    const text = keys.value;
    keys.value = '';
    if (control && text) send({ t: 'text', s: text });
  });
  addEventListener('blur', () => releaseAll(true));

  function releaseAll(tell) {
    if (tell) {
      for (const keysym of held.values()) send({ t: 'key', k: keysym, d: false });
      for (const button of buttons) send({ t: 'btn', b: button, d: false });
    }
    held.clear();
    buttons.clear();
  }

  function position(event) {
    // The remote pixel under the centre of the page pixel pointed at (event coordinates are whole pixels).
    const box = canvas.getBoundingClientRect();
    const x = Math.floor(((event.clientX + 0.5 - box.left) * width) / box.width);
    const y = Math.floor(((event.clientY + 0.5 - box.top) * height) / box.height);
    return { x: Math.max(0, Math.min(width - 1, x)), y: Math.max(0, Math.min(height - 1, y)) };
  }

  function move(event) {
    if (!control || !width) return;
    const { x, y } = position(event);
    const at = x + ',' + y;
    if (at === lastMove) return;
    lastMove = at;
    send({ t: 'move', x, y });
  }
  canvas.addEventListener('mousemove', move);
  canvas.addEventListener('mousedown', (event) => {
    keys.focus({ preventScroll: true });
    if (!control) return;
    event.preventDefault();
    move(event);
    const button = [1, 2, 3][event.button];
    if (!button) return;
    buttons.add(button);
    send({ t: 'btn', b: button, d: true });
  });
  addEventListener('mouseup', (event) => {
    const button = [1, 2, 3][event.button];
    if (!control || !buttons.has(button)) return;
    if (event.target === canvas) move(event);
    buttons.delete(button);
    send({ t: 'btn', b: button, d: false });
  });
  canvas.addEventListener('contextmenu', (event) => event.preventDefault());
  canvas.addEventListener('wheel', (event) => {
    if (!control) return;
    event.preventDefault();
    move(event);
    // One X wheel click per 100 pixels (or per line) scrolled, remainders kept for the next event.
    const unit = event.deltaMode === 1 ? 1 : event.deltaMode === 2 ? 0.1 : 100;
    wheelX += event.deltaX / unit;
    wheelY += event.deltaY / unit;
    const dx = Math.trunc(wheelX);
    const dy = Math.trunc(wheelY);
    wheelX -= dx;
    wheelY -= dy;
    if (dx || dy) send({ t: 'wheel', dx: Math.max(-20, Math.min(20, dx)), dy: Math.max(-20, Math.min(20, dy)) });
  }, { passive: false });

  // ---- clipboard: the panel's text becomes the remote clipboard; remote copies fill the panel ----
  document.getElementById('clipboard-toggle').addEventListener('click', () => {
    document.getElementById('clipboard-panel').classList.toggle('open');
  });
  let clipTimer = 0;
  clip.addEventListener('input', () => {
    clearTimeout(clipTimer);
    clipTimer = setTimeout(() => send({ t: 'clip', s: clip.value }), 150);
  });
  addEventListener('focus', () => {
    if (!control || !navigator.clipboard || !navigator.clipboard.readText) return;
    navigator.clipboard.readText().then((text) => {
      if (text && text !== clip.value) { clip.value = text; send({ t: 'clip', s: text }); }
    }).catch(() => {});
  });

  connect();
})();
</script>
</body>
</html>
`;
