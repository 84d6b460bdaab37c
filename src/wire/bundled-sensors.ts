// The sensor kind files of a bundled agent. A bundle has no src/agent/sensors/ directory to read, so
// src/build/bundle-agent.ts replaces this module, in the bundle only, with one that imports every kind file
// found there (the same files `sensorFiles` lists) and lists them here. Unbundled it stays null and
// `SensorKinds.loadDir()` reads the directory.
export const BUNDLED_SENSOR_FILES: readonly { file: string; module: unknown }[] | null = null;
