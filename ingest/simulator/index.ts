/** The deterministic meter-fleet simulator. */
export { type FaultKind, type FaultOptions, type FaultTally, type FaultyItem, injectFaults } from './faults.ts';
export { type FleetOptions, SIM_REGIONS, type SimulatedMeter, simulatedFleet, simulatedMeter } from './fleet.ts';
export { type SimulationOptions, simulateReadings } from './generate.ts';
export { createPacer, type Pacer, type PacingMode } from './pacing.ts';
