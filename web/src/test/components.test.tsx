import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, renderHook, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it } from "vitest";
import type { Experiment } from "../api/client";
import { BestConfigCard } from "../components/BestConfigCard";
import { ExperimentTable } from "../components/ExperimentTable";
import { ErrorBox } from "../components/States";
import { ApiError, toApiError } from "../api/client";
import { useTaskEvents } from "../hooks/useTaskEvents";

function exp(number: number, throughput: number, status = "success"): Experiment {
  return {
    id: 100 + number,
    task_id: 1,
    number,
    trial_number: number - 1,
    params: { parallel: number },
    status,
    objective_value: throughput,
    score: -throughput,
    figures: { total_throughput: throughput, per_gpu_throughput: throughput, mean_ttft: 0.05, mean_tpot: 0.01 },
    runs: [],
    scoring: null,
    failure_reason: null,
    gpu_info: null,
    launch_argv: ["llama-server", "--parallel", String(number)],
    launch_command: `llama-server --parallel ${number}`,
    predicted: false,
    started_at: null,
    finished_at: null,
    duration: 3,
    startup_seconds: 1,
    bench_seconds: 2,
    origin: "search",
    objective_values: [throughput],
    saved_seconds: null,
    pareto: false,
  };
}

const wrap = (ui: ReactNode) =>
  render(<MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>{ui}</MemoryRouter>);

describe("ExperimentTable", () => {
  it("shows an empty state", () => {
    wrap(<ExperimentTable experiments={[]} taskId={1} />);
    expect(screen.getByText(/No experiments yet/)).toBeInTheDocument();
  });

  it("sorts by a column and filters by parameters", () => {
    wrap(<ExperimentTable experiments={[exp(1, 50), exp(2, 80), exp(3, 20)]} bestId={102} taskId={1} />);
    const firstCells = () =>
      screen
        .getAllByRole("row")
        .slice(1)
        .map((r) => r.querySelector("td")?.textContent);
    expect(firstCells()).toEqual(["1", "2 ★", "3"]);
    fireEvent.click(screen.getByRole("button", { name: /Throughput/ }));
    expect(firstCells()).toEqual(["3", "1", "2 ★"]);
    fireEvent.click(screen.getByRole("button", { name: /Throughput/ }));
    expect(firstCells()).toEqual(["2 ★", "1", "3"]);
    fireEvent.change(screen.getByLabelText("Filter parameters"), { target: { value: "parallel=3" } });
    expect(firstCells()).toEqual(["3"]);
    expect(screen.queryByRole("button", { name: /Top-1 agree/ })).toBeNull(); // no quality probe: no columns
  });

  it("shows the quality guardrail's figures when the task probed them", () => {
    const q = (e: Experiment, top1: number, kl: number): Experiment => ({
      ...e,
      figures: { ...e.figures, quality_top1: top1, quality_kl: kl, quality_probe_seconds: 1.5 },
    });
    const failed = { ...q(exp(2, 90, "infeasible"), 0.8679, 0.5), failure_reason: "quality: KL 0.5 > 0.2" };
    wrap(<ExperimentTable experiments={[q(exp(1, 50), 1, 0), failed]} bestId={101} taskId={1} />);
    fireEvent.click(screen.getByRole("button", { name: /KL \(nats\)/ }));
    const rows = [...screen.getAllByTestId("experiment-table").at(-1)!.querySelectorAll("tbody tr")];
    expect(rows[1]).toHaveTextContent("0.868");
    expect(rows[1]).toHaveTextContent("0.5");
    expect(rows[0]).toHaveTextContent("1 ★");
  });
});

describe("BestConfigCard", () => {
  it("shows the launch command of the best experiment", () => {
    wrap(<BestConfigCard best={exp(2, 80)} objective="maximize_throughput" />);
    expect(screen.getByTestId("launch-command")).toHaveTextContent("llama-server --parallel 2");
    expect(screen.getByText("Throughput per GPU")).toBeInTheDocument();
    expect(screen.queryByTestId("best-quality")).toBeNull();
  });
  it("shows the recommendation's quality figures", () => {
    const e = exp(2, 80);
    const best = {
      ...e,
      figures: { ...e.figures, quality_top1: 0.9866, quality_kl: 0.0412, quality_probe_seconds: 2 },
    };
    wrap(<BestConfigCard best={best} objective="maximize_throughput" />);
    expect(screen.getByTestId("best-quality")).toHaveTextContent("0.987 / 0.0412 nats");
  });
  it("has an empty state", () => {
    wrap(<BestConfigCard best={undefined} objective="maximize_throughput" />);
    expect(screen.getByText(/No successful experiment yet/)).toBeInTheDocument();
  });
});

describe("API errors", () => {
  it("turns a 422 body into field problems and shows the hint", () => {
    const err = toApiError(422, {
      detail: [{ loc: ["body", "task_name"], path: "task_name", msg: "too short", type: "value_error", hint: null }],
    });
    expect(err.problems[0]?.path).toBe("task_name");
    render(<ErrorBox error={new ApiError(409, "task 7 is running", "cancel it first")} />);
    expect(screen.getByRole("alert")).toHaveTextContent("cancel it first");
  });
});

class FakeSocket {
  static last: FakeSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  closed = false;
  constructor(public url: string) {
    FakeSocket.last = this;
  }
  close() {
    this.closed = true;
  }
  emit(ev: object) {
    this.onmessage?.({ data: JSON.stringify(ev) });
  }
}

describe("useTaskEvents", () => {
  it("tracks status and the running experiment from WebSocket events", () => {
    const qc = new QueryClient();
    const wrapper = ({ children }: { children: ReactNode }) => (
      <QueryClientProvider client={qc}>{children}</QueryClientProvider>
    );
    const factory = (url: string) => new FakeSocket(url) as unknown as WebSocket;
    const { result, unmount } = renderHook(() => useTaskEvents(7, factory), { wrapper });
    const sock = FakeSocket.last!;
    expect(sock.url).toMatch(/\/api\/ws\/tasks\/7$/);
    act(() => sock.onopen?.());
    expect(result.current.connected).toBe(true);
    act(() => sock.emit({ type: "task_status", task_id: 7, status: "running", snapshot: true }));
    act(() => sock.emit({ type: "experiment_started", task_id: 7, number: 1, params: { parallel: 2 } }));
    act(() => sock.emit({ type: "run_progress", task_id: 7, number: 1, concurrency: 1, done: 2, total: 4 }));
    expect(result.current.status).toBe("running");
    expect(result.current.running).toMatchObject({ number: 1, done: 2, total: 4 });
    // a request-rate run: the server's `level` says the rate (the web used to show c=null)
    act(() =>
      sock.emit({
        type: "run_started",
        task_id: 7,
        number: 1,
        scenario: "D(16,8)",
        concurrency: null,
        request_rate: 2,
        probe: null,
        level: "rate 2 req/s",
        text: "experiment 1: run D(16,8) at rate 2 req/s",
      }),
    );
    expect(result.current.running?.phase).toBe("benchmark D(16,8) at rate 2 req/s");
    act(() => sock.emit({ type: "task_finished", task_id: 7, status: "completed", experiments: 2 }));
    expect(result.current.status).toBe("completed");
    expect(result.current.running).toBeNull();
    unmount();
    expect(sock.closed).toBe(true);
  });
});
