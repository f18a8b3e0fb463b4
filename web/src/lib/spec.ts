// The new-task wizard's form state, and its mapping to/from a task spec (the same shape as a task YAML file).

import { type WorkloadState, defaultWorkload, workloadFrom, workloadSpec } from "./workload";

export type ConfigMode = "none" | "preset" | "custom";

export interface ParamRow {
  name: string;
  values: string; // comma-separated values, e.g. "1, 2, 4"
}

export interface WizardState {
  task_name: string;
  description: string;
  engine: string;
  model: string;
  deployment_mode: string;
  scenarios: string;
  workload: WorkloadState;
  concurrency: string;
  max_requests: string;
  max_time: string;
  warmup: string;
  strategy: string;
  objective: string;
  objective2: string; // optional second objective: a multi-objective search (objectives: [objective, objective2])
  max_iterations: string;
  baseline: boolean;
  baseline_flags: string; // your current config as "flag=value, flag=value"; empty: the engine's defaults
  repeat_top_k: string;
  repeats: string;
  warm_start: boolean;
  max_parallel: string;
  slo_ttft_ms: string;
  slo_tpot_ms: string;
  slo_p90_ms: string;
  slo_hard_fail: boolean;
  params: ParamRow[];
  quant_mode: ConfigMode;
  quant_presets: string[];
  quant_custom: Record<string, string>;
  parallel_mode: ConfigMode;
  parallel_presets: string[];
  parallel_custom: Record<string, string>;
}

export const QUANT_FIELDS: Record<string, string[]> = {
  gemm_dtype: ["auto", "fp16", "bf16", "fp8", "int8"],
  kvcache_dtype: ["auto", "fp16", "bf16", "fp8", "fp8_e4m3", "fp8_e5m2", "int8", "int4"],
  attention_dtype: ["auto", "fp16", "bf16", "fp8"],
  moe_dtype: ["auto", "bf16", "fp8", "int8", "int4"],
};
export const PARALLEL_FIELDS = ["tp", "pp", "dp", "ep"] as const;

export const OBJECTIVES = [
  "maximize_throughput",
  "minimize_latency",
  "minimize_ttft",
  "minimize_tpot",
  "maximize_goodput",
] as const;
export const STRATEGIES = ["grid_search", "random", "bayesian", "nsga2", "mo_tpe"] as const;
/** Strategies that need two or more objectives. */
export const MO_STRATEGIES: readonly string[] = ["nsga2", "mo_tpe"];
export const DEPLOYMENT_MODES = ["local", "docker", "kubernetes", "ome", "predict"] as const;

export function defaultState(): WizardState {
  return {
    task_name: "",
    description: "",
    engine: "llamacpp",
    model: "smollm2",
    deployment_mode: "local",
    scenarios: "D(64,32)",
    workload: defaultWorkload(),
    concurrency: "1, 4",
    max_requests: "16",
    max_time: "30",
    warmup: "2",
    strategy: "grid_search",
    objective: "maximize_throughput",
    objective2: "",
    max_iterations: "4",
    baseline: true,
    baseline_flags: "",
    repeat_top_k: "2",
    repeats: "2",
    warm_start: true,
    max_parallel: "1",
    slo_ttft_ms: "",
    slo_tpot_ms: "",
    slo_p90_ms: "",
    slo_hard_fail: false,
    params: [{ name: "parallel", values: "1, 2" }],
    quant_mode: "none",
    quant_presets: [],
    quant_custom: {},
    parallel_mode: "none",
    parallel_presets: [],
    parallel_custom: {},
  };
}

/** One comma-separated value list: numbers, booleans, or strings. */
export function parseValues(text: string): (string | number | boolean)[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      if (s === "true") return true;
      if (s === "false") return false;
      if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(s)) return Number(s);
      return s;
    });
}

