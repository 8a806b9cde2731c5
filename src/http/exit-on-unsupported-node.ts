// Imported first by main.ts, for its side effect: ES modules evaluate in import order, so this runs before
// gateway.js's import of uWebSockets.js would throw its own stack trace on a Node it has no binary for.

import { nodeSupportProblem } from './node-support.js';

const problem = nodeSupportProblem();
if (problem !== null) {
  process.stderr.write(`heimdall: ${problem}\n`);
  process.exit(2);
}
