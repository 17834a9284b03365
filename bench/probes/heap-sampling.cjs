/**
 * A sampling heap profile of a gateway under the bench, of the objects that
 * survived the young generation's collections (the ones that make scavenges
 * slow): loaded into each gateway process with
 * `BENCH_GATEWAY_FLAGS="--require ./bench/probes/heap-sampling.cjs"`.
 *
 * Contract: from `HEAP_START_S` (default 6) to `HEAP_STOP_S` (default 10)
 * seconds after the process starts, V8's sampler (through the inspector,
 * every 2 KB allocated) keeps the samples of objects no scavenge collected
 * (objects a full collection freed are kept too); the profile is written to
 * `HEAP_OUT` (default the working directory) as `heap-<pid>.json`, for
 * bench/probes/heap-summary.cjs. Nothing else in the process changes.
 */
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const startMs = Number(process.env.HEAP_START_S ?? 6) * 1_000;
const stopMs = Number(process.env.HEAP_STOP_S ?? 10) * 1_000;
const out = process.env.HEAP_OUT ?? process.cwd();
const session = new inspector.Session();
session.connect();

setTimeout(() => {
  session.post('HeapProfiler.enable', () =>
    session.post(
      'HeapProfiler.startSampling',
      { samplingInterval: 2_048, includeObjectsCollectedByMinorGC: false, includeObjectsCollectedByMajorGC: true },
      (error) => error && console.error('heap sampling did not start:', error.message),
    ),
  );
}, startMs).unref();

setTimeout(() => {
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return console.error('heap sampling did not stop:', error.message);
    writeFileSync(join(out, `heap-${process.pid}.json`), JSON.stringify(result.profile));
  });
}, stopMs).unref();
