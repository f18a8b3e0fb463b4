// The dashboard's experiment timeline: a lane per task (and worker, when workers share it), a bar per experiment (colour = status), newest task on top.
import { Link } from "react-router-dom";
import { type TimelineRow, layoutTimeline } from "../lib/timeline";

const BAR_COLORS: Record<string, string> = {
  success: "bg-green-500",
  running: "bg-blue-500 animate-pulse",
  failed: "bg-red-500",
  infeasible: "bg-orange-400",
  pruned: "bg-purple-400",
  skipped: "bg-slate-300",
  interrupted: "bg-amber-400",
};

function clock(t: number, seconds = false): string {
  return new Date(t).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}),
  });
}

export function Timeline({ rows, now = Date.now() }: { rows: TimelineRow[]; now?: number }) {
  const layout = layoutTimeline(rows, now);
  if (!layout) return null;
  const fine = layout.end - layout.start < 3600_000; // under an hour: the axis shows seconds
  return (
    <div className="space-y-1 text-xs" data-testid="timeline">
      {layout.lanes.map((lane) => (
        <div key={lane.key} data-testid="timeline-lane" className="flex items-center gap-2">
          <Link
            className="w-28 shrink-0 truncate text-blue-700 underline"
            to={`/tasks/${lane.taskId}`}
            title={lane.name}
          >
            {lane.name}
          </Link>
          <div className="relative h-4 flex-1 rounded bg-slate-100">
            {lane.bars.map((b) => (
              <div
                key={b.key}
                data-testid="timeline-bar"
                data-status={b.status}
                className={`absolute top-0.5 h-3 rounded-sm ${BAR_COLORS[b.status] ?? "bg-slate-400"}`}
                style={{ left: `${b.left}%`, width: `${b.width}%` }}
                title={`#${b.number} ${b.status}: ${clock(b.start, true)}–${b.running ? "now" : clock(b.end, true)} (${Math.round((b.end - b.start) / 1000)} s)`}
              />
            ))}
          </div>
        </div>
      ))}
      <div className="flex flex-wrap gap-3 pl-[7.5rem] text-slate-600" data-testid="timeline-legend">
        {[...new Set(layout.lanes.flatMap((l) => l.bars.map((b) => b.status)))].sort().map((status) => (
          <span key={status} className="flex items-center gap-1">
            <span className={`inline-block h-2 w-3 rounded-sm ${BAR_COLORS[status] ?? "bg-slate-400"}`} />
            {status}
          </span>
        ))}
      </div>
      <div className="flex justify-between pl-[7.5rem] text-slate-500">
        <span>{clock(layout.start, fine)}</span>
        <span>{clock(layout.end, fine)}</span>
      </div>
    </div>
  );
}
