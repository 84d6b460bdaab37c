// Build step (`npm run build`): precompile the configuration validator for the shipped feature set, so a
// start does not compile the config schema with ajv (see src/config-validator.ts).
import { buildSchema } from '../config.js';
import { writePrecompiled } from '../config-validator.js';
import { features } from '../features.js';

writePrecompiled(buildSchema(features.flatMap((f) => (f.config ? [f.config] : []))));
