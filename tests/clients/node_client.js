// One client-compatibility case with node-redis (`redis` 5) or ioredis, as an application
// would use it.
//
// Usage: node node_client.js CLIENT PORT MODE CASE
//   CLIENT: node-redis | ioredis
//   MODE:   default (no options but host and port), 2 or 3 (node-redis `RESP: 2|3`)
//   CASE:   basic | pipeline | transaction | script | info
//
// Prints "ok CASE" and exits 0 when every check holds; otherwise prints the error (the server's
// error text included) and exits 1. Driven by tests/tests/client_compat.rs.
'use strict';

const assert = require('node:assert/strict');
const nodeRedis = require('redis');
const IORedis = require('ioredis');

const SCRIPT = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";

// The pairs of a HELLO reply as an object, whichever shape the protocol gave them.
function helloFields(reply) {
  if (reply instanceof Map) return Object.fromEntries(reply);
  if (Array.isArray(reply)) {
    const out = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
    return out;
  }
  return reply;
}

// node-redis has no INFO parser: the "field:value" lines, as every client library reads them.
function parseInfo(text) {
  const info = {};
  for (const line of String(text).split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) info[line.slice(0, at)] = line.slice(at + 1);
  }
  return info;
}

const nodeRedisCases = {
  async basic(c, mode) {
    assert.equal(await c.ping(), 'PONG');
    assert.equal(await c.set('nr:greeting', 'hello'), 'OK');
    assert.equal(await c.get('nr:greeting'), 'hello');
    assert.equal(await c.get('nr:missing'), null);
    assert.equal(await c.incrBy('nr:counter', 5), 5);
    assert.equal(await c.set('nr:nx', '1', { NX: true }), 'OK');
    assert.equal(await c.set('nr:nx', '2', { NX: true }), null);
    assert.deepEqual(await c.mGet(['nr:greeting', 'nr:missing']), ['hello', null]);
    assert.equal(await c.del(['nr:greeting', 'nr:missing']), 1);
    const proto = Number(helloFields(await c.sendCommand(['HELLO'])).proto);
    assert.equal(proto, mode === '3' ? 3 : 2, `negotiated protocol ${proto}`);
  },
  async pipeline(c) {
    const pipe = c.multi();
    for (let i = 0; i < 50; i++) pipe.set(`nr:pipe:${i}`, String(i));
    for (let i = 0; i < 50; i++) pipe.get(`nr:pipe:${i}`);
    const replies = await pipe.execAsPipeline();
    assert.deepEqual(replies.slice(0, 50), Array(50).fill('OK'));
    assert.deepEqual(replies.slice(50), [...Array(50).keys()].map(String));
  },
  async transaction(c, mode, other) {
    const replies = await c.multi().set('nr:tx', '1').incrBy('nr:tx', 2).get('nr:tx').exec();
    assert.deepEqual(replies, ['OK', 3, '3']);
    await c.watch('nr:tx');
    await other.set('nr:tx', '100');
    await assert.rejects(c.multi().incr('nr:tx').exec(), nodeRedis.WatchError);
    assert.equal(await c.get('nr:tx'), '100');
  },
  async script(c) {
    const evalOpts = (arg) => ({ keys: ['nr:lua'], arguments: [arg] });
    assert.deepEqual(await c.eval(SCRIPT, evalOpts('2')), ['nr:lua', '2', 2]);
    const sha = await c.scriptLoad(SCRIPT);
    assert.deepEqual(await c.evalSha(sha, evalOpts('3')), ['nr:lua', '3', 5]);
    await c.scriptFlush();
    // defineScript: EVALSHA, and EVAL when the server answers NOSCRIPT.
    assert.deepEqual(await c.luaIncr('nr:lua', '4'), ['nr:lua', '4', 9]);
    assert.deepEqual(await c.luaIncr('nr:lua', '1'), ['nr:lua', '1', 10]);
    assert.equal(await c.get('nr:lua'), '10');
  },
  async info(c) {
    await c.set('nr:info', 'x');
    const info = parseInfo(await c.info());
    assert.match(info.redis_version, /^\d+\.\d+\.\d+/);
    assert.equal(info.redis_mode, 'standalone');
    assert.ok(Number(info.connected_clients) >= 1, info.connected_clients);
    assert.match(parseInfo(await c.info('keyspace')).db0, /^keys=[1-9]/);
  },
};

const luaIncr = nodeRedis.defineScript({
  SCRIPT,
  NUMBER_OF_KEYS: 1,
  parseCommand(parser, key, arg) {
    parser.pushKey(key);
    parser.push(arg);
  },
  transformReply: (reply) => reply,
});

