/**
 * `/metrics` in Prometheus text format. Names follow hydra-notify's where
 * the meaning is the same (`notify_event_total{channel}`,
 * `notify_event_error_total{channel}`), so existing dashboards carry over.
 */
import type { EventHub } from '../events/hub.js';
import type { PipelineStats } from '../events/pipeline.js';
import type { ListenerState } from '../listener/listener.js';

function counter(name: string, help: string, values: Map<string, number>): string {
  const lines = [...values].map(([channel, n]) => `${name}{channel="${channel.replace(/["\\\n]/g, '_')}"} ${n}`);
  return `# HELP ${name} ${help}\n# TYPE ${name} counter\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
}

function gauge(name: string, help: string, value: number, type = 'gauge'): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}

/** The metrics text of one gateway. */
export function renderMetrics(state: {
  heard: Map<string, number>;
  pipeline: PipelineStats;
  listener: ListenerState;
  hub: EventHub;
  recording: boolean;
}): string {
  return [
    counter('notify_event_total', 'Notifications heard on the LISTEN connection, by channel.', state.heard),
    counter('notify_event_error_total', 'Malformed notifications dropped, by channel.', state.pipeline.malformed),
    counter('hng_events_published_total', 'Events published to subscribers, by channel.', state.pipeline.published),
    gauge(
      'hng_build_finished_recovered_total',
      'Pending build_finished occurrences recovered from Hydra after a gap, published.',
      state.pipeline.recovered,
      'counter',
    ),
    gauge('hng_journal_gaps_total', 'Gaps (windows no instance listened) published.', state.pipeline.gaps, 'counter'),
    gauge('hng_recording', 'Whether this instance records the journal.', state.recording ? 1 : 0),
    gauge('hng_listener_connected', 'Whether the LISTEN connection is up.', state.listener.connected ? 1 : 0),
    gauge('hng_listener_reconnects_total', 'LISTEN connections re-established.', state.listener.reconnects, 'counter'),
    gauge('hng_subscriptions', 'Active subscriptions.', state.hub.size),
    gauge('hng_slow_consumer_total', 'Subscriptions ended with SLOW_CONSUMER.', state.hub.overflows, 'counter'),
  ].join('');
}