/** "parallel=4, threads=2" -> {parallel: 4, threads: 2} (values typed as in parseValues); a bare flag is true. */
export function parseFlags(text: string): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const part of text.split(",")) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf("=");
    const name = (eq < 0 ? item : item.slice(0, eq)).trim().replace(/^-+/, "");
    if (!name) continue;
    const value = eq < 0 ? [true] : parseValues(item.slice(eq + 1));
    out[name] = value[0] ?? "";
  }
  return out;
}

/** The inverse of parseFlags. */
export function flagsText(flags: Record<string, unknown>): string {
  return Object.entries(flags)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");
}

function listOrScalar<T>(values: T[]): T | T[] {
  return values.length === 1 ? (values[0] as T) : values;
}

function numberOr(text: string, fallback: number): number {
  const n = Number(text);
  return text.trim() !== "" && Number.isFinite(n) ? n : fallback;
}

export function toSpec(s: WizardState): Record<string, unknown> {
  const parameters: Record<string, unknown> = {};
  for (const row of s.params) {
    if (!row.name.trim()) continue;
    const values = parseValues(row.values);
    parameters[row.name.trim().replace(/^-+/, "")] = listOrScalar(values);
  }
  const spec: Record<string, unknown> = {
    task_name: s.task_name.trim(),
    model: { id_or_path: s.model.trim() },
    base_runtime: s.engine,
    deployment_mode: s.deployment_mode,
    parameters,
    optimization: {
      strategy: s.strategy,
      objective: s.objective,
      ...(s.objective2 ? { objectives: [s.objective, s.objective2] } : {}),
      max_iterations: numberOr(s.max_iterations, 10),
      baseline: s.baseline && s.baseline_flags.trim() ? parseFlags(s.baseline_flags) : s.baseline,
      repeat_top_k: numberOr(s.repeat_top_k, 2),
      repeats: numberOr(s.repeats, 2),
      warm_start: s.warm_start,
      max_parallel: numberOr(s.max_parallel, 1),
    },
    benchmark: {
      traffic_scenarios: s.scenarios
        .split(/[;\n]|,(?![^(]*\))/)
        .map((x) => x.trim())
        .filter(Boolean),
      num_concurrency: parseValues(s.concurrency),
      max_requests_per_iteration: numberOr(s.max_requests, 50),
      max_time_per_iteration: numberOr(s.max_time, 60),
      warmup_requests: numberOr(s.warmup, 2),
      ...workloadSpec(s.workload),
    },
  };
  if (s.description.trim()) spec.description = s.description.trim();
  const slo: Record<string, unknown> = {};
  const target = (msText: string) => ({ threshold: Number(msText) / 1000, hard_fail: s.slo_hard_fail });
  if (s.slo_ttft_ms.trim()) slo.ttft = target(s.slo_ttft_ms);
  if (s.slo_tpot_ms.trim()) slo.tpot = target(s.slo_tpot_ms);
  if (s.slo_p90_ms.trim()) slo.latency = { p90: target(s.slo_p90_ms) };
  if (Object.keys(slo).length) spec.slo = slo;
  const config = (mode: ConfigMode, presets: string[], custom: Record<string, string>) => {
    if (mode === "preset" && presets.length) return { presets };
    if (mode === "custom") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(custom)) {
        const values = parseValues(v);
        if (values.length) out[k] = listOrScalar(values);
      }
      return Object.keys(out).length ? out : undefined;
    }
    return undefined;
  };
  const quant = config(s.quant_mode, s.quant_presets, s.quant_custom);
  if (quant) spec.quant_config = quant;
  const parallel = config(s.parallel_mode, s.parallel_presets, s.parallel_custom);
  if (parallel) spec.parallel_config = parallel;
  return spec;
}

const asText = (v: unknown): string => (Array.isArray(v) ? v.map(String).join(", ") : v === undefined ? "" : String(v));

/** A quant/parallel config's values ({tp: [2, 4]}, a user preset's parameters) as the custom fields' text. */
export function customValues(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, asText(v)]));
}

