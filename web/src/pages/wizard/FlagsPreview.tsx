// Live preview of what the draft launches: each configuration's engine argv, as the API's own mapping builds it
// (POST /api/specs/explain, the CLI's `autotuner explain`). Nothing here maps a parameter to a flag.
import { ApiError, type Explained } from "../../api/client";
import { useExplain } from "../../api/hooks";
import { Card } from "../../components/States";

const LIMIT = 20;

/** A parameter name as the preview shows it: __quant__preset -> quant.preset, __parallel__tp -> parallel.tp. */
function paramLabel(name: string): string {
  return name.replace(/^__quant__/, "quant.").replace(/^__parallel__/, "parallel.");
}

function paramsText(params: Record<string, unknown>): string {
  const parts = Object.entries(params).map(([k, v]) => `${paramLabel(k)}=${JSON.stringify(v)}`);
  return parts.length ? parts.join(", ") : "(engine defaults)";
}

function Summary({ data }: { data: Explained }) {
  const total = data.space_size;
  const of = total === null || total === undefined ? " (a continuous space: seeded draws)" : ` of ${total}`;
  return (
    <p className="text-xs text-slate-500" data-testid="flags-preview-summary">
      {data.engine} · {data.shown}
      {of} configuration{data.shown === 1 ? "" : "s"} · model {data.model}
    </p>
  );
}

export function FlagsPreview({ spec }: { spec: Record<string, unknown> }) {
  // A draft without a name still has flags to show: the name only matters when the task is created.
  const draft = { ...spec, task_name: spec.task_name || "preview" };
  const q = useExplain(draft, LIMIT);
  const problems = q.error instanceof ApiError ? q.error.problems : [];
  return (
    <Card
      title="Engine flags per configuration"
      actions={
        <span className="text-xs text-slate-500">
          {q.isFetching ? "updating…" : "as the runner launches them (autotuner explain)"}
        </span>
      }
    >
      <div data-testid="flags-preview" aria-busy={q.isFetching}>
        {q.isError && (
          <div className="mb-2 rounded border border-amber-200 bg-amber-50 p-2 text-xs text-amber-900" role="status">
            <div className="font-medium">No preview until the draft is valid:</div>
            {problems.length ? (
              <ul className="mt-1 list-disc pl-4" data-testid="flags-preview-problems">
                {problems.slice(0, 5).map((p) => (
                  <li key={`${p.path}:${p.msg}`}>
                    {p.path ? `${p.path}: ` : ""}
                    {p.msg}
                    {p.hint ? ` (${p.hint})` : ""}
                  </li>
                ))}
              </ul>
            ) : (
              <div>{q.error instanceof Error ? q.error.message : String(q.error)}</div>
            )}
          </div>
        )}
        {!q.data && q.isPending && <p className="text-xs text-slate-500">Computing the flags…</p>}
        {q.data && !q.isError && (
          <>
            <Summary data={q.data} />
            <div className="mt-2 max-h-96 overflow-auto">
              <table className="w-full text-left text-xs">
                <thead className="text-slate-500">
                  <tr>
                    <th className="px-2 py-1">#</th>
                    <th className="px-2 py-1">configuration</th>
                    <th className="px-2 py-1">GPUs</th>
                    <th className="px-2 py-1">argv</th>
                  </tr>
                </thead>
                <tbody>
                  {q.data.experiments.map((e) => (
                    <tr key={e.number} className="border-t border-slate-100 align-top" data-testid="preview-config">
                      <td className="px-2 py-1">{e.number}</td>
                      <td className="px-2 py-1 font-mono">
                        {e.origin === "baseline" && <span className="mr-1 font-sans text-slate-500">baseline:</span>}
                        {paramsText(e.params)}
                      </td>
                      <td className="px-2 py-1">{e.world_size ?? "–"}</td>
                      <td className="px-2 py-1">
                        {e.argv ? (
                          <code className="break-all font-mono" data-testid="preview-argv">
                            {e.argv.join(" ")}
                          </code>
                        ) : e.status === "ok" && e.serve_command ? (
                          <span>
                            <span className="text-slate-500">predicted, not launched; a real deployment runs </span>
                            <code className="break-all font-mono" data-testid="preview-serve-command">
                              {e.serve_command.join(" ")}
                            </code>
                          </span>
                        ) : (
                          <span className="text-amber-700" data-testid="preview-skipped">
                            not launched ({e.status}){e.reason ? `: ${e.reason}` : ""}
                          </span>
                        )}
                        {(e.notes ?? []).length > 0 && (
                          <div className="text-slate-500">{(e.notes ?? []).join("; ")}</div>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </div>
    </Card>
  );
}
