import type { Experiment } from "../api/client";
import { fig } from "./format";

/** GPUs (world size) an experiment used: total throughput / per-GPU throughput, 1 when unknown. */
export function gpusOf(e: Experiment): number {
  const total = fig(e.figures, "total_throughput");
  const per = fig(e.figures, "per_gpu_throughput");
  if (total && per) return Math.max(1, Math.round(total / per));
  return 1;
}

export const OBJECTIVE_LABEL: Record<string, { label: string; unit: string; maximize: boolean }> = {
  maximize_throughput: { label: "Throughput per GPU", unit: "tok/s/GPU", maximize: true },
  minimize_latency: { label: "Mean E2E latency", unit: "s", maximize: false },
  minimize_ttft: { label: "Mean TTFT", unit: "s", maximize: false },
  minimize_tpot: { label: "Mean TPOT", unit: "s", maximize: false },
  maximize_goodput: { label: "Goodput per GPU", unit: "req/s/GPU", maximize: true },
  minimize_p90_ttft: { label: "p90 TTFT", unit: "s", maximize: false },
  minimize_p90_latency: { label: "p90 E2E latency", unit: "s", maximize: false },
  minimize_p90_tpot: { label: "p90 TPOT", unit: "s", maximize: false },
  maximize_max_load: { label: "Max load under SLO", unit: "load", maximize: true },
  minimize_cost_per_mtok: { label: "Cost per M output tokens", unit: "$/Mtok", maximize: false },
  maximize_quality_top1: { label: "Top-1 agreement", unit: "share", maximize: true },
  minimize_quality_kl: { label: "KL vs reference", unit: "nats", maximize: false },
  maximize_quality_accuracy: { label: "Eval accuracy", unit: "share", maximize: true },
};

/** The task's objectives in order: optimization.objectives, else [optimization.objective]. */
export function objectivesOf(spec: Record<string, unknown> | undefined): string[] {
  const opt = spec?.optimization as Record<string, unknown> | undefined;
  const list = Array.isArray(opt?.objectives) ? opt.objectives.filter((o): o is string => typeof o === "string") : [];
  if (list.length) return list;
  return [typeof opt?.objective === "string" ? opt.objective : "maximize_throughput"];
}

/** The primary objective (objective_value is in its units). */
export function objectiveOf(spec: Record<string, unknown> | undefined): string {
  return objectivesOf(spec)[0] ?? "maximize_throughput";
}
