#!/usr/bin/env node
// The hydra-notify-gateway command: runs src/cli/main.ts through tsx (the project runs its TypeScript as is).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
