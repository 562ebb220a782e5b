/**
 * Seeded, stateless randomness: every random number is a hash of (seed, meter, time, purpose), so a
 * reading's value does not depend on the order readings are generated in, and a fleet of 1,000,000
 * meters needs no per-meter state in memory. Same seed ⇒ same fleet and readings, on any machine.
 */

/** 32-bit mix (murmur3 finaliser); avalanche is enough for load noise, not for cryptography. */
function mix(h: number): number {
  let x = h >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Uniform in [0, 1) from any number of integer inputs. */
export function hashUnit(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    // Fold both 32-bit halves so epoch-millisecond inputs keep all their bits.
    h = mix(h ^ (p >>> 0));
    h = mix(h ^ Math.floor(p / 4_294_967_296));
  }
  return h / 4_294_967_296;
}

/** Purposes keep the streams of one (seed, meter, time) apart. */
export const PURPOSE = {
  kind: 1,
  pv: 2,
  scale: 3,
  region: 4,
  tariff: 5,
  pvSize: 6,
  noise: 7,
  clouds: 8,
  fault: 9,
  faultKind: 10,
} as const;