async function runNodeRedis(port, mode, name) {
  const options = { socket: { host: '127.0.0.1', port }, scripts: { luaIncr } };
  if (mode !== 'default') options.RESP = Number(mode);
  // node-redis retries a refused handshake for ever by default: give up at its first error.
  const open = async () => {
    const c = nodeRedis.createClient(options);
    const failed = new Promise((resolve, reject) => c.once('error', reject));
    c.on('error', () => {});
    await Promise.race([c.connect(), failed]);
    return c;
  };
  const c = await open();
  await c.flushAll();
  const other = await open();
  await nodeRedisCases[name](c, mode, other);
  await Promise.all([c.quit(), other.quit()]);
}

const ioredisCases = {
  async basic(c) {
    assert.equal(await c.ping(), 'PONG');
    assert.equal(await c.set('io:greeting', 'hello'), 'OK');
    assert.equal(await c.get('io:greeting'), 'hello');
    assert.equal(await c.get('io:missing'), null);
    assert.equal(await c.incrby('io:counter', 5), 5);
    assert.equal(await c.set('io:nx', '1', 'NX'), 'OK');
    assert.equal(await c.set('io:nx', '2', 'NX'), null);
    assert.deepEqual(await c.mget('io:greeting', 'io:missing'), ['hello', null]);
    assert.equal(await c.del('io:greeting', 'io:missing'), 1);
    // ioredis 6 asks for RESP3 and falls back to RESP2 when the server refuses.
    const proto = Number(helloFields(await c.call('HELLO')).proto);
    assert.ok(proto === 2 || proto === 3, `negotiated protocol ${proto}`);
    console.log(`ioredis negotiated RESP${proto}`);
  },
  async pipeline(c) {
    const pipe = c.pipeline();
    for (let i = 0; i < 50; i++) pipe.set(`io:pipe:${i}`, String(i));
    for (let i = 0; i < 50; i++) pipe.get(`io:pipe:${i}`);
    const replies = await pipe.exec();
    assert.ok(replies.every(([err]) => err === null), String(replies.find(([e]) => e)));
    const values = replies.map(([, v]) => v);
    assert.deepEqual(values.slice(0, 50), Array(50).fill('OK'));
    assert.deepEqual(values.slice(50), [...Array(50).keys()].map(String));
  },
  async transaction(c, other) {
    const replies = await c.multi().set('io:tx', '1').incrby('io:tx', 2).get('io:tx').exec();
    assert.deepEqual(replies, [[null, 'OK'], [null, 3], [null, '3']]);
    await c.watch('io:tx');
    await other.set('io:tx', '100');
    assert.equal(await c.multi().incr('io:tx').exec(), null, 'EXEC after WATCH must abort');
    assert.equal(await c.get('io:tx'), '100');
  },
  async script(c) {
    assert.deepEqual(await c.eval(SCRIPT, 1, 'io:lua', '2'), ['io:lua', '2', 2]);
    const sha = await c.script('LOAD', SCRIPT);
    assert.deepEqual(await c.evalsha(sha, 1, 'io:lua', '3'), ['io:lua', '3', 5]);
    await c.script('FLUSH');
    // defineCommand: EVALSHA, and EVAL when the server answers NOSCRIPT.
    c.defineCommand('luaIncr', { numberOfKeys: 1, lua: SCRIPT });
    assert.deepEqual(await c.luaIncr('io:lua', '4'), ['io:lua', '4', 9]);
    assert.deepEqual(await c.luaIncr('io:lua', '1'), ['io:lua', '1', 10]);
    assert.equal(await c.get('io:lua'), '10');
  },
  async info(c) {
    await c.set('io:info', 'x');
    const info = parseInfo(await c.info());
    assert.match(info.redis_version, /^\d+\.\d+\.\d+/);
    assert.equal(info.redis_mode, 'standalone');
    assert.ok(Number(info.connected_clients) >= 1, info.connected_clients);
    assert.match(parseInfo(await c.info('keyspace')).db0, /^keys=[1-9]/);
  },
};

async function runIoredis(port, mode, name) {
  assert.equal(mode, 'default', 'ioredis runs with its default settings only');
  const c = new IORedis(port, '127.0.0.1');
  const other = new IORedis(port, '127.0.0.1');
  try {
    await c.flushall();
    await ioredisCases[name](c, other);
  } finally {
    c.disconnect();
    other.disconnect();
  }
}

async function main() {
  const [client, port, mode, name] = process.argv.slice(2);
  const pkg = client === 'ioredis' ? 'ioredis' : 'redis';
  console.log(`${client} ${require(`${pkg}/package.json`).version}, mode ${mode}, case ${name}`);
  const run = client === 'ioredis' ? runIoredis : runNodeRedis;
  await run(Number(port), mode, name);
  console.log(`ok ${name}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);
