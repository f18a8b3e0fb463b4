// Layout of the dashboard's experiment timeline: one lane per task, one bar per experiment from start to end.

export interface TimelineRow {
  id?: number;
  task_id?: number;
  task_name?: string | null;
  number?: number;
  status?: string;
  started_at?: string | null;
  finished_at?: string | null;
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
  taskId: number;
  name: string;
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
  const lanes = new Map<number, Lane>();
  for (const s of spans.sort((a, b) => a.start - b.start)) {
    const taskId = s.r.task_id ?? -1;
    let lane = lanes.get(taskId);
    if (!lane) {
      lane = { taskId, name: s.r.task_name ?? `task ${taskId}`, bars: [] };
      lanes.set(taskId, lane);
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
  const ordered = [...lanes.values()].sort((a, b) => b.taskId - a.taskId);
  return { start, end, lanes: ordered };
}
