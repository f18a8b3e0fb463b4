// The quantization and parallelism cards: none, named presets (checkboxes), or custom values per field.
// A ticked preset puts its `spec_name` in the spec (the name the API's spec validation knows, e.g. kv-cache-fp8 for
// the stored quant-kv-cache-fp8); a preset without one (a user's) cannot be named in a spec: its values are copied
// into the custom fields instead.
import type { Problem } from "../../api/client";
import { Card } from "../../components/States";
import { Field, FieldErrors, ModePicker, inputClass } from "../../components/Form";
import type { ConfigMode } from "../../lib/spec";

export interface PresetItem {
  id: number;
  name: string;
  description?: string | null;
  spec_name?: string | null;
  parameters?: Record<string, unknown>;
}

export function ConfigCard({
  title,
  name,
  mode,
  onMode,
  presets,
  noPresets,
  chosen,
  onChosen,
  onUseValues,
  fields,
  custom,
  onCustom,
  columns,
  placeholder,
  problemsAt,
}: {
  title: string;
  name: string; // the spec section: quant_config | parallel_config
  mode: ConfigMode;
  onMode: (m: ConfigMode) => void;
  presets: PresetItem[];
  noPresets?: string;
  chosen: string[]; // spec names
  onChosen: (names: string[]) => void;
  onUseValues: (parameters: Record<string, unknown>) => void; // a user preset: its values as custom fields
  fields: [string, string | undefined][]; // field name, help
  custom: Record<string, string>;
  onCustom: (values: Record<string, string>) => void;
  columns: string; // tailwind grid class
  placeholder?: string;
  problemsAt: (prefix: string) => Problem[];
}) {
  const named = presets.filter((p) => p.spec_name);
  const own = presets.filter((p) => !p.spec_name);
  return (
    <Card title={title}>
      <ModePicker name={name.split("_")[0] ?? name} value={mode} onChange={onMode} />
      {mode === "preset" && (
        <div className="mt-2 space-y-1 text-sm">
          {presets.length === 0 && noPresets && <p className="text-xs text-slate-500">{noPresets}</p>}
          {named.map((p) => {
            const key = p.spec_name ?? p.name;
            return (
              <label key={p.id} className="flex items-center gap-2" title={`stored as ${p.name}`}>
                <input
                  type="checkbox"
                  aria-label={`${title} preset ${key}`}
                  checked={chosen.includes(key)}
                  onChange={(e) => onChosen(e.target.checked ? [...chosen, key] : chosen.filter((n) => n !== key))}
                />
                <span className="whitespace-nowrap font-medium">{key}</span>
                <span className="text-xs text-slate-500">{p.description}</span>
              </label>
            );
          })}
          {own.length > 0 && (
            <div className="pt-1 text-xs text-slate-500">
              Your presets (a spec cannot name them; their values go in as custom fields):
              {own.map((p) => (
                <div key={p.id} className="flex items-center gap-2 pt-1">
                  <span className="font-medium text-slate-700">{p.name}</span>
                  <button
                    type="button"
                    className="underline"
                    onClick={() => onUseValues(p.parameters ?? {})}
                    aria-label={`use the values of ${p.name}`}
                  >
                    use values
                  </button>
                </div>
              ))}
            </div>
          )}
        </div>
      )}
      {mode === "custom" && (
        <div className={`mt-2 grid ${columns} gap-2`}>
          {fields.map(([f, help]) => (
            <Field key={f} label={f} problems={problemsAt(`${name}.${f}`)} help={help}>
              <input
                className={inputClass}
                value={custom[f] ?? ""}
                placeholder={placeholder}
                onChange={(e) => onCustom({ ...custom, [f]: e.target.value })}
              />
            </Field>
          ))}
        </div>
      )}
      <FieldErrors problems={problemsAt(name)} />
    </Card>
  );
}
