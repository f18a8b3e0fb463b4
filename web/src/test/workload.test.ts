import { describe, expect, it } from "vitest";
import { defaultState, fromSpec, toSpec } from "../lib/spec";
import { defaultWorkload, workloadLabel } from "../lib/workload";

describe("wizard workload picker", () => {
  it("synthetic adds nothing to the benchmark section", () => {
    const bench = toSpec(defaultState()).benchmark as Record<string, unknown>;
    expect(bench.dataset).toBeUndefined();
    expect(bench.trace).toBeUndefined();
    expect(fromSpec(toSpec(defaultState())).workload.kind).toBe("synthetic");
  });

  it("maps each kind to its spec fields and back", () => {
    const cases = [
      { ...defaultWorkload(), kind: "dataset" as const, path: "chat.json", sample: "20" },
      { ...defaultWorkload(), kind: "sessions" as const, path: "chat.json", turns: "2", think_time_s: "0.5" },
      { ...defaultWorkload(), kind: "sessions" as const, path: "", turns: "4" },
      { ...defaultWorkload(), kind: "shared_prefix" as const, groups: "2", prefix_tokens: "128" },
      { ...defaultWorkload(), kind: "trace" as const, path: "trace_azure.csv", format: "azure", speedup: "2" },
    ];
    const expected: Record<string, unknown>[] = [
      { dataset: { path: "chat.json", format: "sharegpt", sample: 20 } },
      { dataset: { path: "chat.json", format: "sharegpt" }, sessions: { turns: 2, think_time_s: 0.5 } },
      { sessions: { turns: 4, think_time_s: 0 } },
      { shared_prefix: { groups: 2, prefix_tokens: 128, suffix_tokens: 64, output_tokens: 64 } },
      { trace: { path: "trace_azure.csv", format: "azure", speedup: 2 } },
    ];
    cases.forEach((w, i) => {
      const spec = toSpec({ ...defaultState(), workload: w });
      expect(spec.benchmark).toMatchObject(expected[i] ?? {});
      const back = fromSpec(spec).workload;
      expect(back.kind).toBe(w.kind);
      expect(back.path).toBe(w.path);
    });
  });

  it("labels a run with its workload and the file's hash", () => {
    expect(workloadLabel({ scenario: "D(64,32)" })).toBe("D(64,32)");
    const sha = "a".repeat(64);
    expect(
      workloadLabel({ scenario: "dataset(chat.json)", workload: "dataset(chat.json)", workload_sha256: sha }),
    ).toBe(`dataset(chat.json) · sha256 ${"a".repeat(12)}…`);
  });
});
