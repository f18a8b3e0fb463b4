import { cleanup, render, screen, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it } from "vitest";
import type { Experiment, TaskSummary } from "../api/client";
import { BestConfigCard, gainText } from "../components/BestConfigCard";
import { ThroughputLatencyChart } from "../components/Charts";
import { ExperimentTable } from "../components/ExperimentTable";
import { objectiveOf, objectivesOf } from "../lib/experiments";

function exp(number: number, over: Partial<Experiment> = {}): Experiment {
  return {
    id: 100 + number,
    task_id: 1,
    number,
    trial_number: null,
    params: { parallel: number },
    status: "success",
    objective_value: 100 + number,
    score: -(100 + number),
    figures: { total_throughput: 100 + number, mean_e2e_latency: 1 },
    runs: [],
    scoring: null,
    failure_reason: null,
    gpu_info: null,
    launch_argv: null,
    launch_command: `llama-server --parallel ${number}`,
    predicted: false,
    started_at: null,
    finished_at: null,
    duration: 3,
    startup_seconds: 1,
    bench_seconds: 2,
    origin: "search",
    objective_values: null,
    saved_seconds: null,
    pareto: false,
    ...over,
  };
}

const stats = (n: number, mean: number, half: number | null) => ({
  n,
  mean,
  std: half === null ? null : 1,
  ci_low: half === null ? null : mean - half,
  ci_high: half === null ? null : mean + half,
});

function summary(over: Partial<TaskSummary> = {}): TaskSummary {
  return {
    task_id: 1,
    name: "t",
    status: "completed",
    objectives: [{ name: "maximize_throughput", direction: "maximize", unit: "tokens/s/GPU" }],
    multi_objective: false,
    recommended: {
      params_key: "k4",
      params: { parallel: 4 },
      experiment_id: 104,
      number: 4,
      n: 3,
      experiment_ids: [104, 109, 110],
      origins: ["search", "repeat", "repeat"],
      objective: stats(3, 128, 4.97),
      score: stats(3, -128, 4.97),
      slo_met: true,
    },
    ranking: "confidence_bound",
    baseline: {
      params_key: "k1",
      params: { parallel: 1 },
      experiment_id: 101,
      number: 1,
      n: 3,
      experiment_ids: [101, 102, 103],
      origins: ["baseline", "baseline", "baseline"],
      objective: stats(3, 100, 4.97),
      score: stats(3, -100, 4.97),
      slo_met: true,
    },
    gain: { value: 0.28, ci_low: 0.2347, ci_high: 0.3253, method: "welch", pairs: 0 },
    saved_seconds: 15.5,
    experiments_by_origin: { search: 4 },
    experiments_by_status: { success: 4 },
    pareto: [],
    notes: [],
    ...over,
  };
}

afterEach(cleanup);

const wrap = (ui: ReactNode) =>
  render(<MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>{ui}</MemoryRouter>);

describe("objectives of a spec", () => {
  it("reads objectives, else objective", () => {
    expect(objectivesOf({ optimization: { objectives: ["minimize_ttft", "maximize_throughput"] } })).toEqual([
      "minimize_ttft",
      "maximize_throughput",
    ]);
    expect(objectiveOf({ optimization: { objectives: ["minimize_ttft", "maximize_throughput"] } })).toBe(
      "minimize_ttft",
    );
    expect(objectivesOf({ optimization: { objective: "minimize_latency" } })).toEqual(["minimize_latency"]);
    expect(objectivesOf(undefined)).toEqual(["maximize_throughput"]);
  });
});

describe("BestConfigCard with a summary", () => {
  it("shows mean ± CI over repeats and the gain over the baseline", () => {
    wrap(<BestConfigCard best={exp(4)} objective="maximize_throughput" summary={summary()} />);
    expect(screen.getByTestId("best-ci")).toHaveTextContent(
      "Mean over 3 measurements: 128 tok/s/GPU ± 4.97 tok/s/GPU (95% CI 123.03 tok/s/GPU to 132.97 tok/s/GPU)",
    );
    const gain = screen.getByTestId("best-gain");
    expect(gain).toHaveTextContent("+28.0% (95% CI +23.5% to +32.5%)");
    expect(within(gain).getByRole("link", { name: "#1" })).toHaveAttribute("href", "/tasks/1/experiments/101");
  });

  it("says what was not measured", () => {
    const s = summary({
      recommended: { ...summary().recommended!, n: 1, objective: stats(1, 150, null) },
      ranking: "single_measurement",
      baseline: null,
      gain: null,
      notes: ["no baseline was measured: no gain to report"],
    });
    wrap(<BestConfigCard best={exp(5)} objective="maximize_throughput" summary={s} />);
    expect(screen.queryByTestId("best-ci")).toBeNull();
    expect(screen.queryByTestId("best-gain")).toBeNull();
    expect(screen.getByText(/no baseline was measured/)).toBeInTheDocument();
  });

  it("says which better-scoring configurations the quality guardrail rejected", () => {
    const line = "experiment 2 scores higher (12.5 vs 11) but is not recommended: quality: top-1 agreement 0.88 < 0.98";
    wrap(
      <BestConfigCard
        best={exp(4)}
        objective="maximize_throughput"
        summary={summary({ quality_rejections: [line] })}
      />,
    );
    expect(screen.getByTestId("quality-rejection")).toHaveTextContent(line);
  });

  it("formats gains", () => {
    expect(gainText({ value: -0.123 })).toBe("-12.3%");
    expect(gainText({ value: 0.05, ci_low: -0.01, ci_high: 0.11 })).toBe("+5.0% (95% CI -1.0% to +11.0%)");
    expect(gainText({ value: 0.381, ci_low: 0.333, ci_high: 0.431, method: "blocked", pairs: 4, df: 6 })).toBe(
      "+38.1% (95% CI +33.3% to +43.1%), measured side by side in 4 rounds",
    );
  });
});

