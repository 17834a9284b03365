/**
 * The deployment the README shows: the systemd unit in deploy/ is the one
 * the README prints, and `systemd-analyze verify` accepts it (with the
 * install folder pointing at this checkout, so that its ExecStart exists).
 * .ci/run installs systemd's tools where they are missing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UNIT = readFileSync(join(ROOT, 'deploy', 'hydra-notify-gateway.service'), 'utf8');

describe('the systemd unit', () => {
  it('is the one the README shows', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`ini\n${UNIT.trimEnd()}\n\`\`\``);
  });

  it('passes systemd-analyze verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hng-unit-'));
    const unit = join(dir, 'hydra-notify-gateway.service');
    writeFileSync(unit, UNIT.replaceAll('/opt/hydra-notify-gateway', ROOT.replace(/\/$/, '')).replace('/usr/bin/node', process.execPath));
    const { stderr } = await promisify(execFile)('systemd-analyze', ['verify', unit]);
    expect(stderr).toBe('');
  });
});
