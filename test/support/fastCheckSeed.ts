import fc from 'fast-check';

/**
 * CI replays one fixed set of generated inputs, so a run is reproducible and a red build means a change
 * broke something; local runs draw new inputs every time to keep finding cases. FC_SEED picks a seed.
 */
if (process.env.CI || process.env.FC_SEED) {
  fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20_261_125) });
}
