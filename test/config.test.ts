/**
 * Configuration: the documented defaults, every problem reported at once, and
 * the README's table naming every variable the gateway reads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, VARIABLES } from '../src/config.js';

describe('loadConfig', () => {
  it('applies the defaults to an empty environment', () => {
    expect(loadConfig({})).toMatchObject({
      databaseUrl: undefined,
      port: 4000,
      host: '127.0.0.1',
      simulator: true,
      mode: 'owner',
      retentionMs: 30 * 86_400_000,
      subscriberQueueLimit: 200_000,
    });
  });

  it('reads values and flags', () => {
    const config = loadConfig({
      PORT: '8080',
      HNG_SIMULATOR: 'off',
      HNG_MODE: 'observer',
      HNG_RETENTION_DAYS: '0.5',
      DATABASE_URL: 'postgres://h/db',
    });
    expect(config).toMatchObject({
      port: 8080,
      simulator: false,
      mode: 'observer',
      retentionMs: 43_200_000,
      databaseUrl: 'postgres://h/db',
    });
  });

  it('reads the webhook retry schedule into milliseconds, and refuses one it cannot use as a configuration error', () => {
    expect(loadConfig({}).webhooks.retrySchedule).toEqual([
      5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 43_200_000,
    ]);
    expect(loadConfig({ HNG_WEBHOOK_RETRY_SCHEDULE: '200ms, 1.5s,1d' }).webhooks.retrySchedule).toEqual([200, 1_500, 86_400_000]);
    // A zero delay passed the configuration once and then failed the start with a stack trace.
    for (const bad of ['0s', '0.1ms', '5s,,1m', '5 seconds']) {
      expect(() => loadConfig({ HNG_WEBHOOK_RETRY_SCHEDULE: bad }), bad).toThrow(ConfigError);
      try {
        loadConfig({ HNG_WEBHOOK_RETRY_SCHEDULE: bad });
      } catch (error) {
        expect((error as ConfigError).problems.join('\n'), bad).toContain('HNG_WEBHOOK_RETRY_SCHEDULE');
      }
    }
  });

  it('reports every invalid variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'x', HNG_MODE: 'boss', HNG_RECONNECT_MIN_MS: '-1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'HNG_MODE', 'HNG_RECONNECT_MIN_MS']) expect(problems).toContain(name);
  });

  it('reads the log format: auto by default (pretty on a terminal, JSON elsewhere), json or pretty', () => {
    expect(loadConfig({}).logFormat).toBe('auto');
    expect(loadConfig({ HNG_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ HNG_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ HNG_LOG_FORMAT: 'xml' })).toThrow(/HNG_LOG_FORMAT/);
  });

  it('is documented: the README names every variable', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of Object.keys(VARIABLES.shape)) expect(readme, name).toContain(`\`${name}\``);
  });
});
