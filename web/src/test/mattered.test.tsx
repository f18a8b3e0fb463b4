import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Experiment, Importance } from "../api/client";
import { ObjectiveChart, TtftTpotChart } from "../components/Charts";
import { ImportanceBars, SliceChart, WhatMattered } from "../components/WhatMattered";
import { importanceRows, sliceOf, variedParams } from "../lib/mattered";

function exp(
  number: number,
  params: Record<string, unknown>,
  value: number | null,
  status = "success",
  figures: Record<string, number> = { mean_ttft: 0.5, mean_tpot: 0.01 },
): Experiment {
  return {
    id: 100 + number,
    task_id: 1,
    number,
    trial_number: number - 1,
    params,
    status,
    objective_value: value,
    score: value === null ? null : -value,
    figures,
    runs: [],
    scoring: null,
    failure_reason: null,
    gpu_info: null,
    launch_argv: null,
    launch_command: null,
    predicted: false,
    started_at: null,
    finished_at: null,
    duration: 3,
    startup_seconds: 1,
    bench_seconds: 2,
    origin: "search",
    objective_values: [value],
    saved_seconds: null,
    pareto: false,
  };
}

afterEach(cleanup);

const EXPS = [
  exp(1, { parallel: 1, cache: "f16", threads: 2 }, 100),
  exp(2, { parallel: 4, cache: "q8_0", threads: 2 }, 300),
  exp(3, { parallel: 2, cache: "f16", threads: 2 }, 180),
  exp(4, { parallel: 8, cache: "q8_0", threads: 2 }, null, "failed"),
  exp(5, { parallel: 4, cache: "f16", threads: 2 }, 250),
];

const IMPORTANCE: Importance = {
  task_id: 1,
  objective: { name: "maximize_throughput", direction: "maximize", unit: "tokens/s/GPU" },
  evaluator: "PED-ANOVA",
  importances: { cache: 0.2, parallel: 0.8 },
  note: null,
  predicted: false,
};

describe("what mattered: data", () => {
  it("offers only parameters that varied among measured experiments", () => {
    expect(variedParams(EXPS)).toEqual(["cache", "parallel"]);
  });
  it("slices numbers as numbers and other values as ordered categories", () => {
    const num = sliceOf(EXPS, "parallel");
    expect(num.numeric).toBe(true);
    expect(num.points.map((p) => [p.x, p.y])).toEqual([
      [1, 100],
      [4, 300],
      [2, 180],
      [4, 250],
    ]);
    const cat = sliceOf(EXPS, "cache", 1000);
    expect(cat.numeric).toBe(false);
    expect(cat.labels).toEqual(["f16", "q8_0"]);
    expect(cat.points.map((p) => p.x)).toEqual([0, 1, 0, 0]);
    expect(cat.points[1]?.y).toBe(300000);
  });
  it("ranks importances in percent", () => {
    expect(importanceRows(IMPORTANCE.importances)).toEqual([
      { name: "parallel", percent: 80 },
      { name: "cache", percent: 20 },
    ]);
  });
});

describe("what mattered: charts", () => {
  it("draws one bar per parameter, the most important first", () => {
    const { container } = render(<ImportanceBars importance={IMPORTANCE} />);
    expect(screen.getByTestId("chart-importance").dataset.params).toBe("parallel,cache");
    expect(container.querySelectorAll(".recharts-bar-rectangle")).toHaveLength(2);
    expect(screen.getByText(/PED-ANOVA on the task's study, for maximize_throughput/)).toBeInTheDocument();
  });
  it("says why there is no importance", () => {
    render(
      <ImportanceBars
        importance={{ ...IMPORTANCE, importances: {}, note: "2 completed trial(s) in the study: too few" }}
      />,
    );
    expect(screen.getByText(/too few/)).toBeInTheDocument();
    expect(screen.queryByTestId("chart-importance")).toBeNull();
  });
  it("slices on the most important parameter first and switches on a pick", () => {
    const { container } = render(
      <WhatMattered importance={IMPORTANCE} experiments={EXPS} objective="maximize_throughput" />,
    );
    const chart = () => screen.getByTestId("chart-slice");
    expect(chart().dataset.param).toBe("parallel");
    expect(chart().dataset.points).toBe("4");
    expect(container.querySelectorAll(".recharts-scatter-symbol").length).toBeGreaterThanOrEqual(4);
    fireEvent.change(screen.getByLabelText("Slice parameter"), { target: { value: "cache" } });
    expect(chart().dataset.param).toBe("cache");
    expect(chart()).toHaveTextContent("q8_0"); // category ticks carry the values
  });
  it("has an empty slice when nothing varied", () => {
    render(<SliceChart experiments={[exp(1, { parallel: 1 }, 10)]} objective="maximize_throughput" />);
    expect(screen.getByText(/No parameter took more than one value/)).toBeInTheDocument();
  });
});

/** Heights of the bars of one chart, in pixels. */
function barHeights(el: HTMLElement): number[] {
  return [...el.querySelectorAll(".recharts-bar-rectangle path")].map((p) => Number(p.getAttribute("height")));
}

describe("task charts", () => {
  it("draws the objective as points and the best so far as steps", () => {
    const { container } = render(<ObjectiveChart experiments={EXPS} objective="maximize_throughput" />);
    expect(screen.getByTestId("chart-objective").dataset.points).toBe("4");
    expect(container.querySelectorAll(".recharts-scatter-symbol")).toHaveLength(4);
    const best = container.querySelector(".recharts-line-curve")?.getAttribute("d") ?? "";
    expect(best).not.toMatch(/C/); // no Bezier curve between discrete experiments
    // stepAfter: every segment is horizontal or vertical
    const pts = [...best.matchAll(/[ML]\s*([\d.]+)[ ,]([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(pts.length).toBeGreaterThan(4);
    for (let i = 1; i < pts.length; i++) {
      const [a, b] = [pts[i - 1]!, pts[i]!];
      expect(a[0] === b[0] || a[1] === b[1]).toBe(true);
    }
  });
  it("shows latency objectives in milliseconds", () => {
    render(<ObjectiveChart experiments={EXPS} objective="minimize_ttft" />);
    expect(screen.getByText("Objective over experiments: Mean TTFT (ms)")).toBeInTheDocument();
  });
  it("gives TTFT and TPOT their own axes so TPOT bars are visible", () => {
    render(<TtftTpotChart experiments={EXPS} />);
    const ttft = barHeights(screen.getByTestId("chart-ttft"));
    const tpot = barHeights(screen.getByTestId("chart-tpot"));
    expect(ttft).toHaveLength(4);
    expect(tpot).toHaveLength(4);
    // TPOT is 50x smaller than TTFT, yet its bars are as tall on their own axis
    expect(Math.min(...tpot)).toBeGreaterThan(Math.max(...ttft) / 2);
  });
});
