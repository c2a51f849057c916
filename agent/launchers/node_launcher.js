// A warm Node.js: started ahead of its job, it runs main.js once told to.
//
// Run as `node [heap flags] node_launcher.js <fd>`. It reads the program's argv
// (/work/build/main.js and the request's args, NUL-separated) from <fd> until
// EOF, then runs the script as the entry point, as `node [heap flags]
// /work/build/main.js` would: process.argv, require.main === module,
// __filename. An empty message (the agent discarding the warm start) exits.
"use strict";
const fs = require("fs");
const Module = require("module");

const fd = Number(process.argv[2]);
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
// From a fresh tick, and passed itself: no frame of this file under the program's own.
process.nextTick(Module.runMain);
