// The wizard's workload picker (docs/workloads.md): synthetic traffic scenarios, or a dataset, multi-turn sessions,
// shared prefixes or a trace; mapped to and from the spec's benchmark section.

export const WORKLOAD_KINDS = ["synthetic", "dataset", "sessions", "shared_prefix", "trace"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export const FILE_FORMATS: Record<string, string[]> = {
  dataset: ["sharegpt", "jsonl"],
  sessions: ["sharegpt"],
  trace: ["azure", "mooncake", "jsonl"],
};

export interface WorkloadState {
  kind: WorkloadKind;
  path: string; // a file inside a workload folder (sessions: optional, empty = synthetic turns)
  format: string;
  sample: string;
  turns: string;
  think_time_s: string;
  speedup: string;
  groups: string;
  prefix_tokens: string;
  suffix_tokens: string;
  output_tokens: string;
}

export function defaultWorkload(): WorkloadState {
  return {
    kind: "synthetic",
    path: "",
    format: "sharegpt",
    sample: "",
    turns: "3",
    think_time_s: "0",
    speedup: "1",
    groups: "4",
    prefix_tokens: "256",
    suffix_tokens: "64",
    output_tokens: "64",
  };
}

const num = (text: string, fallback: number): number => {
  const n = Number(text);
  return text.trim() !== "" && Number.isFinite(n) ? n : fallback;
};

/** The benchmark fields the workload adds (none for synthetic). */
export function workloadSpec(w: WorkloadState): Record<string, unknown> {
  const path = w.path.trim();
  const dataset = () => ({
    path,
    format: w.format || "sharegpt",
    ...(w.sample.trim() ? { sample: num(w.sample, 1) } : {}),
  });
  switch (w.kind) {
    case "dataset":
      return { dataset: dataset() };
    case "sessions":
      return {
        ...(path ? { dataset: dataset() } : {}),
        sessions: { turns: num(w.turns, 3), think_time_s: num(w.think_time_s, 0) },
      };
    case "shared_prefix":
      return {
        shared_prefix: {
          groups: num(w.groups, 4),
          prefix_tokens: num(w.prefix_tokens, 256),
          suffix_tokens: num(w.suffix_tokens, 64),
          output_tokens: num(w.output_tokens, 64),
        },
      };
    case "trace":
      return { trace: { path, format: w.format || "azure", speedup: num(w.speedup, 1) } };
    default:
      return {};
  }
}

const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const text = (v: unknown, d: string): string => (v === undefined || v === null ? d : String(v));

/** The workload of a spec's benchmark section (from an imported YAML file). */
export function workloadFrom(bench: Record<string, unknown>): WorkloadState {
  const d = defaultWorkload();
  const ds = obj(bench.dataset);
  const se = obj(bench.sessions);
  const sp = obj(bench.shared_prefix);
  const tr = obj(bench.trace);
  const fromDataset = { path: text(ds.path, ""), format: text(ds.format, "sharegpt"), sample: text(ds.sample, "") };
  if (bench.sessions)
    return {
      ...d,
      ...fromDataset,
      kind: "sessions",
      turns: text(se.turns, d.turns),
      think_time_s: text(se.think_time_s, "0"),
    };
  if (bench.dataset) return { ...d, ...fromDataset, kind: "dataset" };
  if (bench.shared_prefix)
    return {
      ...d,
      kind: "shared_prefix",
      groups: text(sp.groups, d.groups),
      prefix_tokens: text(sp.prefix_tokens, d.prefix_tokens),
      suffix_tokens: text(sp.suffix_tokens, d.suffix_tokens),
      output_tokens: text(sp.output_tokens, d.output_tokens),
    };
  if (bench.trace)
    return {
      ...d,
      kind: "trace",
      path: text(tr.path, ""),
      format: text(tr.format, "azure"),
      speedup: text(tr.speedup, "1"),
    };
  return d;
}

/** "dataset(chat.json) · sha256 1a2b3c4d…" for a run's scenario cell; the label alone for synthetic runs. */
export function workloadLabel(run: Record<string, unknown>): string {
  const label = String(run.workload ?? run.scenario ?? "");
  const sha = typeof run.workload_sha256 === "string" ? run.workload_sha256 : "";
  return sha ? `${label} · sha256 ${sha.slice(0, 12)}…` : label;
}
