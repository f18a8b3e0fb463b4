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

/** Objective number `index` of an experiment (0: the primary one, objective_value), null when not measured. */
export function objectiveValue(e: Experiment, index = 0): number | null {
  const v = index === 0 ? e.objective_value : e.objective_values?.[index];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function measured(experiments: Experiment[], index = 0): Experiment[] {
  return experiments.filter((e) => e.status === "success" && objectiveValue(e, index) !== null);
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
export function sliceOf(experiments: Experiment[], param: string, scale = 1, index = 0): Slice {
  const rows = measured(experiments, index)
    .filter((e) => e.params && param in e.params)
    .map((e) => ({ e, raw: e.params[param] }));
  const asNumber = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && v.trim() ? Number(v) : NaN);
  const numeric = rows.length > 0 && rows.every((r) => Number.isFinite(asNumber(r.raw)));
  const labels = numeric ? [] : [...new Set(rows.map((r) => text(r.raw)))].sort();
  const points = rows.map(({ e, raw }) => ({
    x: numeric ? asNumber(raw) : labels.indexOf(text(raw)),
    y: (objectiveValue(e, index) as number) * scale,
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

/** A value shown on an axis: 4 significant digits, no trailing zeros. */
function short(v: number): string {
  return String(Number(v.toPrecision(4)));
}

function ordered(values: unknown[]): string[] {
  const texts = [...new Set(values.map(text))];
  const nums = texts.map(Number);
  return nums.every((n) => Number.isFinite(n))
    ? texts.sort((a, b) => Number(a) - Number(b))
    : texts.sort((a, b) => a.localeCompare(b));
}

export interface ParallelAxis {
  name: string;
  /** Where each labelled value sits on the 0..1 axis. */
  labels: { pos: number; text: string }[];
}

export interface ParallelLine {
  key: string;
  number: number;
  value: number;
  /** 1 for the best measured experiment, 0 for the worst (by the objective's direction). */
  rank: number;
}

export interface Parallel {
  axes: ParallelAxis[];
  /** One row per axis (Recharts' data): the axis name and each experiment's position on it, 0..1. */
  rows: Record<string, number | string>[];
  lines: ParallelLine[];
}

/** Parallel coordinates: one axis per parameter (its values in order, evenly spaced) and a last one for the objective
 * (linear between its lowest and highest value, times `scale`); one line per measured experiment. */
export function parallelOf(
  experiments: Experiment[],
  params: string[],
  objectiveName: string,
  { index = 0, scale = 1, maximize = true }: { index?: number; scale?: number; maximize?: boolean } = {},
): Parallel {
  const exps = measured(experiments, index);
  const values = exps.map((e) => (objectiveValue(e, index) as number) * scale);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const at = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const axes: ParallelAxis[] = [];
  const rows: Record<string, number | string>[] = [];
  for (const p of params) {
    const order = ordered(exps.filter((e) => e.params && p in e.params).map((e) => e.params[p]));
    const pos = (t: string) => (order.length > 1 ? order.indexOf(t) / (order.length - 1) : 0.5);
    const shown = order.length <= 8 ? order : [order[0]!, order[order.length - 1]!];
    axes.push({ name: p, labels: shown.map((t) => ({ pos: pos(t), text: t })) });
    const row: Record<string, number | string> = { axis: p };
    for (const e of exps) if (e.params && p in e.params) row[`e${e.number}`] = pos(text(e.params[p]));
    rows.push(row);
  }
  const objRow: Record<string, number | string> = { axis: objectiveName };
  exps.forEach((e, i) => (objRow[`e${e.number}`] = at(values[i]!)));
  rows.push(objRow);
  axes.push({
    name: objectiveName,
    labels: exps.length ? [...new Set([lo, hi])].map((v) => ({ pos: at(v), text: short(v) })) : [],
  });
  const lines = exps.map((e, i) => {
    const r = at(values[i]!);
    return { key: `e${e.number}`, number: e.number, value: values[i]!, rank: hi > lo ? (maximize ? r : 1 - r) : 1 };
  });
  return { axes, rows, lines };
}
