// A warm Node.js: started ahead of its job, it runs main.js once told to.
//
// Run as `node [heap flags] node_launcher.js <fd> <ready fd>`. Its preparations
// done, it writes a byte down <ready fd> (the agent's sign that it waits); it
// reads the program's argv
// (/work/build/main.js and the request's args, NUL-separated) from <fd> until
// EOF, then runs the script as the entry point, as `node [heap flags]
// /work/build/main.js` would: process.argv, require.main === module,
// __filename. An empty message (the agent discarding the warm start) exits.
//
// Before it reads, it does what the program's first steps would otherwise pay
// for (Debian's Node compiles its internals lazily, without a code cache): the
// stdout and stderr streams made (a pipe's is a net.Socket), the formatting
// console.log uses run once, a file loaded through the module system and
// forgotten again. In the engine that took a warm hello world's run step from
// 12.6 ms to about half. The program then sees the same objects it would have
// made itself; the launcher's own module leaves require.cache before it runs,
// and the process's age (process.uptime(), performance.now() and timeOrigin)
// counts from the program's arrival. A main file written as an ES module runs
// as one (node_esm.js).
"use strict";
// What a cold start's program would read at its first line: the process's age.
const bootUptime = process.uptime();
const bootPerfNow = performance.now();
const fs = require("fs");
const path = require("path");
const Module = require("module");

process.stdout;
process.stderr;
process.stdout.write(""); // the write path, compiled; a pipe's reader sees nothing
require("util").format("%s %d %j", "", 0, {});
const warmup = path.join(__dirname, "node_warmup.js");
require(warmup);
delete require.cache[warmup];
// Loaded already by the run's --require: an ES module's main file runs as one.
const esm = path.join(__dirname, "node_esm.js");
const { prepare } = require(esm);
delete require.cache[esm];
for (const [key, found] of Object.entries(Module._pathCache)) {
  if (found === warmup || found === esm || found === __filename) delete Module._pathCache[key];
}

const fd = Number(process.argv[2]);
if (process.argv.length > 3) {
  // The agent is told this one waits for its program now, its preparations done.
  const ready = Number(process.argv[3]);
  fs.writeSync(ready, "r");
  fs.closeSync(ready);
}
const chunks = [];
const buffer = Buffer.alloc(65536);
for (;;) {
  const n = fs.readSync(fd, buffer, 0, buffer.length, null);
  if (n === 0) break;
  chunks.push(Buffer.from(buffer.subarray(0, n)));
}
fs.closeSync(fd);
const message = Buffer.concat(chunks);
if (message.length === 0) process.exit(0);
process.argv = [process.argv[0], ...message.toString().split("\0")];
// The process's clocks count from its start, long before its program: a job
// would read when the container's previous job ended. From here they count
// from the program's arrival, as from a process that started just before it.
// The two clocks are read back to back, again when something came between them
// (a preemption under load, a slow system call under gVisor): the gap would
// otherwise stay between Date.now() and timeOrigin + performance.now().
let arrived = process.hrtime.bigint();
let wallAtArrival = Date.now();
for (let tries = 0; tries < 8; tries++) {
  const after = process.hrtime.bigint();
  if (after - arrived < 1000000n) break;
  arrived = after;
  wallAtArrival = Date.now();
}
const sinceArrival = () => Number(process.hrtime.bigint() - arrived) / 1e6;
const timeOrigin = wallAtArrival - bootPerfNow;
process.uptime = function uptime() {
  return bootUptime + sinceArrival() / 1000;
};
// Defined on the object itself: Node 18's prototype holds them read-only.
Object.defineProperty(performance, "now", {
  value: function now() {
    return bootPerfNow + sinceArrival();
  },
  configurable: true,
  writable: true,
});
Object.defineProperty(performance, "timeOrigin", { get: () => timeOrigin, configurable: true });
delete require.cache[__filename];
prepare(process.argv[1]);
// From a fresh tick, and passed itself: no frame of this file under the program's own.
process.nextTick(Module.runMain);
