// TanStack Query hooks over the typed client.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, explainSpec, unwrap } from "./client";

export const keys = {
  tasks: ["tasks"] as const,
  task: (id: number) => ["task", id] as const,
  // under the task's key: whatever refreshes the task (its live events) refreshes its summary
  summary: (id: number) => ["task", id, "summary"] as const,
  importance: (id: number, objective?: string) => ["task", id, "importance", objective ?? ""] as const,
  experiments: (id: number) => ["experiments", id] as const,
  experiment: (id: number) => ["experiment", id] as const,
};

export function useTasks() {
  return useQuery({
    queryKey: keys.tasks,
    queryFn: () => unwrap(api.GET("/api/tasks/", { params: { query: { limit: 200 } } })),
    refetchInterval: 5000,
  });
}

export function useTask(id: number) {
  return useQuery({
    queryKey: keys.task(id),
    queryFn: () => unwrap(api.GET("/api/tasks/{task_id}", { params: { path: { task_id: id } } })),
  });
}

export function useTaskSummary(id: number) {
  return useQuery({
    queryKey: keys.summary(id),
    queryFn: () => unwrap(api.GET("/api/tasks/{task_id}/summary", { params: { path: { task_id: id } } })),
  });
}

/** Parameter importance (the report's, from the task's Optuna study); under the task's key like the summary. */
export function useTaskImportance(id: number, objective?: string) {
  return useQuery({
    queryKey: keys.importance(id, objective),
    queryFn: () =>
      unwrap(
        api.GET("/api/tasks/{task_id}/importance", {
          params: { path: { task_id: id }, query: objective ? { objective } : {} },
        }),
      ),
  });
}

export function useExperiments(taskId: number) {
  return useQuery({
    queryKey: keys.experiments(taskId),
    queryFn: () =>
      unwrap(
        api.GET("/api/experiments/task/{task_id}", {
          params: { path: { task_id: taskId }, query: { limit: 1000 } },
        }),
      ),
  });
}

export function useExperiment(id: number) {
  return useQuery({
    queryKey: keys.experiment(id),
    queryFn: () => unwrap(api.GET("/api/experiments/{experiment_id}", { params: { path: { experiment_id: id } } })),
  });
}

export function useEngines() {
  return useQuery({
    queryKey: ["engines"],
    queryFn: () => unwrap(api.GET("/api/runtime-params/")),
    staleTime: Infinity,
  });
}

export function useEngineFlags(engine: string) {
  return useQuery({
    queryKey: ["flags", engine],
    queryFn: () => unwrap(api.GET("/api/runtime-params/{engine}", { params: { path: { engine } } })),
    staleTime: Infinity,
    enabled: Boolean(engine),
  });
}

export function usePresets(category?: string) {
  return useQuery({
    queryKey: ["presets", category ?? "all"],
    queryFn: () => unwrap(api.GET("/api/presets/", { params: { query: category ? { category } : {} } })),
  });
}

export type TaskAction = "start" | "cancel" | "restart" | "delete";

export function useTaskAction() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, action }: { id: number; action: TaskAction }) => {
      const path = { params: { path: { task_id: id } } };
      if (action === "start") return unwrap(api.POST("/api/tasks/{task_id}/start", path));
      if (action === "cancel") return unwrap(api.POST("/api/tasks/{task_id}/cancel", path));
      if (action === "restart") return unwrap(api.POST("/api/tasks/{task_id}/restart", path));
      const r = await api.DELETE("/api/tasks/{task_id}", path);
      if (!r.response.ok) return unwrap(Promise.resolve(r));
      return null;
    },
    onSettled: (_d, _e, { id }) => {
      void qc.invalidateQueries({ queryKey: keys.tasks });
      void qc.invalidateQueries({ queryKey: keys.task(id) });
    },
  });
}

/** `value`, once it has stayed the same for `ms` (compared as JSON). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  const key = JSON.stringify(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(JSON.parse(key) as T), ms);
    return () => clearTimeout(timer);
  }, [key, ms]);
  return settled;
}

/** The API's explanation of a draft spec (each configuration's argv), asked again once the draft stops changing. */
export function useExplain(spec: Record<string, unknown>, limit = 20, delayMs = 400) {
  const draft = useDebounced(spec, delayMs);
  return useQuery({
    queryKey: ["explain", limit, JSON.stringify(draft)],
    queryFn: ({ signal }) => explainSpec(draft, limit, signal),
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 60_000,
  });
}
