import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type Preset, type Task } from "../api/client";
import { objective } from "../lib/format";
import { Compare } from "../pages/Compare";
import { Presets } from "../pages/Presets";
import { Tasks } from "../pages/Tasks";

function task(id: number, name: string, over: Partial<Task> = {}): Task {
  return {
    id,
    name,
    description: null,
    status: "completed",
    engine: "llamacpp",
    deployment_mode: "local",
    spec: {},
    study_name: `autotuner-task-${id}`,
    best_experiment_id: null,
    error: null,
    created_at: "2024-01-01T00:00:00Z",
    started_at: null,
    finished_at: null,
    elapsed: 12,
    max_iterations: 4,
    experiments_total: 0,
    experiments_planned: 11, // 4 + baseline + 2 repeats x (top 2 + baseline)
    experiments_successful: 0,
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

function preset(id: number, name: string, isSystem: boolean): Preset {
  return {
    id,
    name,
    description: null,
    category: "parameters",
    runtime: null,
    parameters: { parallel: [1, 2] },
    is_system: isSystem,
    spec_name: null,
    created_at: "2024-01-01T00:00:00Z",
    updated_at: "2024-01-01T00:00:00Z",
  };
}

/** What openapi-fetch resolves to, for a spied method. */
const ok = (data: unknown) =>
  Promise.resolve({ data, error: undefined, response: new Response(null, { status: 200 }) });

function renderPage(ui: ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>{ui}</MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe("objective()", () => {
  it("formats a value with its unit, seconds in ms", () => {
    expect(objective(123.456, "tokens/s/GPU")).toBe("123.46 tokens/s/GPU");
    expect(objective(0.25, "s")).toBe("250.0 ms");
    expect(objective(null, "s")).toBe("–");
    expect(objective(3, null)).toBe("3");
  });
});

describe("Tasks page", () => {
  it("shows progress (n of planned) and the best score with its unit", async () => {
    vi.spyOn(api, "GET").mockImplementation((() =>
      ok([
        task(2, "tuned", { best_experiment_id: 7, best_objective_value: 81.5, experiments_total: 3 }),
        task(1, "fresh", { status: "pending", max_iterations: null, experiments_planned: 0 }),
      ])) as unknown as typeof api.GET);
    renderPage(<Tasks />);
    const table = await screen.findByTestId("task-table");
    const [first, second] = within(table).getAllByRole("row").slice(1);
    if (!first || !second) throw new Error("expected two task rows");
    const rows = [first, second] as const;
    expect(rows[0]).toHaveTextContent("3 of 11");
    expect(within(rows[0]).getByTestId("task-best")).toHaveTextContent("81.5 tokens/s/GPU");
    expect(rows[1]).toHaveTextContent("0 of ?");
    expect(within(rows[1]).getByTestId("task-best")).toHaveTextContent("–");
  });
});

describe("Presets page", () => {
  it("edits a user preset with PUT; system presets have no edit or delete", async () => {
    vi.spyOn(api, "GET").mockImplementation((() =>
      ok([preset(1, "sys-preset", true), preset(2, "mine", false)])) as unknown as typeof api.GET);
    const put = vi
      .spyOn(api, "PUT")
      .mockImplementation(((_url: string, init: { body: unknown }) =>
        ok({ id: 2, ...(init.body as object) })) as unknown as typeof api.PUT);
    renderPage(<Presets />);
    const sysRow = (await screen.findByText("sys-preset")).closest("tr")!;
    expect(within(sysRow).queryByRole("button")).toBeNull();
    expect(within(sysRow).getByText("system")).toBeInTheDocument();

    fireEvent.click(screen.getByRole("button", { name: "Edit mine" }));
    expect(screen.getByText("Edit preset 'mine'")).toBeInTheDocument();
    expect(screen.getByLabelText("Preset name")).toHaveValue("mine");
    expect(screen.getByLabelText("Preset parameters (JSON)")).toHaveValue('{"parallel":[1,2]}');
    fireEvent.change(screen.getByLabelText("Preset name"), { target: { value: "mine-v2" } });
    fireEvent.change(screen.getByLabelText("Preset parameters (JSON)"), { target: { value: '{"parallel": [4]}' } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));

    await waitFor(() => expect(put).toHaveBeenCalledTimes(1));
    const [url, init] = put.mock.calls[0] ?? [];
    expect(url).toBe("/api/presets/{preset_id}");
    expect(init).toMatchObject({
      params: { path: { preset_id: 2 } },
      body: { name: "mine-v2", category: "parameters", runtime: null, parameters: { parallel: [4] } },
    });
    // Back to a blank "New preset" form once saved.
    await screen.findByText("New preset");
    expect(screen.getByLabelText("Preset name")).toHaveValue("");
  });

  it("cancels an edit without saving", async () => {
    vi.spyOn(api, "GET").mockImplementation((() => ok([preset(2, "mine", false)])) as unknown as typeof api.GET);
    const put = vi.spyOn(api, "PUT");
    renderPage(<Presets />);
    fireEvent.click(await screen.findByRole("button", { name: "Edit mine" }));
    fireEvent.click(screen.getByRole("button", { name: "Cancel edit" }));
    expect(screen.getByText("New preset")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Create" })).toBeDisabled();
    expect(put).not.toHaveBeenCalled();
  });
});

describe("Compare page", () => {
  it("warns for every provenance field the tasks differ in", async () => {
    const prov = (id: number, gpu: string) => ({
      task_id: id,
      experiment_number: 3,
      provenance: { "engine.system": gpu, "engine.version": "0.24.0" },
      differs_within: [],
    });
    vi.spyOn(api, "GET").mockImplementation(((path: string, init: { params: { path: { task_id: number } } }) => {
      const id = init.params.path.task_id;
      if (path.endsWith("/provenance")) return ok(prov(id, id === 1 ? "h200_sxm" : "h100_sxm"));
      if (path.endsWith("/summary")) return ok(undefined);
      return ok(task(id, `task-${id}`));
    }) as never);
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <MemoryRouter
          initialEntries={["/compare?ids=1,2"]}
          future={{ v7_startTransition: true, v7_relativeSplatPath: true }}
        >
          <Compare />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("provenance-warning")).toBeInTheDocument());
    expect(screen.getAllByTestId("provenance-diff").map((li) => li.textContent)).toEqual([
      "engine.system: h200_sxm vs h100_sxm",
    ]);
  });
});
