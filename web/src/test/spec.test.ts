import { describe, expect, it } from "vitest";
import {
  combinations,
  defaultState,
  fromSpec,
  gpusNeeded,
  parallelCombos,
  parseValues,
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
