import { describe, expect, it } from "vitest";
import {
  combinations,
  defaultState,
  fromSpec,
  gpusNeeded,
  parallelCombos,
  currentProblems,
  parseFlags,
  parseValues,
  plannedExperiments,
  problemsAt,
  toSpec,
} from "../lib/spec";
import { paretoFront } from "../lib/pareto";

describe("wizard spec mapping", () => {
  it("parses comma-separated values", () => {
    expect(parseValues("1, 2.5, true, f16")).toEqual([1, 2.5, true, "f16"]);
  });

  it("builds a task spec and reads it back", () => {
    const s = {
      ...defaultState(),
      task_name: "t1",
      model: "/m.gguf",
      scenarios: "D(16,8)",
      concurrency: "1",
      max_requests: "4",
      max_iterations: "2",
      slo_ttft_ms: "500",
      params: [
        { name: "parallel", values: "1, 2" },
        { name: "ctx-size", values: "4096" },
      ],
    };
    const spec = toSpec(s);
    expect(spec.parameters).toEqual({ parallel: [1, 2], "ctx-size": 4096 });
    expect(spec.benchmark).toMatchObject({
      traffic_scenarios: ["D(16,8)"],
      num_concurrency: [1],
      max_requests_per_iteration: 4,
    });
    expect(spec.slo).toEqual({ ttft: { threshold: 0.5, hard_fail: false } });
    const back = fromSpec(spec);
    expect(back.task_name).toBe("t1");
    expect(back.params).toEqual([
      { name: "parallel", values: "1, 2" },
      { name: "ctx-size", values: "4096" },
    ]);
    expect(back.slo_ttft_ms).toBe("500");
  });

  it("keeps scenarios with commas inside parentheses together", () => {
    const spec = toSpec({ ...defaultState(), scenarios: "D(16,8), D(64,32)" });
    expect((spec.benchmark as { traffic_scenarios: string[] }).traffic_scenarios).toEqual(["D(16,8)", "D(64,32)"]);
  });

  it("counts combinations and GPUs with quant and parallel configs", () => {
    const s = {
      ...defaultState(),
      params: [{ name: "threads", values: "1, 2" }],
      quant_mode: "preset" as const,
      quant_presets: ["default", "kv-cache-fp8"],
      parallel_mode: "custom" as const,
      parallel_custom: { tp: "1, 2, 4", pp: "2" },
    };
    const combos = parallelCombos(s, []);
    expect(combos).toHaveLength(3);
    expect(gpusNeeded(combos)).toBe(8);
    expect(combinations(s, combos.length)).toBe(2 * 2 * 3);
    expect(toSpec(s).parallel_config).toEqual({ tp: [1, 2, 4], pp: 2 });
    expect(toSpec(s).quant_config).toEqual({ presets: ["default", "kv-cache-fp8"] });
  });

  it("builds the baseline, repeats, multi-objective and parallel fields", () => {
    const d = defaultState();
    expect(toSpec(d).optimization).toMatchObject({
      baseline: true,
      repeat_top_k: 2,
      repeats: 2,
      warm_start: true,
      max_parallel: 1,
    });
    expect(toSpec(d).optimization).not.toHaveProperty("objectives");
    const s = {
      ...d,
      strategy: "nsga2",
      objective: "maximize_throughput",
      objective2: "minimize_ttft",
      max_iterations: "6",
      baseline: false,
      repeat_top_k: "3",
      repeats: "1",
      warm_start: false,
      max_parallel: "2",
    };
    const spec = toSpec(s);
    expect(spec.optimization).toEqual({
      strategy: "nsga2",
      objective: "maximize_throughput",
      objectives: ["maximize_throughput", "minimize_ttft"],
      max_iterations: 6,
      baseline: false,
      repeat_top_k: 3,
      repeats: 1,
      warm_start: false,
      max_parallel: 2,
    });
    const back = fromSpec(spec);
    expect(back).toMatchObject({
      strategy: "nsga2",
      objective: "maximize_throughput",
      objective2: "minimize_ttft",
      baseline: false,
      repeat_top_k: "3",
      repeats: "1",
      warm_start: false,
      max_parallel: "2",
    });
    // a YAML with the defaults left out reads as the defaults; a baseline given as flags keeps its flags
    const read = fromSpec({ optimization: { baseline: { parallel: 4, "cache-type-k": "q8_0", "no-mmap": true } } });
    expect(read).toMatchObject({
      baseline: true,
      baseline_flags: "parallel=4, cache-type-k=q8_0, no-mmap=true",
      objective2: "",
      repeats: "2",
      warm_start: true,
    });
    expect(toSpec(read).optimization).toMatchObject({
      baseline: { parallel: 4, "cache-type-k": "q8_0", "no-mmap": true },
    });
  });

  it("drops a problem once its field is edited, keeps the others", () => {
    const d = { ...defaultState(), task_name: "t", concurrency: "0" };
    const submitted = toSpec(d);
    const problems = [
      { path: "benchmark.num_concurrency[0]", msg: "must be >= 1" },
      { path: "task_name", msg: "taken" },
    ];
    expect(currentProblems(problems, submitted, toSpec(d))).toHaveLength(2);
    expect(currentProblems(problems, null, toSpec(d))).toHaveLength(2);
    const edited = toSpec({ ...d, concurrency: "1" });
    expect(currentProblems(problems, submitted, edited).map((p) => p.path)).toEqual(["task_name"]);
  });

  it("parses the baseline flags; switched off, they are not sent", () => {
    expect(parseFlags(" --parallel=4 , threads = 2, flash-attn, , =x")).toEqual({
      parallel: 4,
      threads: 2,
      "flash-attn": true,
    });
    const off = { ...defaultState(), baseline: false, baseline_flags: "parallel=4" };
    expect(toSpec(off).optimization).toMatchObject({ baseline: false });
    const blank = { ...defaultState(), baseline_flags: "  " };
    expect(toSpec(blank).optimization).toMatchObject({ baseline: true });
  });

  it("counts the baseline and repeats in the planned experiments", () => {
    const d = { ...defaultState(), max_iterations: "4" };
    // 4 search + baseline x3 (noise floor) + 2 repeats x (top 2 + baseline), as the API's experiments_planned
    expect(plannedExperiments(d, null)).toEqual({ search: 4, baseline: 3, repeats: 6, total: 13 });
    // a space of 2 combinations: 2 search, top K capped at 2
    expect(plannedExperiments(d, 2).total).toBe(2 + 3 + 2 * 3);
    expect(plannedExperiments({ ...d, baseline: false, repeats: "0" }, 2).total).toBe(2);
    expect(plannedExperiments({ ...d, deployment_mode: "predict" }, null).total).toBe(5);
  });

  it("finds field problems by path prefix", () => {
    const probs = [
      { path: "benchmark.num_concurrency[0]", msg: "x" },
      { path: "benchmark.num_concurrency_x", msg: "y" },
    ];
    expect(problemsAt(probs, "benchmark.num_concurrency").map((p) => p.msg)).toEqual(["x"]);
  });
});

describe("pareto front", () => {
  it("keeps the non-dominated points sorted by latency", () => {
    const pts = [
      { x: 10, y: 100 },
      { x: 20, y: 150 },
      { x: 30, y: 120 }, // dominated by (20, 150)
      { x: 5, y: 50 },
    ];
    expect(paretoFront(pts)).toEqual([3, 0, 1]);
  });
});
