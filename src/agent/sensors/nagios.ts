// Any Nagios plugin: its exit status, first output line and perfdata (the agent's config decides which run).
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'nagios',
  summary: 'a Nagios plugin command line (only plugins the agent allows run)',
  runs: 'plugin',
  args: {
    command: { summary: 'the plugin command line, e.g. "/usr/lib/nagios/plugins/check_load -w 5 -c 10"', required: true },
  },
  check: (s, kit) => kit.runPlugin(s.args.command ?? '', s.timeoutMs),
};
