/**
 * Preload (`node --import dist/bench/loopback.js peer.js`) that makes every TCP listen without a host bind to
 * 127.0.0.1 instead of all interfaces. Peers such as Portkey's gateway have no host option.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (args[1] === undefined || args[1] === null) args[1] = '127.0.0.1';
    else if (typeof args[1] === 'function') args.splice(1, 0, '127.0.0.1');
  } else if (args[0] && typeof args[0] === 'object' && 'port' in args[0] && !(args[0] as net.ListenOptions).host) {
    args[0] = { ...(args[0] as net.ListenOptions), host: '127.0.0.1' };
  }
  return listen.apply(this, args as Parameters<typeof listen>);
} as typeof listen;
