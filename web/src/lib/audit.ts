// A run's audit (bench/audit.py RunAudit) as the tables show it: the worst mark over an experiment's runs, the
// same rule as the CLI's audit_mark (cli_render.py), with every suspect run's reasons for the hover text.
import type { Experiment } from "../api/client";

type Audit = { status?: string; client_bound?: boolean; attempts?: number; reasons?: string[]; earlier?: string[] };

export type AuditMark = { mark: string; reasons: string[] };

function markOf(a: Audit): string {
  let mark = a.client_bound ? "client-bound" : a.status === "suspect" ? "suspect" : "";
  if ((a.attempts ?? 1) > 1) mark = `${mark} x${a.attempts}`.trim();
  return mark;
}

function rank(mark: string): number {
  return (mark.includes("client-bound") ? 4 : 0) + (mark.includes("suspect") ? 2 : 0) + (mark ? 1 : 0);
}

/** The worst audit mark of an experiment's runs, with why; null when every run was valid or none was audited. */
export function auditOf(e: Pick<Experiment, "runs">): AuditMark | null {
  let worst: AuditMark | null = null;
  for (const run of e.runs ?? []) {
    const a = (run as { audit?: Audit | null }).audit;
    if (!a) continue;
    const mark = markOf(a);
    if (!mark) continue;
    const reasons = [...(a.reasons ?? []), ...(a.earlier ?? []).map((r) => `measured again: ${r}`)];
    if (!worst || rank(mark) > rank(worst.mark)) worst = { mark, reasons };
  }
  return worst;
}
