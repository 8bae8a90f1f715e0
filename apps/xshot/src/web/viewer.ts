// The page served at `/`: the live picture scaled to the window, a small status line (size, frame
// rate, transport) and a clear message when the stream stops. Kept as a string so it ships inside
// dist/ with the code and needs no file copy at build time. The page passes the `?token=` it was
// opened with on to its own requests, and sends no Referer, which would carry the token elsewhere.

export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>xshot stream</title>
<style>
  html, body { margin: 0; height: 100%; background: #111; overflow: hidden; }
  #screen { display: block; width: 100vw; height: 100vh; object-fit: contain; }
  #status {
    position: fixed; right: 8px; bottom: 8px; padding: 2px 8px; border-radius: 4px;
    font: 12px/1.6 system-ui, sans-serif; color: #ddd; background: rgba(0, 0, 0, 0.45);
    opacity: 0.35; transition: opacity 0.2s; pointer-events: none;
  }
  body:hover #status { opacity: 1; }
  #message {
    position: fixed; inset: 0; display: none; align-items: center; justify-content: center;
    font: 18px/1.5 system-ui, sans-serif; color: #fff; background: rgba(0, 0, 0, 0.7); text-align: center;
  }
  body[data-state="stopped"] #message { display: flex; }
  body[data-state="stopped"] #screen { visibility: hidden; }
</style>
</head>
<body data-state="connecting">
<img id="screen" alt="live X display">
<div id="status">connecting…</div>
<div id="message"><p>The stream has stopped.<br><small id="reason"></small><br><small>Reload the page to try again.</small></p></div>
<script>
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path) => (token ? path + '?token=' + encodeURIComponent(token) : path);
  const screen = document.getElementById('screen');
  const status = document.getElementById('status');
  const reason = document.getElementById('reason');
  let failures = 0;
  let timer = 0;

  function stop(why) {
    if (document.body.dataset.state === 'stopped') return;
    document.body.dataset.state = 'stopped';
    reason.textContent = why;
    status.textContent = 'stopped';
    clearInterval(timer);
    screen.removeAttribute('src');
  }

  screen.addEventListener('load', () => { document.body.dataset.state = 'playing'; });
  screen.addEventListener('error', () => stop('The picture stream ended or could not be opened.'));
  screen.src = withToken('stream.mjpeg');

  async function refresh() {
    try {
      const response = await fetch(withToken('stats'), { cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const stats = await response.json();
      failures = 0;
      status.textContent = stats.width + '\\u00d7' + stats.height + ' \\u00b7 ' + stats.fps.toFixed(1) +
        ' fps \\u00b7 ' + stats.transport + ' \\u00b7 ' + stats.detection;
    } catch (error) {
      failures += 1;
      if (failures >= 2) stop('The server stopped answering (' + error.message + ').');
    }
  }
  refresh();
  timer = setInterval(refresh, 1000);
})();
</script>
</body>
</html>
`;
