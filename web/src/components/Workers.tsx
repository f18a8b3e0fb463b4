// The workers (GET /api/workers/): host, resources, the tasks each serves and what it is measuring now.
import { Link } from "react-router-dom";
import type { components } from "../api/schema";

type Worker = components["schemas"]["WorkerPublic"];

export function Workers({ workers }: { workers: Worker[] }) {
  if (workers.length === 0) return <p className="text-sm text-slate-500">No worker is running.</p>;
  return (
    <table className="w-full text-xs" data-testid="workers">
      <thead>
        <tr className="text-left text-slate-500">
          <th className="py-0.5 pr-2">worker</th>
          <th className="pr-2">host</th>
          <th className="pr-2">state</th>
          <th className="pr-2">CPU cores</th>
          <th className="pr-2">GPUs</th>
          <th className="pr-2">tasks</th>
          <th>measuring</th>
        </tr>
      </thead>
      <tbody>
        {workers.map((w) => {
          const res = (w.resources ?? {}) as { cpus?: number[]; gpus?: number };
          return (
            <tr key={w.id} className="border-t border-slate-100" data-testid="worker-row">
              <td className="py-0.5 pr-2 font-mono">{w.id}</td>
              <td className="pr-2">{w.host ?? "–"}</td>
              <td className="pr-2">{w.state}</td>
              <td className="pr-2" title={(res.cpus ?? []).join(", ")}>
                {res.cpus ? res.cpus.length : "–"}
              </td>
              <td className="pr-2">{res.gpus ?? "–"}</td>
              <td className="pr-2">
                {[
                  ...(w.tasks ?? []).map((t) => ({ t, joined: false })),
                  ...(w.joined ?? []).map((t) => ({ t, joined: true })),
                ].map(({ t, joined }) => (
                  <Link key={`${t}-${joined}`} className="mr-1 text-blue-700 underline" to={`/tasks/${t}`}>
                    {t}
                    {joined ? " (joined)" : ""}
                  </Link>
                ))}
              </td>
              <td>{(w.running ?? []).map((e) => `${e.task_name} #${e.number}`).join(", ") || "–"}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
