// The demo's own picture: an SVG rendered by sharp (librsvg), so the demo needs no image file.

/** An SVG of width x height: a gradient, shapes and a caption; every pixel is deterministic. */
export function demoPictureSVG(width: number, height: number, caption: string): string {
  const bars = ['#e74c3c', '#f39c12', '#f1c40f', '#2ecc71', '#3498db', '#9b59b6']
    .map((colour, i, all) => {
      const left = Math.floor((i * width) / all.length);
      const right = Math.floor(((i + 1) * width) / all.length);
      return `<rect x="${left}" y="${height - 40}" width="${right - left}" height="40" fill="${colour}"/>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="#1e3c72"/><stop offset="1" stop-color="#2a5298"/></linearGradient></defs>
  <rect width="100%" height="100%" fill="url(#sky)"/>
  <circle cx="${width * 0.78}" cy="${height * 0.32}" r="${Math.min(width, height) * 0.16}" fill="#ffcc00"/>
  <rect x="${width * 0.08}" y="${height * 0.2}" width="${width * 0.5}" height="${height * 0.45}" rx="12" fill="#f5f5f5"/>
  <text x="${width * 0.11}" y="${height * 0.33}" font-family="sans-serif" font-size="${Math.round(height / 12)}" font-weight="bold" fill="#1e3c72">xshot</text>
  <text x="${width * 0.11}" y="${height * 0.45}" font-family="sans-serif" font-size="${Math.round(height / 28)}" fill="#333">${escapeXml(caption)}</text>
  <text x="${width * 0.11}" y="${height * 0.55}" font-family="monospace" font-size="${Math.round(height / 34)}" fill="#555">ShmPutImage -&gt; ShmGetImage</text>
  ${bars}
</svg>`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
