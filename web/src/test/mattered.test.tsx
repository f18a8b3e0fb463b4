import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type Experiment, type Importance } from "../api/client";
import { ObjectiveChart, TtftTpotChart } from "../components/Charts";
import { ImportanceBars, ParallelChart, SliceChart, WhatMattered, WhatMatteredCard } from "../components/WhatMattered";
import { importanceRows, parallelOf, sliceOf, variedParams } from "../lib/mattered";

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

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

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

describe("what mattered: parallel coordinates", () => {
  it("puts each parameter's values in order on its axis and the objective last", () => {
    const par = parallelOf(EXPS, ["parallel", "cache"], "Throughput");
    expect(par.axes.map((a) => a.name)).toEqual(["parallel", "cache", "Throughput"]);
    expect(par.axes[0]!.labels).toEqual([
      { pos: 0, text: "1" },
      { pos: 0.5, text: "2" },
      { pos: 1, text: "4" },
    ]);
    expect(par.axes[2]!.labels.map((l) => l.text)).toEqual(["100", "300"]);
    // experiment 2: parallel 4 (top), q8_0 (top), the best throughput (top); the failed one has no line
    expect(par.rows.map((r) => r.e2)).toEqual([1, 1, 1]);
    expect(par.rows.map((r) => r.e1)).toEqual([0, 0, 0]);
    expect(par.lines.map((l) => l.number)).toEqual([1, 2, 3, 5]);
    expect(par.lines.find((l) => l.number === 2)?.rank).toBe(1);
    // a minimized objective: the lowest value ranks best
    const low = parallelOf(EXPS, ["parallel"], "TTFT", { maximize: false, scale: 1000 });
    expect(low.lines.find((l) => l.number === 1)?.rank).toBe(1);
    expect(low.axes[1]!.labels.map((l) => l.text)).toEqual(["100000", "300000"]);
  });
  it("reads another objective of a multi-objective task from objective_values", () => {
    const mo = EXPS.map((e) => ({ ...e, objective_values: [e.objective_value, e.number * 10] }));
    const par = parallelOf(mo, ["parallel"], "P90 TTFT", { index: 1, maximize: false });
    expect(par.lines.map((l) => l.value)).toEqual([10, 20, 30, 50]);
    expect(par.lines.find((l) => l.number === 1)?.rank).toBe(1);
    expect(sliceOf(mo, "parallel", 1, 1).points.map((p) => p.y)).toEqual([10, 20, 30, 50]);
  });
  it("draws one line per measured experiment across every axis, the most important parameter first", () => {
    const { container } = render(
      <ParallelChart experiments={EXPS} objective="maximize_throughput" params={["cache", "parallel"]} />,
    );
    const chart = screen.getByTestId("chart-parallel");
    expect(chart.dataset.axes).toBe("cache,parallel,Throughput per GPU (tok/s/GPU)");
    expect(chart.dataset.lines).toBe("4");
    expect(chart.dataset.best).toBe("2");
    expect(container.querySelectorAll(".recharts-line-curve")).toHaveLength(4);
    expect(chart).toHaveTextContent("q8_0"); // the axes carry their values
  });
  it("picks another objective: its importance is asked for and its values drawn", async () => {
    const get = vi.spyOn(api, "GET").mockImplementation(((_path: string, init: { params: { query?: object } }) =>
      Promise.resolve({
        data: {
          ...IMPORTANCE,
          objective: { name: "minimize_p90_ttft", direction: "minimize", unit: "s" },
          importances:
            init.params.query && "objective" in init.params.query
              ? { cache: 0.9, parallel: 0.1 }
              : IMPORTANCE.importances,
        },
        error: undefined,
        response: new Response(null, { status: 200 }),
      })) as never);
    const mo = EXPS.map((e) => ({ ...e, objective_values: [e.objective_value, e.number / 10] }));
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <WhatMatteredCard
          taskId={1}
          experiments={mo}
          objective="maximize_throughput"
          objectives={["maximize_throughput", "minimize_p90_ttft"]}
        />
      </QueryClientProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("chart-importance").dataset.params).toBe("parallel,cache"));
    fireEvent.change(screen.getByLabelText("Objective"), { target: { value: "1" } });
    await waitFor(() => expect(screen.getByTestId("chart-importance").dataset.params).toBe("cache,parallel"));
    expect(get).toHaveBeenLastCalledWith("/api/tasks/{task_id}/importance", {
      params: { path: { task_id: 1 }, query: { objective: "minimize_p90_ttft" } },
    });
    expect(screen.getByTestId("chart-slice").dataset.param).toBe("cache");
    expect(screen.getByTestId("chart-parallel").dataset.axes).toBe("cache,parallel,p90 TTFT (ms)");
    expect(screen.getByTestId("chart-parallel").dataset.best).toBe("1"); // the lowest P90 TTFT
  });
});
