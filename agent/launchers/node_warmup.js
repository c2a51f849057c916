// Loaded once by node_launcher.js before its program is known, then forgotten:
// the first file a Node.js loads through its module system pays for compiling
// that path (resolution, package scopes, the module wrapper), and this one pays
// it ahead of the program. Nothing of it stays where a program can see it.
"use strict";
