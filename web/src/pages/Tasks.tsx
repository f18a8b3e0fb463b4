import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import type { Task } from "../api/client";
import { useCan } from "../api/auth";
import { type TaskAction, useTaskAction, useTasks } from "../api/hooks";
import { Button, Card, Empty, ErrorBox, Loading, StatusBadge } from "../components/States";
import { objective, secs, when } from "../lib/format";

const ACTIVE = new Set(["queued", "running"]);

export function TaskActions({ task, onDeleted }: { task: Task; onDeleted?: () => void }) {
  const action = useTaskAction();
  const allowed = useCan();
  if (!allowed.change(task.owner_id)) return null; // a viewer, or another operator's task
  const run = (a: TaskAction) => {
    if (a === "delete" && !window.confirm(`Delete task '${task.name}' with its experiments and logs?`)) return;
    action.mutate({ id: task.id, action: a }, { onSuccess: () => a === "delete" && onDeleted?.() });
  };
  const active = ACTIVE.has(task.status);
  return (
    <div className="flex flex-wrap items-center gap-1">
      {!active && task.status !== "completed" && (
        <Button kind="primary" onClick={() => run("start")} disabled={action.isPending}>
          {task.status === "pending" ? "Start" : "Resume"}
        </Button>
      )}
      {active && (
        <Button kind="danger" onClick={() => run("cancel")} disabled={action.isPending}>
          Cancel
        </Button>
      )}
      {task.status === "completed" && (
        <Button onClick={() => run("restart")} disabled={action.isPending}>
          Restart
        </Button>
      )}
      {!active && (
        <Button kind="danger" onClick={() => run("delete")} disabled={action.isPending}>
          Delete
        </Button>
      )}
      {action.error && <span className="text-xs text-red-700">{action.error.message}</span>}
    </div>
  );
}

export function Tasks() {
  const tasks = useTasks();
  const navigate = useNavigate();
  const [picked, setPicked] = useState<number[]>([]);
  const allowed = useCan();
  const toggle = (id: number) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]));
  return (
    <Card
      title="Tasks"
      actions={
        <div className="flex items-center gap-2">
          <Button onClick={() => navigate(`/compare?ids=${picked.join(",")}`)} disabled={picked.length < 2}>
            Compare{picked.length ? ` (${picked.length})` : ""}
          </Button>
          {allowed.write && (
            <Link to="/tasks/new" className="rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white">
              New task
            </Link>
          )}
        </div>
      }
    >
      {tasks.isPending ? (
        <Loading what="Loading tasks" />
      ) : tasks.isError ? (
        <ErrorBox error={tasks.error} retry={() => void tasks.refetch()} />
      ) : tasks.data.length === 0 ? (
        <Empty>
          No tasks yet.{" "}
          <Link className="text-blue-700 underline" to="/tasks/new">
            Create one
          </Link>
          .
        </Empty>
      ) : (
        <table className="w-full text-left text-sm" data-testid="task-table">
          <thead className="border-b border-slate-200 text-xs text-slate-500">
            <tr>
              <th className="px-2 py-1" aria-label="pick to compare" />
              <th className="px-2 py-1">Name</th>
              <th className="px-2 py-1">Engine</th>
              <th className="px-2 py-1">Mode</th>
              <th className="px-2 py-1">Status</th>
              <th className="px-2 py-1">Progress</th>
              <th className="px-2 py-1">Best</th>
              <th className="px-2 py-1">Elapsed</th>
              <th className="px-2 py-1">Created</th>
              <th className="px-2 py-1">Actions</th>
            </tr>
          </thead>
          <tbody>
            {tasks.data.map((t) => (
              <tr key={t.id} className="border-b border-slate-100">
                <td className="px-2 py-1">
                  <input
                    type="checkbox"
                    aria-label={`compare ${t.name}`}
                    checked={picked.includes(t.id)}
                    onChange={() => toggle(t.id)}
                  />
                </td>
                <td className="px-2 py-1">
                  <Link className="text-blue-700 underline" to={`/tasks/${t.id}`}>
                    {t.name}
                  </Link>
                </td>
                <td className="px-2 py-1">{t.engine}</td>
                <td className="px-2 py-1">{t.deployment_mode}</td>
                <td className="px-2 py-1">
                  <StatusBadge status={t.status} />
                </td>
                <td className="px-2 py-1">
                  {t.experiments_total} of {t.experiments_planned || "?"} ({t.experiments_successful} ok)
                </td>
                <td className="px-2 py-1 tabular-nums" data-testid="task-best">
                  {objective(t.best_objective_value, t.objective_unit)}
                </td>
                <td className="px-2 py-1">{secs(t.elapsed)}</td>
                <td className="px-2 py-1">{when(t.created_at)}</td>
                <td className="px-2 py-1">
                  <TaskActions task={t} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
