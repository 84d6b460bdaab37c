// One apply over any set of backends, all or nothing: write every candidate beside its live file, run every
// backend's checker, and only when all pass swap the files in (install.ts), install the non-file backends
// (Kea's control channel), record the apply (the caller's step), then reload. A failure before the swap changes
// nothing; a failure after it puts back what was replaced. Used by the bot's local apply (apply.ts) and by the
// apply agent (src/agent/apply.ts), so both say the same things.
import fs from 'node:fs';
import path from 'node:path';
import type { RenderSubnet } from '../../../drivers/dhcp/types.js';
import { failureText, StepFailed, step, swapIn, type Candidate, type Swapped } from '../install.js';
import { checkerMessage, type Backend, type BackendSettings, type CheckResult, type Installed, type RenderedFile } from './types.js';

export interface PlanItem {
  backend: Backend;
  settings: BackendSettings;
  files: RenderedFile[];
}

export interface EngineOptions {
  subnets: RenderSubnet[];
  dryRun?: boolean;
  /** "N added, … since the last apply" */
  summary: string;
  /** Extra lines for the report (hosts outside every subnet…), each starting with a newline. */
  notes?: string;
  /** " (12 hosts)" after "Applied N file(s)". */
  what?: string;
  /** Asked right before the first live file is replaced; false aborts (the process lost the apply lock). */
  stillHolder?: () => Promise<boolean>;
  /** After the install: record the apply (the store). A throw puts every replaced file back. */
  record?: () => Promise<void>;
  /** Names the record step in a failure message. */
  recordStep?: { step: string; file: string };
}

export interface EngineReport {
  ok: boolean;
  text: string;
  /** Where it stopped: 'write', 'check', 'dry-run', 'lock', 'install', 'record', 'done'. */
  phase: string;
}

export async function installAll(plan: PlanItem[], o: EngineOptions): Promise<EngineReport> {
  const noteText = o.notes ?? '';
  const stamp = `.sb-new-${process.pid}-${Date.now()}`;
  const files: (Candidate & { data: string })[] = [];
  const perItem: string[][] = [];
  for (const item of plan) {
    const lives = item.backend.liveFiles(item.settings);
    perItem.push(
      lives.map((live, i) => {
        const f = { backend: item.files[i]!.target, live, tmp: path.join(path.dirname(live), `.${path.basename(live)}${stamp}`), data: item.files[i]!.text };
        files.push(f);
        return f.tmp;
      }),
    );
  }
  const count = files.length + plan.filter((p) => p.backend.install).length;
  const failures: string[] = [];
  try {
    for (const f of files) step(`write the new ${f.backend} file beside the live one`, f.live, () => fs.writeFileSync(f.tmp, f.data));
    const guarded = (p: Promise<CheckResult>) => p.catch((e: unknown) => ({ ok: false, output: `could not run the check: ${(e as Error).message ?? e}` }));
    const checks = plan.map((item, i) => [item.backend.checker, guarded(item.backend.check({ texts: item.files.map((f) => f.text), files: perItem[i]!, subnets: o.subnets }, item.settings))] as const);
    for (const [name, pr] of checks) {
      const r = await pr;
      if (!r.ok) failures.push(`${name} check failed:\n${checkerMessage(r.output)}`);
    }
    if (failures.length) return { ok: false, phase: 'check', text: `Apply aborted; no live file was changed.\n${failures.join('\n')}${noteText}` };
    if (o.dryRun) return { ok: true, phase: 'dry-run', text: `Dry run: all checks passed; ${o.summary}. Nothing written.${noteText}` };
    if (o.stillHolder && !(await o.stillHolder()))
      return { ok: false, phase: 'lock', text: 'Apply aborted: another process took over the apply lock before the files were installed; no live file was changed. Run dhcp apply again.' };
    let swapped: Swapped;
    try {
      swapped = swapIn(files);
    } catch (e) {
      if (e instanceof StepFailed) return { ok: false, phase: 'install', text: failureText(e, 0) };
      throw e;
    }
    const installed: Installed[] = [];
    const undoAll = async (): Promise<string[]> => {
      const problems: string[] = [];
      for (const i of [...installed].reverse()) {
        const p = await i.undo();
        if (p) problems.push(p);
      }
      return [...problems, ...swapped.undo()];
    };
    for (const item of plan) {
      if (!item.backend.install) continue;
      try {
        installed.push(
          await item.backend.install(
            item.files.map((f) => f.text),
            item.settings,
          ),
        );
      } catch (e) {
        const failed = Object.assign(new StepFailed(`install the new ${item.backend.name} configuration`, item.settings.socket ?? item.backend.name, (e as Error).message ?? String(e)), {
          restored: swapped.count,
          restoreProblems: await undoAll(),
        });
        return { ok: false, phase: 'install', text: failureText(failed, swapped.count) };
      }
    }
    if (o.record) {
      try {
        await o.record();
      } catch (e) {
        const where = o.recordStep ?? { step: 'record the apply', file: 'the store' };
        const failed = Object.assign(new StepFailed(where.step, where.file, (e as Error).message ?? String(e)), { restored: swapped.count, restoreProblems: await undoAll() });
        return { ok: false, phase: 'record', text: failureText(failed, swapped.count) };
      }
    }
  } catch (e) {
    if (e instanceof StepFailed) return { ok: false, phase: 'write', text: `Apply aborted at step "${e.step}" for ${e.file}: ${e.reason}\nNo live file was changed.` };
    throw e;
  } finally {
    for (const f of files) fs.rmSync(f.tmp, { force: true });
  }
  const reloads: string[] = [];
  for (const item of plan) {
    const r = await item.backend.reload(item.settings);
    if (r) reloads.push(`${item.backend.name} reload ${r.ok ? 'ok' : `FAILED: ${r.output.slice(0, 500)}`}`);
  }
  return { ok: true, phase: 'done', text: `Applied ${count} file(s)${o.what ?? ''}: ${o.summary}.${noteText}${reloads.length ? `\n${reloads.join('\n')}` : ''}` };
}
