// Connects to an X display with @xshm/mit-shm and wraps it as the stream's FrameSource.
import { connect, type Display } from '@xshm/mit-shm';
import type { DamageCapableClient } from './damage';
import { type CaptureArea, XSource } from './x-source';

export interface OpenDisplayOptions {
  /** Default: $DISPLAY. */
  display?: string;
  area?: CaptureArea;
}

export async function openDisplaySource(options: OpenDisplayOptions = {}): Promise<XSource> {
  const display = await connect(options.display !== undefined ? { display: options.display } : {});
  try {
    return await XSource.open({
      display,
      displayName: display.name,
      client: damageClient(display),
      connectionLost: connectionLost(display),
      area: options.area ?? {},
    });
  } catch (error) {
    await display.close().catch(() => {});
    throw error;
  }
}

/**
 * mit-shm types the `x11` client for the extensions it uses itself; DAMAGE is not among them, and
 * DamageWatch declares the part of it it calls. The object is the same `x11` client either way.
 */
function damageClient(display: Display): DamageCapableClient {
  return display.client as unknown as DamageCapableClient;
}

/** Settles when the X connection closes (server killed, display gone): a socket end or close. */
function connectionLost(display: Display): Promise<Error> {
  return new Promise((resolve) => {
    const gone = (): void => resolve(new Error(`the connection to X display ${display.name} closed`));
    display.client.once('end', gone);
    display.client.stream?.once('close', gone);
  });
}
