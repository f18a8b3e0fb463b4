// "What mattered": the data behind the importance bars and the slice view (objective vs one parameter).
import type { Experiment } from "../api/client";

/** One experiment in a slice: its parameter value on x (a category's index for non-numeric values), objective on y. */
export interface SlicePoint {
  x: number;
  y: number;
  number: number;
  value: string;
}

export interface Slice {
  /** Every value is a number: x is the value itself; else x is the index of the value in `labels`. */
  numeric: boolean;
  labels: string[];
  points: SlicePoint[];
}

function measured(experiments: Experiment[]): Experiment[] {
  return experiments.filter(
    (e) => e.status === "success" && typeof e.objective_value === "number" && Number.isFinite(e.objective_value),
  );
}

function text(v: unknown): string {
  return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
}

/** Parameters that took more than one value among the measured experiments, alphabetically. */
export function variedParams(experiments: Experiment[]): string[] {
  const seen = new Map<string, Set<string>>();
  for (const e of measured(experiments)) {
    for (const [k, v] of Object.entries(e.params ?? {})) {
      if (!seen.has(k)) seen.set(k, new Set());
      seen.get(k)!.add(text(v));
    }
  }
  return [...seen.entries()]
    .filter(([, values]) => values.size > 1)
    .map(([k]) => k)
    .sort();
}

/** Objective (times `scale`, e.g. 1000 for seconds shown in ms) against the value of `param`, one point per measured
 * experiment that set it. Numbers (and numeric strings) stay numbers; other values become ordered categories. */
export function sliceOf(experiments: Experiment[], param: string, scale = 1): Slice {
  const rows = measured(experiments)
    .filter((e) => e.params && param in e.params)
    .map((e) => ({ e, raw: e.params[param] }));
  const asNumber = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && v.trim() ? Number(v) : NaN);
  const numeric = rows.length > 0 && rows.every((r) => Number.isFinite(asNumber(r.raw)));
  const labels = numeric ? [] : [...new Set(rows.map((r) => text(r.raw)))].sort();
  const points = rows.map(({ e, raw }) => ({
    x: numeric ? asNumber(raw) : labels.indexOf(text(raw)),
    y: (e.objective_value as number) * scale,
    number: e.number,
    value: text(raw),
  }));
  return { numeric, labels, points };
}

/** Importances as bars, most important first, in percent. */
export function importanceRows(importances: Record<string, number>): { name: string; percent: number }[] {
  return Object.entries(importances)
    .filter(([, v]) => Number.isFinite(v))
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => ({ name, percent: Math.round(v * 1000) / 10 }));
}
