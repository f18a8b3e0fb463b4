// The task comparison: one column per task, one row per fact, and which task wins the recommended objective.
import type { Task, TaskSummary } from "../api/client";
import { gainText } from "../components/BestConfigCard";
import { objectiveOf } from "./experiments";
import { objective, paramsText, secs } from "./format";

export interface CompareRow {
  label: string;
  values: string[];
  best?: number; // index of the winning column (recommended objective; only when every task has the same one)
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** "H100 x 8", or "CPU" when the spec names no GPU. */
function hardware(spec: Record<string, unknown>): string {
  const hw = obj(spec.hardware);
  if (!hw.gpu && !hw.gpu_count) return "CPU";
  return `${String(hw.gpu ?? "GPU")} x ${String(hw.gpu_count ?? "?")}`;
}

function meanText(s: TaskSummary | undefined, unit: string | undefined, which: "recommended" | "baseline"): string {
  const c = s?.[which];
  const m = c?.objective;
  if (!c || !m) return "–";
  const half = m.ci_high != null ? ` ± ${objective(m.ci_high - m.mean, unit)}` : "";
  return `${objective(m.mean, unit)}${half} (n=${c.n})`;
}

export function compareRows(tasks: Task[], summaries: (TaskSummary | undefined)[]): CompareRow[] {
  const specs = tasks.map((t) => obj(t.spec));
  const units = tasks.map((t) => t.objective_unit ?? undefined);
  const objectives = specs.map((s) => objectiveOf(s));
  const rows: CompareRow[] = [
    { label: "Status", values: tasks.map((t) => t.status) },
    { label: "Engine", values: tasks.map((t) => `${t.engine} (${t.deployment_mode})`) },
    { label: "Model", values: specs.map((s) => String(obj(s.model).id_or_path ?? obj(s.model).name ?? "–")) },
    { label: "Hardware", values: specs.map(hardware) },
    { label: "Strategy", values: specs.map((s) => String(obj(s.optimization).strategy ?? "–")) },
    { label: "Objective", values: objectives },
    { label: "Experiments", values: tasks.map((t) => `${t.experiments_total} of ${t.experiments_planned}`) },
    { label: "Time", values: tasks.map((t) => secs(t.elapsed)) },
    { label: "Saved by early stopping", values: summaries.map((s) => (s ? secs(s.saved_seconds) : "–")) },
    {
      label: "Recommended",
      values: summaries.map((s) =>
        s?.recommended ? `#${s.recommended.number} ${paramsText(s.recommended.params)}` : "–",
      ),
    },
    { label: "Recommended objective", values: summaries.map((s, i) => meanText(s, units[i], "recommended")) },
    { label: "Baseline objective", values: summaries.map((s, i) => meanText(s, units[i], "baseline")) },
    { label: "Gain over the baseline", values: summaries.map((s) => (s?.gain ? gainText(s.gain) : "–")) },
  ];
  // the winner: only comparable when every task optimises the same objective
  const same = objectives.every((o) => o === objectives[0]);
  const means = summaries.map((s) => s?.recommended?.objective?.mean);
  const direction = summaries.find((s) => s?.objectives?.length)?.objectives[0]?.direction;
  if (same && direction && means.filter((m) => m != null).length >= 2) {
    let best = -1;
    means.forEach((m, i) => {
      if (m == null) return;
      const cur = best < 0 ? undefined : means[best];
      if (cur == null || (direction === "maximize" ? m > cur : m < cur)) best = i;
    });
    rows.find((r) => r.label === "Recommended objective")!.best = best;
  }
  return rows;
}

/** Task ids from "?ids=1,2,3" (positive integers, each once, in order). */
export function parseIds(text: string | null): number[] {
  const ids = (text ?? "")
    .split(",")
    .map((x) => Number(x.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  return [...new Set(ids)];
}

/** One task's provenance as GET /api/tasks/{id}/provenance gives it (flat dotted fields, per-experiment ones left out). */
export interface ProvenanceOf {
  name: string;
  provenance: Record<string, unknown> | null | undefined;
}

export interface ProvenanceDiff {
  field: string;
  values: string[];
}

/** The fields whose value differs between the tasks that have provenance (as `autotuner compare` warns), and the
 * tasks without any (measured before it was kept). */
export function provenanceDiffs(sides: ProvenanceOf[]): { diffs: ProvenanceDiff[]; missing: string[] } {
  const have = sides.filter((s) => s.provenance);
  const missing = sides.filter((s) => !s.provenance).map((s) => s.name);
  if (have.length < 2) return { diffs: [], missing };
  const fields = [...new Set(have.flatMap((s) => Object.keys(s.provenance!)))].sort();
  const show = (v: unknown) => (v === undefined || v === null ? "–" : typeof v === "string" ? v : JSON.stringify(v));
  const diffs = fields
    .map((field) => ({ field, values: have.map((s) => show(s.provenance![field])) }))
    .filter((d) => new Set(d.values).size > 1);
  return { diffs, missing };
}
