// The new-task wizard's presets and flags preview. The real API is exercised by tests/test_web_e2e.py in Chromium;
// here the API's answers are stubbed to check what the wizard sends and shows.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type Preset } from "../api/client";
import { NewTask } from "../pages/NewTask";

function preset(id: number, over: Partial<Preset>): Preset {
  return {
    id,
    name: `p${id}`,
    description: null,
    category: "quantization",
    runtime: null,
    parameters: {},
    is_system: true,
    spec_name: null,
    created_at: "2024-01-01T00:00:00Z",
    updated_at: "2024-01-01T00:00:00Z",
    ...over,
  };
}

const PRESETS: Record<string, Preset[]> = {
  quantization: [
    preset(1, { name: "quant-kv-cache-fp8", spec_name: "kv-cache-fp8", parameters: { kvcache_dtype: "fp8" } }),
    preset(2, { name: "my-quant", is_system: false, parameters: { kvcache_dtype: ["fp8", "auto"] } }),
  ],
  parallel: [
    preset(3, {
      name: "parallel-llamacpp-single-gpu",
      category: "parallel",
      runtime: "llamacpp",
      spec_name: "single-gpu",
      parameters: { tp: 1, pp: 1, dp: 1 },
    }),
  ],
};

const ok = (data: unknown) =>
  Promise.resolve({ data, error: undefined, response: new Response(null, { status: 200 }) });

const json = (status: number, body: unknown) =>
  Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));

function stubApi() {
  vi.spyOn(api, "GET").mockImplementation(((url: string, init?: { params?: { query?: { category?: string } } }) => {
    if (url === "/api/presets/") return ok(PRESETS[init?.params?.query?.category ?? ""] ?? []);
    if (url === "/api/runtime-params/") return ok([{ name: "llamacpp", version: "b1", flags: 3 }]);
    return ok([]);
  }) as unknown as typeof api.GET);
  vi.spyOn(api, "POST").mockImplementation((() =>
    ok({ engine: "llamacpp", valid: true, problems: [] })) as unknown as typeof api.POST);
  const explained: Record<string, unknown>[] = [];
  const fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(((url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body)) as Record<string, unknown>;
    if (url.startsWith("/api/specs/explain")) {
      explained.push(body);
      const quant = body.quant_config as { presets?: string[] } | undefined;
      if (quant?.presets?.some((p) => p.startsWith("quant-")))
        return json(422, { detail: [{ loc: [], path: "quant_config.presets[0]", msg: "unknown preset" }] });
      return json(200, {
        task_name: body.task_name,
        engine: "llamacpp",
        model: "/models/smollm2.gguf",
        space_size: 2,
        shown: 2,
        experiments: [1, 2].map((n) => ({
          number: n,
          params: { parallel: n, __quant__preset: "kv-cache-fp8" },
          status: "ok",
          argv: ["llama-server", "--parallel", String(n), "--cache-type-k", "q8_0"],
          world_size: 1,
          notes: [],
        })),
      });
    }
    return json(201, { id: 9, name: body.task_name, status: "queued" });
  }) as typeof fetch);
  return { fetchSpy, explained };
}

function renderWizard() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <NewTask />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe("New task wizard", () => {
  it("sends the spec name of a ticked preset and previews the API's argv per configuration", async () => {
    const { fetchSpy, explained } = stubApi();
    renderWizard();
    fireEvent.change(screen.getByRole("textbox", { name: /task name/i }), { target: { value: "w" } });
    fireEvent.click(within(screen.getByText("Quantization").closest("section")!).getByLabelText("preset"));
    fireEvent.click(await screen.findByLabelText("Quantization preset kv-cache-fp8"));
    fireEvent.click(within(screen.getByText("Parallelism").closest("section")!).getByLabelText("preset"));
    fireEvent.click(await screen.findByLabelText("Parallelism preset single-gpu"));

    // The preview: asked (debounced) with the draft as it is, the argv shown as the API built it.
    await waitFor(() => expect(explained[explained.length - 1]?.parallel_config).toBeDefined(), { timeout: 3000 });
    const last = explained[explained.length - 1]!;
    expect(last.quant_config).toEqual({ presets: ["kv-cache-fp8"] });
    expect(last.parallel_config).toEqual({ presets: ["single-gpu"] });
    await waitFor(() => expect(screen.getAllByTestId("preview-argv")).toHaveLength(2));
    expect(screen.getAllByTestId("preview-argv")[1]).toHaveTextContent("llama-server --parallel 2");
    expect(screen.getByTestId("flags-preview-summary")).toHaveTextContent("2 of 2 configurations");

    fireEvent.click(screen.getByRole("button", { name: "Create and start" }));
    await waitFor(() =>
      expect(fetchSpy.mock.calls.some(([u]) => String(u).startsWith("/api/tasks/?start=true"))).toBe(true),
    );
    const [, init] = fetchSpy.mock.calls.find(([u]) => String(u).startsWith("/api/tasks/"))!;
    const sent = JSON.parse(String(init!.body)) as Record<string, unknown>;
    expect(sent.quant_config).toEqual({ presets: ["kv-cache-fp8"] });
    expect(sent.parallel_config).toEqual({ presets: ["single-gpu"] });
  });

  it("copies a user preset's values into the custom fields (a spec cannot name it)", async () => {
    stubApi();
    renderWizard();
    const card = screen.getByText("Quantization").closest("section")!;
    fireEvent.click(within(card).getByLabelText("preset"));
    expect(await within(card).findByLabelText("Quantization preset kv-cache-fp8")).toBeInTheDocument();
    expect(within(card).queryByLabelText("Quantization preset my-quant")).toBeNull();
    fireEvent.click(within(card).getByRole("button", { name: "use the values of my-quant" }));
    expect(within(card).getByLabelText("custom")).toBeChecked();
    expect(within(card).getByDisplayValue("fp8, auto")).toBeInTheDocument();
  });

  it("shows the spec's problems instead of a preview while the draft is invalid", async () => {
    stubApi();
    renderWizard();
    fireEvent.change(screen.getByRole("textbox", { name: /task name/i }), { target: { value: "w" } });
    await waitFor(() => expect(screen.getAllByTestId("preview-argv")).toHaveLength(2), { timeout: 3000 });
    // an imported spec that names a preset by its stored name: the API's 422 is shown in the panel
    const file = new File(
      ["task_name: w\nbase_runtime: llamacpp\nquant_config: {presets: [quant-kv-cache-fp8]}\n"],
      "t.yaml",
    );
    fireEvent.change(screen.getByTestId("import-yaml"), { target: { files: [file] } });
    expect(await screen.findByTestId("flags-preview-problems", {}, { timeout: 3000 })).toHaveTextContent(
      "quant_config.presets[0]: unknown preset",
    );
    expect(screen.queryAllByTestId("preview-argv")).toHaveLength(0);
  });
});