/** A spec (from an imported YAML file) as wizard state; fields the wizard does not show are dropped. */
export function fromSpec(spec: Record<string, unknown>): WizardState {
  const d = defaultState();
  const obj = (v: unknown): Record<string, unknown> =>
    v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const model = obj(spec.model);
  const opt = obj(spec.optimization);
  const bench = obj(spec.benchmark);
  const slo = obj(spec.slo);
  const ms = (t: unknown) => {
    const th = obj(t).threshold;
    return typeof th === "number" ? String(Math.round(th * 100000) / 100) : "";
  };
  const cfg = (c: unknown): [ConfigMode, string[], Record<string, string>] => {
    const o = obj(c);
    if (!Object.keys(o).length) return ["none", [], {}];
    const presets = o.presets ?? o.preset;
    if (presets !== undefined) return ["preset", (Array.isArray(presets) ? presets : [presets]).map(String), {}];
    return ["custom", [], customValues(o)];
  };
  const [qm, qp, qc] = cfg(spec.quant_config);
  const [pm, pp, pc] = cfg(spec.parallel_config);
  return {
    ...d,
    task_name: String(spec.task_name ?? ""),
    description: String(spec.description ?? ""),
    engine: String(spec.base_runtime ?? d.engine).replace("llama.cpp", "llamacpp"),
    model: String(model.id_or_path ?? model.name ?? ""),
    deployment_mode: String(spec.deployment_mode ?? d.deployment_mode),
    scenarios: asText(bench.traffic_scenarios ?? d.scenarios),
    workload: workloadFrom(bench),
    concurrency: asText(bench.num_concurrency ?? d.concurrency),
    max_requests: asText(bench.max_requests_per_iteration ?? d.max_requests),
    max_time: asText(bench.max_time_per_iteration ?? d.max_time),
    warmup: asText(bench.warmup_requests ?? d.warmup),
    strategy: String(opt.strategy ?? d.strategy),
    objective: String((Array.isArray(opt.objectives) ? opt.objectives[0] : undefined) ?? opt.objective ?? d.objective),
    objective2: Array.isArray(opt.objectives) && opt.objectives.length > 1 ? String(opt.objectives[1]) : "",
    max_iterations: asText(opt.max_iterations ?? d.max_iterations),
    baseline: opt.baseline !== false,
    baseline_flags: typeof opt.baseline === "object" && opt.baseline !== null ? flagsText(obj(opt.baseline)) : "",
    repeat_top_k: asText(opt.repeat_top_k ?? d.repeat_top_k),
    repeats: asText(opt.repeats ?? d.repeats),
    warm_start: opt.warm_start !== false,
    max_parallel: asText(opt.max_parallel ?? d.max_parallel),
    slo_ttft_ms: ms(slo.ttft),
    slo_tpot_ms: ms(slo.tpot),
    slo_p90_ms: ms(obj(slo.latency).p90),
    slo_hard_fail: Boolean(obj(slo.ttft).hard_fail ?? obj(slo.tpot).hard_fail ?? false),
    params: Object.entries(obj(spec.parameters)).map(([name, v]) => ({
      name,
      values: typeof v === "object" && v !== null && !Array.isArray(v) ? JSON.stringify(v) : asText(v),
    })),
    quant_mode: qm,
    quant_presets: qp,
    quant_custom: qc,
    parallel_mode: pm,
    parallel_presets: pp,
    parallel_custom: pc,
  };
}

function counts(values: Record<string, string>): number {
  return Object.values(values).reduce((n, v) => n * Math.max(1, parseValues(v).length), 1);
}

