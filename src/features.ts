// The capabilities plugged into the app. Adding one is one import and one entry here; the order they run in
// comes from each feature's `after` list (src/feature-order.ts), not from where it stands in this list.
import type { Feature } from './app-types.js';
import { orderFeatures } from './feature-order.js';
import { dhcpFeature } from './dhcp/feature.js';
import { monitorFeature } from './monitor/feature.js';
import { renewFeature } from './renew/feature.js';
import { chatFeature } from './chat/feature.js';
import { consoleFeature } from './console/feature.js';
import { provisionFeature } from './provision/feature.js';

export const features: Feature[] = orderFeatures([chatFeature, consoleFeature, dhcpFeature, monitorFeature, provisionFeature, renewFeature]);
