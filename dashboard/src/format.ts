/**
 * How the dashboard writes times, durations, ages and Hydra's statuses:
 * times in the browser's time zone (the gateway sends UTC), durations and
 * ages short ("1 h 4 min", "12 s").
 */
import type { BuildStatus } from './api/generated';

/** `08:08:23`, with the date in front when it is not today. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const clock = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return date.toDateString() === new Date().toDateString() ? clock : `${date.toLocaleDateString()} ${clock}`;
}

/** A span of seconds: `45 s`, `12 min 5 s`, `3 h 4 min`, `2 d 1 h`. */
export function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h${Math.floor((s % 3_600) / 60) ? ` ${Math.floor((s % 3_600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86_400)} d${Math.floor((s % 86_400) / 3_600) ? ` ${Math.floor((s % 86_400) / 3_600)} h` : ''}`;
}

/** Seconds from `from` to `to` (ISO instants), or null when either is missing. */
export function between(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  return (Date.parse(to) - Date.parse(from)) / 1000;
}

/** How long ago `iso` was, from now: `3 min`. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  return span((now - Date.parse(iso)) / 1000);
}

/** Hydra's words for a build status, and whether it is a success. */
export function statusLabel(status: BuildStatus | null, code: number | null): { text: string; ok: boolean } {
  if (status === null) return { text: code === null ? 'unknown' : `status ${code}`, ok: false };
  const text = status.toLowerCase().replace(/_/g, ' ');
  return { text, ok: status === 'SUCCEEDED' };
}

/** The lower-case channel name Hydra uses (`BUILD_FINISHED` → `build_finished`). */
export function channelName(channel: string): string {
  return channel.toLowerCase();
}