/** Parallel combinations as {tp, pp, dp, ...} objects; `presetParams`: the chosen presets' parameter dicts. */
export function parallelCombos(s: WizardState, presetParams: Record<string, unknown>[]): Record<string, number>[] {
  const expand = (cfg: Record<string, unknown>): Record<string, number>[] => {
    const keys = Object.keys(cfg);
    let combos: Record<string, number>[] = [{}];
    for (const k of keys) {
      const raw = cfg[k];
      const vals = (Array.isArray(raw) ? raw : [raw]).map(Number).filter((x) => Number.isFinite(x));
      combos = combos.flatMap((c) => (vals.length ? vals : [1]).map((v) => ({ ...c, [k]: v })));
    }
    return combos;
  };
  if (s.parallel_mode === "preset") return presetParams.flatMap(expand);
  if (s.parallel_mode === "custom")
    return expand(Object.fromEntries(Object.entries(s.parallel_custom).map(([k, v]) => [k, parseValues(v)])));
  return [{}];
}

/** GPUs one experiment needs at most: the largest world size tp x pp x dp over the parallel combinations. */
export function gpusNeeded(combos: Record<string, number>[]): number {
  return combos.reduce((m, c) => Math.max(m, (c.tp ?? 1) * (c.pp ?? 1) * (c.dp ?? 1)), 1);
}

/** Search-space size: product of every parameter's value count, quant and parallel choices (null: a range). */
export function combinations(s: WizardState, parallelCount: number): number | null {
  let n = 1;
  for (const row of s.params) {
    if (!row.name.trim()) continue;
    if (row.values.trim().startsWith("{")) return null; // a range: continuous
    n *= Math.max(1, parseValues(row.values).length);
  }
  if (s.quant_mode === "preset") n *= Math.max(1, s.quant_presets.length);
  if (s.quant_mode === "custom") n *= counts(s.quant_custom);
  n *= Math.max(1, parallelCount);
  return n;
}

export interface Planned {
  search: number;
  baseline: number;
  repeats: number;
  total: number;
}

/** Baseline measurements at the start of a task (the noise floor): optimization.noise_runs' default. */
export const NOISE_RUNS = 3;

/**
 * Experiments the task will run in all: the search (at most `combos`, the space size, when finite), the
 * baseline's noise-floor runs at the start (NOISE_RUNS; one in predict mode), and `repeats` more rounds of the
 * top K and of the baseline (none in predict mode). The API's `experiments_planned` (runner/budget.py) counts the
 * same.
 */
export function plannedExperiments(s: WizardState, combos: number | null): Planned {
  const whole = (text: string, fallback: number) => Math.max(0, Math.floor(numberOr(text, fallback)));
  const budget = whole(s.max_iterations, 10);
  const search = combos === null ? budget : Math.min(combos, budget);
  const predict = s.deployment_mode === "predict";
  const base = s.baseline ? 1 : 0;
  const baseline = base * (predict ? 1 : NOISE_RUNS);
  const times = predict ? 0 : whole(s.repeats, 2);
  const repeats = times * (Math.min(whole(s.repeat_top_k, 2), search) + base);
  return { search, baseline, repeats, total: search + baseline + repeats };
}

/** Problems whose field path starts with `prefix` (e.g. "benchmark.num_concurrency"). */
export function problemsAt<T extends { path: string }>(problems: T[], prefix: string): T[] {
  return problems.filter(
    (p) => p.path === prefix || p.path.startsWith(`${prefix}.`) || p.path.startsWith(`${prefix}[`),
  );
}

/** The value at a problem's path ("benchmark.num_concurrency[0]") in a spec; undefined where there is none. */
export function valueAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const key of path.split(/[.[\]]/).filter(Boolean)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** The problems of the spec as submitted that still apply: those whose field the user has not changed since. */
export function currentProblems<T extends { path: string }>(
  problems: T[],
  submitted: Record<string, unknown> | null,
  spec: Record<string, unknown>,
): T[] {
  if (submitted === null) return problems;
  return problems.filter((p) => JSON.stringify(valueAt(submitted, p.path)) === JSON.stringify(valueAt(spec, p.path)));
}
