// The DHCP backend files of a bundled agent. A bundle has no src/dhcp/backends/ directory to read, so
// src/build/bundle-agent.ts replaces this module, in the bundle only, with one that imports every backend file
// found there (the files the unbundled loader lists). Unbundled it stays null and DhcpBackends.load() (index.ts) reads
// the directory.
export const BUNDLED_BACKEND_FILES: readonly { file: string; module: unknown }[] | null = null;
