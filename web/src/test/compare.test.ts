import { describe, expect, it } from "vitest";
import type { Task, TaskSummary } from "../api/client";
import { compareRows, parseIds, provenanceDiffs } from "../lib/compare";

function task(id: number, over: Partial<Task> = {}): Task {
  return {
    id,
    name: `t${id}`,
    description: null,
    status: "completed",
    engine: "vllm",
    deployment_mode: "docker",
    spec: {
      model: { id_or_path: "Qwen/Qwen3-8B" },
      hardware: { gpu: "H100", gpu_count: 8 },
      optimization: { strategy: "bayesian", objective: "maximize_throughput" },
    },
    study_name: `s${id}`,
    best_experiment_id: null,
    error: null,
    created_at: "2026-01-01T00:00:00Z",
    started_at: null,
    finished_at: null,
    elapsed: 90,
    max_iterations: 10,
    experiments_total: 13,
    experiments_planned: 15,
    experiments_successful: 12,
    best_objective_value: null,
    objective_unit: "tokens/s/GPU",
    experiments_finished: 0,
    objective: "maximize_throughput",
    objectives: ["maximize_throughput"],
    direction: "maximize",
    predicted: false,
    ...over,
  };
}

const stats = (n: number, mean: number, half: number) => ({
  n,
  mean,
  std: 1,
  ci_low: mean - half,
  ci_high: mean + half,
});

function summary(id: number, mean: number, over: Partial<TaskSummary> = {}): TaskSummary {
  const cfg = (n: number, m: number) => ({
    params_key: `k${n}`,
    params: { "max-num-seqs": n },
    experiment_id: 100 + n,
    number: n,
    n: 3,
    experiment_ids: [],
    origins: [],
    objective: stats(3, m, 2),
    score: stats(3, -m, 2),
    slo_met: true,
  });
  return {
    task_id: id,
    name: `t${id}`,
    status: "completed",
    objectives: [{ name: "maximize_throughput", direction: "maximize", unit: "tokens/s/GPU" }],
    multi_objective: false,
    recommended: cfg(4, mean),
    ranking: "confidence_bound",
    baseline: cfg(1, 100),
    gain: { value: (mean - 100) / 100, ci_low: null, ci_high: null, method: "welch", pairs: 0 },
    saved_seconds: 12,
    experiments_by_origin: {},
    experiments_by_status: {},
    pareto: [],
    notes: [],
    ...over,
  };
}

const row = (rows: ReturnType<typeof compareRows>, label: string) => rows.find((r) => r.label === label)!;

describe("task comparison", () => {
  it("puts the tasks side by side and marks the best recommendation", () => {
    const rows = compareRows([task(1), task(2, { engine: "sglang" })], [summary(1, 120), summary(2, 150)]);
    expect(row(rows, "Engine").values).toEqual(["vllm (docker)", "sglang (docker)"]);
    expect(row(rows, "Hardware").values).toEqual(["H100 x 8", "H100 x 8"]);
    expect(row(rows, "Recommended").values[0]).toBe("#4 max-num-seqs=4");
    expect(row(rows, "Recommended objective").values[1]).toContain("(n=3)");
    expect(row(rows, "Recommended objective").best).toBe(1);
    expect(row(rows, "Gain over the baseline").values).toEqual(["+20.0%", "+50.0%"]);
  });

  it("names no winner across different objectives, and minimises where the objective does", () => {
    const ttft = task(2, { spec: { optimization: { objective: "minimize_ttft" } }, objective_unit: "s" });
    expect(row(compareRows([task(1), ttft], [summary(1, 120), summary(2, 0.5)]), "Recommended objective").best).toBe(
      undefined,
    );
    const min = (id: number, m: number) =>
      summary(id, m, { objectives: [{ name: "minimize_ttft", direction: "minimize", unit: "s" }] });
    const both = [ttft, { ...ttft, id: 3 }];
    expect(row(compareRows(both, [min(2, 0.5), min(3, 0.4)]), "Recommended objective").best).toBe(1);
    // a task without a recommendation yet shows dashes and cannot win
    const rows = compareRows([task(1), task(2, { status: "running" })], [summary(1, 120), undefined]);
    expect(row(rows, "Recommended").values[1]).toBe("–");
    expect(row(rows, "Recommended objective").best).toBe(undefined);
  });

  it("reads the ids of the URL", () => {
    expect(parseIds("3, 1,x,3,-2,0,2.5")).toEqual([3, 1]);
    expect(parseIds(null)).toEqual([]);
  });
});

describe("provenanceDiffs", () => {
  const h200 = { "engine.system": "h200_sxm", "engine.version": "0.24.0", "host.cpu_count": 16, workload_hash: "ab" };
  it("names every field the tasks' setups differ in, with each task's value", () => {
    const out = provenanceDiffs([
      { name: "a", provenance: h200 },
      { name: "b", provenance: { ...h200, "engine.system": "h100_sxm", "host.cpu_count": 32 } },
    ]);
    expect(out.diffs).toEqual([
      { field: "engine.system", values: ["h200_sxm", "h100_sxm"] },
      { field: "host.cpu_count", values: ["16", "32"] },
    ]);
    expect(out.missing).toEqual([]);
  });
  it("says nothing differs for the same setup, and which tasks have no provenance", () => {
    expect(
      provenanceDiffs([
        { name: "a", provenance: h200 },
        { name: "b", provenance: { ...h200 } },
      ]).diffs,
    ).toEqual([]);
    const old = provenanceDiffs([
      { name: "a", provenance: h200 },
      { name: "old", provenance: null },
    ]);
    expect(old).toEqual({ diffs: [], missing: ["old"] });
  });
  it("counts a field only one side has as a difference", () => {
    const out = provenanceDiffs([
      { name: "a", provenance: h200 },
      { name: "b", provenance: { ...h200, "tools.genai-bench": "0.1" } },
    ]);
    expect(out.diffs).toEqual([{ field: "tools.genai-bench", values: ["–", "0.1"] }]);
  });
});
