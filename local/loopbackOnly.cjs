'use strict';
/*
 * Preloaded (`node --require`) into the Agents Playground's process. The Playground has no host option
 * and listens on every interface, but local mode skips authentication: anyone on the network could chat
 * as the local admin. Every server in that process binds 127.0.0.1 unless it names a specific host: no
 * host, '' and every spelling of "all interfaces" ('0.0.0.0', '::', '::0', '::ffff:0.0.0.0', and the
 * short forms '0' or '0.0' that the resolver reads as 0.0.0.0) all become 127.0.0.1.
 */
const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

// Compared as addresses, not as text, so '::', '0:0:0:0:0:0:0:0' and the IPv4-mapped form all match.
const wildcards = new net.BlockList();
wildcards.addAddress('0.0.0.0', 'ipv4');
wildcards.addAddress('::', 'ipv6');
// Not IP literals: getaddrinfo reads them the inet_aton way, and every one of them is 0.0.0.0.
const SHORTHAND_ZERO = /^(?:0x0*|0+)(?:\.(?:0x0*|0+)){0,3}$/i;

/** Whether `host` (as given to listen) means every interface. */
function isWildcard(host) {
  if (host === undefined || host === null || host === '') return true;
  if (typeof host !== 'string') return false;
  const family = net.isIP(host);
  if (family !== 0) return wildcards.check(host, family === 6 ? 'ipv6' : 'ipv4');
  return SHORTHAND_ZERO.test(host);
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first, second] = args;
  if (first === undefined || typeof first === 'function') {
    // listen([callback]): a random port on every interface.
    args.unshift(0, LOOPBACK);
  } else if (typeof first === 'object' && first !== null && !(first instanceof net.Server)) {
    // listen(options[, callback]); a pipe path or a passed handle has no interface to choose.
    if (first.path === undefined && first.fd === undefined && first.handle === undefined && isWildcard(first.host)) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof second === 'string') {
      if (isWildcard(second)) args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
    }
  }
  return listen.apply(this, args);
};
