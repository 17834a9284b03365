/**
 * Sums a sampling heap profile (bench/probes/heap-sampling.cjs) by the
 * function that allocated, and by the last five frames of the stack:
 * `node bench/probes/heap-summary.cjs heap-<pid>.json`. Prints KB, largest
 * first, 25 rows of each.
 */
const { readFileSync } = require('node:fs');

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const selfBytes = new Map();
for (const sample of profile.samples) selfBytes.set(sample.nodeId, (selfBytes.get(sample.nodeId) ?? 0) + sample.size);

const bySite = new Map();
const byStack = new Map();
let total = 0;
const walk = (node, stack) => {
  const frame = node.callFrame;
  const url = frame.url.replace(/.*node_modules\//, '').replace(/.*\/compiled\//, '');
  const name = `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
  const frames = [...stack, name];
  const bytes = selfBytes.get(node.id) ?? 0;
  if (bytes) {
    total += bytes;
    bySite.set(name, (bySite.get(name) ?? 0) + bytes);
    const key = frames.slice(-5).reverse().join(' < ');
    byStack.set(key, (byStack.get(key) ?? 0) + bytes);
  }
  for (const child of node.children) walk(child, frames);
};
walk(profile.head, []);

const kb = (bytes) => String(Math.round(bytes / 1024)).padStart(8);
console.log(`${kb(total)} KB in all`);
for (const [name, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${kb(bytes)} ${name}`);
console.log('by stack:');
for (const [stack, bytes] of [...byStack].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${kb(bytes)} ${stack}`);
