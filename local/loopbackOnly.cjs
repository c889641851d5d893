'use strict';
/*
 * Preloaded (`node --require`) into the Agents Playground's process. The Playground has no host option
 * and listens on every interface, but local mode skips authentication: anyone on the network could chat
 * as the local admin. Every server in that process binds 127.0.0.1 unless it names a host itself.
 */
const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first, second] = args;
  if (first === undefined || typeof first === 'function') {
    // listen([callback]): a random port on every interface.
    args.unshift(0, LOOPBACK);
  } else if (typeof first === 'object' && first !== null && !(first instanceof net.Server)) {
    // listen(options[, callback]); a pipe path or a passed handle has no interface to choose.
    if (first.host === undefined && first.path === undefined && first.fd === undefined && first.handle === undefined) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof second !== 'string') args.splice(1, 0, LOOPBACK);
  }
  return listen.apply(this, args);
};
