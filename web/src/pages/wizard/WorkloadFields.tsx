// The wizard's workload picker: synthetic traffic scenarios, or a dataset, sessions, shared prefixes or a trace
// (docs/workloads.md). A file is named inside a workload folder of the server (never uploaded or read elsewhere).
import type { Problem } from "../../api/client";
import { Field, inputClass } from "../../components/Form";
import { FILE_FORMATS, WORKLOAD_KINDS, type WorkloadKind, type WorkloadState } from "../../lib/workload";

const input = inputClass;

export function WorkloadFields({
  w,
  onChange,
  at,
}: {
  w: WorkloadState;
  onChange: (w: WorkloadState) => void;
  at: (prefix: string) => Problem[];
}) {
  const set = <K extends keyof WorkloadState>(k: K, v: WorkloadState[K]) => onChange({ ...w, [k]: v });
  const box = (k: keyof WorkloadState, label: string, help?: string, problems: Problem[] = []) => (
    <Field label={label} help={help} problems={problems}>
      <input className={input} name={`workload_${k}`} value={w[k]} onChange={(e) => set(k, e.target.value)} />
    </Field>
  );
  const formats = FILE_FORMATS[w.kind] ?? [];
  const fileKey = w.kind === "trace" ? "benchmark.trace" : "benchmark.dataset";
  return (
    <div className="grid gap-3 md:grid-cols-5" data-testid="workload-fields">
      <Field label="Workload" problems={at("benchmark.sessions")} help="docs/workloads.md">
        <select
          className={input}
          name="workload_kind"
          value={w.kind}
          onChange={(e) => {
            const kind = e.target.value as WorkloadKind;
            const fmts = FILE_FORMATS[kind] ?? [];
            onChange({ ...w, kind, format: fmts.includes(w.format) ? w.format : (fmts[0] ?? "") });
          }}
        >
          {WORKLOAD_KINDS.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
      </Field>
      {formats.length > 0 && (
        <>
          {box(
            "path",
            w.kind === "sessions" ? "Chat file (optional)" : "File",
            "inside a workload folder, e.g. chat.json",
            at(fileKey),
          )}
          <Field label="Format">
            <select
              className={input}
              name="workload_format"
              value={w.format}
              onChange={(e) => set("format", e.target.value)}
            >
              {formats.map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </Field>
        </>
      )}
      {(w.kind === "dataset" || (w.kind === "sessions" && w.path.trim() !== "")) &&
        box("sample", "Sample", "entries drawn (empty: all)")}
      {w.kind === "sessions" && (
        <>
          {box("turns", "Turns per session")}
          {box("think_time_s", "Think time (s)")}
        </>
      )}
      {w.kind === "trace" && box("speedup", "Speedup", "2: twice as fast as recorded")}
      {w.kind === "shared_prefix" && (
        <>
          {box("groups", "Groups", undefined, at("benchmark.shared_prefix"))}
          {box("prefix_tokens", "Prefix tokens")}
          {box("suffix_tokens", "Own tokens")}
          {box("output_tokens", "Output tokens")}
        </>
      )}
    </div>
  );
}
