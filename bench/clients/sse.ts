/**
 * A fleet of Server-Sent Events subscribers in one process: one HTTP POST per
 * subscription with `Accept: text/event-stream` (graphql-sse's distinct
 * connections mode, as yoga and the gateway serve it), read as a stream of
 * `event: next` / `data:` blocks.
 *
 * Contract: one subscription per connection (SSE has no multiplexing here);
 * each block costs a regular expression; a sample is parsed in full and
 * checked. Connections are opened `concurrency` at a time; one counts as
 * open when the response headers arrive with status 200.
 */
import http from 'node:http';
import { runClientChild, type OpenPlan, type Sink, type Transport } from './runtime.js';

const BUILD_ID = /"buildId":(\d+)/;

function validate(raw: string): number | null {
  try {
    const result = JSON.parse(raw) as {
      data?: { buildStarted?: { buildId?: number; build?: { jobset?: { project?: { name?: unknown } } } } };
    };
    const event = result.data?.buildStarted;
    return typeof event?.build?.jobset?.project?.name === 'string' && typeof event.buildId === 'number' ? event.buildId : null;
  } catch {
    return null;
  }
}

const requests: http.ClientRequest[] = [];

function openStream(plan: OpenPlan, sub: number, sink: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = new URL(plan.url);
    const body = JSON.stringify({ query: plan.query });
    const request = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      agent: false,
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    requests.push(request);
    request.on('error', reject);
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`HTTP ${response.statusCode}`));
        response.resume();
        return;
      }
      resolve();
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(':') || block.startsWith('retry')) continue;
          if (block.includes('event: complete')) {
            sink.ended(sub, 'complete');
            continue;
          }
          const data = block.slice(block.indexOf('data: ') + 6);
          const buildId = BUILD_ID.exec(data);
          if (buildId) sink.delivery(sub, Number(buildId[1]), data);
          if (data.includes('"errors"')) sink.error(sub, data.slice(0, 300));
        }
      });
      response.on('close', () => sink.ended(sub, 'stream closed'));
    });
    request.end(body);
  });
}

const transport: Transport = {
  async open(plan, sink) {
    if (plan.subsPerSocket !== 1) throw new Error('SSE carries one subscription per connection');
    let next = 0;
    let failed = 0;
    let firstError: string | null = null;
    await Promise.all(
      Array.from({ length: Math.min(plan.concurrency, plan.sockets) }, async () => {
        while (next < plan.sockets) {
          const sub = next++;
          await openStream(plan, sub, sink).catch((error: Error) => {
            failed++;
            firstError ??= error.message;
          });
        }
      }),
    );
    return { failed, firstError };
  },
  validate,
  async close() {
    for (const request of requests) request.destroy();
  },
};

runClientChild(transport);
