import { useNavigate, useParams } from "react-router-dom";
import { stringify } from "yaml";
import { useExperiments, useTask, useTaskSummary } from "../api/hooks";
import { BestConfigCard } from "../components/BestConfigCard";
import { ObjectiveChart, PerGpuChart, ThroughputLatencyChart, TtftTpotChart } from "../components/Charts";
import { ExperimentTable } from "../components/ExperimentTable";
import { LogViewer } from "../components/LogViewer";
import { Card, ErrorBox, Loading, StatusBadge } from "../components/States";
import { WhatMatteredCard } from "../components/WhatMattered";
import { useTaskEvents } from "../hooks/useTaskEvents";
import { objectiveOf, objectivesOf } from "../lib/experiments";
import { paramsText, secs } from "../lib/format";
import { TaskActions } from "./Tasks";

export function downloadText(name: string, text: string, type = "application/yaml") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

/** GET /api/tasks/{id}/export formats: what `autotuner export` writes (the peer folders as a zip). */
const EXPORTS: [string, string, string][] = [
  ["csv", "CSV (one row per experiment)", "csv"],
  ["json", "JSON (everything, runs included)", "json"],
  ["vllm-sweep", "vLLM bench sweep folder (zip)", "zip"],
  ["genai-bench", "genai-bench experiments (zip)", "zip"],
];

export function TaskDetail() {
  const taskId = Number(useParams().taskId);
  const navigate = useNavigate();
  const task = useTask(taskId);
  const experiments = useExperiments(taskId);
  const summary = useTaskSummary(taskId);
  const live = useTaskEvents(taskId);

  if (task.isPending) return <Loading what="Loading task" />;
  if (task.isError) return <ErrorBox error={task.error} retry={() => void task.refetch()} />;
  const t = task.data;
  const status = live.status ?? t.status;
  const objective = objectiveOf(t.spec);
  const objectives = objectivesOf(t.spec);
  const exps = experiments.data ?? [];
  // the recommended configuration (best mean within the SLOs, ties to the safer interval), else the stored best
  const bestId = summary.data?.recommended?.experiment_id ?? t.best_experiment_id;
  const best = exps.find((e) => e.id === bestId);
  const saved = summary.data?.saved_seconds ?? 0;

  return (
    <div className="space-y-4">
      <Card
        title={
          <span className="flex items-center gap-2 text-base">
            {t.name} <StatusBadge status={status} />
            <span className={`text-xs ${live.connected ? "text-green-700" : "text-slate-400"}`}>
              {live.connected ? "● live" : "○ offline"}
            </span>
          </span>
        }
        actions={
          <div className="flex gap-1">
            <TaskActions task={{ ...t, status }} onDeleted={() => navigate("/tasks")} />
            <button
              className="rounded border border-slate-300 px-3 py-1.5 text-sm"
              onClick={() => downloadText(`${t.name}.yaml`, stringify(t.spec))}
            >
              Export YAML
            </button>
            <a
              className="rounded border border-slate-300 px-3 py-1.5 text-sm"
              href={`/api/tasks/${t.id}/report?format=html`}
              download={`${t.name}-report.html`}
              data-testid="report-link"
              title="One HTML file with plots, the recommendation and how to run it"
            >
              Report
            </a>
            <details className="relative" data-testid="export-menu">
              <summary className="cursor-pointer list-none rounded border border-slate-300 px-3 py-1.5 text-sm">
                Export ▾
              </summary>
              <div className="absolute right-0 z-10 mt-1 flex w-56 flex-col rounded border border-slate-200 bg-white p-1 text-sm shadow">
                {EXPORTS.map(([format, label, ext]) => (
                  <a
                    key={format}
                    className="rounded px-2 py-1 hover:bg-slate-100"
                    href={`/api/tasks/${t.id}/export?format=${format}`}
                    download={ext === "zip" ? `${t.name}-${format}.zip` : `${t.name}.${ext}`}
                    data-testid={`export-${format}`}
                  >
                    {label}
                  </a>
                ))}
              </div>
            </details>
          </div>
        }
      >
        <div className="grid grid-cols-2 gap-2 text-sm md:grid-cols-5">
          <div>
            <span className="text-slate-500">Engine: </span>
            {t.engine}
          </div>
          <div>
            <span className="text-slate-500">Mode: </span>
            {t.deployment_mode}
          </div>
          <div>
            <span className="text-slate-500">{objectives.length > 1 ? "Objectives: " : "Objective: "}</span>
            {objectives.join(", ")}
          </div>
          <div
            data-testid="progress"
            title={`search budget ${t.max_iterations ?? "?"}, plus the baseline and the repeats of the best`}
          >
            <span className="text-slate-500">Experiments: </span>
            {t.experiments_total} of {t.experiments_planned || "?"} ({t.experiments_successful} ok)
          </div>
          <div>
            <span className="text-slate-500">Elapsed: </span>
            {secs(t.elapsed)}
            {saved > 0 && (
              <span className="text-slate-500" data-testid="time-saved">
                {" "}
                ({secs(saved)} saved by early stopping)
              </span>
            )}
          </div>
        </div>
        {t.description && <p className="mt-2 text-sm text-slate-600">{t.description}</p>}
        {t.error && <p className="mt-2 text-sm text-red-700">{t.error}</p>}
        {live.running && (
          <div className="mt-2 rounded bg-blue-50 p-2 text-sm text-blue-900" data-testid="running">
            Experiment {live.running.number} ({paramsText(live.running.params)}): {live.running.phase}
            {live.running.total ? ` — ${live.running.done ?? 0}/${live.running.total} requests` : ""}
          </div>
        )}
      </Card>
      <BestConfigCard best={best} objective={objective} summary={summary.data} />
      <Card title="Experiments">
        {experiments.isPending ? (
          <Loading what="Loading experiments" />
        ) : experiments.isError ? (
          <ErrorBox error={experiments.error} retry={() => void experiments.refetch()} />
        ) : (
          <ExperimentTable experiments={exps} bestId={bestId} taskId={taskId} />
        )}
      </Card>
      <WhatMatteredCard taskId={taskId} experiments={exps} objective={objective} objectives={objectives} />
      <div className="grid gap-4 lg:grid-cols-2">
        <ObjectiveChart experiments={exps} objective={objective} />
        <ThroughputLatencyChart experiments={exps} objectives={objectives} />
        <TtftTpotChart experiments={exps} />
        <PerGpuChart experiments={exps} />
      </div>
      <LogViewer taskId={taskId} />
    </div>
  );
}
