/**
 * Fake Nix store paths for simulated builds.
 *
 * Contract: pure functions of the given random source; nothing here touches the
 * database. Paths have the shape Hydra stores: `/nix/store/<32 base-32 chars>-<name>`,
 * and build logs live where Nix puts them, `/nix/var/log/nix/drvs/<2 chars>/<rest>.bz2`.
 */

/** Nix's base-32 alphabet (no e, o, u, t). */
const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';

/** A random 32-character store hash. */
export function storeHash(random: () => number): string {
  let hash = '';
  for (let i = 0; i < 32; i++) hash += NIX_BASE32[Math.floor(random() * NIX_BASE32.length) % NIX_BASE32.length];
  return hash;
}

/** A random derivation path for `name`, e.g. `/nix/store/<hash>-hello-2.12.1.drv`. */
export function drvPath(name: string, random: () => number): string {
  return `/nix/store/${storeHash(random)}-${name}.drv`;
}

/** A random output path for `name`, e.g. `/nix/store/<hash>-hello-2.12.1`. */
export function outPath(name: string, random: () => number): string {
  return `/nix/store/${storeHash(random)}-${name}`;
}

/** Where Nix keeps the compressed build log of `drv`. */
export function logPath(drv: string): string {
  const base = drv.slice(drv.lastIndexOf('/') + 1);
  return `/nix/var/log/nix/drvs/${base.slice(0, 2)}/${base.slice(2)}.bz2`;
}
