// `provision firmware …`: firmware images per model (stored once, SHA-256) and waves that put a model's
// firmware URL into some phones' configs.
import type { Command, CommandContext } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { ago, table } from '../src/core/format.js';
import { fmtMac } from '../src/util/mac.js';
import type { Args } from '../src/core/command.js';
import type { ProvisionService } from '../src/provision/service.js';
import { FIRMWARE_NAME_RE, FIRMWARE_VERSION_RE, firmwarePath } from '../src/provision/firmware.js';

const svc = (ctx: CommandContext): ProvisionService => ctx.app.services.provision;
const mb = (n: number) => (n / 1024 / 1024).toFixed(1);

function driverOf(ctx: CommandContext, name: string) {
  const d = svc(ctx).drivers.find(name);
  if (!d) throw new UsageError(`unknown model "${name}"; known: ${svc(ctx).drivers.names()}`);
  return d;
}

export const commands: Command[] = [
  {
    name: 'provision firmware add',
    usage: 'provision firmware add <model> [version]  (attach the image)',
    example: 'provision firmware add yealink-t4x 66.86.0.15',
    summary: 'store a firmware image for a model (once, by SHA-256); the version is read from the file name when not given',
    role: 'operator',
    args: { positional: [{ name: 'model', required: true }, { name: 'version' }] },
    async run(ctx, args) {
      const s = svc(ctx);
      const d = driverOf(ctx, String(args.model));
      const file = ctx.incoming.files[0];
      if (!file) throw new UserError("Attach the firmware image file to the command (the phone vendor's .rom/.bin/.zip), then run it again.");
      const name = file.name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '');
      if (!FIRMWARE_NAME_RE.test(name)) throw new UserError(`"${file.name}" cannot be a file name phones fetch (letters, digits, . _ - up to 128)`);
      const version = args.version !== undefined ? String(args.version) : /(\d+(?:\.\d+){1,4})/.exec(file.name)?.[1];
      if (!version) throw new UsageError(`give the version: the file name "${file.name}" carries none`);
      if (!FIRMWARE_VERSION_RE.test(version)) throw new UserError(`version "${version}" may only hold letters, digits and . _ - (up to 64)`);
      const max = s.cfg.firmware.maxBytes;
      if (file.size !== undefined && file.size > max) throw new UserError(`${file.name} is ${mb(file.size)} MB; the limit is ${mb(max)} MB (provision.firmware.maxBytes).`);
      const data = await file.fetch();
      if (data.length > max) throw new UserError(`${file.name} is ${mb(data.length)} MB; the limit is ${mb(max)} MB (provision.firmware.maxBytes).`);
      if (!data.length) throw new UserError(`${file.name} is empty`);
      let out;
      try {
        out = await s.firmware.add(d.id, version, name, data, `${ctx.incoming.platform}:${ctx.incoming.user.id}`);
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      const img = out.image;
      const where = `${s.rootUrl()}${firmwarePath(img)}`;
      return out.existed
        ? `These bytes are already stored as ${s.label(img)} firmware ${img.version} (SHA-256 ${img.sha256}); nothing added.\nServed at ${where}`
        : `Stored ${d.label} firmware ${version}: ${name}, ${img.size} bytes, SHA-256 ${img.sha256}.\nServed at ${where} (and over TFTP as ${firmwarePath(img)}). Roll it out with \`provision firmware rollout ${d.id} ${version} to=10%\`.`;
    },
  },
  {
    name: 'provision firmware list',
    usage: 'provision firmware list [model]',
    example: 'provision firmware list',
    summary: 'stored firmware images',
    role: 'viewer',
    args: { positional: [{ name: 'model' }] },
    async run(ctx, args) {
      const model = args.model === undefined ? undefined : driverOf(ctx, String(args.model)).id;
      const list = await svc(ctx).firmware.list(model);
      if (!list.length) return 'No firmware images are stored.';
      return table(
        ['model', 'version', 'file', 'bytes', 'sha256', 'added'],
        list.map((i) => [i.model, i.version, i.name, String(i.size), i.sha256.slice(0, 16), `${ago(i.addedAt)} by ${i.addedBy}`]),
      );
    },
  },
  {
    name: 'provision firmware rollout',
    usage: 'provision firmware rollout <model> <version> [to=<n%|room|mac,…>]',
    example: 'provision firmware rollout yealink-t4x 66.86.0.15 to=10%',
    summary: "put a stored firmware's URL into the configs of one wave of a model's phones (asks for confirmation)",
    role: 'operator',
    args: {
      positional: [
        { name: 'model', required: true },
        { name: 'version', required: true },
      ],
      named: { to: { type: 'string', description: "n% of the model's phones, a room, or MACs/extensions separated by commas (default 100%)" } },
    },
    async confirm(args, ctx) {
      const { d, img, phones } = await wave(ctx, args);
      return `put ${d.label} firmware ${img.version} into the configs of ${phones.length} phone${phones.length === 1 ? '' : 's'} (${phones
        .slice(0, 10)
        .map((p) => `${fmtMac(p.mac)} ext ${p.extension}`)
        .join(', ')}${phones.length > 10 ? ', …' : ''}); they install it at their next re-sync`;
    },
    async run(ctx, args) {
      const s = svc(ctx);
      const { d, img, phones, scope } = await wave(ctx, args);
      const r = await s.rollout(img, phones, scope, `${ctx.incoming.platform}:${ctx.incoming.user.id}`);
      return `Wave of ${d.label} firmware ${img.version} to ${scope}: ${r.changed.length} of ${phones.length} config${phones.length === 1 ? '' : 's'} changed (${phones.map((p) => fmtMac(p.mac)).join(', ')}).\nFollow it with \`provision firmware status\`; stop it with \`provision firmware halt ${d.id}\`. \`provision resync <mac|all>\` makes phones fetch now.`;
    },
  },
  {
    name: 'provision firmware status',
    usage: 'provision firmware status [model]',
    example: 'provision firmware status yealink-t4x',
    summary: 'per phone: the firmware version its user agent reported on its last fetch, and the wave it is in',
    role: 'viewer',
    args: { positional: [{ name: 'model' }] },
    async run(ctx, args) {
      const s = svc(ctx);
      const model = args.model === undefined ? undefined : driverOf(ctx, String(args.model)).id;
      await s.refreshFetches();
      const waves = await s.firmware.activeWaves();
      const inWave = new Map<string, string>();
      for (const w of waves) for (const m of w.macs) inWave.set(m, w.version);
      const models = new Set(model ? [model] : [...waves.map((w) => w.model), ...(await s.firmware.list()).map((i) => i.model)]);
      const phones = s.all().filter((p) => models.has(p.model));
      if (!phones.length) return model ? `No ${driverOf(ctx, model).label} phones are provisioned.` : 'No firmware is stored and no wave is running.';
      let done = 0;
      const rows = phones.map((p) => {
        const reported = p.lastFetchUa ? s.drivers.parseUserAgent(p.lastFetchUa)?.firmware : undefined;
        const target = inWave.get(p.mac);
        const state = !target ? '' : reported === target ? '✓ on it' : 'waiting';
        if (target && reported === target) done++;
        return [fmtMac(p.mac), s.label(p), p.extension, reported ?? (p.lastFetchAt ? '?' : 'never fetched'), target ?? '—', state];
      });
      const head = waves.length
        ? `${waves.map((w) => `${w.model} ${w.version} → ${w.macs.length} phones (${w.scope}, ${ago(w.startedAt)})`).join('; ')}. ${done} in a wave report its version.`
        : 'No wave is running.';
      return `${head}\n${table(['mac', 'model', 'ext', 'reports', 'wave', ''], rows.slice(0, 200))}${rows.length > 200 ? `\n… ${rows.length - 200} more` : ''}`;
    },
  },
  {
    name: 'provision firmware halt',
    usage: 'provision firmware halt [model]',
    example: 'provision firmware halt yealink-t4x',
    summary: "stop the running waves (of one model or all): the firmware URL leaves their phones' configs",
    role: 'operator',
    args: { positional: [{ name: 'model' }] },
    async run(ctx, args) {
      const s = svc(ctx);
      const model = args.model === undefined ? undefined : driverOf(ctx, String(args.model)).id;
      const r = await s.haltWaves(model, `${ctx.incoming.platform}:${ctx.incoming.user.id}`);
      if (!r.waves) return `No wave is running${model ? ` for ${model}` : ''}.`;
      return `Halted ${r.waves} wave${r.waves === 1 ? '' : 's'}: the firmware URL is out of ${r.changed.length} config${r.changed.length === 1 ? '' : 's'} again (phones that already installed it keep it).`;
    },
  },
];

async function wave(ctx: CommandContext, args: Args) {
  const s = svc(ctx);
  const d = driverOf(ctx, String(args.model));
  const img = await s.firmware.find(d.id, String(args.version));
  if (!img) {
    const have = (await s.firmware.list(d.id)).map((i) => i.version);
    throw new UserError(
      `No ${d.label} firmware ${String(args.version)} is stored${have.length ? ` (stored: ${have.join(', ')})` : ''}; add it with \`provision firmware add ${d.id} ${String(args.version)}\` and the image attached.`,
    );
  }
  const scope = args.to === undefined ? '100%' : String(args.to);
  let phones;
  try {
    phones = s.waveTargets(d.id, scope);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  if (!phones.length) throw new UserError(`No ${d.label} phone is in to=${scope}.`);
  return { d, img, phones, scope };
}
