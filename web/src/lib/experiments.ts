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
};

export function objectiveOf(spec: Record<string, unknown> | undefined): string {
  const opt = spec?.optimization as Record<string, unknown> | undefined;
  return typeof opt?.objective === "string" ? opt.objective : "maximize_throughput";
}
