// Layout of the dashboard's experiment timeline: one lane per task (per task and worker when several workers share
// a task, docs/distributed.md), one bar per experiment from start to end.

export interface TimelineRow {
  id?: number;
  task_id?: number;
  task_name?: string | null;
  number?: number;
  status?: string;
  started_at?: string | null;
  finished_at?: string | null;
  worker?: string | null;
  host?: string | null;
}

export interface Bar {
  key: string;
  number: number;
  status: string;
  left: number; // % of the window
  width: number; // % of the window (at least a sliver, so short experiments stay visible)
  start: number; // ms since epoch
  end: number;
  running: boolean;
}

export interface Lane {
  key: string;
  taskId: number;
  name: string;
  worker: string | null; // the worker that measured the lane's experiments (null: in-process, no worker recorded)
  bars: Bar[];
}

export interface TimelineLayout {
  start: number;
  end: number;
  lanes: Lane[];
}

const MIN_WIDTH = 0.4;

function parse(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isFinite(t) ? t : null;
}

/** Lanes (newest task first) and bars positioned in [first start, now or last end]. */
export function layoutTimeline(rows: TimelineRow[], now: number): TimelineLayout | null {
  const spans = rows
    .map((r) => {
      const start = parse(r.started_at);
      if (start === null) return null;
      const finished = parse(r.finished_at);
      return { r, start, end: finished ?? Math.max(now, start), running: finished === null };
    })
    .filter((x): x is NonNullable<typeof x> => x !== null);
  if (!spans.length) return null;
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(start + 1000, ...spans.map((s) => s.end));
  const total = end - start;
  const lanes = new Map<string, Lane>();
  const workersOf = new Map<number, Set<string>>();
  for (const s of spans) {
    const set = workersOf.get(s.r.task_id ?? -1) ?? new Set<string>();
    set.add(s.r.worker ?? "");
    workersOf.set(s.r.task_id ?? -1, set);
  }
  for (const s of spans.sort((a, b) => a.start - b.start)) {
    const taskId = s.r.task_id ?? -1;
    const shared = (workersOf.get(taskId)?.size ?? 0) > 1; // several workers: a lane each
    const worker = shared ? (s.r.worker ?? null) : null;
    const key = `${taskId}|${worker ?? ""}`;
    let lane = lanes.get(key);
    if (!lane) {
      const name = s.r.task_name ?? `task ${taskId}`;
      lane = { key, taskId, name: worker ? `${name} · ${worker}` : name, worker, bars: [] };
      lanes.set(key, lane);
    }
    const left = ((s.start - start) / total) * 100;
    lane.bars.push({
      key: String(s.r.id ?? `${taskId}-${s.r.number}`),
      number: s.r.number ?? 0,
      status: s.r.status ?? "",
      left,
      width: Math.min(100 - left, Math.max(MIN_WIDTH, ((s.end - s.start) / total) * 100)),
      start: s.start,
      end: s.end,
      running: s.running,
    });
  }
  const ordered = [...lanes.values()].sort(
    (a, b) => b.taskId - a.taskId || (a.worker ?? "").localeCompare(b.worker ?? ""),
  );
  return { start, end, lanes: ordered };
}
