// A main .js written as an ES module, run as `node` runs a .mjs file; and the
// syntax check of a main .js of either kind.
//
// Node 18 loads a .js file as CommonJS unless a package.json says otherwise,
// and has no --experimental-detect-module (Node 20.10 and later). Loaded by
// --require before the program (or by the warm launcher, node_launcher.js),
// this decides as that flag does: a main file that does not compile as
// CommonJS, and only for a reason a module's syntax gives (an import or export
// statement, import.meta, a top-level await), is an ES module. It is then
// imported as one, through a loader hook that gives that one file the format
// "module" (the hook runs on a thread of its own: only such programs pay for
// it; other files keep node's rules, so a module imports a .mjs file, or a .js
// one as CommonJS, as it would from a .mjs main). A main file that compiles as
// CommonJS, or does not compile either way, is left to node as it is.
//
// Run as a program, `node --experimental-vm-modules node_esm.js <file>...`, it
// is JavaScript's syntax check: each <file> parsed the same way, nothing of it
// run, exit status 1 and the parser's message for the first that does not parse.
//
// What a CommonJS program's cold start pays for it is kept to reading its
// source: the source is read through the fs binding, as node's own loader does
// (a public require("fs") would load fs/promises and the streams with it, some
// 5 ms of a cold start), and compiled only when it holds a word a module's
// syntax needs.
// The module system's class without require("module"), whose facade a cold
// start would pay for too.
"use strict";
const Module = module.constructor;

const MAY_BE_MODULE = /\b(?:import|export|await)\b/;
const CHUNK = 65536;
// The binding's calls as Node 18 (the worker image's) takes them: another
// version's may differ, and a call of the wrong shape aborts the process.
const KNOWN_BINDING = process.versions.node.split(".")[0] === "18";

// What V8 says of a module's syntax in a CommonJS function body.
const MODULE_ONLY = [
  "Cannot use import statement outside a module",
  "Unexpected token 'export'",
  "Cannot use 'import.meta' outside a module",
  "await is only valid in async functions and the top level bodies of modules",
];
const WRAPPER = ["exports", "require", "module", "__filename", "__dirname"];

function readSource(filename) {
  if (!KNOWN_BINDING) return require("fs").readFileSync(filename, "utf8");
  const binding = process.binding("fs");
  const context = {};
  const fd = binding.open(filename, 0, 0o666, undefined, context);
  if (context.errno !== undefined) return null; // node says why, as it would
  const chunks = [];
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = binding.read(fd, chunk, 0, CHUNK, -1, undefined, context);
      if (!(n > 0)) break;
      chunks.push(chunk.subarray(0, n));
    }
  } finally {
    binding.close(fd, undefined, {});
  }
  return context.errno === undefined ? Buffer.concat(chunks).toString("utf8") : null;
}

function commonJsError(source, filename) {
  try {
    require("vm").compileFunction(source, WRAPPER, { filename });
    return null;
  } catch (error) {
    return error;
  }
}

function moduleOnly(error) {
  return error instanceof SyntaxError && MODULE_ONLY.some((words) => error.message.includes(words));
}

function isModule(filename) {
  let source = null;
  try {
    source = readSource(filename);
  } catch {
    try {
      source = require("fs").readFileSync(filename, "utf8");
    } catch {
      return false; // node says why, as it would
    }
  }
  return source !== null && MAY_BE_MODULE.test(source) && moduleOnly(commonJsError(source, filename));
}

function runAsModule(filename) {
  const url = require("url").pathToFileURL(filename).href;
  const hooks = `const main = ${JSON.stringify(url)};
export async function load(url, context, next) {
  if (url !== main) return next(url, context);
  return { ...(await next(url, { ...context, format: "module" })), format: "module" };
}`;
  require("module").register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  import(url);
}

// The main file `filename` runs as an ES module when it is one (Module.runMain replaced).
function prepare(filename) {
  if (isModule(filename)) {
    Module.runMain = function runMain() {
      runAsModule(filename);
    };
  }
}

function check(filename) {
  const source = require("fs").readFileSync(filename, "utf8");
  const error = commonJsError(source, filename);
  if (error === null) return 0;
  if (!moduleOnly(error)) {
    process.stderr.write(`${error.stack.split("\n    at ")[0]}\n`);
    return 1;
  }
  try {
    const identifier = require("url").pathToFileURL(filename).href;
    new (require("vm").SourceTextModule)(source, { identifier });
    return 0;
  } catch {
    // Parsed again by node itself, for its message with the line and a caret.
    const { spawnSync } = require("child_process");
    const checked = spawnSync(process.execPath, ["--input-type=module", "--check"], {
      input: source,
      encoding: "utf8",
    });
    const said = checked.stderr.split("[stdin]").join(filename);
    process.stderr.write(`${said.split("\n    at ")[0]}\n`);
    return 1;
  }
}

const main = process.argv[1] || ""; // absolute: node resolved it before any --require
const launched = main.slice(0, main.lastIndexOf("/")) === __dirname;
if (require.main === module) {
  // The main file, then the modules the engine names after it: the first that
  // does not parse is the one reported.
  process.exitCode = 0;
  for (const file of process.argv.slice(2)) {
    process.exitCode = check(file);
    if (process.exitCode !== 0) break;
  }
} else if (launched) {
  // A warm start: what decides a program's kind, compiled ahead of any program.
  try {
    commonJsError(readSource(__filename) || "0", __filename);
  } catch {
    // then the first program pays for it
  }
} else if (main) {
  // A cold run: the program is process.argv[1]; nothing of this file stays in sight.
  prepare(main);
  delete require.cache[__filename];
  for (const [key, found] of Object.entries(Module._pathCache)) {
    if (found === __filename) delete Module._pathCache[key];
  }
}
module.exports = { prepare };
