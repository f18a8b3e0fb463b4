import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it } from "vitest";
import { Timeline } from "../components/Timeline";
import { layoutTimeline } from "../lib/timeline";

const T0 = Date.parse("2026-11-28T10:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

const rows = [
  // the API's order: newest first
  { id: 4, task_id: 2, task_name: "b", number: 2, status: "running", started_at: at(60), finished_at: null },
  { id: 3, task_id: 2, task_name: "b", number: 1, status: "failed", started_at: at(40), finished_at: at(50) },
  { id: 2, task_id: 1, task_name: "a", number: 2, status: "success", started_at: at(20), finished_at: at(40) },
  { id: 1, task_id: 1, task_name: "a", number: 1, status: "success", started_at: at(0), finished_at: at(20) },
  { id: 9, task_id: 1, task_name: "a", number: 3, status: "pending", started_at: null, finished_at: null },
];

describe("experiment timeline", () => {
  it("lays out one lane per task and bars on one time axis", () => {
    const layout = layoutTimeline(rows, T0 + 100_000)!;
    expect(layout.start).toBe(T0);
    expect(layout.end).toBe(T0 + 100_000); // a running experiment reaches now
    expect(layout.lanes.map((l) => l.name)).toEqual(["b", "a"]); // newest task on top
    const a = layout.lanes[1]!.bars;
    expect(a.map((b) => b.number)).toEqual([1, 2]); // oldest first, never-started ones left out
    expect(a[0]).toMatchObject({ left: 0, width: 20 });
    expect(a[1]).toMatchObject({ left: 20, width: 20 });
    const running = layout.lanes[0]!.bars[1]!;
    expect(running).toMatchObject({ running: true, left: 60, width: 40 });
    expect(layoutTimeline([], T0)).toBeNull();
    expect(layoutTimeline([rows[4]!], T0)).toBeNull();
  });

  it("gives each worker of a shared task its own lane", () => {
    const shared = [
      {
        id: 1,
        task_id: 3,
        task_name: "c",
        number: 1,
        status: "success",
        started_at: at(0),
        finished_at: at(10),
        worker: "w1",
      },
      {
        id: 2,
        task_id: 3,
        task_name: "c",
        number: 2,
        status: "success",
        started_at: at(0),
        finished_at: at(12),
        worker: "w2",
      },
      {
        id: 3,
        task_id: 3,
        task_name: "c",
        number: 3,
        status: "running",
        started_at: at(10),
        finished_at: null,
        worker: "w1",
      },
      {
        id: 4,
        task_id: 1,
        task_name: "a",
        number: 1,
        status: "success",
        started_at: at(0),
        finished_at: at(5),
        worker: "w2",
      },
    ];
    const layout = layoutTimeline(shared, T0 + 20_000)!;
    expect(layout.lanes.map((l) => l.name)).toEqual(["c · w1", "c · w2", "a"]); // one worker alone: one lane
    expect(layout.lanes[0]!.bars.map((b) => b.number)).toEqual([1, 3]);
    expect(layout.lanes[1]!.bars.map((b) => b.number)).toEqual([2]);
  });

  it("keeps an instant experiment visible", () => {
    const quick = [
      { id: 1, task_id: 1, number: 1, status: "success", started_at: at(0), finished_at: at(0) },
      { id: 2, task_id: 1, number: 2, status: "success", started_at: at(0), finished_at: at(3600) },
    ];
    const bars = layoutTimeline(quick, T0)!.lanes[0]!.bars;
    expect(bars[0]!.width).toBeGreaterThan(0);
  });

  it("renders the bars with their status and a link per task", () => {
    render(
      <MemoryRouter>
        <Timeline rows={rows} now={T0 + 100_000} />
      </MemoryRouter>,
    );
    const bars = screen.getAllByTestId("timeline-bar");
    expect(bars.map((b) => b.dataset.status)).toEqual(["failed", "running", "success", "success"]);
    expect(bars[0]!.getAttribute("title")).toContain("#1 failed");
    expect(screen.getByRole("link", { name: "a" }).getAttribute("href")).toBe("/tasks/1");
  });
});

describe("dashboard figures", () => {
  it("flattens the API's nested figures into readable keys", async () => {
    const { flatten } = await import("../pages/Dashboard");
    expect(
      flatten({ tasks: { total: 2, by_status: { completed: 1 } }, workers: [{ id: "w0" }], gpus: [], mean: 2.6002 }),
    ).toEqual([
      ["tasks.total", "2"],
      ["tasks.by_status.completed", "1"],
      ["workers[0].id", "w0"],
      ["gpus", "none"],
      ["mean", "2.60"],
    ]);
  });
});

describe("workers panel", () => {
  it("shows each worker's host, resources, tasks and what it measures", async () => {
    const { Workers } = await import("../components/Workers");
    render(
      <MemoryRouter>
        <Workers
          workers={[
            {
              id: "w1",
              kind: "redis",
              state: "busy",
              host: "node-a",
              tasks: [3],
              joined: [],
              resources: { cpus: [0, 1], gpus: 0 },
              running: [{ task_id: 3, task_name: "c", number: 2, params: {}, started_at: null }],
            },
            {
              id: "w2",
              kind: "redis",
              state: "busy",
              host: "node-b",
              tasks: [],
              joined: [3],
              resources: { cpus: [0], gpus: 8 },
              running: [],
            },
          ]}
        />
      </MemoryRouter>,
    );
    const rows = screen.getAllByTestId("worker-row");
    expect(rows).toHaveLength(2);
    expect(rows[0]!.textContent).toContain("node-a");
    expect(rows[0]!.textContent).toContain("c #2");
    expect(rows[1]!.textContent).toContain("3 (joined)");
    expect(rows[1]!.textContent).toContain("8");
  });
});
