// Workstation account renewal over SSH, PC/account inventory, user sheets and QR labels.
import { errorReply } from '../util/errors.js';
import ipaddr from 'ipaddr.js';
import type { Feature } from '../app-types.js';
import fs from 'node:fs';
import { managedPatternProblem, readBootstrapPassword, renewSchema } from './config.js';
import { RenewService } from './service.js';
import { parseMac } from '../util/mac.js';

export const renewFeature: Feature = {
  name: 'renew',
  config: { key: 'renew', schema: renewSchema, env: { SWITCHBOARD_RENEW_ALLOW: 'allow', SWITCHBOARD_RENEW_BOOTSTRAP_PASSWORD_FILE: 'bootstrap.passwordFile' } },
  init(app) {
    for (const c of app.config.renew.allow) {
      try {
        ipaddr.IPv4.parseCIDR(c);
      } catch {
        throw new Error(`config renew.allow: "${c}" is not an IPv4 CIDR (e.g. 192.168.122.0/24)`);
      }
    }
    const problem = managedPatternProblem(app.config.renew);
    if (problem) throw new Error(problem);
    // A bootstrap password that is there at start-up is checked now (too short = refused); a file that
    // appears later is checked when a renewal first needs it.
    const boot = app.config.renew.bootstrap.passwordFile;
    if (boot && fs.existsSync(boot)) readBootstrapPassword(boot);
    app.services.renew = new RenewService(app);
    // The link printed in the PC label's QR code: the PC's identity only (no account names).
    app.http.get<{ Params: { mac: string } }>('/inventory/pc/:mac', async (req, reply) => {
      const mac = parseMac(String(req.params.mac));
      if (!mac) return errorReply(reply, 'SB_RENEW_BAD_MAC', 'mac must look like 00:11:22:33:44:55');
      const pc = await app.services.renew.inventory.findPc(mac);
      if (!pc) return errorReply(reply, 'SB_RENEW_PC_UNKNOWN', `no PC with MAC ${mac} in the inventory`);
      const facts = pc.facts ? (JSON.parse(pc.facts) as Record<string, unknown>) : {};
      return { mac: pc.mac, hostname: pc.hostname, ip: pc.ip, serial: facts.serial ?? 'unknown', os: facts.os ?? null, lastRenewalAt: pc.last_renewal_at };
    });
  },
};