describe("Measurement trust (#18)", () => {
  it("states the verdict, the noise floor and a paired gain", () => {
    const s = summary({
      gain: { value: 0.28, ci_low: 0.2, ci_high: 0.36, method: "paired", pairs: 3 },
      verdict: { kind: "better", text: "better than the baseline by +28.0% (95% CI +20.0% to +36.0%)" },
      noise: { floor: 0.081, cv: 0.021, mean: 100, n: 3 },
    });
    wrap(<BestConfigCard best={exp(4)} objective="maximize_throughput" summary={s} />);
    expect(screen.getByTestId("best-verdict")).toHaveTextContent("better than the baseline by +28.0%");
    expect(screen.getByTestId("noise-floor")).toHaveTextContent(
      "Noise floor: ±8.1% at 95% (baseline measured 3 times, cv 2.1%); smaller differences are ties.",
    );
    expect(screen.getByTestId("best-gain")).toHaveTextContent("paired over 3 interleaved baseline runs");
  });

  it("says no detectable difference when it cannot tell", () => {
    const s = summary({ verdict: { kind: "no_difference", text: "no detectable difference (noise ±8.1%)" } });
    wrap(<BestConfigCard best={exp(4)} objective="maximize_throughput" summary={s} />);
    expect(screen.getByTestId("best-verdict")).toHaveTextContent("no detectable difference (noise ±8.1%)");
  });

  it("marks suspect and client-bound runs, with the reasons on hover", () => {
    const suspect = { status: "suspect", reasons: ["other processes used 1.2 cores"], attempts: 2, earlier: [] };
    const bound = { status: "suspect", client_bound: true, reasons: ["the client fell 0.4 s behind"], attempts: 1 };
    wrap(
      <ExperimentTable
        experiments={[
          exp(1, { runs: [{ audit: { status: "valid", reasons: [], attempts: 1 } }] }),
          exp(2, { runs: [{ audit: suspect }] }),
          exp(3, { runs: [{ audit: suspect }, { audit: bound }] }),
        ]}
        taskId={1}
      />,
    );
    const marks = screen.getAllByTestId("audit");
    expect(marks.map((m) => m.textContent)).toEqual(["suspect x2", "client-bound"]);
    expect(marks[0]).toHaveAttribute("title", "other processes used 1.2 cores");
    expect(marks[1]).toHaveAttribute("title", "the client fell 0.4 s behind");
  });
});

describe("ExperimentTable origins", () => {
  it("shows the origin badge, pruned status and the Pareto mark", () => {
    wrap(
      <ExperimentTable
        experiments={[
          exp(1, { origin: "baseline" }),
          exp(2, { status: "pruned" }),
          exp(3, { origin: "repeat", pareto: true }),
        ]}
        taskId={1}
      />,
    );
    expect(screen.getAllByTestId("origin").map((b) => b.textContent)).toEqual(["baseline", "search", "repeat"]);
    expect(screen.getAllByTestId("status").map((b) => b.textContent)).toContain("pruned");
    expect(screen.getByTitle("on the Pareto front")).toBeInTheDocument();
  });
});

describe("Pareto chart", () => {
  it("uses the stored Pareto flag and the first two objectives of a multi-objective task", () => {
    const exps = [
      exp(1, { objective_values: [100, 1.0], pareto: true }),
      exp(2, { objective_values: [90, 1.5] }),
      exp(3, { objective_values: [140, 1.9], pareto: true }),
      exp(4, { objective_values: [null, 0.5] }),
    ];
    wrap(<ThroughputLatencyChart experiments={exps} objectives={["maximize_throughput", "minimize_latency"]} />);
    expect(screen.getByText("Throughput per GPU vs Mean E2E latency (Pareto front marked)")).toBeInTheDocument();
    expect(screen.getByTestId("chart-pareto")).toHaveAttribute("data-front", "2");
  });

  it("keeps throughput vs latency for single-objective tasks", () => {
    wrap(<ThroughputLatencyChart experiments={[exp(1)]} objectives={["maximize_throughput"]} />);
    expect(screen.getByText("Throughput vs latency (Pareto front marked)")).toBeInTheDocument();
  });
});
