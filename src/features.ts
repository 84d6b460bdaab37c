// The capabilities plugged into the app. Adding one is one import and one entry here.
import type { Feature } from './app-types.js';
import { dhcpFeature } from './dhcp/feature.js';
import { monitorFeature } from './monitor/feature.js';
import { renewFeature } from './renew/feature.js';
import { chatFeature } from './chat/feature.js';
import { provisionFeature } from './provision/feature.js';

export const features: Feature[] = [dhcpFeature, provisionFeature, monitorFeature, renewFeature, chatFeature];
