// Which pages may open the desktop's WebSocket. Browsers send cookies and reach loopback addresses for any
// page, and WebSockets are not bound by the same-origin policy: without these checks any site the viewer
// visits could open a socket to the desktop and type into it.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Why `request` must be refused, or null when it may proceed:
 * - a browser's Origin must be this server itself (the Host it asked for), so a page from another site
 *   cannot drive the desktop through the viewer's browser;
 * - without a token, the Host must be an IP address or `localhost`: a DNS name can be pointed at us by
 *   another site (DNS rebinding), which would then be "this server" to the browser.
 * A request without Origin is not from a browser page (browsers always send it on WebSockets).
 */
export function originProblem(request: IncomingMessage, guarded: boolean): string | null {
  const host = request.headers.host;
  if (!host) return 'the request has no Host header';
  const hostname = hostnameOf(host);
  if (!guarded && hostname !== 'localhost' && isIP(hostname) === 0)
    return (
      `the page asked for this server by the name ${JSON.stringify(hostname)}; without --token only an IP ` +
      'address or localhost is accepted (another site could point that name at this server)'
    );
  const origin = request.headers.origin;
  if (origin === undefined) return null;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `the Origin ${JSON.stringify(origin)} is not a URL`;
  }
  if (originHost.toLowerCase() !== host.toLowerCase())
    return `a page from ${origin} may not open this desktop (it is served as http://${host}/)`;
  return null;
}

function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return (colon >= 0 ? host.slice(0, colon) : host).toLowerCase();
}
