// Form building blocks of the new-task wizard: a field with its label, help and the API's problems under it.
import type { ReactNode } from "react";
import type { Problem } from "../api/client";
import type { ConfigMode } from "../lib/spec";

export const inputClass =
  "w-full rounded border border-slate-300 px-2 py-1 text-sm disabled:bg-slate-100 disabled:text-slate-400";

export function FieldErrors({ problems }: { problems: Problem[] }) {
  if (!problems.length) return null;
  return (
    <ul className="mt-1 space-y-0.5 text-xs text-red-700" data-testid="field-error">
      {problems.map((p, i) => (
        <li key={i}>
          {p.msg}
          {p.hint ? ` (${p.hint})` : ""}
        </li>
      ))}
    </ul>
  );
}

export function Field({
  label,
  problems = [],
  children,
  help,
}: {
  label: string;
  problems?: Problem[];
  children: ReactNode;
  help?: string;
}) {
  return (
    <label className="block text-sm">
      <span className="mb-0.5 block font-medium text-slate-700">{label}</span>
      {children}
      {help && <span className="mt-0.5 block text-xs text-slate-500">{help}</span>}
      <FieldErrors problems={problems} />
    </label>
  );
}

export function ModePicker({
  value,
  onChange,
  name,
}: {
  value: ConfigMode;
  onChange: (m: ConfigMode) => void;
  name: string;
}) {
  return (
    <div className="flex gap-3 text-sm">
      {(["none", "preset", "custom"] as const).map((m) => (
        <label key={m} className="flex items-center gap-1">
          <input type="radio" name={name} checked={value === m} onChange={() => onChange(m)} /> {m}
        </label>
      ))}
    </div>
  );
}
