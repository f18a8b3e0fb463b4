import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { parse, stringify } from "yaml";
import { ApiError, type Problem, api, createTask, unwrap } from "../api/client";
import { useEngineFlags, useEngines, usePresets } from "../api/hooks";
import { Field, FieldErrors, inputClass } from "../components/Form";
import { Button, Card, ErrorBox } from "../components/States";
import {
  DEPLOYMENT_MODES,
  MO_STRATEGIES,
  OBJECTIVES,
  PARALLEL_FIELDS,
  QUANT_FIELDS,
  STRATEGIES,
  type WizardState,
  combinations,
  defaultState,
  fromSpec,
  gpusNeeded,
  parallelCombos,
  plannedExperiments,
  currentProblems,
  customValues,
  problemsAt,
  toSpec,
} from "../lib/spec";
import { downloadText } from "./TaskDetail";
import { ConfigCard } from "./wizard/ConfigCard";
import { FlagsPreview } from "./wizard/FlagsPreview";
import { ParamsCard } from "./wizard/ParamsCard";
import { WorkloadFields } from "./wizard/WorkloadFields";

const input = inputClass;

export function NewTask() {
  const [s, setS] = useState<WizardState>(defaultState);
  const [submittedProblems, setProblems] = useState<Problem[]>([]);
  const [submitted, setSubmitted] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);
  const navigate = useNavigate();
  const qc = useQueryClient();
  const engines = useEngines();
  const flags = useEngineFlags(s.engine);
  const quantPresets = usePresets("quantization");
  const parallelPresets = usePresets("parallel");
  const set = <K extends keyof WizardState>(k: K, v: WizardState[K]) => setS((old) => ({ ...old, [k]: v }));

  const spec = useMemo(() => toSpec(s), [s]);
  // a field's problem disappears as soon as that field is edited (the next submit checks everything again)
  const problems = currentProblems(submittedProblems, submitted, spec);
  const at = (prefix: string) => problemsAt(problems, prefix);
  const exactly = (path: string) => problems.filter((p) => p.path === path); // e.g. "optimization": cross-field
  const parallelForEngine = (parallelPresets.data ?? []).filter((p) => !p.runtime || p.runtime === s.engine);
  const chosenParallel = parallelForEngine
    .filter((p) => p.spec_name && s.parallel_presets.includes(p.spec_name))
    .map((p) => p.parameters);
  const combos = parallelCombos(s, chosenParallel);
  const count = combinations(s, combos.length);
  const gpus = gpusNeeded(combos);
  const planned = plannedExperiments(s, count);

  // Live validation of the parameters against the engine's flag catalogue.
  const paramKey = JSON.stringify(spec.parameters);
  const validation = useQuery({
    queryKey: ["validate", s.engine, paramKey],
    queryFn: () =>
      unwrap(
        api.POST("/api/runtime-params/{engine}/validate", {
          params: { path: { engine: s.engine } },
          body: { parameters: spec.parameters as Record<string, unknown> },
        }),
      ),
    enabled: Object.keys(spec.parameters as object).length > 0,
    retry: false,
  });
  const paramProblems: Problem[] = [...(validation.data?.problems ?? []), ...at("parameters")];

  const submit = async (start: boolean) => {
    setSubmitting(true);
    setProblems([]);
    setError(null);
    try {
      const task = await createTask(spec, start);
      void qc.invalidateQueries({ queryKey: ["tasks"] });
      navigate(`/tasks/${task.id}`);
    } catch (e) {
      if (e instanceof ApiError && e.problems.length) {
        setProblems(e.problems);
        setSubmitted(spec);
      }
      setError(e);
    } finally {
      setSubmitting(false);
    }
  };

  const importYaml = async (file: File) => {
    try {
      const doc: unknown = parse(await file.text());
      if (!doc || typeof doc !== "object") throw new Error("the file is not a YAML mapping");
      setS(fromSpec(doc as Record<string, unknown>));
      setProblems([]);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  const rowProblems = (name: string) => paramProblems.filter((p) => p.path.includes(name) && name.length > 0);

  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        void submit(true);
      }}
    >
      <Card
        title="New tuning task"
        actions={
          <div className="flex items-center gap-2">
            <label className="cursor-pointer rounded border border-slate-300 px-3 py-1.5 text-sm">
              Import YAML
              <input
                type="file"
                accept=".yaml,.yml,.json"
                className="hidden"
                data-testid="import-yaml"
                onChange={(e) => e.target.files?.[0] && void importYaml(e.target.files[0])}
              />
            </label>
            <Button onClick={() => downloadText(`${s.task_name || "task"}.yaml`, stringify(spec))}>Export YAML</Button>
          </div>
        }
      >
        <div className="grid gap-3 md:grid-cols-3">
          <Field label="Task name" problems={at("task_name")}>
            <input
              className={input}
              name="task_name"
              value={s.task_name}
              onChange={(e) => set("task_name", e.target.value)}
              placeholder="my-tuning"
            />
          </Field>
          <Field label="Engine" problems={at("base_runtime")}>
            <select className={input} name="engine" value={s.engine} onChange={(e) => set("engine", e.target.value)}>
              {(engines.data ?? [{ name: "llamacpp", version: "", flags: 0 }]).map((en) => (
                <option key={en.name} value={en.name}>
                  {en.name}
                  {en.version ? ` (${en.version})` : ""}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Deployment mode" problems={at("deployment_mode")}>
            <select
              className={input}
              name="deployment_mode"
              value={s.deployment_mode}
              onChange={(e) => set("deployment_mode", e.target.value)}
            >
              {DEPLOYMENT_MODES.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </Field>
          <div className="md:col-span-2">
            <Field label="Model" problems={at("model")} help="A cache name (smollm2), a local path, or a repo id">
              <input className={input} name="model" value={s.model} onChange={(e) => set("model", e.target.value)} />
            </Field>
          </div>
          <Field label="Description" problems={at("description")}>
            <input className={input} value={s.description} onChange={(e) => set("description", e.target.value)} />
          </Field>
        </div>
      </Card>

      <Card title="Benchmark">
        <div className="grid gap-3 md:grid-cols-5">
          <Field label="Traffic scenarios" problems={at("benchmark.traffic_scenarios")} help="e.g. D(64,32)">
            <input
              className={input}
              name="scenarios"
              value={s.scenarios}
              onChange={(e) => set("scenarios", e.target.value)}
            />
          </Field>
          <Field label="Concurrency levels" problems={at("benchmark.num_concurrency")} help="comma-separated">
            <input
              className={input}
              name="concurrency"
              value={s.concurrency}
              onChange={(e) => set("concurrency", e.target.value)}
            />
          </Field>
          <Field label="Max requests per run" problems={at("benchmark.max_requests_per_iteration")}>
            <input
              className={input}
              name="max_requests"
              value={s.max_requests}
              onChange={(e) => set("max_requests", e.target.value)}
            />
          </Field>
          <Field label="Max seconds per run" problems={at("benchmark.max_time_per_iteration")}>
            <input
              className={input}
              name="max_time"
              value={s.max_time}
              onChange={(e) => set("max_time", e.target.value)}
            />
          </Field>
          <Field label="Warm-up requests" problems={at("benchmark.warmup_requests")}>
            <input className={input} name="warmup" value={s.warmup} onChange={(e) => set("warmup", e.target.value)} />
          </Field>
        </div>
        <div className="mt-3">
          <WorkloadFields w={s.workload} onChange={(w) => set("workload", w)} at={at} />
        </div>
      </Card>

      <Card title="Objective and SLOs">
        <div className="grid gap-3 md:grid-cols-4">
          <Field label="Objective" problems={at("optimization.objective")}>
            <select
              className={input}
              name="objective"
              value={s.objective}
              onChange={(e) => {
                const v = e.target.value; // the second objective may not repeat the first
                setS((old) => ({ ...old, objective: v, objective2: old.objective2 === v ? "" : old.objective2 }));
              }}
            >
              {OBJECTIVES.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </Field>
          <Field
            label="Strategy"
            problems={[...at("optimization.strategy"), ...exactly("optimization")]}
            help={MO_STRATEGIES.includes(s.strategy) ? "multi-objective: set a second objective" : undefined}
          >
            <select
              className={input}
              name="strategy"
              value={s.strategy}
              onChange={(e) => set("strategy", e.target.value)}
            >
              {STRATEGIES.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </Field>
          <Field label="Max experiments" problems={at("optimization.max_iterations")}>
            <input
              className={input}
              name="max_iterations"
              value={s.max_iterations}
              onChange={(e) => set("max_iterations", e.target.value)}
            />
          </Field>
          <Field
            label="Second objective"
            problems={at("optimization.objectives")}
            help="optional: a multi-objective search (Pareto front)"
          >
            <select
              className={input}
              name="objective2"
              value={s.objective2}
              onChange={(e) => set("objective2", e.target.value)}
            >
              <option value="">none</option>
              {OBJECTIVES.filter((o) => o !== s.objective).map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </Field>
          <Field label="TTFT SLO (ms, mean)" problems={at("slo.ttft")}>
            <input
              className={input}
              name="slo_ttft"
              value={s.slo_ttft_ms}
              onChange={(e) => set("slo_ttft_ms", e.target.value)}
            />
          </Field>
          <Field label="TPOT SLO (ms, mean)" problems={at("slo.tpot")}>
            <input
              className={input}
              name="slo_tpot"
              value={s.slo_tpot_ms}
              onChange={(e) => set("slo_tpot_ms", e.target.value)}
            />
          </Field>
          <Field label="E2E p90 SLO (ms)" problems={at("slo.latency")}>
            <input
              className={input}
              name="slo_p90"
              value={s.slo_p90_ms}
              onChange={(e) => set("slo_p90_ms", e.target.value)}
            />
          </Field>
          <label className="flex items-center gap-2 pt-5 text-sm">
            <input type="checkbox" checked={s.slo_hard_fail} onChange={(e) => set("slo_hard_fail", e.target.checked)} />
            hard fail (infeasible when far past)
          </label>
        </div>
      </Card>

      <Card title="Baseline, repeats and parallelism">
        <div className="grid gap-3 md:grid-cols-5">
          <div className="text-sm">
            <label className="flex items-center gap-2 pt-5">
              <input
                type="checkbox"
                name="baseline"
                checked={s.baseline}
                onChange={(e) => set("baseline", e.target.checked)}
              />
              Measure the baseline
            </label>
            <input
              className={`${input} mt-1`}
              name="baseline_flags"
              placeholder="engine defaults, or your flags: parallel=4, threads=2"
              title="Your current config as flag=value pairs; empty measures the engine's defaults"
              value={s.baseline_flags}
              disabled={!s.baseline}
              onChange={(e) => set("baseline_flags", e.target.value)}
            />
            <FieldErrors problems={at("optimization.baseline")} />
          </div>
          <Field
            label="Repeat top K"
            problems={at("optimization.repeat_top_k")}
            help="the K best configs are measured again"
          >
            <input
              className={input}
              name="repeat_top_k"
              value={s.repeat_top_k}
              onChange={(e) => set("repeat_top_k", e.target.value)}
            />
          </Field>
          <Field label="Repeats" problems={at("optimization.repeats")} help="extra runs of each (and of the baseline)">
            <input
              className={input}
              name="repeats"
              value={s.repeats}
              onChange={(e) => set("repeats", e.target.value)}
            />
          </Field>
          <Field label="Max parallel" problems={at("optimization.max_parallel")} help="experiments at once">
            <input
              className={input}
              name="max_parallel"
              value={s.max_parallel}
              onChange={(e) => set("max_parallel", e.target.value)}
            />
          </Field>
          <div className="text-sm">
            <label className="flex items-center gap-2 pt-5">
              <input
                type="checkbox"
                name="warm_start"
                checked={s.warm_start}
                onChange={(e) => set("warm_start", e.target.checked)}
              />
              Warm start
            </label>
            <span className="mt-0.5 block text-xs text-slate-500">best configs of earlier tasks first</span>
            <FieldErrors problems={at("optimization.warm_start")} />
          </div>
        </div>
      </Card>

      <ParamsCard
        params={s.params}
        onChange={(rows) => set("params", rows)}
        flags={flags.data ?? []}
        flagsError={flags.isError ? flags.error : null}
        rowProblems={rowProblems}
      />

      <div className="grid gap-4 md:grid-cols-2">
        <ConfigCard
          title="Quantization"
          name="quant_config"
          mode={s.quant_mode}
          onMode={(m) => set("quant_mode", m)}
          presets={quantPresets.data ?? []}
          chosen={s.quant_presets}
          onChosen={(names) => set("quant_presets", names)}
          onUseValues={(v) => setS((old) => ({ ...old, quant_mode: "custom", quant_custom: customValues(v) }))}
          fields={Object.entries(QUANT_FIELDS).map(([f, values]) => [f, values.join(", ")])}
          custom={s.quant_custom}
          onCustom={(v) => set("quant_custom", v)}
          columns="grid-cols-2"
          problemsAt={at}
        />
        <ConfigCard
          title="Parallelism"
          name="parallel_config"
          mode={s.parallel_mode}
          onMode={(m) => set("parallel_mode", m)}
          presets={parallelForEngine}
          noPresets={`No parallel presets for ${s.engine}.`}
          chosen={s.parallel_presets}
          onChosen={(names) => set("parallel_presets", names)}
          onUseValues={(v) => setS((old) => ({ ...old, parallel_mode: "custom", parallel_custom: customValues(v) }))}
          fields={PARALLEL_FIELDS.map((f) => [f, undefined])}
          custom={s.parallel_custom}
          onCustom={(v) => set("parallel_custom", v)}
          columns="grid-cols-4"
          placeholder="1"
          problemsAt={at}
        />
      </div>

      <FlagsPreview spec={spec} />

      <Card>
        <div className="flex flex-wrap items-center gap-4">
          <div className="text-sm" data-testid="combinations">
            <span className="font-semibold">{count === null ? "continuous space" : `${count} combinations`}</span>
            <span className="text-slate-500">
              {" "}
              · up to {gpus} GPU{gpus === 1 ? "" : "s"} per experiment
            </span>
            <span className="text-slate-500" data-testid="planned">
              {" "}
              · {planned.total} experiment{planned.total === 1 ? "" : "s"} will run
              {planned.total !== planned.search &&
                ` (${planned.search} search${planned.baseline ? ` + baseline x${planned.baseline}` : ""}` +
                  `${planned.repeats ? ` + ${planned.repeats} repeats` : ""})`}
            </span>
          </div>
          <div className="ml-auto flex gap-2">
            <Button onClick={() => void submit(false)} disabled={submitting}>
              Create
            </Button>
            <Button kind="primary" type="submit" disabled={submitting}>
              {submitting ? "Creating…" : "Create and start"}
            </Button>
          </div>
        </div>
        {error !== null && !(submittedProblems.length > 0 && problems.length === 0) && (
          <div className="mt-3">
            <ErrorBox error={error} />
          </div>
        )}
      </Card>
    </form>
  );
}
